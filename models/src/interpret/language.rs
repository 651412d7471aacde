//! The languages of interpreting and the directions the translation model may serve.
//!
//! The six languages are the ones the ministry's leaflets (and our pages, [`Locale`]) come in:
//! Czech is the officer's; the client speaks one of the others. [`InterpretLanguage`] is its own
//! type rather than [`Locale`] because the two sets may part: a deployment with a better
//! translation model could interpret a language whose pages we do not have.
//!
//! Which directions machine translation serves is configuration ([`ServedDirections`]), because
//! it is a fact about the model in use, not about the languages. The default refuses every
//! direction into Mongolian: the packaged model (Qwen2.5-Coder-1.5B) degenerates into repetition
//! there, and a session should say so plainly and offer the phrasebook and a human interpreter
//! rather than show nonsense (issue 5, "Models").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::locale::Locale;

/// A language spoken at the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterpretLanguage {
    Cs,
    En,
    Uk,
    Ru,
    Vi,
    Mn,
}

/// The writing system a language is expected in at the counter (Mongolian: Cyrillic, as in
/// Mongolia; the traditional script is out of scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    Latin,
    Cyrillic,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown interpreting language")]
pub struct UnknownLanguage;

impl InterpretLanguage {
    pub const ALL: [InterpretLanguage; 6] = [
        InterpretLanguage::Cs,
        InterpretLanguage::En,
        InterpretLanguage::Uk,
        InterpretLanguage::Ru,
        InterpretLanguage::Vi,
        InterpretLanguage::Mn,
    ];

    /// ISO 639-1 code, also whisper's language code.
    pub fn code(self) -> &'static str {
        match self {
            InterpretLanguage::Cs => "cs",
            InterpretLanguage::En => "en",
            InterpretLanguage::Uk => "uk",
            InterpretLanguage::Ru => "ru",
            InterpretLanguage::Vi => "vi",
            InterpretLanguage::Mn => "mn",
        }
    }

    /// The language's name in itself, for a language picker a client reads.
    pub fn endonym(self) -> &'static str {
        match self {
            InterpretLanguage::Cs => "čeština",
            InterpretLanguage::En => "English",
            InterpretLanguage::Uk => "українська",
            InterpretLanguage::Ru => "русский",
            InterpretLanguage::Vi => "Tiếng Việt",
            InterpretLanguage::Mn => "монгол хэл",
        }
    }

    pub fn script(self) -> Script {
        match self {
            InterpretLanguage::Cs | InterpretLanguage::En | InterpretLanguage::Vi => Script::Latin,
            InterpretLanguage::Uk | InterpretLanguage::Ru | InterpretLanguage::Mn => Script::Cyrillic,
        }
    }
}

impl FromStr for InterpretLanguage {
    type Err = UnknownLanguage;

    /// Accepts ISO 639-1 and 639-2 codes, any case, with an optional region (`uk-UA`, `mn_MN`),
    /// and the country codes people type for a language (`cz`, `ua`), as [`Locale`] does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let primary = s.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "cs" | "cz" | "ces" | "cze" => Ok(InterpretLanguage::Cs),
            "en" | "eng" => Ok(InterpretLanguage::En),
            "uk" | "ua" | "ukr" => Ok(InterpretLanguage::Uk),
            "ru" | "rus" => Ok(InterpretLanguage::Ru),
            "vi" | "vie" => Ok(InterpretLanguage::Vi),
            "mn" | "mon" | "khk" => Ok(InterpretLanguage::Mn),
            _ => Err(UnknownLanguage),
        }
    }
}

impl fmt::Display for InterpretLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl From<Locale> for InterpretLanguage {
    fn from(locale: Locale) -> Self {
        match locale {
            Locale::Cs => InterpretLanguage::Cs,
            Locale::En => InterpretLanguage::En,
            Locale::Uk => InterpretLanguage::Uk,
            Locale::Ru => InterpretLanguage::Ru,
            Locale::Vi => InterpretLanguage::Vi,
            Locale::Mn => InterpretLanguage::Mn,
        }
    }
}

