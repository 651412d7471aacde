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
    /// Set when served behind HTTPS, so cookies are `Secure`.
    pub secure_cookies: bool,
    /// `json` for production, `pretty` for a terminal.
    pub log_format: String,
    /// Simulated latency of the fake registry, in milliseconds.
    pub registry_latency_ms: u64,
    /// Size of the fake registry's synthetic population (`POP-00000001` …).
    pub population: u32,
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
            log_format: "json".into(),
            registry_latency_ms: 20,
            population: 1_000_000,
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
        Ok(())
    }
}
