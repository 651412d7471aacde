//! Identifiers parsed at the edge: office ids, booking codes, pseudonymous person keys.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// An office's stable id, a lowercase slug such as `praha-zelený-pruh` spelled in ASCII:
/// `praha-1`, `brno`, `usti-most`. 2–40 characters of `a-z`, `0-9` and inner hyphens.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OfficeId(String);

impl OfficeId {
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let ok_len = (2..=40).contains(&raw.len());
        let ok_chars = raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_edges = !raw.starts_with('-') && !raw.ends_with('-') && !raw.contains("--");
        if ok_len && ok_chars && ok_edges {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ErrorCode::InvalidOfficeId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OfficeId {
    type Error = ErrorCode;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OfficeId> for String {
    fn from(value: OfficeId) -> Self {
        value.0
    }
}

impl fmt::Display for OfficeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OfficeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OfficeId({})", self.0)
    }
}

/// Crockford's base32 alphabet: no I, L, O, U, so codes survive being read aloud and retyped.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BOOKING_CODE_SYMBOLS: usize = 12;

/// The code a foreigner types at the kiosk or on the manage page: 12 Crockford base32 symbols
/// (60 random bits), shown as `ABCD-EFGH-JKMN`. Parsing forgives case, spaces, hyphens and the
/// look-alikes O→0, I/L→1.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BookingCode(String);

impl BookingCode {
    pub fn generate(rng: &mut impl Rng) -> Self {
        let code = (0..BOOKING_CODE_SYMBOLS).map(|_| CROCKFORD[rng.gen_range(0..32)] as char).collect();
        Self(code)
    }

    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        if raw.len() > 64 {
            return Err(ErrorCode::InvalidBookingCode);
        }
        let mut code = String::with_capacity(BOOKING_CODE_SYMBOLS);
        for ch in raw.chars() {
            let normalised = match ch.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && CROCKFORD.contains(&(c as u8)) => c,
                _ => return Err(ErrorCode::InvalidBookingCode),
            };
            code.push(normalised);
        }
        if code.len() == BOOKING_CODE_SYMBOLS {
            Ok(Self(code))
        } else {
            Err(ErrorCode::InvalidBookingCode)
        }
    }

    /// The canonical form stored in the database: 12 symbols without separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form printed for people: three groups of four.
    pub fn display(&self) -> String {
        format!("{}-{}-{}", &self.0[0..4], &self.0[4..8], &self.0[8..12])
    }
}

impl TryFrom<String> for BookingCode {
    type Error = ErrorCode;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<BookingCode> for String {
    fn from(value: BookingCode) -> Self {
        value.0
    }
}

impl fmt::Display for BookingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl fmt::Debug for BookingCode {
    // A booking code is a bearer secret (with the date of birth): keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BookingCode({}…)", &self.0[..2])
    }
}

/// A pseudonymous key for a verified person: a keyed hash of the registry's person id, so that
/// caps can be enforced and audits read without the database holding who the person is.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PersonKey(String);

impl PersonKey {
    /// Wraps an already-derived key (64 lowercase hex digits).
    pub fn from_hex(hex: &str) -> Result<Self, ErrorCode> {
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(hex.to_owned()))
        } else {
            Err(ErrorCode::InvalidInput)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonKey({}…)", &self.0[..8])
    }
}

impl fmt::Display for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0[..12])
    }
}

impl FromStr for OfficeId {
    type Err = ErrorCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_ids() {
        assert!(OfficeId::parse("praha-1").is_ok());
        for bad in ["", "a", "Praha", "praha--1", "-praha", "praha-", "praha 1", "pra'ha", "ústí"] {
            assert_eq!(OfficeId::parse(bad), Err(ErrorCode::InvalidOfficeId), "{bad}");
        }
    }

    #[test]
    fn booking_codes_round_trip_and_forgive_typing() {
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            let code = BookingCode::generate(&mut rng);
            assert_eq!(BookingCode::parse(&code.display()).as_ref(), Ok(&code));
            assert_eq!(BookingCode::parse(&code.as_str().to_lowercase()).as_ref(), Ok(&code));
        }
        let typed = BookingCode::parse("abcd efgh oil1").map(|c| c.display());
        assert_eq!(typed.as_deref(), Ok("ABCD-EFGH-0111"));
        for bad in ["", "ABCD-EFGH-JKM", "ABCD-EFGH-JKMNP", "ABCD-EFGH-JKMU", "ÁBCD-EFGH-JKMN", "'; DROP TABLE"] {
            assert!(BookingCode::parse(bad).is_err(), "{bad}");
        }
    }
}
