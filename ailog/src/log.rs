//! Appending: the single sequencer that turns drafts into records with gap-free sequence
//! numbers, chains them, and keeps the Merkle frontier for checkpoints.
//!
//! Concurrency model: one [`Appender`] per log, owned by whoever serialises writes (the store's
//! writer). It is plain data, cheap to clone (at most 64 hashes): the writer clones it before a
//! batch, appends the batch's drafts, and keeps the clone if the transaction fails, so a
//! rolled-back batch leaves no gap and no fork. Nothing here does I/O.

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::hash::{leaf_hash, Digest};
use crate::ids::{Origin, SegmentId, SessionId, Timestamp};
use crate::keys::LogSigner;
use crate::merkle::Frontier;
use crate::record::{Actor, Body, ModelIdentity, Record, RecordKind, Texts};
use crate::Error;

/// What a caller wants recorded; the appender adds origin, seq and prev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDraft {
    pub kind: RecordKind,
    pub at: Timestamp,
    pub session: Option<SessionId>,
    pub segment: Option<SegmentId>,
    pub actor: Option<Actor>,
    pub model: Option<ModelIdentity>,
    pub body: Body,
    pub texts: Texts,
}

impl RecordDraft {
    pub fn new(kind: RecordKind, at: Timestamp) -> Self {
        Self { kind, at, session: None, segment: None, actor: None, model: None, body: Body::new(), texts: Texts::new() }
    }
}

/// A record as a database row holds it. Every field is untrusted on the way back: the verifier
/// checks each column against the canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: i64,
    /// The canonical record bytes (`ai_log_records.record`).
    pub bytes: Vec<u8>,
    /// `SHA-256(0x00 ‖ bytes)`, 32 bytes when intact.
    pub leaf_hash: Vec<u8>,
    pub session: Option<String>,
    pub kind: String,
    pub created_at_ms: i64,
}

/// A record just appended: what to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub record: Record,
    pub bytes: Vec<u8>,
    pub leaf_hash: Digest,
}

impl Appended {
    /// The row to insert into `ai_log_records`.
    pub fn to_stored(&self) -> StoredRecord {
        StoredRecord {
            seq: i64::try_from(self.record.seq).unwrap_or(i64::MAX),
            bytes: self.bytes.clone(),
            leaf_hash: self.leaf_hash.as_bytes().to_vec(),
            session: self.record.session.as_ref().map(|s| s.as_str().to_owned()),
            kind: self.record.kind.as_str().to_owned(),
            created_at_ms: self.record.at.as_millis(),
        }
    }
}

/// The log's head: size, Merkle frontier and the last leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appender {
    origin: Origin,
    frontier: Frontier,
    last_leaf: Digest,
}

impl Appender {
    /// An empty log.
    pub fn new(origin: Origin) -> Self {
        Self { origin, frontier: Frontier::new(), last_leaf: Digest::ZERO }
    }

    /// Continues a log from its stored leaf hashes, in seq order. Trusts them: run the verifier
    /// first (its report carries the leaves), or at least compare [`Appender::root`] with the
    /// latest checkpoint.
    pub fn resume(origin: Origin, leaves: &[Digest]) -> Self {
        let last_leaf = leaves.last().copied().unwrap_or(Digest::ZERO);
        Self { origin, frontier: Frontier::from_leaves(leaves), last_leaf }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The number of records, which is also the next record's seq.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Digest {
        self.frontier.root()
    }

    /// Gives the draft the next seq and the previous leaf hash, checks its kind's requirements,
    /// and returns the bytes to store. On error nothing changes.
    pub fn append(&mut self, draft: RecordDraft) -> Result<Appended, Error> {
        let record = Record {
            origin: self.origin.clone(),
            seq: self.size(),
            prev: self.last_leaf,
            at: draft.at,
            kind: draft.kind,
            session: draft.session,
            segment: draft.segment,
            actor: draft.actor,
            model: draft.model,
            body: draft.body,
            texts: draft.texts,
        };
        record.check_requirements()?;
        let bytes = record.encode();
        let leaf = leaf_hash(&bytes);
        self.frontier.push(leaf);
        self.last_leaf = leaf;
        Ok(Appended { record, bytes, leaf_hash: leaf })
    }

    /// A signed checkpoint of the log as it is now.
    pub fn checkpoint(&self, at: Timestamp, signer: &LogSigner) -> SignedCheckpoint {
        Checkpoint { origin: self.origin.clone(), size: self.size(), root: self.root(), time: at }.sign(signer)
    }
}
