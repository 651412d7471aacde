//! Every forgery of checklist AI-L16/L17 is detected and blamed on the right record: flipped
//! bytes in any column or checkpoint, deleted, reordered, inserted and copied records, sequence
//! gaps, edits with their hashes redone, a consistently rewritten tail, truncation below a
//! checkpoint, forged or untrusted checkpoint signatures, equivocation. Also: a clean log of
//! thousands of records verifies, erasure keeps the log verifiable, key rotation, and session
//! exports with inclusion proofs.

mod common;

use common::{name, Fixture};
use prepazka_ailog::{
    leaf_hash, verify_bundle, verify_commitment, witness_line, Actor, Checkpoint, Digest, ExportBundle, KeyName, LogSigner, MerkleTree,
    PersonRole, Problem, PseudonymKey, Record, RecordDraft, RecordKind, SessionId, SignedCheckpoint, Source, StoredRecord, TrustedKeys,
    VerifyFailure,
};
use proptest::prelude::*;

fn size_of(line: &str) -> u64 {
    SignedCheckpoint::parse_line(line).expect("checkpoint line").checkpoint().size
}

fn failure(result: Result<prepazka_ailog::VerifyReport, VerifyFailure>) -> VerifyFailure {
    match result {
        Ok(report) => panic!("the forgery verified: {report:?}"),
        Err(failure) => failure,
    }
}

/// Rewrites a row's record and redoes its leaf hash and columns: an attacker who knows the format.
fn rewrite(row: &mut StoredRecord, change: impl FnOnce(&mut Record)) {
    let mut record = Record::decode(&row.bytes).expect("decodes");
    change(&mut record);
    row.bytes = record.encode();
    row.leaf_hash = leaf_hash(&row.bytes).as_bytes().to_vec();
    row.session = record.session.as_ref().map(|s| s.as_str().to_owned());
    row.kind = record.kind.as_str().to_owned();
    row.created_at_ms = record.at.as_millis();
}

fn mark(record: &mut Record) {
    record.body.insert(name("forged"), prepazka_ailog::BodyValue::Bool(true));
}

#[test]
fn a_clean_log_of_thousands_of_records_verifies() {
    let f = Fixture::with_records(1, 3000);
    let report = f.verify().expect("clean log verifies");
    assert_eq!(report.records, f.rows.len() as u64);
    assert!(report.records >= 3000);
    assert_eq!(report.root, f.appender.root());
    assert_eq!(report.checkpoints, f.checkpoint_sizes.len());
    // Every session ends with a checkpoint, so nothing is left unanchored.
    assert_eq!(report.unanchored, 0);
    assert!(report.missing_from_witness.is_empty() && report.missing_from_database.is_empty());
    assert_eq!(report.leaves(), &f.leaves()[..]);
}

#[test]
fn a_flipped_byte_in_any_column_names_the_record() {
    let f = Fixture::with_records(2, 400);
    let k = 217;
    type Flip = Box<dyn Fn(&mut StoredRecord)>;
    let cases: Vec<(&str, Flip, Problem)> = vec![
        ("record bytes", Box::new(|r| r.bytes[40] ^= 0x01), Problem::LeafHashMismatch),
        ("leaf hash", Box::new(|r| r.leaf_hash[31] ^= 0x80), Problem::LeafHashMismatch),
        ("seq", Box::new(|r| r.seq ^= 0x04), Problem::SequenceGap { found: 217 ^ 0x04 }),
        ("kind", Box::new(|r| r.kind = "mt.segmenu".into()), Problem::ColumnMismatch { column: "kind" }),
        ("session", Box::new(|r| r.session = Some("s-00011".into())), Problem::ColumnMismatch { column: "session_id" }),
        ("created_at", Box::new(|r| r.created_at_ms ^= 0x100), Problem::ColumnMismatch { column: "created_at" }),
    ];
    for (column, flip, problem) in cases {
        let mut rows = f.rows.clone();
        flip(&mut rows[k]);
        let failure = failure(f.verify_rows(&rows));
        assert_eq!(failure, VerifyFailure { seq: Some(k as u64), problem }, "{column}");
    }
    // The first and the last record too.
    for k in [0, f.rows.len() - 1] {
        let mut rows = f.rows.clone();
        rows[k].bytes[10] ^= 0x20;
        assert_eq!(failure(f.verify_rows(&rows)).seq, Some(k as u64));
    }
}

