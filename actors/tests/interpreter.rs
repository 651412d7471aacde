//! The interpreting session actor against a real database, real AI-log appender and the real
//! model workers: when the AI log cannot be written nothing is shown and the session halts in a
//! safe state; the log that was written still verifies. The AI log rows also go through the
//! conformance of both databases here (append, gap refused, update and delete refused).
//!
//! The models come from `scripts/setup-models`; `PREPAZKA_SKIP_MODEL_TESTS=1` skips the test
//! that runs them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prepazka_actors::interpreter::ai_log::{self, AiLog, AiLogError, AiLogKeys, AiLogSink};
use prepazka_actors::interpreter::workers::{WorkerRecogniser, WorkerSettings, WorkerTranslator};
use prepazka_actors::interpreter::{Interpreting, Lang, Phase, ScreenEvent, Side};
use prepazka_models::clock::SystemClock;
use prepazka_store::testing::TestDatabase;
use prepazka_store::writer::{Writer, WriterConfig};
use prepazka_store::{AiDataKeyRow, AiLogCheckpointRow, AiLogRow, Backend, Write};

/// The real writer, with a switch that makes the log store fail (a full disk, a lost
/// connection): the test flips it mid-session.
struct Breakable {
    inner: Writer,
    broken: Arc<AtomicBool>,
}

#[async_trait]
impl AiLogSink for Breakable {
    async fn append(&self, rows: Vec<AiLogRow>, key: Option<AiDataKeyRow>) -> Result<(), AiLogError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(AiLogError::Unavailable);
        }
        self.inner.append(rows, key).await
    }

    async fn checkpoint(&self, row: AiLogCheckpointRow) -> Result<(), AiLogError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(AiLogError::Unavailable);
        }
        self.inner.checkpoint(row).await
    }
}

fn model_cache() -> PathBuf {
    std::env::var_os("PREPAZKA_MODEL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/prepazka/models"))
}

fn samples(name: &str) -> Vec<f32> {
    let path = model_cache().join("testset").join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup-models --testset", path.display()));
    let data = bytes.windows(4).position(|w| w == b"data").expect("data chunk");
    bytes[data + 8..].chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect()
}

#[actix_rt::test]
async fn when_the_log_cannot_be_written_nothing_is_shown_and_the_session_halts() {
    if std::env::var("PREPAZKA_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1") {
        return;
    }
    let db = TestDatabase::new(Backend::Sqlite).await.expect("database");
    let store = db.open().await.expect("store");
    let (writer, _task) = Writer::spawn(store.clone(), WriterConfig::default());
    let broken = Arc::new(AtomicBool::new(false));
    let sink = Arc::new(Breakable { inner: writer, broken: broken.clone() });
    let dir = std::env::temp_dir().join(format!("prepazka-ailog-{}", std::process::id()));
    let keys = AiLogKeys::load_or_create(&dir, ai_log::DEFAULT_ORIGIN).expect("keys");
    let (log, rows) = AiLog::start(&store, sink, keys, Arc::new(SystemClock)).await.expect("log");
    let cache = model_cache();
    let settings = WorkerSettings {
        asr_model: cache.join("whisper-base.ggml.bin"),
        mt_model: cache.join("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
        threads: 2,
    };
    let interpreting = Interpreting::start(
        log,
        &rows,
        Arc::new(WorkerRecogniser::new(&settings)),
        Arc::new(WorkerTranslator::new(&settings)),
        actix::Arbiter::current(),
    )
    .await
    .expect("interpreting");

    let session = interpreting.open("brno", "overseer-1", Lang::En).await.expect("open");
    let mut events = session.subscribe();
    session.acknowledge_notice().await.expect("ack");
    // The log store goes away after the notice, before the first utterance.
    broken.store(true, Ordering::SeqCst);
    let mut audio = samples("cs-officer-01.wav");
    audio.extend(std::iter::repeat_n(0.0, 24_000));
    for chunk in audio.chunks(1_600) {
        session.audio(Side::Officer, chunk.to_vec()).await.expect("audio accepted");
    }
    let halted = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match events.recv().await.as_deref() {
                Ok(ScreenEvent::Phase { phase: Phase::Halted, reason }) => return reason.clone(),
                Ok(ScreenEvent::Segment { segment }) => panic!("a segment was shown without its record: {segment:?}"),
                Ok(_) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("the session halts");
    assert_eq!(halted.as_deref(), Some("log_unavailable"));
    let snapshot = session.snapshot(Side::Client).await.expect("snapshot");
    assert_eq!(snapshot.phase, Phase::Halted);
    assert!(snapshot.segments.is_empty());
    assert!(session.audio(Side::Officer, vec![0.0; 1_600]).await.is_err(), "a halted session takes no more audio");

    // What was committed (start and acknowledgement) still verifies.
    broken.store(false, Ordering::SeqCst);
    let keys = AiLogKeys::load_or_create(&dir, ai_log::DEFAULT_ORIGIN).expect("keys");
    let (report, rows) = ai_log::verify_store(&store, &keys).await.expect("the log verifies");
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["session.start", "notice.acknowledged"]);
    assert_eq!(report.records, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn log_rows_are_append_only(backend: Backend) {
    let db = TestDatabase::new(backend).await.expect("database");
    let store = db.open().await.expect("store");
    let row = |seq: i64| AiLogRow {
        seq,
        record: vec![b'{', b'}'],
        leaf_hash: vec![seq as u8; 32],
        session: Some("s".into()),
        kind: "anomaly".into(),
        created_at_ms: 1,
    };
    let ok = store.apply_batch(vec![Write::AppendAiLog { rows: vec![row(0), row(1)], data_key: None }]).await.expect("batch");
    assert!(ok[0].is_ok());
    // A gap (seq 3 after 1) is refused by the database itself.
    let _ = store.apply_batch(vec![Write::AppendAiLog { rows: vec![row(3)], data_key: None }]).await;
    assert_eq!(store.ai_log_rows(0, 10).await.expect("rows").len(), 2);
    assert_eq!(store.ai_log_session_rows("s").await.expect("rows").len(), 2);
    let check = AiLogCheckpointRow { tree_size: 2, root_hash: vec![7; 32], signed_at_ms: 2, line: "x".into() };
    assert!(store.apply_batch(vec![Write::AiLogCheckpoint(check.clone())]).await.expect("batch")[0].is_ok());
    assert_eq!(store.ai_log_checkpoints().await.expect("checkpoints"), vec![check.clone()]);
    let beyond = AiLogCheckpointRow { tree_size: 5, ..check };
    let refused = store.apply_batch(vec![Write::AiLogCheckpoint(beyond)]).await;
    assert!(refused.is_err() || refused.as_ref().is_ok_and(|r| r[0].is_err()), "a checkpoint beyond the records is refused");
    assert_eq!(store.ai_log_checkpoints().await.expect("checkpoints").len(), 1);
}

#[actix_rt::test]
async fn log_rows_are_append_only_on_sqlite() {
    log_rows_are_append_only(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn log_rows_are_append_only_on_postgres() {
    log_rows_are_append_only(Backend::Postgres).await;
}
