//! Verification of a whole log: stored rows, the database's checkpoints and the witness file's,
//! against a set of trusted public keys. Stops at the first problem and names the first record
//! the evidence no longer vouches for.
//!
//! Two phases. [`Anchors`] collects the checkpoints (each parsed, origin-checked and
//! signature-checked; two validly signed different roots for one size is equivocation). Then
//! [`LogVerifier`] streams the rows in seq order, in memory proportional to the number of
//! records (32 bytes each, kept to tell a copied record from a displaced one and handed back for
//! resuming or exporting). Per row, in this order, naming position `e`:
//!
//! 1. the row's `seq` column is `e` (else `SequenceGap`: a deleted, inserted or reordered row);
//! 2. its `leaf_hash` column is `SHA-256(0x00 ‖ bytes)` (else `LeafHashMismatch`: bytes or
//!    column edited);
//! 3. the bytes decode as a record of a known kind with its required fields (`Undecodable`);
//! 4. the record's own seq is `e` (else `Displaced`: blamed on the lower of the two positions,
//!    unless it is an exact copy of the earlier record, then on `e`);
//! 5. its `prev` is the leaf hash of row `e − 1` (else `ChainBroken`, blamed on `e − 1`: the
//!    record written after it no longer matches it — it was edited with its leaf hash redone,
//!    or replaced, or a record was inserted before `e`);
//! 6. the bytes are canonical (`NotCanonical`) and the origin is this log's (`WrongOrigin`);
//! 7. the `session`, `kind` and `created_at` columns match the record (`ColumnMismatch`);
//! 8. at every checkpointed size, the Merkle root matches (else `RootMismatch`, blamed on the
//!    first record after the last checkpoint that did match: a consistent rewrite of everything
//!    from some record on is only visible here, and only that precisely).
//!
//! At the end, a checkpoint bigger than the log means records were cut off (`Truncated`,
//! blamed on the first missing seq). Records after the newest checkpoint are reported as
//! unanchored: nothing outside the database vouches for them yet.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::checkpoint::{parse_witness_file, SignatureProblem, SignedCheckpoint};
use crate::hash::{leaf_hash, Digest};
use crate::ids::{Origin, Timestamp};
use crate::keys::TrustedKeys;
use crate::log::StoredRecord;
use crate::merkle::Frontier;
use crate::record::Record;
use crate::Error;

/// Where a checkpoint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// The database's checkpoints table.
    Database,
    /// The witness file outside the database.
    Witness,
    /// An export bundle.
    Bundle,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Database => "database",
            Source::Witness => "witness file",
            Source::Bundle => "bundle",
        })
    }
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{from} checkpoint on line {line} is unreadable: {reason}")]
    CheckpointUnreadable { from: Source, line: usize, reason: String },
    #[error("{from} checkpoint of size {size} belongs to another log")]
    CheckpointWrongOrigin { from: Source, size: u64 },
    #[error("{from} checkpoint of size {size} is signed by an untrusted key ({key})")]
    CheckpointUnknownKey { from: Source, size: u64, key: String },
    #[error("{from} checkpoint of size {size} has a forged or broken signature")]
    CheckpointBadSignature { from: Source, size: u64 },
    #[error("two validly signed checkpoints of size {size} have different roots: the log was forked")]
    Equivocation { size: u64 },
    #[error("the row at this position has seq {found}: a record was deleted, inserted or moved")]
    SequenceGap { found: i64 },
    #[error("the stored leaf hash does not match the record bytes")]
    LeafHashMismatch,
    #[error("the record bytes do not decode: {reason}")]
    Undecodable { reason: String },
    #[error("the record at position {position} says it is record {claims}")]
    Displaced { position: u64, claims: u64 },
    #[error("record {successor} does not link to this record as stored")]
    ChainBroken { successor: u64 },
    #[error("the record bytes are not in canonical form")]
    NotCanonical,
    #[error("the record belongs to another log")]
    WrongOrigin,
    #[error("the {column} column does not match the record")]
    ColumnMismatch { column: &'static str },
    #[error("records from here up to {checkpoint_size} do not match the signed checkpoint of that size")]
    RootMismatch { checkpoint_size: u64 },
    #[error("a signed checkpoint says there were {checkpoint_size} records; only {records} are left")]
    Truncated { checkpoint_size: u64, records: u64 },
    #[error("the inclusion proof does not lead to the checkpoint's root")]
    InclusionProofInvalid,
    #[error("the record is not covered by the bundle's checkpoint of size {checkpoint_size}")]
    BeyondCheckpoint { checkpoint_size: u64 },
    #[error("bundle entries are not in ascending seq order")]
    NotAscending,
}

/// The verdict: the first record the evidence does not vouch for (none for a problem with a
/// checkpoint itself) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct VerifyFailure {
    pub seq: Option<u64>,
    pub problem: Problem,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "first bad record {seq}: {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

