//! The SQLite backend, the embedded default: WAL, `synchronous=FULL`, foreign keys on, one write
//! connection on a thread of its own that opens every transaction with `BEGIN IMMEDIATE`
//! (`sqlite_direct.rs`), and read-only connections beside it. A sqlx connection runs the migrations.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::idempotency_filter::KeyFilter;
use crate::migrate;
use crate::sqlite_direct::{DirectWriter, Readers};

mod shared {
    crate::ops::shared_ops!(sqlx::Sqlite);
}

pub struct SqliteStore {
    /// Migrations, the durability check and backups; batches go to `direct`.
    writer: SqlitePool,
    readers: Readers,
    direct: DirectWriter,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path.db`), migrated.
    pub async fn open(url: &str) -> Result<Self, crate::StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .statement_cache_capacity(256);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        shared::migrate(&writer, migrate::SQLITE).await?;
        let keys = Arc::new(KeyFilter::default());
        let direct = DirectWriter::open(options.get_filename(), keys.clone()).await?;
        let readers = Readers::new(options.get_filename(), keys)?;
        Ok(Self { writer, readers, direct })
    }
}

crate::ops::store_impl!(SqliteStore, crate::Backend::Sqlite, migrate::SQLITE);

impl SqliteStore {
    async fn apply(&self, writes: Vec<crate::Write>) -> crate::items::BatchResult {
        self.direct.apply(writes).await
    }

    async fn close_writer(&self) {
        self.direct.close().await;
        self.writer.close().await;
    }

    async fn durability(&self) -> Result<(), crate::StoreError> {
        let mut conn = self.writer.acquire().await?;
        let synchronous: i64 = sqlx::query("PRAGMA synchronous").fetch_one(&mut *conn).await?.try_get(0)?;
        let journal: String = sqlx::query("PRAGMA journal_mode").fetch_one(&mut *conn).await?.try_get(0)?;
        // 2 = FULL, 3 = EXTRA; NORMAL in WAL mode can lose the last commits on power loss.
        if synchronous < 2 {
            return Err(crate::StoreError::NotDurable(format!("PRAGMA synchronous = {synchronous}, need FULL")));
        }
        if !journal.eq_ignore_ascii_case("wal") {
            return Err(crate::StoreError::NotDurable(format!("journal_mode = {journal}, need wal")));
        }
        Ok(())
    }

    async fn backup(&self, path: &Path) -> Result<(), crate::StoreError> {
        let target = path.to_str().ok_or_else(|| crate::StoreError::Config("backup path is not UTF-8".into()))?;
        if path.exists() {
            return Err(crate::StoreError::Config(format!("{target} exists already")));
        }
        // VACUUM INTO reads one snapshot of the database and writes a compact, consistent copy
        // while writers go on.
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.writer).await?;
        Ok(())
    }
}
