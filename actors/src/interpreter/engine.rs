//! The two model engines an interpreting session uses, as traits: a [`Recogniser`] (speech to
//! text) and a [`Translator`] (text to text). The embedded defaults reach whisper-rs and
//! llama-cpp-2 in their own worker processes (`workers/`, see `docs/MODELS.md`); a ministry
//! deployment can point the translator at better weights by configuration, and a future engine
//! is one new implementation.
//!
//! Why traits: the session actor must not know whether a model runs in a child process, on a
//! GPU box, or (in the actor's own timing tests) in a scripted stand-in.

use async_trait::async_trait;

/// What a model is, for the AI log: every output carries it (AI-L06).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// Name and version as deployed, e.g. `whisper-base@ggml-f16`.
    pub name: String,
    /// SHA-256 of the weights file, hex.
    pub weights_sha256: String,
    /// SHA-256 of the decoding configuration, hex.
    pub decoding_sha256: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    /// Mean log-probability of the text's tokens (whisper's `avg_logprob`), over all segments.
    pub avg_logprob: f32,
    /// Highest no-speech probability of the segments.
    pub no_speech_prob: f32,
    pub compute_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    pub text: String,
    pub compute_ms: u64,
}

/// What a translation request carries besides the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranslationHints {
    /// Glossary pairs (source term, prescribed target term) found in the source text.
    pub glossary: Vec<(String, String)>,
    /// Names, places, numbers and codes to keep exactly as they are.
    pub keep_verbatim: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The worker has a job already (one at a time): the session shows "busy" and retries.
    #[error("the model worker is busy")]
    Busy,
    /// The worker process died; it is restarted on the next job.
    #[error("the model worker crashed: {0}")]
    Crashed(String),
    #[error("the model worker took too long")]
    Timeout,
    /// The input was refused (empty, too long, not finite).
    #[error("the model refused the input: {0}")]
    BadInput(String),
    /// No model is installed or the worker cannot start.
    #[error("the model is not available: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Recogniser: Send + Sync + 'static {
    /// Transcribes 16 kHz mono samples spoken in `language` (an ISO 639-1 code); with
    /// `to_english`, whisper's own translation into English instead (a second opinion).
    async fn transcribe(&self, language: &str, samples: Vec<f32>, to_english: bool) -> Result<Transcript, EngineError>;
    fn model(&self) -> ModelInfo;
    /// Loads the model ahead of the first job (a session opening), if loading takes time.
    async fn warm_up(&self) {}
    /// Resident memory of the engine's process, for the benchmark.
    fn resident_memory_bytes(&self) -> Option<u64> {
        None
    }
}

#[async_trait]
pub trait Translator: Send + Sync + 'static {
    async fn translate(&self, from: &str, to: &str, text: &str, hints: &TranslationHints) -> Result<Translation, EngineError>;
    fn model(&self) -> ModelInfo;
    async fn warm_up(&self) {}
    fn resident_memory_bytes(&self) -> Option<u64> {
        None
    }
}
