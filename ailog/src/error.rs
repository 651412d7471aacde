//! The crate's error for everything except verification: parsing values, keys, checkpoints and
//! bundles, building records, opening sealed text. Verification has its own report type
//! (`verify::VerifyFailure`) because it must name the first bad record, not just say "no".

use crate::record::RecordKind;

/// Why a value, key, checkpoint or record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A value does not have the documented form (the message names which value).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Stored record bytes are not a record of this format.
    #[error("record does not decode: {0}")]
    Decode(String),
    /// A record of this kind must carry this envelope field (see `RecordKind::requirements`).
    #[error("a {kind} record needs {field}")]
    MissingField { kind: RecordKind, field: &'static str },
    /// The text was sealed under another data key than the one offered.
    #[error("the text was sealed under another data key")]
    WrongDataKey,
    /// Authenticated decryption failed: wrong key, wrong session, or altered ciphertext.
    #[error("the text does not decrypt")]
    Decrypt,
    /// The decrypted text does not match the commitment stored beside it.
    #[error("the text does not match its commitment")]
    CommitmentMismatch,
    /// A signing or verifier key string is malformed or inconsistent.
    #[error("invalid key: {0}")]
    Key(&'static str),
    /// A checkpoint (note or witness line) is malformed.
    #[error("invalid checkpoint: {0}")]
    Checkpoint(&'static str),
    /// A line of a witness or trusted-keys file (1-based) is malformed.
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: Box<Error> },
    /// An inclusion proof was asked for a leaf or tree size the tree does not have.
    #[error("no such proof: {0}")]
    Proof(&'static str),
    /// An export bundle could not be built or read.
    #[error("export bundle: {0}")]
    Bundle(String),
}
