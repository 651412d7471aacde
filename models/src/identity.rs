//! Personal values a foreigner types in: names, dates of birth, e-mail addresses, travel-document
//! and registration numbers, PINs. Each is parsed once at the edge. Their `Debug` output is
//! redacted so that a stray `{:?}` in a log line leaks nothing.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ErrorCode;

macro_rules! redacted_debug {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "(<redacted>)"))
            }
        }
    };
}

/// A person's name as written in the travel document, in any script. Letters, combining marks,
/// spaces, hyphens, apostrophes and full stops; 1–100 characters. Emoji, digits, control and
/// bidirectional-override characters are refused.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let count = collapsed.chars().count();
        let allowed = |c: char| c.is_alphabetic() || is_combining_mark(c) || matches!(c, ' ' | '-' | '\'' | '’' | '.');
        if count == 0 || count > 100 || !collapsed.chars().all(allowed) || !collapsed.chars().any(char::is_alphabetic) {
            return Err(ErrorCode::InvalidName);
        }
        Ok(Self(collapsed))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Comparison key: case- and accent-insensitive enough for "Nguyễn Văn An" typed as
    /// "NGUYEN VAN AN" from a machine-readable zone.
    pub fn matching_key(&self) -> String {
        self.0.chars().filter_map(fold_latin).flat_map(char::to_lowercase).filter(|c| c.is_alphanumeric()).collect()
    }
}
redacted_debug!(PersonName);

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Folds the Latin letters with diacritics that Czech and Vietnamese names use to their base
/// letter, and drops combining marks, so names compare as a machine-readable zone writes them.
fn fold_latin(c: char) -> Option<char> {
    if is_combining_mark(c) {
        return None;
    }
    const GROUPS: &[(&str, char)] = &[
        ("áàảãạăắằẳẵặâấầẩẫậÁÀẢÃẠĂẮẰẲẴẶÂẤẦẨẪẬ", 'a'),
        ("čćČĆ", 'c'),
        ("ďđĎĐ", 'd'),
        ("éèẻẽẹêếềểễệěÉÈẺẼẸÊẾỀỂỄỆĚ", 'e'),
        ("íìỉĩịÍÌỈĨỊ", 'i'),
        ("ňŇ", 'n'),
        ("óòỏõọôốồổỗộơớờởỡợÓÒỎÕỌÔỐỒỔỖỘƠỚỜỞỠỢ", 'o'),
        ("řŘ", 'r'),
        ("šŠ", 's'),
        ("ťŤ", 't'),
        ("úùủũụưứừửữựůÚÙỦŨỤƯỨỪỬỮỰŮ", 'u'),
        ("ýỳỷỹỵÝỲỶỸỴ", 'y'),
        ("žŽ", 'z'),
    ];
    Some(GROUPS.iter().find(|(set, _)| set.contains(c)).map_or(c, |(_, base)| *base))
}

/// A date of birth: a real calendar date, not in the future relative to `today`, not before 1900.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, ErrorCode> {
        let date = parse_iso_date(raw)?;
        Self::new(date, today)
    }

    pub fn new(date: NaiveDate, today: NaiveDate) -> Result<Self, ErrorCode> {
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).ok_or(ErrorCode::InvalidDate)?;
        if date < earliest || date > today {
            return Err(ErrorCode::InvalidDate);
        }
        Ok(Self(date))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// Completed years of age on `on`.
    pub fn age_on(self, on: NaiveDate) -> u32 {
        use chrono::Datelike;
        let mut years = on.year() - self.0.year();
        if (on.month(), on.day()) < (self.0.month(), self.0.day()) {
            years -= 1;
        }
        years.max(0) as u32
    }
}
redacted_debug!(DateOfBirth);

/// Parses a strict `YYYY-MM-DD` date (the form HTML date inputs send).
pub fn parse_iso_date(raw: &str) -> Result<NaiveDate, ErrorCode> {
    let raw = raw.trim();
    if raw.len() != 10 {
        return Err(ErrorCode::InvalidDate);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| ErrorCode::InvalidDate)
}

/// An e-mail address, checked for shape (one `@`, a dotted domain, no spaces or controls,
/// at most 254 characters); whether it exists is for the mail server to say.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let raw = raw.trim();
        let (local, domain) = raw.split_once('@').ok_or(ErrorCode::InvalidEmail)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"@".contains(c));
        let domain_ok = domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if raw.len() <= 254 && local_ok && domain_ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ErrorCode::InvalidEmail)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
redacted_debug!(Email);