#[test]
fn deleting_a_record_is_named() {
    let f = Fixture::with_records(3, 400);
    let k = 150;
    let mut rows = f.rows.clone();
    rows.remove(k);
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(150), problem: Problem::SequenceGap { found: 151 } });

    // Renumbering the seq column of every later row does not help.
    for row in &mut rows[k..] {
        row.seq -= 1;
    }
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(150), problem: Problem::Displaced { position: 150, claims: 151 } });
}

#[test]
fn a_sequence_gap_is_named() {
    let f = Fixture::with_records(4, 300);
    let mut rows = f.rows.clone();
    rows.drain(100..104);
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(100), problem: Problem::SequenceGap { found: 104 } });
}

#[test]
fn reordering_is_named() {
    let f = Fixture::with_records(5, 300);
    let k = 120;
    // Rows returned in another order.
    let mut rows = f.rows.clone();
    rows.swap(k, k + 1);
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(120), problem: Problem::SequenceGap { found: 121 } });
    // Contents swapped under unchanged seq columns.
    let mut rows = f.rows.clone();
    let (a, b) = (rows[k].clone(), rows[k + 1].clone());
    rows[k] = StoredRecord { seq: a.seq, ..b };
    rows[k + 1] = StoredRecord { seq: a.seq + 1, ..a };
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(120), problem: Problem::Displaced { position: 120, claims: 121 } });
}

#[test]
fn inserting_a_record_is_named() {
    let mut f = Fixture::with_records(6, 300);
    let k = 140usize;
    // A well-formed record chained to k − 1, inserted at k, later seq columns shifted.
    let mut forger = prepazka_ailog::Appender::resume(f.origin.clone(), &f.leaves()[..k]);
    let mut draft = RecordDraft::new(RecordKind::ConfigChange, f.now());
    draft.actor = Some(Actor::Person { role: PersonRole::Administrator, id: PseudonymKey::from_bytes([1; 32]).pseudonym("mallory") });
    let forged = forger.append(draft).expect("append").to_stored();
    let mut rows = f.rows.clone();
    rows.insert(k, forged);
    for row in &mut rows[k + 1..] {
        row.seq += 1;
    }
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(140), problem: Problem::Displaced { position: 141, claims: 140 } });

    // A copy of an earlier record slipped in: blamed on the copy's position.
    let mut rows = f.rows.clone();
    let copy = StoredRecord { seq: k as i64, ..f.rows[12].clone() };
    rows.insert(k, copy);
    for row in &mut rows[k + 1..] {
        row.seq += 1;
    }
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(140), problem: Problem::Displaced { position: 140, claims: 12 } });
}

#[test]
fn an_edit_with_its_hash_redone_is_named_by_the_next_records_link() {
    let f = Fixture::with_records(7, 300);
    let k = 99;
    let mut rows = f.rows.clone();
    rewrite(&mut rows[k], mark);
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(99), problem: Problem::ChainBroken { successor: 100 } });
    // A non-canonical spelling of the same record, hash redone: refused on its own row.
    let mut rows = f.rows.clone();
    let mut spaced = rows[k].bytes.clone();
    spaced.insert(1, b' ');
    rows[k].leaf_hash = leaf_hash(&spaced).as_bytes().to_vec();
    rows[k].bytes = spaced;
    assert_eq!(failure(f.verify_rows(&rows)), VerifyFailure { seq: Some(99), problem: Problem::NotCanonical });
}

