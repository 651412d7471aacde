//! The pure core of prepazka's tamper-evident AI log (AI Act Art. 12; checklist AI-L16, L17,
//! L20, L22 in `../shared/anchors/ai-log-and-security-anchors.md`). `docs/AI_LOG.md` is the
//! design; this is the map.
//!
//! - `record`: the record format. One record per event (transcription, translation,
//!   presentation, officer action, notice acknowledgement, recovery…), written as canonical JSON
//!   (`canonical`) with the model identity, UTC time, pseudonymous actors (`ids`), and sealed
//!   texts (`seal`: AES-256-GCM under a per-session data key, plus an HMAC commitment) instead of
//!   clear personal data.
//! - `log`: the appender. Gap-free `seq`, each record chained to the previous leaf hash, leaves
//!   in an RFC 9162 Merkle tree (`merkle`).
//! - `checkpoint` and `keys`: Ed25519-signed tree heads in the C2SP checkpoint / signed-note
//!   formats, and the one-line-per-checkpoint witness file kept outside the database.
//! - `verify`: checks rows, checkpoints and witness against trusted keys, naming the first bad
//!   record. `export`: one session's records with inclusion proofs, verifiable standalone.
//!
//! Concurrency: plain data and functions, no shared state; the store serialises appends by
//! owning the one `Appender`.
//!
//! Deliberately absent: SQL, files, async, clocks and randomness of our own (callers pass `now`
//! and an RNG), and any clear text of what was said.

pub mod canonical;
pub mod checkpoint;
pub mod error;
pub mod export;
pub mod hash;
pub mod ids;
pub mod keys;
pub mod log;
pub mod merkle;
pub mod record;
pub mod seal;
pub mod verify;

pub use checkpoint::{parse_witness_file, witness_line, Checkpoint, SignedCheckpoint};
pub use error::Error;
pub use export::{verify_bundle, BundleReport, ExportBundle, ExportEntry};
pub use hash::{leaf_hash, Digest};
pub use ids::{Component, FieldName, KeyName, ModelName, Origin, Pseudonym, PseudonymKey, SegmentId, SessionId, Timestamp};
pub use keys::{LogSigner, TrustedKeys, VerifierKey};
pub use log::{Appended, Appender, RecordDraft, StoredRecord};
pub use merkle::{verify_inclusion, Frontier, MerkleTree};
pub use record::{Actor, Body, BodyValue, ModelIdentity, PersonRole, Record, RecordKind, Texts};
pub use seal::{commitment, verify_commitment, DataKey, DataKeyId, KeyEncryptionKey, Opening, SealedText};
pub use verify::{verify, Anchors, LogVerifier, Problem, Source, VerifyFailure, VerifyReport};
