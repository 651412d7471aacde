//! The only SQL of prepazka.
//!
//! One [`Store`] trait with two backends, [`sqlite::SqliteStore`] (the embedded default) and
//! [`postgres::PgStore`] (production), sharing their statements (see `ops.rs`): both speak the
//! same `$n` placeholders and the same logical schema under `migrations/`.
//!
//! Concurrency model: reads go to a pool (on SQLite, inline connections); every write goes
//! through [`writer::Writer`], one
//! batching task per database that commits many writes in one transaction (each in its own
//! savepoint) and answers each caller only after the commit. The database has the last word on
//! capacity (`slots_within_capacity`, conditional updates) and on per-person caps (a partial
//! unique index), whatever the layers above believe.
//!
//! Deliberately absent: business decisions (they live in `models` and the actors) and
//! `sqlx::Any`, which would lose types.

mod error;
mod idempotency_filter;
mod items;
mod migrate;
mod ops;
pub mod postgres;
pub mod sqlite;
mod sqlite_direct;
pub mod testing;
mod types;
pub mod writer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prepazka_models::booking::{Seats, SlotKey};
use prepazka_models::ids::{BookingCode, OfficeId};
use prepazka_models::office::Office;
use prepazka_models::ErrorCode;

pub use error::StoreError;
pub use types::*;

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Everything prepazka reads from and writes to its database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Applies the compiled-in migrations that have not run yet.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Refuses to go on when the database would not keep what it acknowledged
    /// (`synchronous=OFF` on SQLite, `fsync=off` or `synchronous_commit=off` on PostgreSQL).
    async fn check_durability(&self) -> Result<(), StoreError>;

    /// Applies `writes` in one transaction, each in its own savepoint: an item that breaks a
    /// rule is rolled back alone and answered with its code. `Err` means the transaction as a
    /// whole did not commit and no item may be acknowledged.
    async fn apply_batch(&self, writes: Vec<Write>) -> Result<Vec<Result<Outcome, ErrorCode>>, StoreError>;

    async fn offices(&self) -> Result<Vec<Office>, StoreError>;

    /// Seat counts of an office's slots that start at or after `from`.
    async fn slot_seats(&self, office: &OfficeId, from: DateTime<Utc>) -> Result<Vec<(SlotKey, Seats)>, StoreError>;

    async fn booking_by_code(&self, code: &BookingCode) -> Result<Option<BookingRecord>, StoreError>;

    async fn bookings_by_hold(&self, hold_ref: &str) -> Result<Vec<BookingRecord>, StoreError>;

    async fn idempotent_response(&self, scope: &str, key: &str) -> Result<Option<StoredResponse>, StoreError>;

    async fn outbox(&self) -> Result<Vec<OutboxRecord>, StoreError>;

    async fn audit_for(&self, subject: &str) -> Result<Vec<AuditRecord>, StoreError>;

    /// AI-log records with `seq >= from_seq`, in order, at most `limit`.
    async fn ai_log_rows(&self, from_seq: i64, limit: i64) -> Result<Vec<AiLogRow>, StoreError>;

    /// One interpreting session's AI-log records, in order.
    async fn ai_log_session_rows(&self, session: &str) -> Result<Vec<AiLogRow>, StoreError>;

    /// Every signed checkpoint, smallest tree first.
    async fn ai_log_checkpoints(&self) -> Result<Vec<AiLogCheckpointRow>, StoreError>;

    /// A session's wrapped data key; `None` once erased.
    async fn ai_data_key(&self, session: &str) -> Result<Option<AiDataKeyRow>, StoreError>;

    /// The office and kind of the enrolled, unrevoked device with this token hash.
    async fn device(&self, token_hash: &str) -> Result<Option<(OfficeId, prepazka_models::office::DeviceKind)>, StoreError>;

    /// Every enrolled device, revoked ones included, by office and age.
    async fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError>;

    /// The device with this token hash, revoked or not (to tell a revoked device why).
    async fn device_record(&self, token_hash: &str) -> Result<Option<DeviceRecord>, StoreError>;

    /// A member of staff and their password hash, to check a sign-in.
    async fn staff(&self, username: &str) -> Result<Option<(prepazka_models::office::StaffMember, String)>, StoreError>;

    /// The session with this cookie hash, if it has not expired at `now`.
    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<StaffSession>, StoreError>;

    /// The queue events of an office's day with `seq` greater than `after`, in order.
    async fn queue_events(&self, office: &OfficeId, day: chrono::NaiveDate, after: u64) -> Result<Vec<QueueRecord>, StoreError>;

    /// An office's counters as last saved (counters never saved are closed, with every service).
    async fn counters(&self, office: &OfficeId) -> Result<Vec<prepazka_models::queue::Counter>, StoreError>;

    /// The days an office was closed outside its regular hours, with the reason given.
    async fn closures(&self, office: &OfficeId) -> Result<Vec<(chrono::NaiveDate, String)>, StoreError>;

    /// An office's confirmed bookings starting in `from`..`to`, in time order.
    async fn bookings_between(&self, office: &OfficeId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<BookingRecord>, StoreError>;

    async fn booking_by_id(&self, id: i64) -> Result<Option<BookingRecord>, StoreError>;

    /// Counts of rows per table and status, for tests and the metrics page.
    async fn booking_counts(&self) -> Result<BookingCounts, StoreError>;

    /// Writes a consistent copy of the live database to `path` (SQLite only; PostgreSQL is
    /// backed up with its own tools, see the operations guide).
    async fn backup_to(&self, path: &Path) -> Result<(), StoreError>;

    /// Closes the pools, waiting for connections to be returned.
    async fn close(&self);
}

pub type SharedStore = Arc<dyn Store>;

/// Opens a store from a URL: `sqlite://path/to/file.db` or `postgres://…`.
pub async fn connect(url: &str) -> Result<SharedStore, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        Err(StoreError::Config("database URL must start with sqlite: or postgres:".into()))
    }
}
