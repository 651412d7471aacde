//! What goes into the store and what comes out of it.

use chrono::{DateTime, NaiveDate, Utc};
use prepazka_models::booking::BookingStatus;
use prepazka_models::ids::{BookingCode, OfficeId, PersonKey};
use prepazka_models::locale::Locale;
use prepazka_models::office::{DeviceKind, Office, StaffMember};
use prepazka_models::queue::{Counter, QueueEvent};
use prepazka_models::service::ServiceKind;
use serde::{Deserialize, Serialize};

/// A response stored under an idempotency key, in the same transaction as the write it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub scope: String,
    pub key: String,
    pub body_hash: String,
    pub status_code: u16,
    pub response: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub body_hash: String,
    pub status_code: u16,
    pub response: String,
}

/// One seat of a hold: who sits in it and when.
#[derive(Debug, Clone)]
pub struct NewSeat {
    pub code: BookingCode,
    pub person: PersonKey,
    pub starts_at: DateTime<Utc>,
    /// Keyed hash of the booking code and the person's date of birth, checked by "manage".
    pub dob_check: String,
    pub fee_czk: Option<u32>,
}

/// Seats for one person or a whole household, all or none.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub hold_ref: String,
    pub office: OfficeId,
    pub service: ServiceKind,
    pub booked_by: PersonKey,
    pub expires_at: DateTime<Utc>,
    pub seats: Vec<NewSeat>,
    /// The member of staff (username) who holds for the person at the desk or on the phone;
    /// the audit row names them as the actor. `None` when the person books themselves.
    pub assisted_by: Option<String>,
}

/// A notification to deliver, written with what caused it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewOutboxMessage {
    pub kind: String,
    pub locale: Locale,
    pub payload: serde_json::Value,
}

/// Every change the store makes. Each is applied in its own savepoint of a batch.
#[derive(Debug, Clone)]
pub enum Write {
    /// Creates or replaces an office and its configuration.
    UpsertOffice(Office),
    /// Puts slots on sale; existing slots keep their counts.
    ReleaseSlots {
        office: OfficeId,
        slots: Vec<(ServiceKind, DateTime<Utc>, u32)>,
    },
    Hold {
        hold: NewHold,
        now: DateTime<Utc>,
        idempotency: Option<IdempotencyRecord>,
    },
    Confirm {
        hold_ref: String,
        booked_by: PersonKey,
        /// How many bookings the hold has; all of them are confirmed or none.
        seats: usize,
        /// `None` for a person without e-mail (assisted booking, printed confirmation): then
        /// no confirmation message is queued, nor later reschedule or cancel messages.
        email: Option<String>,
        locale: Locale,
        now: DateTime<Utc>,
        message: NewOutboxMessage,
        idempotency: Option<IdempotencyRecord>,
        /// The member of staff who confirms for the person; audited as the actor.
        assisted_by: Option<String>,
    },
    Cancel {
        code: BookingCode,
        actor: String,
        now: DateTime<Utc>,
        message: NewOutboxMessage,
    },
    Reschedule {
        code: BookingCode,
        to: DateTime<Utc>,
        actor: String,
        now: DateTime<Utc>,
        message: NewOutboxMessage,
        idempotency: Option<IdempotencyRecord>,
    },
    /// Expires an office's holds that ran out before `now`.
    ExpireHolds {
        office: OfficeId,
        now: DateTime<Utc>,
    },
    /// Forgets idempotency records older than `before`.
    PurgeIdempotency {
        before: DateTime<Utc>,
    },
    /// Binds a device (kiosk, display) to an office under the SHA-256 of its enrolment token;
    /// audited under `actor` (an administrator's username, `cli` or `demo`).
    EnrolDevice {
        token_hash: String,
        office: OfficeId,
        kind: DeviceKind,
        label: String,
        actor: String,
        now: DateTime<Utc>,
    },
    /// Revokes an enrolled device: its token stops working at once (refused as revoked).
    /// Refused with `NotFound` when no unrevoked device has this token hash.
    RevokeDevice {
        token_hash: String,
        actor: String,
        now: DateTime<Utc>,
    },
    /// Creates or replaces a member of staff (password already hashed).
    UpsertStaff {
        member: StaffMember,
        password_hash: String,
        now: DateTime<Utc>,
    },
    /// Opens a server-side session under the SHA-256 of its cookie.
    OpenSession {
        token_hash: String,
        username: String,
        csrf: String,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    CloseSession {
        token_hash: String,
    },
    /// Appends one queue transition of an office's day.
    QueueEvent {
        office: OfficeId,
        day: NaiveDate,
        record: QueueRecord,
    },
    /// Saves a counter's assignment and status; audited under `actor` (a staff username).
    SaveCounter {
        office: OfficeId,
        counter: Counter,
        actor: String,
        now: DateTime<Utc>,
    },
    /// Closes an office for a Prague day (`from`..`to` are its bounds): cancels the day's held
    /// and confirmed bookings, writes a notice with a rebooking link for each person, takes the
    /// day's slots off sale, and audits it, all in one step.
    CloseOffice {
        office: OfficeId,
        day: NaiveDate,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        reason: String,
        rebook_path: String,
        actor: String,
        now: DateTime<Utc>,
    },
    /// Sets the capacity of a service's slots in `from`..`to`; never below the seats taken.
    SetCapacity {
        office: OfficeId,
        service: ServiceKind,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        capacity: u32,
        actor: String,
        now: DateTime<Utc>,
    },
    /// Replaces an office's hours and slot templates, audited under `actor`.
    ConfigureOffice {
        office: Office,
        actor: String,
        now: DateTime<Utc>,
    },
    /// Appends AI-log records made by the one appender (`prepazka-ailog`), with the wrapped data
    /// key of a session that starts with them. The database refuses a `seq` that does not follow
    /// the last one, so a second appender cannot fork the log.
    AppendAiLog {
        rows: Vec<AiLogRow>,
        data_key: Option<AiDataKeyRow>,
    },
    /// Stores a signed tree head (it is also written to the witness file outside the database).
    AiLogCheckpoint(AiLogCheckpointRow),
}

impl Write {
    /// The idempotency record this write stores when it commits, and its `created_at`.
    pub fn idempotency_record(&self) -> Option<(&IdempotencyRecord, DateTime<Utc>)> {
        match self {
            Write::Hold { idempotency, now, .. } | Write::Confirm { idempotency, now, .. } | Write::Reschedule { idempotency, now, .. } => {
                idempotency.as_ref().map(|record| (record, *now))
            }
            _ => None,
        }
    }
}

/// One AI-log record as stored: the canonical bytes exactly as hashed, and copies for queries.
/// The store keeps rows; making and checking them is the `prepazka-ailog` crate's work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiLogRow {
    pub seq: i64,
    pub record: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub session: Option<String>,
    pub kind: String,
    pub created_at_ms: i64,
}

