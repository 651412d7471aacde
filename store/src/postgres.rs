//! The PostgreSQL backend, for production: one write connection for the batching writer and a
//! read pool. Durability settings are checked at start.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

use crate::migrate;

mod shared {
    crate::ops::shared_ops!(sqlx::Postgres);
}

pub struct PgStore {
    writer: PgPool,
    readers: PgPool,
}

impl PgStore {
    /// Connects to `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Self, crate::StoreError> {
        let options = PgConnectOptions::from_str(url)?.statement_cache_capacity(256);
        let writer = PgPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(30)).connect_with(options.clone()).await?;
        let readers = PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(30)).connect_with(options).await?;
        let store = Self { writer, readers };
        shared::migrate(&store.writer, migrate::POSTGRES).await?;
        Ok(store)
    }
}

#[async_trait]
impl crate::Store for PgStore {
    fn backend(&self) -> crate::Backend {
        crate::Backend::Postgres
    }

    async fn migrate(&self) -> Result<(), crate::StoreError> {
        shared::migrate(&self.writer, migrate::POSTGRES).await
    }

    async fn check_durability(&self) -> Result<(), crate::StoreError> {
        let fsync: String = sqlx::query("SHOW fsync").fetch_one(&self.writer).await?.try_get(0)?;
        let commit: String = sqlx::query("SHOW synchronous_commit").fetch_one(&self.writer).await?.try_get(0)?;
        if fsync != "on" {
            return Err(crate::StoreError::NotDurable(format!("fsync = {fsync}")));
        }
        if commit == "off" {
            return Err(crate::StoreError::NotDurable("synchronous_commit = off".into()));
        }
        Ok(())
    }

    async fn apply_batch(
        &self,
        writes: &[crate::Write],
    ) -> Result<Vec<Result<crate::Outcome, prepazka_models::ErrorCode>>, crate::StoreError> {
        let mut conn = self.writer.acquire().await?;
        shared::apply_batch(&mut conn, "BEGIN", writes).await
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

    async fn backup_to(&self, _path: &Path) -> Result<(), crate::StoreError> {
        Err(crate::StoreError::Unsupported("back up PostgreSQL with pg_dump or pg_basebackup (see docs/OPERATIONS.md)"))
    }

    async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}