fn at(seq: u64, problem: Problem) -> VerifyFailure {
    VerifyFailure { seq: Some(seq), problem }
}

fn checkpoint_failure(problem: Problem) -> VerifyFailure {
    VerifyFailure { seq: None, problem }
}

#[derive(Debug, Clone)]
struct Head {
    root: Digest,
    time: Timestamp,
    sources: BTreeSet<Source>,
}

/// The checkpoints a log is checked against, each already signature-checked.
#[derive(Debug, Clone)]
pub struct Anchors {
    origin: Origin,
    keys: TrustedKeys,
    heads: BTreeMap<u64, Head>,
}

impl Anchors {
    pub fn new(origin: Origin, keys: TrustedKeys) -> Self {
        Self { origin, keys, heads: BTreeMap::new() }
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Adds one checkpoint after checking its origin and signature.
    pub fn add(&mut self, source: Source, signed: &SignedCheckpoint) -> Result<(), VerifyFailure> {
        let cp = signed.checkpoint();
        if cp.origin != self.origin {
            return Err(checkpoint_failure(Problem::CheckpointWrongOrigin { from: source, size: cp.size }));
        }
        match signed.verify(&self.keys) {
            Ok(_) => {}
            Err(SignatureProblem::UnknownKey) => {
                let key = format!("{}+{:08x}", signed.key_name(), signed.key_id());
                return Err(checkpoint_failure(Problem::CheckpointUnknownKey { from: source, size: cp.size, key }));
            }
            Err(SignatureProblem::BadSignature) => {
                return Err(checkpoint_failure(Problem::CheckpointBadSignature { from: source, size: cp.size }))
            }
        }
        let head = self.heads.entry(cp.size).or_insert_with(|| Head { root: cp.root, time: cp.time, sources: BTreeSet::new() });
        if head.root != cp.root {
            return Err(checkpoint_failure(Problem::Equivocation { size: cp.size }));
        }
        head.time = head.time.min(cp.time);
        head.sources.insert(source);
        Ok(())
    }

    /// Adds a checkpoint given as a witness-format line (the database stores the same line).
    pub fn add_line(&mut self, source: Source, line_number: usize, line: &str) -> Result<(), VerifyFailure> {
        let signed = SignedCheckpoint::parse_line(line)
            .map_err(|e| checkpoint_failure(Problem::CheckpointUnreadable { from: source, line: line_number, reason: e.to_string() }))?;
        self.add(source, &signed)
    }

    /// Adds every checkpoint of a witness file.
    pub fn add_witness_file(&mut self, bytes: &[u8]) -> Result<(), VerifyFailure> {
        let checkpoints = parse_witness_file(bytes).map_err(|e| {
            let (line, reason) = match e {
                Error::Line { line, reason } => (line, reason.to_string()),
                other => (0, other.to_string()),
            };
            checkpoint_failure(Problem::CheckpointUnreadable { from: Source::Witness, line, reason })
        })?;
        checkpoints.iter().try_for_each(|cp| self.add(Source::Witness, cp))
    }

    fn root_at(&self, size: u64) -> Option<&Head> {
        self.heads.get(&size)
    }
}

/// What a clean verification established.
#[derive(Clone)]
pub struct VerifyReport {
    /// Records verified (the log's size).
    pub records: u64,
    /// The Merkle root over all of them.
    pub root: Digest,
    /// Distinct checkpointed sizes checked.
    pub checkpoints: usize,
    /// The newest checkpoint: size and time.
    pub latest_checkpoint: Option<(u64, Timestamp)>,
    /// Records after the newest checkpoint: vouched for by nothing outside the database yet.
    pub unanchored: u64,
    /// Checkpointed sizes the database has and the witness file lacks (a witness write failed,
    /// or no witness file was given).
    pub missing_from_witness: Vec<u64>,
    /// Checkpointed sizes the witness file has and the database lacks (the table was edited
    /// behind its triggers, or the database was restored from an older backup).
    pub missing_from_database: Vec<u64>,
    leaves: Vec<Digest>,
}

impl VerifyReport {
    /// The verified leaf hashes in seq order: for `Appender::resume` or `MerkleTree::from_leaves`.
    pub fn leaves(&self) -> &[Digest] {
        &self.leaves
    }

    pub fn into_leaves(self) -> Vec<Digest> {
        self.leaves
    }
}

impl fmt::Debug for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyReport")
            .field("records", &self.records)
            .field("root", &self.root)
            .field("checkpoints", &self.checkpoints)
            .field("latest_checkpoint", &self.latest_checkpoint)
            .field("unanchored", &self.unanchored)
            .field("missing_from_witness", &self.missing_from_witness)
            .field("missing_from_database", &self.missing_from_database)
            .finish()
    }
}

/// Streams a log's rows through the checks listed in the module documentation.
#[derive(Debug)]
pub struct LogVerifier {
    anchors: Anchors,
    frontier: Frontier,
    leaves: Vec<Digest>,
    /// Size of the last checkpoint that matched: every record below it is vouched for.
    vouched: u64,
}

