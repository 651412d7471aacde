//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL database on the server
//! named by `PREPAZKA_TEST_PG_URL` (an admin URL; `scripts/test` starts that server).
//! Tests that need PostgreSQL fail loudly when it is not configured: a skipped backend would
//! be a silent hole in the conformance suite.

use std::path::PathBuf;

use rand::Rng as _;
use sqlx::Connection as _;

use crate::{Backend, SharedStore, StoreError};

/// A database made for one test. SQLite files are removed on drop; PostgreSQL databases live
/// as long as the test cluster.
pub struct TestDatabase {
    pub url: String,
    path: Option<PathBuf>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}_{:016x}", std::process::id(), rand::thread_rng().gen::<u64>())
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Result<Self, StoreError> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join("prepazka-tests");
                std::fs::create_dir_all(&dir).map_err(|e| StoreError::Config(e.to_string()))?;
                let path = dir.join(format!("{}.db", unique_name("t")));
                Ok(Self { url: format!("sqlite://{}", path.display()), path: Some(path) })
            }
            Backend::Postgres => {
                let admin = std::env::var("PREPAZKA_TEST_PG_URL").map_err(|_| {
                    StoreError::Config(
                        "PREPAZKA_TEST_PG_URL is not set: run the tests through scripts/test, which starts PostgreSQL".into(),
                    )
                })?;
                let name = unique_name("prepazka_t");
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
                conn.close().await?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
                Ok(Self { url: format!("{base}/{name}"), path: None })
            }
        }
    }

    pub async fn open(&self) -> Result<SharedStore, StoreError> {
        crate::connect(&self.url).await
    }
}