#[test]
fn a_consistent_rewrite_of_the_tail_is_caught_by_the_next_checkpoint() {
    let f = Fixture::with_records(8, 600);
    let k = 301usize;
    // The forger has no signing key but rebuilds every record from k on, chain and hashes intact.
    let mut forger = prepazka_ailog::Appender::resume(f.origin.clone(), &f.leaves()[..k]);
    let mut rows = f.rows[..k].to_vec();
    for (i, row) in f.rows[k..].iter().enumerate() {
        let mut record = Record::decode(&row.bytes).expect("decodes");
        if i == 0 {
            mark(&mut record);
        }
        let draft = RecordDraft {
            kind: record.kind,
            at: record.at,
            session: record.session,
            segment: record.segment,
            actor: record.actor,
            model: record.model,
            body: record.body,
            texts: record.texts,
        };
        rows.push(forger.append(draft).expect("append").to_stored());
    }
    let vouched = f.checkpoint_sizes.iter().copied().filter(|s| *s <= k as u64).max().unwrap_or(0);
    let next = f.checkpoint_sizes.iter().copied().find(|s| *s > k as u64).expect("a later checkpoint");
    assert_eq!(
        failure(f.verify_rows(&rows)),
        VerifyFailure { seq: Some(vouched), problem: Problem::RootMismatch { checkpoint_size: next } }
    );
}

#[test]
fn truncation_below_a_checkpoint_is_proven_by_the_witness() {
    let f = Fixture::with_records(9, 400);
    let last = *f.checkpoint_sizes.last().expect("checkpoints");
    let k = last as usize - 30;
    let rows = &f.rows[..k];
    // The attacker also deletes the database's checkpoints above the cut.
    let db: Vec<String> = f.db_checkpoints.iter().filter(|l| size_of(l) <= k as u64).cloned().collect();
    let result = prepazka_ailog::verify(&f.origin, &f.keys, rows, &db, Some(&f.witness));
    assert_eq!(
        failure(result),
        VerifyFailure { seq: Some(k as u64), problem: Problem::Truncated { checkpoint_size: last, records: k as u64 } }
    );
    // With the database's checkpoints left in place, they alone prove it.
    let result = prepazka_ailog::verify(&f.origin, &f.keys, rows, &f.db_checkpoints, None);
    assert_eq!(failure(result).seq, Some(k as u64));
}

/// The limits, stated as tests so they stay documented: without any checkpoint above the cut,
/// a cut is invisible; records after the newest checkpoint are reported as unanchored.
#[test]
fn what_no_checkpoint_covers_is_reported_not_proven() {
    let mut f = Fixture::with_records(10, 200);
    let db: Vec<String> = f.db_checkpoints.iter().filter(|l| size_of(l) <= 100).cloned().collect();
    let cut_at = *f.checkpoint_sizes.iter().filter(|s| **s <= 100).max().expect("a checkpoint") as usize + 3;
    let report = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows[..cut_at], &db, None).expect("undetectable without a witness");
    assert_eq!(report.unanchored, 3);
    assert_eq!(report.missing_from_witness.len(), db.len());

    let mut draft = RecordDraft::new(RecordKind::SystemSuspend, f.now());
    draft.actor = Some(Actor::Person { role: PersonRole::Supervisor, id: PseudonymKey::from_bytes([3; 32]).pseudonym("supervisor") });
    f.append(draft);
    let report = f.verify().expect("verifies");
    assert_eq!(report.unanchored, 1);
}

