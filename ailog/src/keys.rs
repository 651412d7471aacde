//! Checkpoint signing keys (Ed25519), in the text formats of Go's `golang.org/x/mod/sumdb/note`
//! (the C2SP signed-note spec), so that standard tooling can check our checkpoints:
//!
//! - signer key file: `PRIVATE+KEY+<name>+<key id, 8 hex>+<base64(0x01 ‖ 32-byte seed)>`
//! - verifier key:    `<name>+<key id, 8 hex>+<base64(0x01 ‖ 32-byte public key)>`
//! - key id: the first 4 bytes (big-endian) of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`.
//!
//! The signing key lives in a file outside the database (mode 0600; the store refuses to write
//! checkpoints without it). Rotation: generate a new key with a new name, add its verifier key to
//! the trusted set, switch the signer; old checkpoints keep verifying under the old key, which
//! stays in [`TrustedKeys`] until no checkpoint signed by it is kept.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};

use crate::hash::Digest;
use crate::ids::KeyName;
use crate::Error;

/// The signed-note algorithm byte for Ed25519.
const ALG_ED25519: u8 = 0x01;

fn key_id(name: &KeyName, public: &VerifyingKey) -> u32 {
    let mut input = Vec::with_capacity(name.as_str().len() + 34);
    input.extend_from_slice(name.as_str().as_bytes());
    input.push(b'\n');
    input.push(ALG_ED25519);
    input.extend_from_slice(public.as_bytes());
    let digest = Digest::sha256(&input);
    let b = digest.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The log's checkpoint signer.
pub struct LogSigner {
    name: KeyName,
    key: SigningKey,
    id: u32,
}

impl LogSigner {
    pub fn generate<R: RngCore + CryptoRng>(name: KeyName, rng: &mut R) -> Self {
        let key = SigningKey::generate(rng);
        let id = key_id(&name, &key.verifying_key());
        Self { name, key, id }
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    pub fn verifier(&self) -> VerifierKey {
        VerifierKey { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The key file's content (one line, no newline). Secret: write it with mode 0600.
    pub fn to_key_file(&self) -> String {
        let mut payload = vec![ALG_ED25519];
        payload.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{:08x}+{}", self.name, self.id, BASE64.encode(payload))
    }

    /// Reads a key file; surrounding whitespace (a trailing newline) is ignored.
    pub fn parse_key_file(text: &str) -> Result<Self, Error> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or(Error::Key("not a private key"))?;
        let (name, id, payload) = split_key(rest)?;
        let seed = <[u8; 32]>::try_from(&payload[..]).map_err(|_| Error::Key("wrong key length"))?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(&name, &key.verifying_key()) != id {
            return Err(Error::Key("key id does not match the key"));
        }
        Ok(Self { name, key, id })
    }
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogSigner({}+{:08x})", self.name, self.id)
    }
}

/// `<name>+<id hex>+<base64(0x01 ‖ key)>` → parts, checking the algorithm byte.
fn split_key(text: &str) -> Result<(KeyName, u32, Vec<u8>), Error> {
    // The base64 key itself may contain `+`: only the first two separate fields.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(payload), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Error::Key("expected name+id+key"));
    };
    let name = KeyName::parse(name).map_err(|_| Error::Key("bad key name"))?;
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(Error::Key("bad key id"));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| Error::Key("bad key id"))?;
    let payload = BASE64.decode(payload).map_err(|_| Error::Key("bad base64"))?;
    match payload.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name, id, key.to_vec())),
        _ => Err(Error::Key("not an Ed25519 key")),
    }
}

/// A public key that checkpoints may be signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: KeyName,
    id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let (name, id, payload) = split_key(text.trim())?;
        let bytes = <[u8; 32]>::try_from(&payload[..]).map_err(|_| Error::Key("wrong key length"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| Error::Key("not a valid Ed25519 point"))?;
        if key.is_weak() {
            return Err(Error::Key("weak Ed25519 key"));
        }
        if key_id(&name, &key) != id {
            return Err(Error::Key("key id does not match the key"));
        }
        Ok(Self { name, id, key })
    }

    pub fn name(&self) -> &KeyName {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// Strict verification (RFC 8032 §5.1.7 plus no small-order keys or non-canonical `R`).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.key.verify_strict(message, &Signature::from_bytes(signature)).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut payload = vec![ALG_ED25519];
        payload.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, BASE64.encode(payload))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({}+{:08x})", self.name, self.id)
    }
}

/// The public keys whose checkpoints are believed: the current one and any rotated-out ones.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys(Vec<VerifierKey>);

impl TrustedKeys {
    pub fn new(keys: Vec<VerifierKey>) -> Self {
        Self(keys)
    }

    /// One verifier key per line; blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            keys.push(VerifierKey::parse(line).map_err(|e| Error::Line { line: i + 1, reason: Box::new(e) })?);
        }
        Ok(Self(keys))
    }

    pub fn keys(&self) -> &[VerifierKey] {
        &self.0
    }

    /// The keys a signature line names (name and id; ids may collide, names disambiguate).
    pub(crate) fn find<'a>(&'a self, name: &KeyName, id: u32) -> impl Iterator<Item = &'a VerifierKey> + 'a {
        let name = name.clone();
        self.0.iter().filter(move |k| k.id == id && k.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn key_files_round_trip_and_are_checked() {
        let mut rng = StdRng::seed_from_u64(9);
        let signer = LogSigner::generate(KeyName::parse("prepazka-test-2026").expect("name"), &mut rng);
        let file = signer.to_key_file();
        assert!(file.starts_with("PRIVATE+KEY+prepazka-test-2026+"));
        let back = LogSigner::parse_key_file(&format!("{file}\n")).expect("parses");
        assert_eq!(back.verifier(), signer.verifier());
        assert_eq!(format!("{back:?}"), format!("LogSigner(prepazka-test-2026+{:08x})", signer.key_id()));

        let public = signer.verifier().to_string();
        assert_eq!(VerifierKey::parse(&public), Ok(signer.verifier()));
        // A wrong id, name or algorithm byte is refused.
        let wrong_id = public.replacen(&format!("+{:08x}+", signer.key_id()), &format!("+{:08x}+", signer.key_id() ^ 1), 1);
        assert!(VerifierKey::parse(&wrong_id).is_err());
        assert!(VerifierKey::parse(&public.replacen("prepazka-test-2026", "prepazka-test-2027", 1)).is_err());
        assert!(LogSigner::parse_key_file(&public).is_err());

        let trusted = TrustedKeys::parse(&format!("# current\n{public}\n\n")).expect("parses");
        assert_eq!(trusted.keys().len(), 1);
        assert!(TrustedKeys::parse("garbage").is_err());
    }

    /// The example key of Go's `golang.org/x/mod/sumdb/note` documentation: our key id and
    /// format agree with theirs.
    #[test]
    fn matches_the_go_note_format() {
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let key = VerifierKey::parse(vkey).expect("Go's example verifier key parses");
        assert_eq!(key.key_id(), 0xc74f20a3);
        assert_eq!(key.to_string(), vkey);
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let signer = LogSigner::parse_key_file(skey).expect("Go's example signer key parses");
        assert_eq!(signer.verifier(), key);
        assert_eq!(signer.to_key_file(), skey);
    }
}