impl TryFrom<String> for Email {
    type Error = ErrorCode;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// A travel-document number: 5–20 letters and digits (ICAO documents use 9; others vary).
/// Stored upper-case without spaces.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PassportNumber(String);

impl PassportNumber {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let cleaned: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        if (5..=20).contains(&cleaned.len()) && cleaned.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(cleaned))
        } else {
            Err(ErrorCode::InvalidPassportNumber)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
redacted_debug!(PassportNumber);

/// The registration number the foreigners' registry issued (as used for the temporary-protection
/// extension): 6–20 letters, digits and inner hyphens, stored upper-case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RegistrationNumber(String);

impl RegistrationNumber {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let cleaned = raw.trim().to_ascii_uppercase();
        let ok = (6..=20).contains(&cleaned.len())
            && cleaned.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !cleaned.starts_with('-')
            && !cleaned.ends_with('-');
        if ok {
            Ok(Self(cleaned))
        } else {
            Err(ErrorCode::InvalidRegistrationNumber)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
redacted_debug!(RegistrationNumber);

/// The PIN that came with a registration number: 4–8 digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let raw = raw.trim();
        if (4..=8).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ErrorCode::InvalidPin)
        }
    }

    /// Compares without an early exit, so timing does not tell how many digits were right.
    pub fn matches(&self, other: &Pin) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let mut diff = a.len() ^ b.len();
        for i in 0..a.len().max(b.len()) {
            diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}
redacted_debug!(Pin);

/// How a person proves who they are before a slot is held.
#[derive(Debug, Clone)]
pub enum Credentials {
    Registration { number: RegistrationNumber, pin: Pin },
    TravelDocument { number: PassportNumber, date_of_birth: DateOfBirth, name: PersonName },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
    }

    #[test]
    fn names_in_many_scripts_are_accepted() {
        for good in ["Nguyễn Văn An", "Олена Коваленко", "Батболд Энхжаргал", "O'Brien-Smith", "محمد", "Jan  Novák "]
        {
            assert!(PersonName::parse(good).is_ok(), "{good}");
        }
        assert_eq!(PersonName::parse(" Jan  Novák ").map(|n| n.as_str().to_owned()).as_deref(), Ok("Jan Novák"));
    }

    #[test]
    fn hostile_names_are_refused() {
        let long = "a".repeat(101);
        for bad in ["", "   ", "😀", "Jan 😀", "<script>", "Robert'); DROP TABLE", "\u{202E}evil", "Jan\u{0}", "123", long.as_str()] {
            assert_eq!(PersonName::parse(bad), Err(ErrorCode::InvalidName), "{bad:?}");
        }
    }

    #[test]
    fn names_match_across_diacritics_and_case() {
        let typed = PersonName::parse("NGUYEN VAN AN").map(|n| n.matching_key());
        let stored = PersonName::parse("Nguyễn Văn An").map(|n| n.matching_key());
        assert_eq!(typed, stored);
        let cz = PersonName::parse("Řehoř Žák").map(|n| n.matching_key());
        assert_eq!(cz.as_deref(), Ok("rehorzak"));
    }

    #[test]
    fn dates_of_birth() {
        assert!(DateOfBirth::parse("1990-02-28", today()).is_ok());
        for bad in ["1990-02-30", "28.02.1990", "1990-2-28", "2027-01-01", "1899-12-31", "", "1990-02-28T00:00"] {
            assert_eq!(DateOfBirth::parse(bad, today()), Err(ErrorCode::InvalidDate), "{bad}");
        }
        let dob = DateOfBirth::parse("2020-11-24", today()).ok();
        assert_eq!(dob.map(|d| d.age_on(today())), Some(5));
    }

    #[test]
    fn emails() {
        assert!(Email::parse("olena.k+booking@example.cz").is_ok());
        assert!(Email::parse("an@mail.vn").is_ok());
        for bad in ["", "no-at", "a@b", "a b@c.cz", "a@@c.cz", "<a>@c.cz", "a@-c.cz", "a@c..cz"] {
            assert_eq!(Email::parse(bad), Err(ErrorCode::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn documents_and_pins() {
        assert_eq!(PassportNumber::parse("ab 123 4567").map(|p| p.as_str().to_owned()).as_deref(), Ok("AB1234567"));
        assert!(PassportNumber::parse("AB-12").is_err());
        assert!(RegistrationNumber::parse("ukr-2026-000123").is_ok());
        assert!(RegistrationNumber::parse("x").is_err());
        let pin = Pin::parse("1234").ok();
        assert!(pin.as_ref().is_some_and(|p| p.matches(&Pin::parse("1234").unwrap_or(p.clone()))));
        assert!(Pin::parse("12a4").is_err());
        assert!(!Pin::parse("1234").is_ok_and(|p| Pin::parse("12345").is_ok_and(|q| p.matches(&q))));
    }
}