impl From<InterpretLanguage> for Locale {
    /// The pages a client of this language reads; total today because the sets are equal.
    fn from(language: InterpretLanguage) -> Self {
        match language {
            InterpretLanguage::Cs => Locale::Cs,
            InterpretLanguage::En => Locale::En,
            InterpretLanguage::Uk => Locale::Uk,
            InterpretLanguage::Ru => Locale::Ru,
            InterpretLanguage::Vi => Locale::Vi,
            InterpretLanguage::Mn => Locale::Mn,
        }
    }
}

/// A translation direction between two different languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Direction {
    from: InterpretLanguage,
    to: InterpretLanguage,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectionError {
    #[error("a direction needs two different languages")]
    SameLanguage,
    #[error("a direction is written `from>to`, e.g. `cs>uk`")]
    Malformed,
    #[error(transparent)]
    Language(#[from] UnknownLanguage),
}

impl Direction {
    pub fn new(from: InterpretLanguage, to: InterpretLanguage) -> Result<Direction, DirectionError> {
        if from == to {
            return Err(DirectionError::SameLanguage);
        }
        Ok(Direction { from, to })
    }

    pub fn from(self) -> InterpretLanguage {
        self.from
    }

    pub fn to(self) -> InterpretLanguage {
        self.to
    }

    /// The way back, for the back-translation check.
    pub fn reversed(self) -> Direction {
        Direction { from: self.to, to: self.from }
    }

    /// All 30 directions between the six languages.
    pub fn all() -> impl Iterator<Item = Direction> {
        InterpretLanguage::ALL
            .into_iter()
            .flat_map(|from| InterpretLanguage::ALL.into_iter().filter_map(move |to| Direction::new(from, to).ok()))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}>{}", self.from, self.to)
    }
}

impl FromStr for Direction {
    type Err = DirectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (from, to) = s.split_once('>').ok_or(DirectionError::Malformed)?;
        Direction::new(from.parse()?, to.parse()?)
    }
}

/// What a session can offer in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectionService {
    /// Machine translation with the checks of this module, and the phrasebook first.
    MachineTranslation,
    /// The model is not trusted here: prepared phrasebook sentences only, and the offer of a
    /// human interpreter. The UI says so plainly instead of showing machine output.
    PhrasebookAndHuman,
}

impl DirectionService {
    /// A stable code the UI localises.
    pub fn code(self) -> &'static str {
        match self {
            DirectionService::MachineTranslation => "machine_translation",
            DirectionService::PhrasebookAndHuman => "direction_not_served",
        }
    }
}

/// One rule of [`ServedDirections`]: `from>to` where either side may be `*`; a leading `!`
/// refuses what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirectionRule {
    allow: bool,
    from: Option<InterpretLanguage>,
    to: Option<InterpretLanguage>,
}

impl DirectionRule {
    fn matches(self, direction: Direction) -> bool {
        self.from.is_none_or(|f| f == direction.from) && self.to.is_none_or(|t| t == direction.to)
    }
}

impl fmt::Display for DirectionRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |l: Option<InterpretLanguage>| l.map_or("*", InterpretLanguage::code);
        write!(f, "{}{}>{}", if self.allow { "" } else { "!" }, side(self.from), side(self.to))
    }
}

impl FromStr for DirectionRule {
    type Err = DirectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (allow, body) = match s.strip_prefix('!') {
            Some(rest) => (false, rest),
            None => (true, s),
        };
        let (from, to) = body.split_once('>').ok_or(DirectionError::Malformed)?;
        let side = |t: &str| -> Result<Option<InterpretLanguage>, DirectionError> {
            match t.trim() {
                "*" => Ok(None),
                code => Ok(Some(code.parse()?)),
            }
        };
        Ok(DirectionRule { allow, from: side(from)?, to: side(to)? })
    }
}

/// The directions machine translation serves, from configuration: a list of rules such as
/// `["*>*", "!*>mn"]` (the default). A direction is served when an allowing rule matches it and
/// no refusing rule (`!`) does; refusals win whatever their order, so adding a rule can never
/// silently re-open a refused direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct ServedDirections {
    rules: Vec<DirectionRule>,
}

