//! Text in the log: encrypted under a per-session data key, with a commitment beside it.
//!
//! A record never holds a transcript or translation in clear. It holds a [`SealedText`]:
//!
//! - `commit = HMAC-SHA256(key = salt, message = text)` with a fresh 32-byte random salt;
//! - `ct = AES-256-GCM(data key, nonce, plaintext = salt ‖ text, aad = context)` where the
//!   context binds the session, the text's role in the record, the data key id and the commitment.
//!
//! Both are inside the hashed record, so the chain covers them. **Erasure** (crypto-shredding)
//! deletes the session's data key: the ciphertext stays, the chain still verifies, but neither the
//! text nor the salt can be recovered, and without the salt the commitment cannot be tested
//! against guesses ("did the client say *yes*?"). Before erasure, a single text can be disclosed
//! without the key: hand over its [`Opening`] (salt and text), which anyone can check against the
//! commitment in the record (and the record against a signed checkpoint).
//!
//! AES-256-GCM with random 96-bit nonces is safe far beyond one session's few thousand texts per
//! key (NIST SP 800-38D allows 2^32 random nonces per key).
//!
//! Data keys are stored in the database wrapped under a [`KeyEncryptionKey`] that lives outside
//! it (with the signing key), so a database dump alone reads no text either.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroize;

use crate::hash::{hex_lower, parse_hex_array, Digest};
use crate::ids::{FieldName, SessionId};
use crate::Error;

const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 12;

/// The id of a data key: the first 8 bytes of `SHA-256("prepazka-ailog/data-key-id/v1\0" ‖ key)`,
/// as 16 hex digits. Says which key sealed a text without saying anything about the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DataKeyId([u8; 8]);

impl DataKeyId {
    pub fn parse(hex: &str) -> Result<Self, Error> {
        parse_hex_array::<8>(hex, "data key id").map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex_lower(&self.0)
    }
}

impl fmt::Display for DataKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for DataKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKeyId({self})")
    }
}

/// A session's data key (AES-256). Erasing the session's texts means deleting this key.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        Self(key)
    }

    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(key)
    }

    pub fn id(&self) -> DataKeyId {
        let mut input = Vec::with_capacity(64);
        input.extend_from_slice(b"prepazka-ailog/data-key-id/v1\0");
        input.extend_from_slice(&self.0);
        let digest = Digest::sha256(&input);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest.as_bytes()[..8]);
        DataKeyId(id)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    /// Encrypts `text` for the record field `role` of a record in `session`.
    pub fn seal(&self, session: &SessionId, role: &FieldName, text: &str, rng: &mut impl RngCore) -> SealedText {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let commit = commitment(&salt, text);
        let key = self.id();
        let mut plaintext = Vec::with_capacity(SALT_LEN + text.len());
        plaintext.extend_from_slice(&salt);
        plaintext.extend_from_slice(text.as_bytes());
        let aad = context(session, role, &key, &commit);
        let ciphertext = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &aad })
            // AES-GCM fails only for messages over 64 GiB.
            .unwrap_or_else(|_| unreachable!("AES-GCM encrypts any text a record can hold"));
        SealedText { key, nonce, ciphertext, commit }
    }

    /// Decrypts a sealed text and checks it against its commitment.
    pub fn open(&self, sealed: &SealedText, session: &SessionId, role: &FieldName) -> Result<Opening, Error> {
        if sealed.key != self.id() {
            return Err(Error::WrongDataKey);
        }
        let aad = context(session, role, &sealed.key, &sealed.commit);
        let plaintext = self
            .cipher()
            .decrypt(Nonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad: &aad })
            .map_err(|_| Error::Decrypt)?;
        if plaintext.len() < SALT_LEN {
            return Err(Error::Decrypt);
        }
        let (salt_bytes, text_bytes) = plaintext.split_at(SALT_LEN);
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(salt_bytes);
        let text = String::from_utf8(text_bytes.to_vec()).map_err(|_| Error::Decrypt)?;
        let opening = Opening { salt, text };
        if opening.matches(&sealed.commit) {
            Ok(opening)
        } else {
            Err(Error::CommitmentMismatch)
        }
    }
}

impl Drop for DataKey {
    // Erasure means the key is gone: not left in freed memory either.
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({}, …)", self.id())
    }
}

/// The AEAD associated data: moving a ciphertext to another session or field, or pairing it with
/// another commitment, makes it fail to decrypt.
fn context(session: &SessionId, role: &FieldName, key: &DataKeyId, commit: &Digest) -> Vec<u8> {
    let mut aad = Vec::with_capacity(96 + session.as_str().len());
    aad.extend_from_slice(b"prepazka-ailog/text/v1\0");
    aad.extend_from_slice(session.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(role.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(&key.0);
    aad.extend_from_slice(commit.as_bytes());
    aad
}

/// `HMAC-SHA256(key = salt, message = text)`.
pub fn commitment(salt: &[u8; 32], text: &str) -> Digest {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(salt).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(text.as_bytes());
    Digest::from_bytes(mac.finalize().into_bytes().into())
}

/// Checks an opening against a commitment in constant time.
pub fn verify_commitment(commit: &Digest, salt: &[u8; 32], text: &str) -> bool {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(salt).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(text.as_bytes());
    mac.verify_slice(commit.as_bytes()).is_ok()
}

/// A text as the record holds it: which key, the nonce, the ciphertext and the commitment.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedText {
    pub key: DataKeyId,
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
    pub commit: Digest,
}

impl fmt::Debug for SealedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedText(key {}, {} bytes, commit {:?})", self.key, self.ciphertext.len(), self.commit)
    }
}

