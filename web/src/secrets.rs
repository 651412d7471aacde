//! Keyed hashes and signed tokens, all from one server secret:
//! - the pseudonymous person key (so the database never holds a registry id),
//! - the check value of booking code + date of birth (so "manage" can verify without storing
//!   the date of birth),
//! - identity tokens proving that a person was verified a short while ago,
//! - the check-in QR payload.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use prepazka_models::ids::{BookingCode, PersonKey};
use prepazka_models::registry::RegistryPersonId;
use prepazka_models::ErrorCode;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long an identity check stays good for holding and confirming.
pub const IDENTITY_TTL_MINUTES: i64 = 30;

#[derive(Clone)]
pub struct Secrets {
    /// HMAC-SHA256 keyed with the server secret, cloned for each tag: the key schedule is
    /// computed once, not per request.
    keyed: HmacSha256,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

#[derive(Serialize, Deserialize)]
struct TokenBody {
    pid: String,
    exp: i64,
}

/// A verified identity, as carried by a token.
#[derive(Debug, Clone)]
pub struct Verified {
    pub person: RegistryPersonId,
    pub key: PersonKey,
}

impl Secrets {
    /// At least 32 bytes of key material.
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() < 32 {
            return None;
        }
        // unwrap-free: HMAC accepts keys of any length.
        let keyed = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        Some(Self { keyed })
    }

    fn mac(&self, domain: &str, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = self.keyed.clone();
        mac.update(domain.as_bytes());
        for part in parts {
            mac.update(&[0]);
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    fn hex(bytes: &[u8]) -> String {
        hex::encode(bytes)
    }

    pub fn person_key(&self, person: &RegistryPersonId) -> PersonKey {
        let hex = Self::hex(&self.mac("person", &[person.0.as_bytes()]));
        PersonKey::from_hex(&hex).unwrap_or_else(|_| unreachable!("64 hex digits"))
    }

    pub fn dob_check(&self, code: &BookingCode, born: NaiveDate) -> String {
        Self::hex(&self.mac("dob", &[code.as_str().as_bytes(), born.to_string().as_bytes()]))
    }

    pub fn identity_token(&self, person: &RegistryPersonId, now: DateTime<Utc>) -> String {
        let body = TokenBody { pid: person.0.clone(), exp: now.timestamp() + IDENTITY_TTL_MINUTES * 60 };
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&body).unwrap_or_default());
        let mac = URL_SAFE_NO_PAD.encode(self.mac("identity", &[body.as_bytes()]));
        format!("{body}.{mac}")
    }

    pub fn verify_token(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, ErrorCode> {
        if token.len() > 512 {
            return Err(ErrorCode::IdentityNotVerified);
        }
        let (body, mac) = token.split_once('.').ok_or(ErrorCode::IdentityNotVerified)?;
        let given = URL_SAFE_NO_PAD.decode(mac).map_err(|_| ErrorCode::IdentityNotVerified)?;
        let mut check = self.keyed.clone();
        check.update(b"identity");
        check.update(&[0]);
        check.update(body.as_bytes());
        check.verify_slice(&given).map_err(|_| ErrorCode::IdentityNotVerified)?;
        let body: TokenBody =
            URL_SAFE_NO_PAD.decode(body).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(ErrorCode::IdentityNotVerified)?;
        if body.exp < now.timestamp() {
            return Err(ErrorCode::IdentityExpired);
        }
        let person = RegistryPersonId(body.pid);
        Ok(Verified { key: self.person_key(&person), person })
    }

    /// The tag that lets a phone follow one ticket of one office's day (and nothing else).
    pub fn ticket_tag(&self, office: &str, day: chrono::NaiveDate, ticket: &str) -> String {
        let tag = Self::hex(&self.mac("ticket", &[office.as_bytes(), day.to_string().as_bytes(), ticket.as_bytes()]));
        tag[..16].to_owned()
    }

    /// The tag of an office's entrance QR code for one rotation window (see `office_day::join`).
    pub fn join_tag(&self, office: &str, window: i64) -> String {
        let tag = Self::hex(&self.mac("join", &[office.as_bytes(), window.to_string().as_bytes()]));
        tag[..16].to_owned()
    }

    /// The tag of an interpreting session's client-screen link: it opens that session's client
    /// view and nothing else.
    pub fn interpret_tag(&self, session: &str) -> String {
        let tag = Self::hex(&self.mac("interpret-client", &[session.as_bytes()]));
        tag[..24].to_owned()
    }

    /// What the check-in QR code encodes: the booking code and a short tag, so a kiosk can
    /// check a scanned code in without asking for the date of birth.
    pub fn check_in_payload(&self, code: &BookingCode) -> String {
        let tag = Self::hex(&self.mac("qr", &[code.as_str().as_bytes()]));
        format!("PZK1:{}:{}", code.as_str(), &tag[..16])
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_key_and_time() {
        let secrets = Secrets::new(&[7; 32]).unwrap_or_else(|| unreachable!());
        let other = Secrets::new(&[8; 32]).unwrap_or_else(|| unreachable!());
        let now = Utc::now();
        let person = RegistryPersonId("p-1".into());
        let token = secrets.identity_token(&person, now);
        assert_eq!(secrets.verify_token(&token, now).map(|v| v.person), Ok(person.clone()));
        assert_eq!(other.verify_token(&token, now).err(), Some(ErrorCode::IdentityNotVerified));
        let later = now + chrono::Duration::minutes(IDENTITY_TTL_MINUTES + 1);
        assert_eq!(secrets.verify_token(&token, later).err(), Some(ErrorCode::IdentityExpired));
        let mut forged = token.clone();
        forged.replace_range(0..2, "xx");
        assert!(secrets.verify_token(&forged, now).is_err());
        assert!(secrets.verify_token("garbage", now).is_err());
        assert_eq!(secrets.person_key(&person), secrets.person_key(&person));
        assert_ne!(secrets.person_key(&person), other.person_key(&person));
    }
}