#[test]
fn forged_and_untrusted_checkpoints_are_refused() {
    let f = Fixture::with_records(11, 200);
    let last = f.db_checkpoints.last().expect("checkpoint").clone();
    let fields: Vec<&str> = last.split(' ').collect();

    // Another root under the old signature.
    let other_root = Digest::sha256(b"forged").to_base64();
    let forged = [fields[0], fields[1], &other_root, fields[3], fields[4], fields[5]].join(" ");
    let mut witness = f.witness.clone();
    witness.extend_from_slice(format!("{forged}\n").as_bytes());
    let result = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows, &f.db_checkpoints, Some(&witness));
    let size = size_of(&last);
    assert_eq!(failure(result), VerifyFailure { seq: None, problem: Problem::CheckpointBadSignature { from: Source::Witness, size } });

    // A bigger size claimed under the old signature (to fake a truncation).
    let bigger = (size + 10).to_string();
    let forged = [fields[0], &bigger, fields[2], fields[3], fields[4], fields[5]].join(" ");
    let mut db = f.db_checkpoints.clone();
    db.push(forged);
    let result = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows, &db, Some(&f.witness));
    assert!(matches!(failure(result).problem, Problem::CheckpointBadSignature { from: Source::Database, .. }));

    // Signed by the attacker's own key, even under the log key's name.
    let mut rng = rand::thread_rng();
    let mallory = LogSigner::generate(f.signer.name().clone(), &mut rng);
    let time = prepazka_ailog::Timestamp::from_millis(1_795_420_800_000).expect("time");
    let cp = Checkpoint { origin: f.origin.clone(), size: 5, root: Digest::sha256(b"x"), time }.sign(&mallory);
    let mut witness = f.witness.clone();
    witness.extend_from_slice(witness_line(&cp).as_bytes());
    let result = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows, &f.db_checkpoints, Some(&witness));
    assert!(matches!(failure(result).problem, Problem::CheckpointUnknownKey { from: Source::Witness, size: 5, .. }));

    // A validly signed checkpoint of another log.
    let other = Checkpoint {
        origin: prepazka_ailog::Origin::parse("other.example/ai-log").expect("origin"),
        size: 3,
        root: Digest::sha256(b"y"),
        time: prepazka_ailog::Timestamp::from_millis(0).expect("time"),
    }
    .sign(&f.signer);
    let mut db = f.db_checkpoints.clone();
    db.push(other.to_line());
    let result = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows, &db, Some(&f.witness));
    assert_eq!(failure(result), VerifyFailure { seq: None, problem: Problem::CheckpointWrongOrigin { from: Source::Database, size: 3 } });
}

#[test]
fn equivocation_is_refused() {
    let f = Fixture::with_records(12, 200);
    let size = f.checkpoint_sizes[1];
    let time = prepazka_ailog::Timestamp::from_millis(1_795_420_900_000).expect("time");
    let fork = Checkpoint { origin: f.origin.clone(), size, root: Digest::sha256(b"a different history"), time }.sign(&f.signer);
    let mut witness = f.witness.clone();
    witness.extend_from_slice(witness_line(&fork).as_bytes());
    let result = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows, &f.db_checkpoints, Some(&witness));
    assert_eq!(failure(result), VerifyFailure { seq: None, problem: Problem::Equivocation { size } });
}

#[test]
fn a_flipped_byte_anywhere_in_a_checkpoint_is_refused() {
    let f = Fixture::with_records(13, 30);
    let line = f.db_checkpoints.last().expect("checkpoint").clone().into_bytes();
    for i in 0..line.len() {
        let mut bad = line.clone();
        bad[i] ^= 0x01;
        // In the database's table (as text: an invalid UTF-8 flip cannot be stored there) …
        if let Ok(text) = String::from_utf8(bad.clone()) {
            let mut db = f.db_checkpoints.clone();
            *db.last_mut().expect("line") = text;
            let result = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows, &db, Some(&f.witness));
            assert!(failure(result).seq.is_none(), "database byte {i}");
        }
        // … and in the witness file.
        let offset = f.witness.len() - line.len() - 1;
        let mut witness = f.witness.clone();
        witness[offset + i] ^= 0x01;
        let result = prepazka_ailog::verify(&f.origin, &f.keys, &f.rows, &f.db_checkpoints, Some(&witness));
        assert!(failure(result).seq.is_none(), "witness byte {i}");
    }
}

#[test]
fn rotated_keys_keep_old_checkpoints_verifiable() {
    let mut f = Fixture::with_records(14, 200);
    let old = f.signer.verifier();
    let mut rng = rand::thread_rng();
    f.signer = LogSigner::generate(KeyName::parse("prepazka-test-2026b").expect("name"), &mut rng);
    f.keys = TrustedKeys::new(vec![old.clone(), f.signer.verifier()]);
    f.session(1000, 4);
    f.verify().expect("old and new keys trusted");
    f.keys = TrustedKeys::new(vec![f.signer.verifier()]);
    assert!(matches!(failure(f.verify()).problem, Problem::CheckpointUnknownKey { .. }));
}

