//! Export bundles: some records (typically one session's, for an appeal) with an RFC 9162
//! inclusion proof each against one signed checkpoint, verifiable by someone who has only the
//! bundle and the log's verifier key — not the database, not other people's records.
//!
//! Format (JSON, one object):
//!
//! ```json
//! {"format":"prepazka-ailog-export/v1",
//!  "checkpoint":"<the C2SP signed note>",
//!  "entries":[{"seq":41,"record":"<canonical record JSON, as a string>","proof":["<hex>",…]},…]}
//! ```
//!
//! The texts inside stay sealed. To disclose one, hand over its `Opening` (salt and text) beside
//! the bundle; the recipient checks it with `seal::verify_commitment` against the record's
//! `commit`, which the proof ties to the checkpoint.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{SignatureProblem, SignedCheckpoint};
use crate::hash::{leaf_hash, Digest};
use crate::ids::{Origin, SessionId, Timestamp};
use crate::keys::TrustedKeys;
use crate::log::StoredRecord;
use crate::merkle::{verify_inclusion, MerkleTree};
use crate::record::Record;
use crate::verify::{Problem, Source, VerifyFailure};
use crate::Error;

pub const BUNDLE_FORMAT: &str = "prepazka-ailog-export/v1";

/// One exported record and its audit path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportEntry {
    pub seq: u64,
    /// The canonical record bytes, exactly as stored.
    pub record: Vec<u8>,
    pub proof: Vec<Digest>,
}

/// Records with inclusion proofs against one signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBundle {
    pub checkpoint: SignedCheckpoint,
    pub entries: Vec<ExportEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBundle {
    format: String,
    checkpoint: String,
    entries: Vec<WireEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEntry {
    seq: u64,
    record: String,
    proof: Vec<String>,
}

impl ExportBundle {
    /// Builds a bundle for `rows` (any records, e.g. one session's) against `checkpoint`,
    /// proving from `tree`, the log's leaf hashes (at least up to the checkpoint's size). Refuses
    /// rows the checkpoint does not cover (write a checkpoint first: one is written at every
    /// session end) and a tree that disagrees with the rows or the checkpoint (run the verifier).
    pub fn build(tree: &MerkleTree, checkpoint: SignedCheckpoint, rows: &[StoredRecord]) -> Result<Self, Error> {
        let size = checkpoint.checkpoint().size;
        if tree.root_at(size)? != checkpoint.checkpoint().root {
            return Err(Error::Bundle("the leaf hashes do not match the checkpoint".into()));
        }
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let seq = u64::try_from(row.seq).map_err(|_| Error::Bundle(format!("bad seq {}", row.seq)))?;
            if seq >= size {
                return Err(Error::Bundle(format!("record {seq} is not covered by the checkpoint of size {size}")));
            }
            if tree.leaf(seq) != Some(leaf_hash(&row.bytes)) {
                return Err(Error::Bundle(format!("record {seq} does not match the log's leaf hash")));
            }
            entries.push(ExportEntry { seq, record: row.bytes.clone(), proof: tree.inclusion_proof(seq, size)? });
        }
        entries.sort_by_key(|e| e.seq);
        entries.dedup_by_key(|e| e.seq);
        Ok(Self { checkpoint, entries })
    }

    pub fn to_json(&self) -> Result<String, Error> {
        let entries = self
            .entries
            .iter()
            .map(|e| {
                let record = String::from_utf8(e.record.clone()).map_err(|_| Error::Bundle(format!("record {} is not UTF-8", e.seq)))?;
                Ok(WireEntry { seq: e.seq, record, proof: e.proof.iter().map(Digest::to_hex).collect() })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let wire = WireBundle { format: BUNDLE_FORMAT.into(), checkpoint: self.checkpoint.to_note(), entries };
        serde_json::to_string(&wire).map_err(|e| Error::Bundle(e.to_string()))
    }

    pub fn from_json(text: &str) -> Result<Self, Error> {
        let wire: WireBundle = serde_json::from_str(text).map_err(|e| Error::Bundle(e.to_string()))?;
        if wire.format != BUNDLE_FORMAT {
            return Err(Error::Bundle(format!("unknown format {}", wire.format)));
        }
        let checkpoint = SignedCheckpoint::parse_note(&wire.checkpoint)?;
        let entries = wire
            .entries
            .into_iter()
            .map(|e| {
                let proof = e.proof.iter().map(|h| Digest::parse_hex(h)).collect::<Result<Vec<_>, _>>()?;
                Ok(ExportEntry { seq: e.seq, record: e.record.into_bytes(), proof })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self { checkpoint, entries })
    }
}

/// What a verified bundle shows.
#[derive(Debug, Clone)]
pub struct BundleReport {
    pub origin: Origin,
    pub checkpoint_size: u64,
    pub checkpoint_time: Timestamp,
    /// The sessions the records belong to.
    pub sessions: BTreeSet<SessionId>,
    /// The records, decoded, in seq order.
    pub records: Vec<Record>,
}

/// Verifies a bundle on its own: the checkpoint's signature against `keys`, then each record's
/// inclusion proof, canonical form, seq and origin, and the chain between consecutive records.
pub fn verify_bundle(bundle: &ExportBundle, keys: &TrustedKeys) -> Result<BundleReport, VerifyFailure> {
    let cp = bundle.checkpoint.checkpoint();
    let from = Source::Bundle;
    match bundle.checkpoint.verify(keys) {
        Ok(_) => {}
        Err(SignatureProblem::UnknownKey) => {
            let key = format!("{}+{:08x}", bundle.checkpoint.key_name(), bundle.checkpoint.key_id());
            return Err(VerifyFailure { seq: None, problem: Problem::CheckpointUnknownKey { from, size: cp.size, key } });
        }
        Err(SignatureProblem::BadSignature) => {
            return Err(VerifyFailure { seq: None, problem: Problem::CheckpointBadSignature { from, size: cp.size } });
        }
    }
    let mut records: Vec<Record> = Vec::with_capacity(bundle.entries.len());
    let mut previous: Option<(u64, Digest)> = None;
    for entry in &bundle.entries {
        let fail = |problem| Err(VerifyFailure { seq: Some(entry.seq), problem });
        if previous.is_some_and(|(seq, _)| seq >= entry.seq) {
            return fail(Problem::NotAscending);
        }
        if entry.seq >= cp.size {
            return fail(Problem::BeyondCheckpoint { checkpoint_size: cp.size });
        }
        let leaf = leaf_hash(&entry.record);
        if !verify_inclusion(&leaf, entry.seq, cp.size, &entry.proof, &cp.root) {
            return fail(Problem::InclusionProofInvalid);
        }
        let record = match Record::decode(&entry.record) {
            Ok(record) => record,
            Err(e) => return fail(Problem::Undecodable { reason: e.to_string() }),
        };
        if record.encode() != entry.record {
            return fail(Problem::NotCanonical);
        }
        if record.seq != entry.seq {
            return fail(Problem::Displaced { position: entry.seq, claims: record.seq });
        }
        if record.origin != cp.origin {
            return fail(Problem::WrongOrigin);
        }
        if let Some((seq, prev_leaf)) = previous {
            if seq + 1 == entry.seq && record.prev != prev_leaf {
                return Err(VerifyFailure { seq: Some(seq), problem: Problem::ChainBroken { successor: entry.seq } });
            }
        }
        previous = Some((entry.seq, leaf));
        records.push(record);
    }
    let sessions = records.iter().filter_map(|r| r.session.clone()).collect();
    Ok(BundleReport { origin: cp.origin.clone(), checkpoint_size: cp.size, checkpoint_time: cp.time, sessions, records })
}
