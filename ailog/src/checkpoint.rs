//! Signed checkpoints (tree heads) and the witness file.
//!
//! A checkpoint is a C2SP `tlog-checkpoint` note body with one extension line for the time:
//!
//! ```text
//! oamp.mv.cz/prepazka/ai-log/v1
//! 1048577
//! <base64 root hash>
//! time 2026-11-23T09:41:07.412Z
//! ```
//!
//! signed as a C2SP signed note by the log's Ed25519 key: the note is the body, a blank line,
//! and `— <key name> <base64(4-byte key id ‖ 64-byte signature)>`. Any `sumdb/note`-compatible
//! tool can check it with the verifier key ([`crate::keys`]).
//!
//! The **witness file** holds the same checkpoints one per line, so it can be appended to with
//! one `write` and read with `grep`/`tail`:
//!
//! ```text
//! <origin> <size> <base64 root> <time> <key name> <base64(key id ‖ signature)>\n
//! ```
//!
//! Six fields separated by single spaces (none of them can contain a space), nothing else on
//! the line; the note body is rebuilt from the first four to check the signature. The database's
//! checkpoints table stores the same line.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::hash::Digest;
use crate::ids::{KeyName, Origin, Timestamp};
use crate::keys::{LogSigner, TrustedKeys, VerifierKey};
use crate::Error;

/// A tree head: the log `origin` had `size` records with Merkle root `root` at `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: Origin,
    pub size: u64,
    pub root: Digest,
    pub time: Timestamp,
}

impl Checkpoint {
    /// The signed text (C2SP tlog-checkpoint), ending in a newline.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\ntime {}\n", self.origin, self.size, self.root.to_base64(), self.time)
    }

    pub fn sign(self, signer: &LogSigner) -> SignedCheckpoint {
        let signature = signer.sign(self.body().as_bytes());
        SignedCheckpoint { checkpoint: self, key_name: signer.name().clone(), key_id: signer.key_id(), signature }
    }

    fn parse_body(body: &str) -> Result<Self, Error> {
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root), Some(time), Some(""), None) =
            (lines.next(), lines.next(), lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::Checkpoint("expected origin, size, root and time lines"));
        };
        let time = time.strip_prefix("time ").ok_or(Error::Checkpoint("expected a time line"))?;
        Self::from_fields(origin, size, root, time)
    }

    fn from_fields(origin: &str, size: &str, root: &str, time: &str) -> Result<Self, Error> {
        let canonical_size = !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
        if !canonical_size {
            return Err(Error::Checkpoint("size is not a decimal number"));
        }
        Ok(Self {
            origin: Origin::parse(origin).map_err(|_| Error::Checkpoint("bad origin"))?,
            size: size.parse().map_err(|_| Error::Checkpoint("size out of range"))?,
            root: Digest::parse_base64(root).map_err(|_| Error::Checkpoint("bad root hash"))?,
            time: Timestamp::parse(time).map_err(|_| Error::Checkpoint("bad time"))?,
        })
    }
}

/// Why a checkpoint's signature is not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("signed by a key that is not trusted")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
}

/// A checkpoint with its signature.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    key_name: KeyName,
    key_id: u32,
    signature: [u8; 64],
}

const SIGNATURE_PREFIX: &str = "\u{2014} ";

