//! The six languages of prepazka: the ministry's leaflets come in exactly these.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language every page, e-mail, push message and error is available in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    Cs,
    En,
    Uk,
    Ru,
    Vi,
    Mn,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language")]
pub struct UnknownLocale;

impl Locale {
    pub const ALL: [Locale; 6] = [Locale::Cs, Locale::En, Locale::Uk, Locale::Ru, Locale::Vi, Locale::Mn];

    pub fn code(self) -> &'static str {
        match self {
            Locale::Cs => "cs",
            Locale::En => "en",
            Locale::Uk => "uk",
            Locale::Ru => "ru",
            Locale::Vi => "vi",
            Locale::Mn => "mn",
        }
    }

    /// The language's own name for itself, as a language switcher shows it.
    pub fn endonym(self) -> &'static str {
        match self {
            Locale::Cs => "Čeština",
            Locale::En => "English",
            Locale::Uk => "Українська",
            Locale::Ru => "Русский",
            Locale::Vi => "Tiếng Việt",
            Locale::Mn => "Монгол",
        }
    }

    /// Picks the best of our languages from an `Accept-Language` header value, honouring
    /// q-values; `None` when none of ours is acceptable.
    pub fn negotiate(accept_language: &str) -> Option<Locale> {
        let mut best: Option<(f32, usize, Locale)> = None;
        for (position, part) in accept_language.split(',').enumerate().take(32) {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let quality = pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            // Also refuses NaN.
            if quality.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                continue;
            }
            let primary = tag.split(['-', '_']).next().unwrap_or("");
            let Ok(locale) = primary.parse::<Locale>() else { continue };
            let better = match best {
                None => true,
                Some((q, pos, _)) => quality > q || (quality == q && position < pos),
            };
            if better {
                best = Some((quality, position, locale));
            }
        }
        best.map(|(_, _, locale)| locale)
    }
}

impl FromStr for Locale {
    type Err = UnknownLocale;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cs" | "cz" => Ok(Locale::Cs),
            "en" => Ok(Locale::En),
            "uk" | "ua" => Ok(Locale::Uk),
            "ru" => Ok(Locale::Ru),
            "vi" => Ok(Locale::Vi),
            "mn" => Ok(Locale::Mn),
            _ => Err(UnknownLocale),
        }
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_by_quality_then_order() {
        assert_eq!(Locale::negotiate("de-DE,uk;q=0.8,en;q=0.9"), Some(Locale::En));
        assert_eq!(Locale::negotiate("vi-VN, ru;q=0.9"), Some(Locale::Vi));
        assert_eq!(Locale::negotiate("de, fr"), None);
        assert_eq!(Locale::negotiate("mn;q=0, cs;q=0.1"), Some(Locale::Cs));
        assert_eq!(Locale::negotiate(""), None);
        assert_eq!(Locale::negotiate(";;;,,q=abc"), None);
    }
}