impl ServedDirections {
    /// The rules of the packaged model: everything except into Mongolian.
    pub const DEFAULT_RULES: [&'static str; 2] = ["*>*", "!*>mn"];

    pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<ServedDirections, DirectionError> {
        let rules = rules.iter().map(|r| r.as_ref().parse()).collect::<Result<Vec<_>, _>>()?;
        Ok(ServedDirections { rules })
    }

    pub fn service(&self, direction: Direction) -> DirectionService {
        let allowed = self.rules.iter().any(|r| r.allow && r.matches(direction));
        let refused = self.rules.iter().any(|r| !r.allow && r.matches(direction));
        if allowed && !refused {
            DirectionService::MachineTranslation
        } else {
            DirectionService::PhrasebookAndHuman
        }
    }

    pub fn serves(&self, direction: Direction) -> bool {
        self.service(direction) == DirectionService::MachineTranslation
    }
}

impl Default for ServedDirections {
    fn default() -> Self {
        // unwrap: the default rules are constants, parsed in a test.
        ServedDirections::parse(&Self::DEFAULT_RULES).expect("default direction rules parse")
    }
}

impl TryFrom<Vec<String>> for ServedDirections {
    type Error = DirectionError;

    fn try_from(rules: Vec<String>) -> Result<Self, Self::Error> {
        ServedDirections::parse(&rules)
    }
}

impl From<ServedDirections> for Vec<String> {
    fn from(served: ServedDirections) -> Self {
        served.rules.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::InterpretLanguage::*;
    use super::*;

    fn dir(s: &str) -> Direction {
        s.parse().expect("a valid direction")
    }

    #[test]
    fn parses_codes_at_the_edge() {
        assert_eq!("uk".parse(), Ok(Uk));
        assert_eq!("uk-UA".parse(), Ok(Uk));
        assert_eq!(" MN_mn ".parse(), Ok(Mn));
        assert_eq!("ces".parse(), Ok(Cs));
        assert_eq!("vie".parse(), Ok(Vi));
        assert_eq!("de".parse::<InterpretLanguage>(), Err(UnknownLanguage));
        assert_eq!("".parse::<InterpretLanguage>(), Err(UnknownLanguage));
        for l in InterpretLanguage::ALL {
            assert_eq!(l.code().parse(), Ok(l));
            assert_eq!(InterpretLanguage::from(Locale::from(l)), l);
        }
    }

    #[test]
    fn directions_need_two_languages() {
        assert_eq!(Direction::new(Cs, Cs), Err(DirectionError::SameLanguage));
        assert_eq!("cs>uk".parse::<Direction>().map(|d| (d.from(), d.to())), Ok((Cs, Uk)));
        assert_eq!("cs-uk".parse::<Direction>(), Err(DirectionError::Malformed));
        assert_eq!(Direction::all().count(), 30);
    }

    #[test]
    fn the_default_refuses_into_mongolian_only() {
        let served = ServedDirections::default();
        for d in Direction::all() {
            assert_eq!(served.serves(d), d.to() != Mn, "{d}");
        }
        assert_eq!(served.service(dir("cs>mn")).code(), "direction_not_served");
        assert!(served.serves(dir("mn>cs")));
    }

    #[test]
    fn refusals_win_whatever_their_order() {
        let served = ServedDirections::parse(&["!cs>vi", "cs>*", "uk>cs"]).expect("rules");
        assert!(served.serves(dir("cs>uk")));
        assert!(!served.serves(dir("cs>vi")));
        assert!(served.serves(dir("uk>cs")));
        assert!(!served.serves(dir("ru>cs")));
        assert!(!ServedDirections::parse::<&str>(&[]).expect("no rules").serves(dir("cs>en")));
        assert_eq!(ServedDirections::parse(&["cs uk"]), Err(DirectionError::Malformed));
        assert!(ServedDirections::parse(&["xx>uk"]).is_err());
    }

    #[test]
    fn round_trips_through_configuration() {
        #[derive(Deserialize)]
        struct Config {
            served: ServedDirections,
        }
        let served = toml::from_str::<Config>(r#"served = ["*>*", "!*>mn", "!vi>ru"]"#).expect("config").served;
        assert!(!served.serves(dir("vi>ru")));
        assert_eq!(Vec::<String>::from(served), vec!["*>*", "!*>mn", "!vi>ru"]);
    }
}