impl SignedCheckpoint {
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    pub fn key_name(&self) -> &KeyName {
        &self.key_name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Checks the signature against the trusted keys; returns the key that signed.
    pub fn verify<'k>(&self, keys: &'k TrustedKeys) -> Result<&'k VerifierKey, SignatureProblem> {
        let body = self.checkpoint.body();
        let mut known = false;
        for key in keys.find(&self.key_name, self.key_id) {
            known = true;
            if key.verify(body.as_bytes(), &self.signature) {
                return Ok(key);
            }
        }
        Err(if known { SignatureProblem::BadSignature } else { SignatureProblem::UnknownKey })
    }

    fn signature_blob(&self) -> String {
        let mut blob = self.key_id.to_be_bytes().to_vec();
        blob.extend_from_slice(&self.signature);
        BASE64.encode(blob)
    }

    fn parse_signature_blob(blob: &str) -> Result<(u32, [u8; 64]), Error> {
        let bytes = BASE64.decode(blob).map_err(|_| Error::Checkpoint("bad signature encoding"))?;
        if bytes.len() != 68 {
            return Err(Error::Checkpoint("signature of the wrong length"));
        }
        let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[4..]);
        Ok((id, signature))
    }

    /// The C2SP signed note.
    pub fn to_note(&self) -> String {
        format!("{}\n{}{} {}\n", self.checkpoint.body(), SIGNATURE_PREFIX, self.key_name, self.signature_blob())
    }

    /// Reads a signed note with exactly one signature line, in the form [`Self::to_note`] writes.
    pub fn parse_note(note: &str) -> Result<Self, Error> {
        let (body, signatures) = note.split_once("\n\n").ok_or(Error::Checkpoint("no blank line before the signature"))?;
        let body = format!("{body}\n");
        let checkpoint = Checkpoint::parse_body(&body)?;
        let line = signatures
            .strip_prefix(SIGNATURE_PREFIX)
            .and_then(|rest| rest.strip_suffix('\n'))
            .filter(|line| !line.contains('\n'))
            .ok_or(Error::Checkpoint("expected one signature line"))?;
        let (name, blob) = line.split_once(' ').ok_or(Error::Checkpoint("bad signature line"))?;
        let key_name = KeyName::parse(name).map_err(|_| Error::Checkpoint("bad key name"))?;
        let (key_id, signature) = Self::parse_signature_blob(blob)?;
        let parsed = Self { checkpoint, key_name, key_id, signature };
        if parsed.to_note() == note {
            Ok(parsed)
        } else {
            Err(Error::Checkpoint("not in canonical form"))
        }
    }

    /// One witness-file line, without the newline.
    pub fn to_line(&self) -> String {
        let c = &self.checkpoint;
        format!("{} {} {} {} {} {}", c.origin, c.size, c.root.to_base64(), c.time, self.key_name, self.signature_blob())
    }

    /// Reads one witness-file line (without its newline); only the form [`Self::to_line`]
    /// writes is accepted.
    pub fn parse_line(line: &str) -> Result<Self, Error> {
        let fields: Vec<&str> = line.split(' ').collect();
        let [origin, size, root, time, name, blob] = fields[..] else {
            return Err(Error::Checkpoint("expected six space-separated fields"));
        };
        let checkpoint = Checkpoint::from_fields(origin, size, root, time)?;
        let key_name = KeyName::parse(name).map_err(|_| Error::Checkpoint("bad key name"))?;
        let (key_id, signature) = Self::parse_signature_blob(blob)?;
        let parsed = Self { checkpoint, key_name, key_id, signature };
        if parsed.to_line() == line {
            Ok(parsed)
        } else {
            Err(Error::Checkpoint("not in canonical form"))
        }
    }
}

impl fmt::Debug for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignedCheckpoint({} size {} root {:?} at {} by {})",
            self.checkpoint.origin, self.checkpoint.size, self.checkpoint.root, self.checkpoint.time, self.key_name
        )
    }
}

/// The longest a growing log goes without a checkpoint (AI-L17): records younger than the newest
/// checkpoint held outside the database are the ones an insider could still drop unnoticed.
pub const CHECKPOINT_INTERVAL_MS: i64 = 60_000;

/// Whether the store must write a checkpoint now: the log grew since the last one, and either a
/// session just ended or the last one is [`CHECKPOINT_INTERVAL_MS`] old. Never for an unchanged
/// size (the database refuses a checkpoint that does not grow).
pub fn checkpoint_due(last: Option<&Checkpoint>, size: u64, now: Timestamp, session_ended: bool) -> bool {
    match last {
        None => size > 0,
        Some(last) => size > last.size && (session_ended || now.as_millis() - last.time.as_millis() >= CHECKPOINT_INTERVAL_MS),
    }
}

/// What to append to the witness file for one checkpoint: its line and a newline. Write it
/// with one `write` on a file opened for appending, then `fsync`.
pub fn witness_line(checkpoint: &SignedCheckpoint) -> String {
    format!("{}\n", checkpoint.to_line())
}