/// A decrypted text and its salt: what is disclosed to show one text matches its commitment.
#[derive(Clone, PartialEq, Eq)]
pub struct Opening {
    pub salt: [u8; SALT_LEN],
    pub text: String,
}

impl Opening {
    pub fn matches(&self, commit: &Digest) -> bool {
        verify_commitment(commit, &self.salt, &self.text)
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        self.salt.zeroize();
        self.text.zeroize();
    }
}

impl fmt::Debug for Opening {
    // The text is personal data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opening({} bytes)", self.text.len())
    }
}

/// The key that wraps data keys for storage. Lives outside the database (a file beside the
/// signing key, or an HSM later); losing it is losing every text, so back it up like the
/// signing key.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl KeyEncryptionKey {
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        Self(key)
    }

    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self(key)
    }

    /// `nonce (12) ‖ AES-256-GCM(data key)` bound to the session: 60 bytes, for the
    /// `ai_log_data_keys.wrapped_key` column.
    pub fn wrap(&self, key: &DataKey, session: &SessionId, rng: &mut impl RngCore) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let aad = wrap_context(session);
        let sealed = Aes256Gcm::new(&self.0.into())
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: &key.0, aad: &aad })
            .unwrap_or_else(|_| unreachable!("AES-GCM encrypts 32 bytes"));
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub fn unwrap_key(&self, wrapped: &[u8], session: &SessionId) -> Result<DataKey, Error> {
        if wrapped.len() != NONCE_LEN + 32 + 16 {
            return Err(Error::Decrypt);
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let aad = wrap_context(session);
        let plain = Aes256Gcm::new(&self.0.into())
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| Error::Decrypt)?;
        let bytes = <[u8; 32]>::try_from(plain.as_slice()).map_err(|_| Error::Decrypt)?;
        Ok(DataKey(bytes))
    }
}

impl Drop for KeyEncryptionKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(…)")
    }
}

fn wrap_context(session: &SessionId) -> Vec<u8> {
    let mut aad = b"prepazka-ailog/data-key/v1\0".to_vec();
    aad.extend_from_slice(session.as_str().as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn ids() -> (SessionId, FieldName) {
        (SessionId::parse("s1").unwrap_or_else(|e| panic!("{e}")), FieldName::parse("text").unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn seal_open_and_commit() {
        let mut rng = StdRng::seed_from_u64(1);
        let (session, role) = ids();
        let key = DataKey::generate(&mut rng);
        let sealed = key.seal(&session, &role, "Dobrý den, potřebuji prodloužit povolení.", &mut rng);
        let opening = key.open(&sealed, &session, &role);
        assert_eq!(opening.as_ref().map(|o| o.text.as_str()), Ok("Dobrý den, potřebuji prodloužit povolení."));
        assert!(opening.as_ref().is_ok_and(|o| o.matches(&sealed.commit)));
        // The commitment does not reveal the text without the salt, and a wrong text fails.
        assert!(opening.is_ok_and(|o| !verify_commitment(&sealed.commit, &o.salt, "Dobrý den")));

        // Another session, another role, another key, or a flipped bit: refused.
        let other_session = SessionId::parse("s2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.open(&sealed, &other_session, &role), Err(Error::Decrypt));
        let other_role = FieldName::parse("edited_text").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.open(&sealed, &session, &other_role), Err(Error::Decrypt));
        assert_eq!(DataKey::generate(&mut rng).open(&sealed, &session, &role), Err(Error::WrongDataKey));
        let mut flipped = sealed.clone();
        flipped.ciphertext[3] ^= 1;
        assert_eq!(key.open(&flipped, &session, &role), Err(Error::Decrypt));
        let mut recommitted = sealed.clone();
        recommitted.commit = Digest::sha256(b"other");
        assert_eq!(key.open(&recommitted, &session, &role), Err(Error::Decrypt));
    }

    #[test]
    fn data_keys_wrap_per_session() {
        let mut rng = StdRng::seed_from_u64(2);
        let (session, _) = ids();
        let kek = KeyEncryptionKey::generate(&mut rng);
        let key = DataKey::generate(&mut rng);
        let wrapped = kek.wrap(&key, &session, &mut rng);
        assert_eq!(wrapped.len(), 60);
        assert_eq!(kek.unwrap_key(&wrapped, &session).map(|k| k.id()), Ok(key.id()));
        let other = SessionId::parse("s2").unwrap_or_else(|e| panic!("{e}"));
        assert!(kek.unwrap_key(&wrapped, &other).is_err());
        assert!(KeyEncryptionKey::generate(&mut rng).unwrap_key(&wrapped, &session).is_err());
    }
}
