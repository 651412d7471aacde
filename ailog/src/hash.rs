//! SHA-256 digests and the RFC 9162 §2.1.1 hashing rules.
//!
//! Leaves and interior nodes are hashed with different one-byte prefixes (`0x00`, `0x01`) so a
//! leaf can never be passed off as an interior node (the second-preimage attack on plain Merkle
//! trees). A record's leaf hash is `SHA-256(0x00 ‖ canonical bytes)`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::Error;

/// A SHA-256 digest. Written as 64 lowercase hex digits in records and bundles, as standard
/// base64 in checkpoints (C2SP tlog-checkpoint).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// All zeros: the `prev` of the first record, which has no predecessor.
    pub const ZERO: Digest = Digest([0; 32]);

    pub fn sha256(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// From a stored column, which may have been tampered with to any length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex_lower(&self.0)
    }

    /// Exactly 64 lowercase hex digits: one spelling per digest, so records stay canonical.
    pub fn parse_hex(hex: &str) -> Result<Self, Error> {
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(Error::Invalid("digest"));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(Self(out))
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    pub fn parse_base64(text: &str) -> Result<Self, Error> {
        let bytes = BASE64.decode(text).map_err(|_| Error::Invalid("digest"))?;
        Self::from_slice(&bytes).ok_or(Error::Invalid("digest"))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({}…)", &self.to_hex()[..12])
    }
}

/// `SHA-256(0x00 ‖ data)`: the hash of a log entry (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Digest(h.finalize().into())
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an interior node.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Digest(h.finalize().into())
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Lowercase hex of exactly `N` bytes.
pub(crate) fn parse_hex_array<const N: usize>(hex: &str, what: &'static str) -> Result<[u8; N], Error> {
    let bytes = hex.as_bytes();
    if bytes.len() != 2 * N {
        return Err(Error::Invalid(what));
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0]).map_err(|_| Error::Invalid(what))? << 4) | nibble(pair[1]).map_err(|_| Error::Invalid(what))?;
    }
    Ok(out)
}

fn nibble(c: u8) -> Result<u8, Error> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(Error::Invalid("digest")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_is_strict() {
        let d = Digest::sha256(b"abc");
        assert_eq!(d.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Digest::parse_hex(&d.to_hex()), Ok(d));
        assert!(Digest::parse_hex(&d.to_hex().to_uppercase()).is_err());
        assert!(Digest::parse_hex(&d.to_hex()[1..]).is_err());
        assert_eq!(Digest::parse_base64(&d.to_base64()), Ok(d));
    }

    #[test]
    fn domain_separation() {
        // RFC 6962's reference: the leaf hash of the empty entry.
        assert_eq!(leaf_hash(b"").to_hex(), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
        assert_ne!(leaf_hash(b""), Digest::sha256(b""));
    }
}
