//! The SQLite backend, the embedded default: WAL, `synchronous=FULL`, foreign keys on, one write
//! connection that opens every transaction with `BEGIN IMMEDIATE`, and a read pool beside it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::migrate;

mod shared {
    crate::ops::shared_ops!(sqlx::Sqlite);
}

pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
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
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
        let store = Self { writer, readers };
        store.migrate_now().await?;
        Ok(store)
    }

    async fn migrate_now(&self) -> Result<(), crate::StoreError> {
        shared::migrate(&self.writer, migrate::SQLITE).await
    }
}

crate::ops::store_impl!(SqliteStore, crate::Backend::Sqlite, "BEGIN IMMEDIATE", migrate::SQLITE);

impl SqliteStore {
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
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.readers).await?;
        Ok(())
    }
}