/// Reads a whole witness file. Every line must be a checkpoint line ending in a newline; an empty
/// file is an empty list. Errors name the 1-based line.
pub fn parse_witness_file(bytes: &[u8]) -> Result<Vec<SignedCheckpoint>, Error> {
    let mut out = Vec::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let Some(body) = bytes.strip_suffix(b"\n") else {
        let line = bytes.iter().filter(|b| **b == b'\n').count() + 1;
        return Err(Error::Line { line, reason: Box::new(Error::Checkpoint("the last line is not complete")) });
    };
    for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
        let parsed = std::str::from_utf8(raw).map_err(|_| Error::Checkpoint("not UTF-8")).and_then(SignedCheckpoint::parse_line);
        out.push(parsed.map_err(|e| Error::Line { line: i + 1, reason: Box::new(e) })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn signed() -> (SignedCheckpoint, TrustedKeys) {
        let mut rng = StdRng::seed_from_u64(3);
        let signer = LogSigner::generate(KeyName::parse("test-log-2026").expect("name"), &mut rng);
        let cp = Checkpoint {
            origin: Origin::parse("test.example/ai-log").expect("origin"),
            size: 1234,
            root: Digest::sha256(b"root"),
            time: Timestamp::parse("2026-11-23T09:41:07.412Z").expect("time"),
        }
        .sign(&signer);
        (cp, TrustedKeys::new(vec![signer.verifier()]))
    }

    #[test]
    fn note_and_line_round_trip_and_verify() {
        let (cp, keys) = signed();
        let note = cp.to_note();
        assert!(note.starts_with("test.example/ai-log\n1234\n"), "{note}");
        assert!(note.contains("\ntime 2026-11-23T09:41:07.412Z\n\n\u{2014} test-log-2026 "), "{note}");
        assert_eq!(SignedCheckpoint::parse_note(&note).as_ref(), Ok(&cp));
        let line = cp.to_line();
        assert_eq!(SignedCheckpoint::parse_line(&line).as_ref(), Ok(&cp));
        assert!(cp.verify(&keys).is_ok());
        assert_eq!(cp.verify(&TrustedKeys::default()).err(), Some(SignatureProblem::UnknownKey));

        let file = format!("{}{}", witness_line(&cp), witness_line(&cp));
        assert_eq!(parse_witness_file(file.as_bytes()).map(|v| v.len()), Ok(2));
        assert!(matches!(parse_witness_file(&file.as_bytes()[..file.len() - 1]), Err(Error::Line { line: 2, .. })));
        assert!(matches!(parse_witness_file(format!("{file}\n").as_bytes()), Err(Error::Line { line: 3, .. })));
    }

    #[test]
    fn every_changed_byte_of_a_line_is_refused_or_fails_to_verify() {
        let (cp, keys) = signed();
        let line = cp.to_line().into_bytes();
        for i in 0..line.len() {
            for x in [0x01u8, 0x20, 0x80] {
                let mut bad = line.clone();
                bad[i] ^= x;
                let outcome = std::str::from_utf8(&bad).map_err(|_| ()).and_then(|s| SignedCheckpoint::parse_line(s).map_err(|_| ()));
                if let Ok(parsed) = outcome {
                    assert!(parsed.verify(&keys).is_err(), "byte {i} ^ {x:#x} still verifies");
                }
            }
        }
    }

    #[test]
    fn checkpoints_are_due_every_minute_of_growth_and_at_session_end() {
        let (cp, _) = signed();
        let last = cp.checkpoint();
        let at = |ms: i64| Timestamp::from_millis(last.time.as_millis() + ms).expect("time");
        assert!(checkpoint_due(None, 1, at(0), false));
        assert!(!checkpoint_due(None, 0, at(0), true));
        assert!(!checkpoint_due(Some(last), 1234, at(120_000), true), "no growth, no checkpoint");
        assert!(!checkpoint_due(Some(last), 1235, at(59_999), false));
        assert!(checkpoint_due(Some(last), 1235, at(60_000), false));
        assert!(checkpoint_due(Some(last), 1235, at(1), true));
    }

    /// The example of Go's `sumdb/note`: Ed25519 is deterministic, so our signature line for
    /// their text and key must be theirs byte for byte.
    #[test]
    fn signature_lines_match_go_sumdb_note() {
        let signer =
            LogSigner::parse_key_file("PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").expect("key");
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let mut blob = signer.key_id().to_be_bytes().to_vec();
        blob.extend_from_slice(&signer.sign(text.as_bytes()));
        assert_eq!(BASE64.encode(blob), "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=");
    }
}
