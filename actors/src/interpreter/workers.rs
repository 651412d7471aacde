//! The embedded engines: whisper-rs and llama-cpp-2 in their own worker processes
//! (`workers/`), reached through `prepazka-worker-protocol`'s client.
//!
//! A worker is started on first use (or when a session opens, to hide the model load from the
//! first utterance), not at server start: most servers of a deployment never interpret, and the
//! translation model alone holds about 1.8 GB. A crashed worker is restarted by the client on
//! the next call; the session records the crash as a recovered anomaly.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use prepazka_worker_protocol::{
    locate_worker_binary, AsrTask, Info, Language, TranslateRequest, WorkerClient, WorkerConfig, WorkerError, ASR_WORKER, MT_WORKER,
};
use tokio::sync::OnceCell;

use super::engine::{EngineError, ModelInfo, Recogniser, Transcript, Translation, TranslationHints, Translator};

/// Where the models are and how many threads each worker gets.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub asr_model: PathBuf,
    pub mt_model: PathBuf,
    pub threads: u32,
}

impl From<WorkerError> for EngineError {
    fn from(err: WorkerError) -> Self {
        match err {
            WorkerError::Busy => EngineError::Busy,
            WorkerError::BadInput { reason } => EngineError::BadInput(reason),
            WorkerError::Crashed { status, .. } => EngineError::Crashed(status.map_or_else(|| "unknown".into(), |s| s.to_string())),
            WorkerError::Timeout { .. } => EngineError::Timeout,
            WorkerError::Start { reason, .. } => EngineError::Unavailable(reason),
            WorkerError::Internal { reason } | WorkerError::Protocol(reason) => EngineError::Crashed(reason),
        }
    }
}

/// One lazily started worker and the model identity it reported.
struct Lazy {
    binary: &'static str,
    model: PathBuf,
    threads: u32,
    client: OnceCell<Arc<WorkerClient>>,
    info: OnceLock<ModelInfo>,
}

/// Model names go into log records: keep them to the characters a `ModelName` allows.
fn model_name(info: &Info) -> String {
    let file = std::path::Path::new(&info.model).file_name().and_then(|f| f.to_str()).unwrap_or(&info.model);
    let clean: String = file.chars().map(|c| if c.is_ascii_alphanumeric() || "._:-/@+".contains(c) { c } else { '-' }).collect();
    // "whisper.cpp 1.8.3 (whisper-rs 0.16)" → "whisper.cpp-1.8.3-whisper-rs-0.16".
    let engine = info
        .engine
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    format!("{}@{}", clean.chars().take(80).collect::<String>(), engine.chars().take(40).collect::<String>())
}

impl Lazy {
    fn new(binary: &'static str, model: PathBuf, threads: u32) -> Self {
        Self { binary, model, threads, client: OnceCell::new(), info: OnceLock::new() }
    }

    async fn client(&self) -> Result<&Arc<WorkerClient>, EngineError> {
        self.client
            .get_or_try_init(|| async {
                if !self.model.exists() {
                    return Err(EngineError::Unavailable(format!("{} is missing: run scripts/setup-models", self.model.display())));
                }
                let binary = locate_worker_binary(self.binary).map_err(|e| EngineError::Unavailable(e.to_string()))?;
                let config = WorkerConfig { threads: self.threads, ..WorkerConfig::new(binary, &self.model) };
                let client = WorkerClient::spawn(config).await?;
                let info = client.info().await?;
                let _ = self.info.set(ModelInfo {
                    name: model_name(&info),
                    weights_sha256: info.model_sha256.clone(),
                    decoding_sha256: info.decoding_sha256.clone(),
                });
                Ok(Arc::new(client))
            })
            .await
    }

    fn model(&self) -> ModelInfo {
        self.info.get().cloned().unwrap_or_else(|| ModelInfo {
            name: self.model.file_name().and_then(|f| f.to_str()).unwrap_or("not-loaded").to_owned(),
            weights_sha256: "0".repeat(64),
            decoding_sha256: "0".repeat(64),
        })
    }

    fn memory(&self) -> Option<u64> {
        self.client.get().and_then(|c| c.resident_memory_bytes())
    }
}

fn language(code: &str) -> Result<Language, EngineError> {
    code.parse().map_err(|_| EngineError::BadInput(format!("unknown language {code}")))
}

/// whisper-rs in `prepazka-asr-worker`.
pub struct WorkerRecogniser(Lazy);

impl WorkerRecogniser {
    pub fn new(settings: &WorkerSettings) -> Self {
        Self(Lazy::new(ASR_WORKER, settings.asr_model.clone(), settings.threads))
    }
}

#[async_trait]
impl Recogniser for WorkerRecogniser {
    async fn transcribe(&self, lang: &str, samples: Vec<f32>, to_english: bool) -> Result<Transcript, EngineError> {
        let client = self.0.client().await?;
        let task = if to_english { AsrTask::TranslateToEnglish } else { AsrTask::Transcribe };
        let out = client.transcribe(Some(language(lang)?), task, &samples).await?;
        // Over all segments: the mean of the segments' mean log-probabilities weighted by
        // length, and the highest no-speech probability (one silent segment is enough doubt).
        let weight: f32 = out.segments.iter().map(|s| s.text.chars().count().max(1) as f32).sum();
        let avg_logprob = if weight > 0.0 {
            out.segments.iter().map(|s| s.avg_logprob * s.text.chars().count().max(1) as f32).sum::<f32>() / weight
        } else {
            f32::NEG_INFINITY.max(-10.0)
        };
        let no_speech_prob = out.segments.iter().map(|s| s.no_speech_prob).fold(0.0, f32::max);
        Ok(Transcript { text: out.text, avg_logprob, no_speech_prob, compute_ms: out.compute_ms })
    }

    fn model(&self) -> ModelInfo {
        self.0.model()
    }

    /// Starts the worker now (the model load takes seconds); errors show on first use.
    async fn warm_up(&self) {
        let _ = self.0.client().await;
    }

    fn resident_memory_bytes(&self) -> Option<u64> {
        self.0.memory()
    }
}

/// llama-cpp-2 in `prepazka-mt-worker`.
pub struct WorkerTranslator(Lazy);

impl WorkerTranslator {
    pub fn new(settings: &WorkerSettings) -> Self {
        Self(Lazy::new(MT_WORKER, settings.mt_model.clone(), settings.threads))
    }
}

#[async_trait]
impl Translator for WorkerTranslator {
    async fn translate(&self, from: &str, to: &str, text: &str, hints: &TranslationHints) -> Result<Translation, EngineError> {
        let client = self.0.client().await?;
        let request = TranslateRequest {
            from: language(from)?,
            to: language(to)?,
            text: text.to_owned(),
            glossary: hints.glossary.clone(),
            keep_verbatim: hints.keep_verbatim.clone(),
        };
        let out = client.translate(&request).await?;
        Ok(Translation { text: out.text, compute_ms: out.compute_ms })
    }

    fn model(&self) -> ModelInfo {
        self.0.model()
    }

    /// Starts the worker now (the model load takes seconds); errors show on first use.
    async fn warm_up(&self) {
        let _ = self.0.client().await;
    }

    fn resident_memory_bytes(&self) -> Option<u64> {
        self.0.memory()
    }
}
