//! Wiring of AI interpreting: the AI log (keys beside the secret, verified at start), the model
//! workers, the session registry; and the `ai-log` commands (`verify`, `export`).
//!
//! A log that does not verify, or missing keys, turn interpreting off with an error in the log
//! and on the interpreter page; booking and queues are not affected.

use std::path::PathBuf;
use std::sync::Arc;

use prepazka_actors::interpreter::ai_log::{self, AiLog, AiLogKeys};
use prepazka_actors::interpreter::workers::{WorkerRecogniser, WorkerSettings, WorkerTranslator};
use prepazka_actors::interpreter::Interpreting;
use prepazka_actors::interpreter::AiLogError;
use prepazka_ailog::{Actor as LogActor, PersonRole};
use prepazka_models::clock::{Clock, SystemClock};
use prepazka_store::writer::{Writer, WriterConfig};
use prepazka_store::SharedStore;

use crate::config::Config;

/// The model cache `scripts/setup-models` fills.
pub fn model_cache() -> PathBuf {
    std::env::var_os("PREPAZKA_MODEL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/prepazka/models")))
        .unwrap_or_else(|| PathBuf::from(".cache/prepazka/models"))
}

/// The demo does not wait for the models: when they are missing it starts `scripts/setup-models`
/// in the background (its progress shows on the interpreter page) and serves at once.
fn set_up_models_in_background(asr: &std::path::Path, mt: &std::path::Path, log_dir: &std::path::Path) {
    if asr.exists() && mt.exists() {
        return;
    }
    let script = PathBuf::from("scripts/setup-models");
    if !script.exists() {
        tracing::warn!("models are missing and scripts/setup-models is not here: interpreting waits for them");
        return;
    }
    let mut command = std::process::Command::new(script);
    if let Ok(log) = std::fs::File::create(log_dir.join("setup-models.log")) {
        if let Ok(copy) = log.try_clone() {
            command.stdout(copy);
        }
        command.stderr(log);
    }
    match command.spawn() {
        Ok(child) => tracing::info!(pid = child.id(), "setting up the speech and translation models in the background"),
        Err(err) => tracing::warn!(error = %err, "could not start scripts/setup-models"),
    }
}

/// Starts the AI log and the interpreting registry, or says why interpreting stays off.
pub async fn start(
    config: &Config,
    demo: bool,
    store: &SharedStore,
    writer: &Writer,
    clock: Arc<dyn Clock>,
    arbiter: actix::ArbiterHandle,
) -> Option<Interpreting> {
    if !config.interpreting {
        tracing::info!("AI interpreting is turned off by configuration");
        return None;
    }
    let keys = match AiLogKeys::load_or_create(&config.ai_log_dir(), &config.ai_log_origin) {
        Ok(keys) => keys,
        Err(err) => {
            tracing::error!(error = %err, "AI interpreting is off: the AI log's keys cannot be read");
            return None;
        }
    };
    let (log, rows) = match AiLog::start(store, Arc::new(writer.clone()), keys, clock).await {
        Ok(started) => started,
        Err(err) => {
            tracing::error!(error = %err, "AI interpreting is off: the AI log does not verify (run `prepazka ai-log verify`)");
            return None;
        }
    };
    let cache = model_cache();
    let settings = WorkerSettings {
        asr_model: config.asr_model.clone().unwrap_or_else(|| cache.join("whisper-base.ggml.bin")),
        mt_model: config.mt_model.clone().unwrap_or_else(|| cache.join("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")),
        threads: config.worker_threads,
    };
    if demo {
        set_up_models_in_background(&settings.asr_model, &settings.mt_model, &config.ai_log_dir());
    }
    let recogniser = Arc::new(WorkerRecogniser::new(&settings));
    let translator = Arc::new(WorkerTranslator::new(&settings));
    match Interpreting::start(log, &rows, recogniser, translator, arbiter).await {
        Ok(interpreting) => Some(interpreting),
        Err(err) => {
            tracing::error!(error = %err, "AI interpreting is off: recovering open sessions failed");
            None
        }
    }
}

/// `prepazka ai-log verify` and `prepazka ai-log export --session ID --to FILE [--by NAME]
/// [--purpose TEXT]`.
pub async fn command(config: &Config, words: &[String], to: Option<PathBuf>) -> Result<(), String> {
    let store = prepazka_store::connect(&config.database_url).await.map_err(|e| e.to_string())?;
    let keys = AiLogKeys::load_or_create(&config.ai_log_dir(), &config.ai_log_origin).map_err(|e| e.to_string())?;
    match words.first().map(String::as_str) {
        Some("verify") => {
            // Reads hashes, signatures and ciphertext only (nothing is decrypted), so it writes
            // nothing and can run beside the server.
            let (report, _) = ai_log::verify_store(&store, &keys).await.map_err(|e| format!("the AI log does NOT verify: {e}"))?;
            println!(
                "the AI log verifies: {} records, {} checkpoints, newest checkpoint at size {}, {} records not yet anchored",
                report.records,
                report.checkpoints,
                report.latest_checkpoint.map(|(size, _)| size).unwrap_or(0),
                report.unanchored
            );
            if !report.missing_from_witness.is_empty() {
                println!("warning: {} checkpoints are missing from the witness file", report.missing_from_witness.len());
            }
            if !report.missing_from_database.is_empty() {
                println!("warning: {} checkpoints are in the witness file but not in the database", report.missing_from_database.len());
            }
            Ok(())
        }
        Some("export") => {
            let flag = |name: &str| words.iter().position(|w| w == name).and_then(|i| words.get(i + 1)).cloned();
            let session = flag("--session").ok_or("export needs --session ID")?;
            let to = to.ok_or("export needs --to FILE")?;
            let by = flag("--by").or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "operator".into());
            let purpose = flag("--purpose").unwrap_or_else(|| "operator_export".into());
            if store.ai_log_session_rows(&session).await.map_err(|e| e.to_string())?.is_empty() {
                return Err(format!("no AI-log records for session {session}"));
            }
            // The export is itself a record (AI-L18): this process becomes the log's one
            // appender for the moment, which the lock allows only while the server is down.
            let (writer, writer_task) = Writer::spawn(store.clone(), WriterConfig::default());
            let (log, _) = AiLog::start(&store, Arc::new(writer.clone()), keys, Arc::new(SystemClock)).await.map_err(|e| match e {
                AiLogError::InUse(_) => format!("{e}"),
                other => format!("refusing to export: {other}"),
            })?;
            let operator = LogActor::Person { role: PersonRole::Administrator, id: log.pseudonym(&by) };
            let bundle = log.export(&session, operator, &purpose).await.map_err(|e| format!("refusing to export: {e}"))?;
            drop(log);
            drop(writer);
            let _ = writer_task.await;
            let records = prepazka_ailog::ExportBundle::from_json(&bundle).map(|b| b.entries.len()).unwrap_or(0);
            std::fs::write(&to, bundle).map_err(|e| format!("writing {}: {e}", to.display()))?;
            println!("{records} records of session {session} written to {} with inclusion proofs (logged as log.export)", to.display());
            Ok(())
        }
        _ => Err("usage: prepazka ai-log verify | prepazka ai-log export --session ID --to FILE [--by NAME] [--purpose TEXT]".into()),
    }
}