impl LogVerifier {
    pub fn new(anchors: Anchors) -> Self {
        Self { anchors, frontier: Frontier::new(), leaves: Vec::new(), vouched: 0 }
    }

    fn next(&self) -> u64 {
        self.frontier.size()
    }

    fn check_root(&mut self) -> Result<(), VerifyFailure> {
        let size = self.next();
        if let Some(head) = self.anchors.root_at(size) {
            if head.root != self.frontier.root() {
                return Err(at(self.vouched, Problem::RootMismatch { checkpoint_size: size }));
            }
            self.vouched = size;
        }
        Ok(())
    }

    /// Checks the next row; rows must come in the order the database returns them by seq.
    pub fn push(&mut self, row: &StoredRecord) -> Result<(), VerifyFailure> {
        let e = self.next();
        if e == 0 {
            self.check_root()?;
        }
        if i64::try_from(e).ok() != Some(row.seq) {
            return Err(at(e, Problem::SequenceGap { found: row.seq }));
        }
        let leaf = leaf_hash(&row.bytes);
        if Digest::from_slice(&row.leaf_hash) != Some(leaf) {
            return Err(at(e, Problem::LeafHashMismatch));
        }
        let record = Record::decode(&row.bytes).map_err(|err| at(e, Problem::Undecodable { reason: err.to_string() }))?;
        if record.seq != e {
            let claims = record.seq;
            let copy_of_earlier = usize::try_from(claims).ok().and_then(|i| self.leaves.get(i)) == Some(&leaf);
            let blame = if copy_of_earlier { e } else { claims.min(e) };
            return Err(at(blame, Problem::Displaced { position: e, claims }));
        }
        let expected_prev = self.leaves.last().copied().unwrap_or(Digest::ZERO);
        if record.prev != expected_prev {
            return Err(at(e.saturating_sub(1), Problem::ChainBroken { successor: e }));
        }
        if record.encode() != row.bytes {
            return Err(at(e, Problem::NotCanonical));
        }
        if record.origin != self.anchors.origin {
            return Err(at(e, Problem::WrongOrigin));
        }
        if row.kind != record.kind.as_str() {
            return Err(at(e, Problem::ColumnMismatch { column: "kind" }));
        }
        if row.session.as_deref() != record.session.as_ref().map(|s| s.as_str()) {
            return Err(at(e, Problem::ColumnMismatch { column: "session_id" }));
        }
        if row.created_at_ms != record.at.as_millis() {
            return Err(at(e, Problem::ColumnMismatch { column: "created_at" }));
        }
        self.frontier.push(leaf);
        self.leaves.push(leaf);
        self.check_root()
    }

    /// Ends the stream: checks no checkpoint is bigger than the log, and reports.
    pub fn finish(mut self) -> Result<VerifyReport, VerifyFailure> {
        let records = self.next();
        if records == 0 {
            self.check_root()?;
        }
        if let Some((&size, _)) = self.anchors.heads.last_key_value() {
            if size > records {
                return Err(at(records, Problem::Truncated { checkpoint_size: size, records }));
            }
        }
        let heads = &self.anchors.heads;
        let in_db = |h: &Head| h.sources.contains(&Source::Database);
        let in_witness = |h: &Head| h.sources.contains(&Source::Witness);
        let latest_checkpoint = heads.last_key_value().map(|(size, head)| (*size, head.time));
        Ok(VerifyReport {
            records,
            root: self.frontier.root(),
            checkpoints: heads.len(),
            latest_checkpoint,
            unanchored: records - latest_checkpoint.map_or(0, |(size, _)| size),
            missing_from_witness: heads.iter().filter(|(_, h)| in_db(h) && !in_witness(h)).map(|(s, _)| *s).collect(),
            missing_from_database: heads.iter().filter(|(_, h)| in_witness(h) && !in_db(h)).map(|(s, _)| *s).collect(),
            leaves: self.leaves,
        })
    }
}

/// Verifies a whole log in one call: the rows in seq order, the database's checkpoint lines,
/// and the witness file's bytes (`None` if there is none, which the report then shows).
pub fn verify<'a, S: AsRef<str>>(
    origin: &Origin,
    keys: &TrustedKeys,
    rows: impl IntoIterator<Item = &'a StoredRecord>,
    database_checkpoints: &[S],
    witness_file: Option<&[u8]>,
) -> Result<VerifyReport, VerifyFailure> {
    let mut anchors = Anchors::new(origin.clone(), keys.clone());
    for (i, line) in database_checkpoints.iter().enumerate() {
        anchors.add_line(Source::Database, i + 1, line.as_ref())?;
    }
    if let Some(bytes) = witness_file {
        anchors.add_witness_file(bytes)?;
    }
    let mut verifier = LogVerifier::new(anchors);
    for row in rows {
        verifier.push(row)?;
    }
    verifier.finish()
}
