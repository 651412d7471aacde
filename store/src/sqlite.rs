//! The SQLite backend, the embedded default: WAL, `synchronous=FULL`, foreign keys on, one write
//! connection that opens every transaction with `BEGIN IMMEDIATE`, and a read pool beside it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
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

#[async_trait]
impl crate::Store for SqliteStore {
    fn backend(&self) -> crate::Backend {
        crate::Backend::Sqlite
    }

    async fn migrate(&self) -> Result<(), crate::StoreError> {
        self.migrate_now().await
    }

    async fn check_durability(&self) -> Result<(), crate::StoreError> {
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

    async fn apply_batch(
        &self,
        writes: &[crate::Write],
    ) -> Result<Vec<Result<crate::Outcome, prepazka_models::ErrorCode>>, crate::StoreError> {
        let mut conn = self.writer.acquire().await?;
        shared::apply_batch(&mut conn, "BEGIN IMMEDIATE", writes).await
    }

    async fn offices(&self) -> Result<Vec<prepazka_models::office::Office>, crate::StoreError> {
        shared::offices(&self.readers).await
    }

    async fn slot_seats(
        &self,
        office: &prepazka_models::ids::OfficeId,
        from: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(prepazka_models::booking::SlotKey, prepazka_models::booking::Seats)>, crate::StoreError> {
        shared::slot_seats(&self.readers, office, from).await
    }

    async fn booking_by_code(&self, code: &prepazka_models::ids::BookingCode) -> Result<Option<crate::BookingRecord>, crate::StoreError> {
        shared::booking_by_code(&self.readers, code).await
    }

    async fn bookings_by_hold(&self, hold_ref: &str) -> Result<Vec<crate::BookingRecord>, crate::StoreError> {
        shared::bookings_by_hold(&self.readers, hold_ref).await
    }

    async fn idempotent_response(&self, scope: &str, key: &str) -> Result<Option<crate::StoredResponse>, crate::StoreError> {
        shared::idempotent_response(&self.readers, scope, key).await
    }

    async fn outbox(&self) -> Result<Vec<crate::OutboxRecord>, crate::StoreError> {
        shared::outbox(&self.readers).await
    }

    async fn audit_for(&self, subject: &str) -> Result<Vec<crate::AuditRecord>, crate::StoreError> {
        shared::audit_for(&self.readers, subject).await
    }

    async fn device(
        &self,
        token_hash: &str,
    ) -> Result<Option<(prepazka_models::ids::OfficeId, prepazka_models::office::DeviceKind)>, crate::StoreError> {
        shared::device(&self.readers, token_hash).await
    }

    async fn queue_events(
        &self,
        office: &prepazka_models::ids::OfficeId,
        day: chrono::NaiveDate,
        after: u64,
    ) -> Result<Vec<crate::QueueRecord>, crate::StoreError> {
        shared::queue_events(&self.readers, office, day, after).await
    }

    async fn booking_counts(&self) -> Result<crate::BookingCounts, crate::StoreError> {
        shared::booking_counts(&self.readers).await
    }

    async fn backup_to(&self, path: &Path) -> Result<(), crate::StoreError> {
        let target = path.to_str().ok_or_else(|| crate::StoreError::Config("backup path is not UTF-8".into()))?;
        if path.exists() {
            return Err(crate::StoreError::Config(format!("{target} exists already")));
        }
        // VACUUM INTO reads one snapshot of the database and writes a compact, consistent copy
        // while writers go on.
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.readers).await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}