#[test]
fn erasure_leaves_the_log_verifiable_and_the_text_unreadable() {
    let mut f = Fixture::with_records(15, 200);
    let erased = SessionId::parse("s-00002").expect("session");
    let kept = SessionId::parse("s-00003").expect("session");
    let find_text = |f: &Fixture, session: &SessionId| {
        let row = f.rows.iter().find(|r| r.session.as_deref() == Some(session.as_str()) && r.kind == "asr.segment").expect("asr record");
        Record::decode(&row.bytes).expect("decodes").texts[&name("text")].clone()
    };
    let sealed = find_text(&f, &erased);
    let key = f.data_keys[&erased].clone();
    assert!(key.open(&sealed, &erased, &name("text")).is_ok_and(|o| o.text.contains("Добрий день")));

    // Erase: drop the key, log that it was dropped.
    f.data_keys.remove(&erased);
    let mut draft = RecordDraft::new(RecordKind::DataKeyErased, f.now());
    draft.session = Some(erased.clone());
    draft.actor = Some(Actor::Person { role: PersonRole::Administrator, id: PseudonymKey::from_bytes([7; 32]).pseudonym("admin") });
    draft.body.insert(name("key_id"), prepazka_ailog::BodyValue::str(&key.id().to_hex()).expect("value"));
    draft.body.insert(name("reason"), prepazka_ailog::BodyValue::str("retention").expect("value"));
    f.append(draft);
    f.checkpoint();
    drop(key);

    f.verify().expect("the chain still verifies");
    for other in f.data_keys.values() {
        assert!(other.open(&sealed, &erased, &name("text")).is_err());
    }
    let sealed_kept = find_text(&f, &kept);
    assert!(f.data_keys[&kept].open(&sealed_kept, &kept, &name("text")).is_ok());
}

#[test]
fn a_sessions_export_verifies_standalone_and_fails_when_tampered() {
    let f = Fixture::with_records(16, 500);
    let session = SessionId::parse("s-00004").expect("session");
    let rows: Vec<StoredRecord> = f.rows.iter().filter(|r| r.session.as_deref() == Some(session.as_str())).cloned().collect();
    let tree = MerkleTree::from_leaves(f.leaves());
    let checkpoint = SignedCheckpoint::parse_line(f.db_checkpoints.last().expect("checkpoint")).expect("line");
    let bundle = ExportBundle::build(&tree, checkpoint.clone(), &rows).expect("builds");
    let json = bundle.to_json().expect("json");
    let bundle = ExportBundle::from_json(&json).expect("reads back");

    let report = verify_bundle(&bundle, &f.keys).expect("verifies");
    assert_eq!(report.records.len(), rows.len());
    assert_eq!(report.sessions.iter().collect::<Vec<_>>(), vec![&session]);
    assert_eq!(report.checkpoint_size, checkpoint.checkpoint().size);

    // Disclosing one text: the opening checks against the commitment in the verified record.
    let asr = report.records.iter().find(|r| r.kind == RecordKind::AsrSegment).expect("asr record");
    let sealed = &asr.texts[&name("text")];
    let opening = f.data_keys[&session].open(sealed, &session, &name("text")).expect("opens");
    assert!(verify_commitment(&sealed.commit, &opening.salt, &opening.text));
    assert!(!verify_commitment(&sealed.commit, &opening.salt, "Something else was said."));

    // Against an older checkpoint too, for the records it covers.
    let older = SignedCheckpoint::parse_line(&f.db_checkpoints[f.db_checkpoints.len() - 2]).expect("line");
    let covered: Vec<StoredRecord> = rows.iter().filter(|r| (r.seq as u64) < older.checkpoint().size).cloned().collect();
    if !covered.is_empty() {
        verify_bundle(&ExportBundle::build(&tree, older.clone(), &covered).expect("builds"), &f.keys).expect("verifies");
    }
    assert!(ExportBundle::build(&MerkleTree::from_leaves(f.leaves()), older, &rows).is_err() || covered.len() == rows.len());

    let seq0 = bundle.entries[0].seq;
    let tampered = |change: &dyn Fn(&mut ExportBundle)| {
        let mut b = bundle.clone();
        change(&mut b);
        verify_bundle(&b, &f.keys).expect_err("tampering detected")
    };
    assert_eq!(tampered(&|b| b.entries[0].record[30] ^= 1), VerifyFailure { seq: Some(seq0), problem: Problem::InclusionProofInvalid });
    assert_eq!(
        tampered(&|b| b.entries[0].proof[0] = Digest::sha256(b"x")),
        VerifyFailure { seq: Some(seq0), problem: Problem::InclusionProofInvalid }
    );
    assert_eq!(
        tampered(&|b| {
            b.entries[0].proof.pop();
        })
        .problem,
        Problem::InclusionProofInvalid
    );
    assert_eq!(tampered(&|b| b.entries[0].seq += 1).problem, Problem::InclusionProofInvalid);
    assert_eq!(tampered(&|b| b.entries.swap(0, 1)).problem, Problem::NotAscending);
    let forged_note =
        bundle.checkpoint.to_note().replacen(&bundle.checkpoint.checkpoint().root.to_base64(), &Digest::sha256(b"r").to_base64(), 1);
    let forged = SignedCheckpoint::parse_note(&forged_note).expect("well-formed");
    assert!(matches!(tampered(&|b| b.checkpoint = forged.clone()).problem, Problem::CheckpointBadSignature { .. }));
    let stranger = TrustedKeys::new(vec![LogSigner::generate(KeyName::parse("x").expect("name"), &mut rand::thread_rng()).verifier()]);
    assert!(matches!(verify_bundle(&bundle, &stranger).map_err(|e| e.problem), Err(Problem::CheckpointUnknownKey { .. })));
    // A record edited inside the JSON.
    let edited = json.replacen("officer_screen", "client_screen", 1);
    assert_ne!(edited, json);
    assert!(verify_bundle(&ExportBundle::from_json(&edited).expect("reads"), &f.keys).is_err());
}

