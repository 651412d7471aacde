//! Typed configuration: defaults, then a TOML file (`--config FILE`), then `PREPAZKA_*`
//! environment variables. Passed explicitly; no global statics.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: String,
    pub workers: usize,
    /// `sqlite://path.db` (embedded default) or `postgres://…`.
    pub database_url: String,
    /// Where the server secret (HMAC key for person keys and tokens) is kept; created if missing.
    pub secret_file: PathBuf,
    /// Most writes per group commit; 1 turns group commit off.
    pub max_batch: usize,
    pub hold_minutes: i64,
    pub horizon_days: u32,
    pub verify_per_minute: u32,
    /// Set when served behind an HTTPS proxy, so cookies are `Secure` (implied by `tls_cert`).
    pub secure_cookies: bool,
    /// PEM certificate chain and private key: with both, the server speaks HTTPS itself.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `json` for production, `pretty` for a terminal.
    pub log_format: String,
    /// Simulated latency of the fake registry, in milliseconds.
    pub registry_latency_ms: u64,
    /// Size of the fake registry's synthetic population (`POP-00000001` …).
    pub population: u32,
    /// Walk-in tickets stop this many minutes before an office closes.
    pub walk_in_cutoff_minutes: i64,
    /// For training and test environments only: the instant (RFC 3339) the server's clock
    /// reads at start; it runs on from there. Unset in production.
    pub clock_start: Option<String>,
    /// The AI log's keys and witness file (outside the database); default: `ai-log/` beside
    /// the secret file.
    pub ai_log_dir: Option<PathBuf>,
    /// The AI log's name in every record and checkpoint.
    pub ai_log_origin: String,
    /// Whisper model (ggml); default: the model cache's `whisper-base.ggml.bin`.
    pub asr_model: Option<PathBuf>,
    /// Translation model (GGUF); a deployment brings better weights here. Default: the model
    /// cache's Qwen2.5-Coder-1.5B-Instruct Q4_K_M.
    pub mt_model: Option<PathBuf>,
    /// Threads of each model worker.
    pub worker_threads: u32,
    /// `false` turns AI interpreting off (the pages say so).
    pub interpreting: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            workers: 2,
            database_url: "sqlite://data/prepazka.db".into(),
            secret_file: PathBuf::from("data/secret.key"),
            max_batch: 512,
            hold_minutes: 5,
            horizon_days: 60,
            verify_per_minute: 30,
            secure_cookies: false,
            tls_cert: None,
            tls_key: None,
            log_format: "json".into(),
            registry_latency_ms: 20,
            population: 1_000_000,
            walk_in_cutoff_minutes: 30,
            clock_start: None,
            ai_log_dir: None,
            ai_log_origin: "oamp.mv.cz/prepazka/ai-log/v1".into(),
            asr_model: None,
            mt_model: None,
            worker_threads: 2,
            interpreting: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("parsing {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("environment variable {0}: {1}")]
    Env(&'static str, String),
}

impl Config {
    /// Where the AI log keeps its keys and witness file.
    pub fn ai_log_dir(&self) -> PathBuf {
        self.ai_log_dir.clone().unwrap_or_else(|| self.secret_file.with_file_name("ai-log"))
    }

    /// The TLS configuration when a certificate and key are configured.
    pub fn tls(&self) -> Result<Option<rustls::ServerConfig>, String> {
        use rustls_pki_types::pem::PemObject as _;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let (cert, key) = match (&self.tls_cert, &self.tls_key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            _ => return Err("tls_cert and tls_key go together".into()),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("reading {}: {e}", cert.display()))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("reading {}: {e}", key.display()))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("certificate and key: {e}"))?;
        Ok(Some(config))
    }

    pub fn load(file: Option<&PathBuf>) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.clone(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(path.clone(), e))?
            }
            None => Config::default(),
        };
        config.apply_env()?;
        Ok(config)
    }

    fn apply_env(&mut self) -> Result<(), ConfigError> {
        fn var(name: &'static str) -> Option<String> {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        }
        fn parsed<T: std::str::FromStr>(name: &'static str) -> Result<Option<T>, ConfigError> {
            var(name).map(|v| v.parse().map_err(|_| ConfigError::Env(name, format!("cannot parse {v:?}")))).transpose()
        }
        if let Some(v) = var("PREPAZKA_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = var("PREPAZKA_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("PREPAZKA_SECRET_FILE") {
            self.secret_file = v.into();
        }
        if let Some(v) = var("PREPAZKA_TLS_CERT") {
            self.tls_cert = Some(v.into());
        }
        if let Some(v) = var("PREPAZKA_TLS_KEY") {
            self.tls_key = Some(v.into());
        }
        if let Some(v) = var("PREPAZKA_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = parsed("PREPAZKA_WORKERS")? {
            self.workers = v;
        }
        if let Some(v) = parsed("PREPAZKA_MAX_BATCH")? {
            self.max_batch = v;
        }
        if let Some(v) = parsed("PREPAZKA_HOLD_MINUTES")? {
            self.hold_minutes = v;
        }
        if let Some(v) = parsed("PREPAZKA_VERIFY_PER_MINUTE")? {
            self.verify_per_minute = v;
        }
        if let Some(v) = parsed("PREPAZKA_SECURE_COOKIES")? {
            self.secure_cookies = v;
        }
        if let Some(v) = parsed("PREPAZKA_REGISTRY_LATENCY_MS")? {
            self.registry_latency_ms = v;
        }
        if let Some(v) = parsed("PREPAZKA_POPULATION")? {
            self.population = v;
        }
        if let Some(v) = parsed("PREPAZKA_WALK_IN_CUTOFF_MINUTES")? {
            self.walk_in_cutoff_minutes = v;
        }
        if let Some(v) = var("PREPAZKA_CLOCK_START") {
            self.clock_start = Some(v);
        }
        if let Some(v) = var("PREPAZKA_AI_LOG_DIR") {
            self.ai_log_dir = Some(v.into());
        }
        if let Some(v) = var("PREPAZKA_ASR_MODEL") {
            self.asr_model = Some(v.into());
        }
        if let Some(v) = var("PREPAZKA_MT_MODEL") {
            self.mt_model = Some(v.into());
        }
        if let Some(v) = parsed("PREPAZKA_WORKER_THREADS")? {
            self.worker_threads = v;
        }
        if let Some(v) = parsed("PREPAZKA_INTERPRETING")? {
            self.interpreting = v;
        }
        Ok(())
    }
}