/// A signed checkpoint: `line` is the witness-file line, signature included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiLogCheckpointRow {
    pub tree_size: i64,
    pub root_hash: Vec<u8>,
    pub signed_at_ms: i64,
    pub line: String,
}

/// A session's data key, wrapped under the key-encryption key kept outside the database.
#[derive(Clone, PartialEq, Eq)]
pub struct AiDataKeyRow {
    pub session: String,
    pub key_id: String,
    pub wrapped: Vec<u8>,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for AiDataKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiDataKeyRow").field("session", &self.session).field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// A persisted queue transition: its place in the office's day, when, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub event: QueueEvent,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Held {
        seats: usize,
    },
    Confirmed {
        count: usize,
    },
    Cancelled {
        booking: BookingRecord,
    },
    Rescheduled {
        booking: BookingRecord,
        from: DateTime<Utc>,
    },
    /// Holds expired, with the slot each one freed.
    Expired {
        freed: Vec<(ServiceKind, DateTime<Utc>)>,
    },
    /// An office closed for a day: how many bookings were cancelled (each with a notice).
    Closed {
        cancelled: usize,
    },
}

/// A booking as stored. Carries the e-mail address only for the notification work.
#[derive(Clone, PartialEq, Eq)]
pub struct BookingRecord {
    pub id: i64,
    pub code: BookingCode,
    pub hold_ref: String,
    pub office: OfficeId,
    pub service: ServiceKind,
    pub starts_at: DateTime<Utc>,
    pub person: PersonKey,
    pub booked_by: PersonKey,
    pub status: BookingStatus,
    pub hold_expires_at: DateTime<Utc>,
    pub dob_check: String,
    pub fee_czk: Option<u32>,
    pub email: Option<String>,
    pub locale: Option<Locale>,
}

impl std::fmt::Debug for BookingRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BookingRecord")
            .field("id", &self.id)
            .field("office", &self.office)
            .field("service", &self.service)
            .field("starts_at", &self.starts_at)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub id: i64,
    pub kind: String,
    pub booking_id: Option<i64>,
    pub locale: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BookingCounts {
    pub held: i64,
    pub confirmed: i64,
    pub cancelled: i64,
    pub expired: i64,
    pub outbox: i64,
    pub audit: i64,
}

/// An enrolled device as the administrator's page lists it (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub token_hash: String,
    pub office: OfficeId,
    pub kind: DeviceKind,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A live staff session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    pub member: StaffMember,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}