/// Which column of a row a proptest flip hits.
fn flip(row: &mut StoredRecord, column: usize, at: usize, x: u8) {
    let flip_bytes = |bytes: &mut Vec<u8>| {
        let i = at % bytes.len();
        bytes[i] ^= x;
    };
    match column {
        0 => flip_bytes(&mut row.bytes),
        1 => flip_bytes(&mut row.leaf_hash),
        2 => row.seq = i64::from_le_bytes(flipped(row.seq.to_le_bytes(), at, x)),
        3 => row.created_at_ms = i64::from_le_bytes(flipped(row.created_at_ms.to_le_bytes(), at, x)),
        4 => {
            let mut kind = row.kind.clone().into_bytes();
            flip_bytes(&mut kind);
            row.kind = String::from_utf8_lossy(&kind).into_owned();
        }
        _ => {
            let mut session = row.session.clone().unwrap_or_default().into_bytes();
            if session.is_empty() {
                session.push(b'a');
            } else {
                flip_bytes(&mut session);
            }
            row.session = Some(String::from_utf8_lossy(&session).into_owned());
        }
    }
}

fn flipped(mut bytes: [u8; 8], at: usize, x: u8) -> [u8; 8] {
    bytes[at % 8] ^= x;
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any single-byte change to any stored column of any record is detected and blamed on
    /// exactly that record.
    #[test]
    fn any_single_byte_flip_names_its_record(k in 0usize..1000, column in 0usize..6, at in 0usize..4096, x in 1u8..=255) {
        let f = FIXTURE.with(|f| f.clone());
        let k = k % f.rows.len();
        let mut rows = f.rows.clone();
        flip(&mut rows[k], column, at, x);
        prop_assume!(rows[k] != f.rows[k]);
        let result = f.verify_rows(&rows);
        prop_assert_eq!(result.err().and_then(|e| e.seq), Some(k as u64));
    }
}

thread_local! {
    static FIXTURE: std::rc::Rc<Fixture> = std::rc::Rc::new(Fixture::with_records(17, 120));
}
