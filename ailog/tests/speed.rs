//! How fast the pure core is, for docs/AI_LOG.md. Not a benchmark suite: one measurement of
//! 100,000 records, run by hand with
//! `cargo test --release -p prepazka-ailog --test speed -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use common::name;
use prepazka_ailog::{
    verify, verify_bundle, Actor, Appender, BodyValue, Component, DataKey, Digest, ExportBundle, KeyName, LogSigner, MerkleTree,
    ModelIdentity, ModelName, Origin, RecordDraft, RecordKind, SegmentId, SessionId, StoredRecord, Timestamp, TrustedKeys,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

const RECORDS: usize = 100_000;
const CHECKPOINT_EVERY: usize = 64;
const PER_SESSION: usize = 100;

#[test]
#[ignore = "a measurement: run it with --release"]
fn hundred_thousand_records() {
    let mut rng = StdRng::seed_from_u64(42);
    let origin = Origin::parse("speed.example/ai-log").expect("origin");
    let signer = LogSigner::generate(KeyName::parse("speed").expect("name"), &mut rng);
    let keys = TrustedKeys::new(vec![signer.verifier()]);
    let key = DataKey::generate(&mut rng);
    let model = ModelIdentity {
        name: ModelName::parse("whisper-large-v3-turbo@ggml-q5_0").expect("model"),
        weights: Digest::sha256(b"weights"),
        decoding: Digest::sha256(b"decoding"),
    };
    let worker = Actor::System { component: Component::parse("asr-worker-1").expect("component") };
    let text = "Dobrý den, přišel jsem si prodloužit povolení k dlouhodobému pobytu za účelem zaměstnání.";

    // Drafts as the interpreting feature would hand them over: one sealed text each.
    let started = Instant::now();
    let mut drafts = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let session = SessionId::parse(&format!("s-{:05}", i / PER_SESSION)).expect("session");
        let mut draft = RecordDraft::new(RecordKind::AsrSegment, Timestamp::from_millis(1_795_420_800_000 + i as i64).expect("time"));
        draft.segment = Some(SegmentId::parse(&format!("{session}-{i:06}")).expect("segment"));
        draft.actor = Some(worker.clone());
        draft.model = Some(model.clone());
        draft.body.insert(name("lang"), BodyValue::str("uk").expect("value"));
        draft.body.insert(name("avg_logprob_micro"), BodyValue::int(-231_000).expect("value"));
        draft.texts.insert(name("text"), key.seal(&session, &name("text"), text, &mut rng));
        draft.session = Some(session);
        drafts.push(draft);
    }
    let sealing = started.elapsed();

    let started = Instant::now();
    let mut appender = Appender::new(origin.clone());
    let mut rows: Vec<StoredRecord> = Vec::with_capacity(RECORDS);
    let mut checkpoints = Vec::new();
    for (i, draft) in drafts.into_iter().enumerate() {
        rows.push(appender.append(draft).expect("append").to_stored());
        if (i + 1) % CHECKPOINT_EVERY == 0 {
            checkpoints.push(appender.checkpoint(Timestamp::from_millis(1_795_420_800_000 + i as i64).expect("time"), &signer).to_line());
        }
    }
    checkpoints.push(appender.checkpoint(Timestamp::from_millis(1_795_421_000_000).expect("time"), &signer).to_line());
    let appending = started.elapsed();
    let bytes: usize = rows.iter().map(|r| r.bytes.len()).sum();

    let started = Instant::now();
    let report = verify(&origin, &keys, &rows, &checkpoints, None).expect("verifies");
    let verifying = started.elapsed();
    assert_eq!(report.records, RECORDS as u64);

    let started = Instant::now();
    let tree = MerkleTree::from_leaves(report.into_leaves());
    let tree_built = started.elapsed();
    let started = Instant::now();
    let session_rows: Vec<StoredRecord> = rows.iter().filter(|r| r.session.as_deref() == Some("s-00500")).cloned().collect();
    let checkpoint = prepazka_ailog::SignedCheckpoint::parse_line(checkpoints.last().expect("checkpoint")).expect("line");
    let bundle = ExportBundle::build(&tree, checkpoint, &session_rows).expect("bundle");
    verify_bundle(&bundle, &keys).expect("bundle verifies");
    let exporting = started.elapsed();

    let per_second = |n: usize, d: std::time::Duration| n as f64 / d.as_secs_f64();
    println!("records: {RECORDS}, average record {} bytes, {} checkpoints", bytes / RECORDS, checkpoints.len());
    println!("seal one text:   {:>8.0} /s ({:.2?} for all)", per_second(RECORDS, sealing), sealing);
    println!(
        "append:          {:>8.0} /s ({:.2?} for all, {} signed checkpoints included)",
        per_second(RECORDS, appending),
        appending,
        checkpoints.len()
    );
    println!("verify:          {:>8.0} /s ({:.2?} for all)", per_second(RECORDS, verifying), verifying);
    println!("merkle tree:     {tree_built:.2?} to build from 100,000 leaves");
    println!("export+verify:   {exporting:.2?} for one session of {} records", session_rows.len());
}
