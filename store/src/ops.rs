//! What both backends share: statements with `$n` placeholders ([`Stmt`]), owned result rows
//! ([`Row`]), the mapping of guarded constraints to rules, and the reads, written once against
//! sqlx and stamped out per backend by [`shared_ops!`]. SQLite and PostgreSQL accept the same
//! `$n` placeholders and, with the schema in `migrations/`, the same SQL.
//!
//! The write path lives in `items.rs`: every write is one `Write` applied inside a savepoint
//! of a batch. A rule broken by an item comes back as [`ItemError::Rule`]; the batch rolls
//! back to the savepoint and goes on.

use std::str::FromStr as _;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use prepazka_models::booking::{BookingStatus, Seats, SlotKey};
use prepazka_models::ids::{BookingCode, OfficeId, PersonKey};
use prepazka_models::office::{DeviceKind, Office, Region, StaffMember, StaffRole};
use prepazka_models::queue::{Counter, CounterStatus};
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;

use crate::{
    AiDataKeyRow, AiLogCheckpointRow, AiLogRow, AuditRecord, BookingCounts, BookingRecord, DeviceRecord, OutboxRecord, QueueRecord,
    StaffSession, StoreError, StoredResponse,
};

/// Why one item of a batch failed.
#[derive(Debug)]
pub(crate) enum ItemError {
    /// A rule said no: this item is rolled back, the batch goes on.
    Rule(ErrorCode),
    /// A confirmation found fewer held seats than its hold has: rolled back, and the reason is
    /// read afterwards (reading it before the rollback would see the item's own changes).
    Refused,
    /// The database failed: the whole batch is rolled back.
    Db(StoreError),
}

impl ItemError {
    /// For statements outside any item (rolling an item back): every failure is the batch's.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            ItemError::Db(err) => err,
            ItemError::Rule(code) => StoreError::Corrupt(format!("unexpected rule {code:?} outside an item")),
            ItemError::Refused => StoreError::Corrupt("unexpected refusal outside an item".into()),
        }
    }
}

/// The kinds of constraint failure that can stand for a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    Unique,
    Check,
    NotNull,
    Other,
}

impl From<sqlx::Error> for ItemError {
    fn from(err: sqlx::Error) -> Self {
        let rule = err.as_database_error().and_then(|db| {
            let violation = match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => Violation::Unique,
                sqlx::error::ErrorKind::CheckViolation => Violation::Check,
                sqlx::error::ErrorKind::NotNullViolation => Violation::NotNull,
                _ => Violation::Other,
            };
            rule_for(violation, db.constraint().unwrap_or_default(), db.message())
        });
        match rule {
            Some(code) => ItemError::Rule(code),
            None => ItemError::Db(err.into()),
        }
    }
}

impl From<rusqlite::Error> for ItemError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        let rule = match &err {
            rusqlite::Error::SqliteFailure(failure, message) => {
                let violation = match failure.extended_code {
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => Violation::Unique,
                    ffi::SQLITE_CONSTRAINT_CHECK => Violation::Check,
                    ffi::SQLITE_CONSTRAINT_NOTNULL => Violation::NotNull,
                    _ => Violation::Other,
                };
                // SQLite names no constraint apart from its message.
                rule_for(violation, "", message.as_deref().unwrap_or_default())
            }
            _ => None,
        };
        match rule {
            Some(code) => ItemError::Rule(code),
            None => ItemError::Db(err.into()),
        }
    }
}

/// Maps the named constraints that guard our invariants to the rule they stand for. PostgreSQL
/// names the constraint; SQLite names the columns in its message.
pub(crate) fn rule_for(violation: Violation, constraint: &str, message: &str) -> Option<ErrorCode> {
    let mentions = |name: &str, sqlite_columns: &str| constraint == name || message.contains(sqlite_columns);
    match violation {
        Violation::Unique => {
            if mentions("bookings_one_active_per_person_service", "bookings.person_key, bookings.service") {
                return Some(ErrorCode::PersonCapReached);
            }
            if mentions("idempotency_keys_pkey", "idempotency_keys.scope") {
                return Some(ErrorCode::IdempotencyKeyInFlight);
            }
            if mentions("bookings_code_unique", "bookings.code") {
                return Some(ErrorCode::Unavailable);
            }
            // Another writer got there first (a second owner of the office): the actor reloads.
            if mentions("queue_events_pkey", "queue_events.seq") {
                return Some(ErrorCode::Unavailable);
            }
            if mentions("queue_events_checked_in_once", "queue_events.booking_id") {
                return Some(ErrorCode::AlreadyCheckedIn);
            }
            if mentions("queue_events_called_once", "queue_events.ticket") || mentions("queue_events_issued_once", "queue_events.ticket") {
                return Some(ErrorCode::TicketNotAtCounter);
            }
            if mentions("office_closures_pkey", "office_closures.office_id") {
                return Some(ErrorCode::OfficeClosedOnDay);
            }
            None
        }
        Violation::Check if mentions("slots_within_capacity", "slots_within_capacity") => Some(ErrorCode::SlotTaken),
        Violation::Check if mentions("counters_number_check", "counters_number_check") => Some(ErrorCode::InvalidInput),
        // A start that is no slot finds no slot id.
        Violation::NotNull if message.contains("slot_id") => Some(ErrorCode::NotASlot),
        _ => None,
    }
}

pub(crate) fn ms(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

pub(crate) fn from_ms(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(millis).single().ok_or_else(|| StoreError::Corrupt(format!("instant {millis}")))
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

/// A bound value of a statement.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Arg {
    pub(crate) fn text(value: &str) -> Self {
        Arg::Text(value.to_owned())
    }
}

/// One statement with its own `$1…$n` placeholders and values.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Stmt {
    pub(crate) fn new(sql: &str) -> Self {
        Self { sql: sql.to_owned(), args: Vec::new() }
    }

    pub(crate) fn arg(mut self, arg: Arg) -> Self {
        self.args.push(arg);
        self
    }
}

/// A column value as the database gave it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One result row, owned and backend-neutral, read by column name.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub columns: Vec<(String, Value)>,
}

impl Row {
    fn value(&self, name: &str) -> Result<&Value, StoreError> {
        self.columns.iter().find(|(column, _)| column == name).map(|(_, value)| value).ok_or_else(|| corrupt(&format!("no column {name}")))
    }

    pub(crate) fn opt_int(&self, name: &str) -> Result<Option<i64>, StoreError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            _ => Err(corrupt(&format!("{name} is not an integer"))),
        }
    }

    pub(crate) fn int(&self, name: &str) -> Result<i64, StoreError> {
        self.opt_int(name)?.ok_or_else(|| corrupt(&format!("{name} is null")))
    }

    pub(crate) fn opt_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.value(name)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            _ => Err(corrupt(&format!("{name} is not text"))),
        }
    }

    pub(crate) fn text(&self, name: &str) -> Result<String, StoreError> {
        self.opt_text(name)?.ok_or_else(|| corrupt(&format!("{name} is null")))
    }
}

pub(crate) const BOOKING_COLUMNS: &str = "id, code, hold_ref, office_id, service, starts_at, person_key, booked_by, status, \
     hold_expires_at, dob_check, fee_czk, email, locale, slot_id";

pub(crate) fn booking_from_row(row: &Row) -> Result<BookingRecord, StoreError> {
    let person = |name: &str| row.text(name).and_then(|v| PersonKey::from_hex(&v).map_err(|_| corrupt("person key")));
    Ok(BookingRecord {
        id: row.int("id")?,
        code: BookingCode::parse(&row.text("code")?).map_err(|_| corrupt("booking code"))?,
        hold_ref: row.text("hold_ref")?,
        office: OfficeId::parse(&row.text("office_id")?).map_err(|_| corrupt("office id"))?,
        service: ServiceKind::from_str(&row.text("service")?).map_err(|_| corrupt("service"))?,
        starts_at: from_ms(row.int("starts_at")?)?,
        person: person("person_key")?,
        booked_by: person("booked_by")?,
        status: BookingStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("status"))?,
        hold_expires_at: from_ms(row.int("hold_expires_at")?)?,
        dob_check: row.text("dob_check")?,
        fee_czk: row.opt_int("fee_czk")?.and_then(|v| u32::try_from(v).ok()),
        email: row.opt_text("email")?,
        locale: row.opt_text("locale")?.and_then(|l| l.parse().ok()),
    })
}


impl Row {
    pub(crate) fn bool(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.int(name)? != 0)
    }

    pub(crate) fn bytes(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        match self.value(name)? {
            Value::Bytes(v) => Ok(v.clone()),
            _ => Err(corrupt(&format!("{name} is not bytes"))),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, StoreError> {
        serde_json::from_str(&self.text(name)?).map_err(|_| corrupt(name))
    }

    fn office(&self, name: &str) -> Result<OfficeId, StoreError> {
        OfficeId::parse(&self.text(name)?).map_err(|_| corrupt("office id"))
    }

    fn instant(&self, name: &str) -> Result<DateTime<Utc>, StoreError> {
        from_ms(self.int(name)?)
    }

    fn count<T: TryFrom<i64>>(&self, name: &str) -> Result<T, StoreError> {
        T::try_from(self.int(name)?).map_err(|_| corrupt(name))
    }
}

/// Where the reads run: sqlx's pool for PostgreSQL, the inline SQLite connections
/// (`sqlite_direct.rs`) for SQLite.
#[allow(async_fn_in_trait)]
pub(crate) trait ReadConn {
    async fn rows(&self, stmt: Stmt) -> Result<Vec<Row>, StoreError>;

    async fn row(&self, stmt: Stmt) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(stmt).await?.into_iter().next())
    }

    /// False only when the database certainly holds no idempotency record for `(scope, key)`.
    fn may_hold_idempotency_key(&self, _scope: &str, _key: &str) -> bool {
        true
    }
}

// The reads, once for both backends.

pub(crate) async fn offices(db: &impl ReadConn) -> Result<Vec<Office>, StoreError> {
    let rows = db.rows(Stmt::new("SELECT id, name, region, city, address, has_biometrics, services, hours FROM offices ORDER BY id")).await?;
    rows.iter()
        .map(|row| {
            Ok(Office {
                id: row.office("id")?,
                name: row.text("name")?,
                region: Region::parse(&row.text("region")?).ok_or_else(|| corrupt("region"))?,
                city: row.text("city")?,
                address: row.text("address")?,
                has_biometrics: row.bool("has_biometrics")?,
                services: row.json("services")?,
                hours: row.json("hours")?,
            })
        })
        .collect()
}

pub(crate) async fn slot_seats(db: &impl ReadConn, office: &OfficeId, from: DateTime<Utc>) -> Result<Vec<(SlotKey, Seats)>, StoreError> {
    let rows = db
        .rows(
            Stmt::new("SELECT service, starts_at, capacity, taken FROM slots WHERE office_id = $1 AND starts_at >= $2")
                .arg(Arg::text(office.as_str()))
                .arg(Arg::Int(ms(from))),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let service = ServiceKind::from_str(&row.text("service")?).map_err(|_| corrupt("service"))?;
            Ok((SlotKey { service, start: row.instant("starts_at")? }, Seats { capacity: row.count("capacity")?, taken: row.count("taken")? }))
        })
        .collect()
}

async fn bookings_where(db: &impl ReadConn, condition: &str, args: Vec<Arg>) -> Result<Vec<BookingRecord>, StoreError> {
    let rows = db.rows(Stmt { sql: format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE {condition}"), args }).await?;
    rows.iter().map(booking_from_row).collect()
}

pub(crate) async fn booking_by_code(db: &impl ReadConn, code: &BookingCode) -> Result<Option<BookingRecord>, StoreError> {
    Ok(bookings_where(db, "code = $1", vec![Arg::text(code.as_str())]).await?.into_iter().next())
}

pub(crate) async fn bookings_by_hold(db: &impl ReadConn, hold_ref: &str) -> Result<Vec<BookingRecord>, StoreError> {
    bookings_where(db, "hold_ref = $1 ORDER BY id", vec![Arg::text(hold_ref)]).await
}

pub(crate) async fn bookings_between(db: &impl ReadConn, office: &OfficeId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<BookingRecord>, StoreError> {
    let condition = "office_id = $1 AND starts_at >= $2 AND starts_at < $3 AND status = 'confirmed' ORDER BY starts_at, id";
    bookings_where(db, condition, vec![Arg::text(office.as_str()), Arg::Int(ms(from)), Arg::Int(ms(to))]).await
}

pub(crate) async fn booking_by_id(db: &impl ReadConn, id: i64) -> Result<Option<BookingRecord>, StoreError> {
    Ok(bookings_where(db, "id = $1", vec![Arg::Int(id)]).await?.into_iter().next())
}

pub(crate) async fn idempotent_response(db: &impl ReadConn, scope: &str, key: &str) -> Result<Option<StoredResponse>, StoreError> {
    if !db.may_hold_idempotency_key(scope, key) {
        return Ok(None);
    }
    let row = db
        .row(Stmt::new("SELECT body_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND idem_key = $2").arg(Arg::text(scope)).arg(Arg::text(key)))
        .await?;
    row.map(|row| Ok(StoredResponse { body_hash: row.text("body_hash")?, status_code: row.count("status_code")?, response: row.text("response")? }))
        .transpose()
}

pub(crate) async fn outbox(db: &impl ReadConn) -> Result<Vec<OutboxRecord>, StoreError> {
    let rows = db.rows(Stmt::new("SELECT id, kind, booking_id, locale, payload, status, attempts FROM outbox ORDER BY id")).await?;
    rows.iter()
        .map(|row| {
            Ok(OutboxRecord {
                id: row.int("id")?,
                kind: row.text("kind")?,
                booking_id: row.opt_int("booking_id")?,
                locale: row.text("locale")?,
                payload: row.json("payload")?,
                status: row.text("status")?,
                attempts: row.int("attempts")?,
            })
        })
        .collect()
}

pub(crate) async fn audit_for(db: &impl ReadConn, subject: &str) -> Result<Vec<AuditRecord>, StoreError> {
    let rows = db.rows(Stmt::new("SELECT at, actor, action, subject, detail FROM audit_log WHERE subject = $1 ORDER BY id").arg(Arg::text(subject))).await?;
    rows.iter()
        .map(|row| {
            Ok(AuditRecord {
                at: row.instant("at")?,
                actor: row.text("actor")?,
                action: row.text("action")?,
                subject: row.text("subject")?,
                detail: row.json("detail")?,
            })
        })
        .collect()
}

const AI_LOG_COLUMNS: &str = "seq, record, leaf_hash, session_id, kind, created_at";

fn ai_log_row(row: &Row) -> Result<AiLogRow, StoreError> {
    Ok(AiLogRow {
        seq: row.int("seq")?,
        record: row.bytes("record")?,
        leaf_hash: row.bytes("leaf_hash")?,
        session: row.opt_text("session_id")?,
        kind: row.text("kind")?,
        created_at_ms: row.int("created_at")?,
    })
}

pub(crate) async fn ai_log_rows(db: &impl ReadConn, from_seq: i64, limit: i64) -> Result<Vec<AiLogRow>, StoreError> {
    let sql = format!("SELECT {AI_LOG_COLUMNS} FROM ai_log_records WHERE seq >= $1 ORDER BY seq LIMIT $2");
    db.rows(Stmt { sql, args: vec![Arg::Int(from_seq), Arg::Int(limit)] }).await?.iter().map(ai_log_row).collect()
}

pub(crate) async fn ai_log_session_rows(db: &impl ReadConn, session: &str) -> Result<Vec<AiLogRow>, StoreError> {
    let sql = format!("SELECT {AI_LOG_COLUMNS} FROM ai_log_records WHERE session_id = $1 ORDER BY seq");
    db.rows(Stmt { sql, args: vec![Arg::text(session)] }).await?.iter().map(ai_log_row).collect()
}

pub(crate) async fn ai_log_checkpoints(db: &impl ReadConn) -> Result<Vec<AiLogCheckpointRow>, StoreError> {
    let rows = db.rows(Stmt::new("SELECT tree_size, root_hash, signed_at, line FROM ai_log_checkpoints ORDER BY tree_size")).await?;
    rows.iter()
        .map(|row| {
            Ok(AiLogCheckpointRow {
                tree_size: row.int("tree_size")?,
                root_hash: row.bytes("root_hash")?,
                signed_at_ms: row.int("signed_at")?,
                line: row.text("line")?,
            })
        })
        .collect()
}

pub(crate) async fn ai_data_key(db: &impl ReadConn, session: &str) -> Result<Option<AiDataKeyRow>, StoreError> {
    let row = db.row(Stmt::new("SELECT session_id, key_id, wrapped_key, created_at FROM ai_log_data_keys WHERE session_id = $1").arg(Arg::text(session))).await?;
    row.map(|row| {
        Ok(AiDataKeyRow {
            session: row.text("session_id")?,
            key_id: row.text("key_id")?,
            wrapped: row.bytes("wrapped_key")?,
            created_at_ms: row.int("created_at")?,
        })
    })
    .transpose()
}

fn device_kind(row: &Row) -> Result<DeviceKind, StoreError> {
    DeviceKind::parse(&row.text("kind")?).ok_or_else(|| corrupt("device kind"))
}

pub(crate) async fn device(db: &impl ReadConn, token_hash: &str) -> Result<Option<(OfficeId, DeviceKind)>, StoreError> {
    let row = db.row(Stmt::new("SELECT office_id, kind FROM devices WHERE token_hash = $1 AND revoked_at IS NULL").arg(Arg::text(token_hash))).await?;
    row.map(|row| Ok((row.office("office_id")?, device_kind(&row)?))).transpose()
}

const DEVICE_COLUMNS: &str = "token_hash, office_id, kind, label, created_at, revoked_at";

fn device_record(row: &Row) -> Result<DeviceRecord, StoreError> {
    Ok(DeviceRecord {
        token_hash: row.text("token_hash")?,
        office: row.office("office_id")?,
        kind: device_kind(row)?,
        label: row.text("label")?,
        created_at: row.instant("created_at")?,
        revoked_at: row.opt_int("revoked_at")?.map(from_ms).transpose()?,
    })
}

pub(crate) async fn devices(db: &impl ReadConn) -> Result<Vec<DeviceRecord>, StoreError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY office_id, created_at, token_hash");
    db.rows(Stmt { sql, args: Vec::new() }).await?.iter().map(device_record).collect()
}

pub(crate) async fn device_record_of(db: &impl ReadConn, token_hash: &str) -> Result<Option<DeviceRecord>, StoreError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE token_hash = $1");
    db.row(Stmt { sql, args: vec![Arg::text(token_hash)] }).await?.as_ref().map(device_record).transpose()
}

fn staff_member(row: &Row) -> Result<StaffMember, StoreError> {
    let office = row.opt_text("office_id")?.map(|o| OfficeId::parse(&o).map_err(|_| corrupt("office id"))).transpose()?;
    Ok(StaffMember {
        username: row.text("username")?,
        office,
        role: StaffRole::parse(&row.text("role")?).ok_or_else(|| corrupt("staff role"))?,
    })
}

pub(crate) async fn staff(db: &impl ReadConn, username: &str) -> Result<Option<(StaffMember, String)>, StoreError> {
    let row = db.row(Stmt::new("SELECT username, office_id, role, password_hash FROM staff WHERE username = $1").arg(Arg::text(username))).await?;
    row.map(|row| Ok((staff_member(&row)?, row.text("password_hash")?))).transpose()
}

pub(crate) async fn session(db: &impl ReadConn, token_hash: &str, now: DateTime<Utc>) -> Result<Option<StaffSession>, StoreError> {
    let row = db
        .row(
            Stmt::new(
                "SELECT s.username, s.office_id, s.role, x.csrf, x.expires_at FROM staff_sessions x JOIN staff s ON s.username = x.username \
                 WHERE x.token_hash = $1 AND x.expires_at > $2",
            )
            .arg(Arg::text(token_hash))
            .arg(Arg::Int(ms(now))),
        )
        .await?;
    row.map(|row| Ok(StaffSession { member: staff_member(&row)?, csrf: row.text("csrf")?, expires_at: row.instant("expires_at")? })).transpose()
}

pub(crate) async fn queue_events(db: &impl ReadConn, office: &OfficeId, day: NaiveDate, after: u64) -> Result<Vec<QueueRecord>, StoreError> {
    let rows = db
        .rows(
            Stmt::new("SELECT seq, at, event FROM queue_events WHERE office_id = $1 AND day = $2 AND seq > $3 ORDER BY seq")
                .arg(Arg::text(office.as_str()))
                .arg(Arg::Text(day.to_string()))
                .arg(Arg::Int(after as i64)),
        )
        .await?;
    rows.iter().map(|row| Ok(QueueRecord { seq: row.count("seq")?, at: row.instant("at")?, event: row.json("event")? })).collect()
}

pub(crate) async fn counters(db: &impl ReadConn, office: &OfficeId) -> Result<Vec<Counter>, StoreError> {
    let rows =
        db.rows(Stmt::new("SELECT number, services, status, officer FROM counters WHERE office_id = $1 ORDER BY number").arg(Arg::text(office.as_str()))).await?;
    rows.iter()
        .map(|row| {
            let services: Vec<String> = row.json("services")?;
            Ok(Counter {
                number: row.count("number")?,
                services: services.iter().map(|s| ServiceKind::from_str(s).map_err(|_| corrupt("counter service"))).collect::<Result<_, _>>()?,
                status: CounterStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("counter status"))?,
                officer: row.opt_text("officer")?,
            })
        })
        .collect()
}

pub(crate) async fn closures(db: &impl ReadConn, office: &OfficeId) -> Result<Vec<(NaiveDate, String)>, StoreError> {
    let rows = db.rows(Stmt::new("SELECT day, reason FROM office_closures WHERE office_id = $1 ORDER BY day").arg(Arg::text(office.as_str()))).await?;
    rows.iter()
        .map(|row| {
            let day = NaiveDate::parse_from_str(&row.text("day")?, "%Y-%m-%d").map_err(|_| corrupt("closure day"))?;
            Ok((day, row.text("reason")?))
        })
        .collect()
}

pub(crate) async fn booking_counts(db: &impl ReadConn) -> Result<BookingCounts, StoreError> {
    let mut counts = BookingCounts::default();
    for row in db.rows(Stmt::new("SELECT status, COUNT(*) AS n FROM bookings GROUP BY status")).await? {
        let n = row.int("n")?;
        match row.text("status")?.as_str() {
            "held" => counts.held = n,
            "confirmed" => counts.confirmed = n,
            "cancelled" => counts.cancelled = n,
            "expired" => counts.expired = n,
            _ => return Err(corrupt("status")),
        }
    }
    let total = |table: &str| Stmt { sql: format!("SELECT COUNT(*) AS n FROM {table}"), args: Vec::new() };
    counts.outbox = db.row(total("outbox")).await?.ok_or_else(|| corrupt("count"))?.int("n")?;
    counts.audit = db.row(total("audit_log")).await?.ok_or_else(|| corrupt("count"))?.int("n")?;
    Ok(counts)
}

/// Stamps out the migration runner for one backend (migrations run on sqlx on both): `$Db` is
/// the sqlx database type.
macro_rules! shared_ops {
    ($Db:ty) => {
        use crate::ops::ms;
        use crate::StoreError;

        type Pool = sqlx::Pool<$Db>;

        pub(crate) async fn migrate(pool: &Pool, migrations: &[crate::migrate::Migration]) -> Result<(), StoreError> {
            let mut conn = pool.acquire().await?;
            sqlx::query(crate::migrate::CREATE_TABLE).execute(&mut *conn).await?;
            for migration in migrations {
                let applied = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(migration.version)
                    .fetch_optional(&mut *conn)
                    .await?;
                if applied.is_some() {
                    continue;
                }
                sqlx::query("BEGIN").execute(&mut *conn).await?;
                let mut outcome: Result<(), sqlx::Error> = Ok(());
                for statement in crate::migrate::statements(migration.sql) {
                    if let Err(err) = sqlx::query(&statement).execute(&mut *conn).await {
                        outcome = Err(err);
                        break;
                    }
                }
                if outcome.is_ok() {
                    outcome = sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                        .bind(migration.version)
                        .bind(migration.name)
                        .bind(ms(chrono::Utc::now()))
                        .execute(&mut *conn)
                        .await
                        .map(|_| ());
                }
                match outcome {
                    Ok(()) => {
                        sqlx::query("COMMIT").execute(&mut *conn).await?;
                        tracing::info!(version = migration.version, name = migration.name, "migration applied");
                    }
                    Err(err) => {
                        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                        return Err(err.into());
                    }
                }
            }
            Ok(())
        }
    };
}
pub(crate) use shared_ops;

/// The `Store` implementation both backends share: everything but their connection set-up,
/// write path, durability check and backup, which each backend has as inherent `apply`,
/// `close_writer`, `durability` and `backup`.
/// Expects a `shared` module (from [`shared_ops!`]), a `writer` pool and `readers` (a [`ReadConn`]) in scope.
macro_rules! store_impl {
    ($Store:ident, $backend:expr, $migrations:expr) => {
        #[async_trait::async_trait]
        impl crate::Store for $Store {
            fn backend(&self) -> crate::Backend {
                $backend
            }

            async fn migrate(&self) -> Result<(), crate::StoreError> {
                shared::migrate(&self.writer, $migrations).await
            }

            async fn check_durability(&self) -> Result<(), crate::StoreError> {
                self.durability().await
            }

            async fn apply_batch(
                &self,
                writes: Vec<crate::Write>,
            ) -> Result<Vec<Result<crate::Outcome, prepazka_models::ErrorCode>>, crate::StoreError> {
                self.apply(writes).await
            }

            async fn offices(&self) -> Result<Vec<prepazka_models::office::Office>, crate::StoreError> {
                crate::ops::offices(&self.readers).await
            }

            async fn slot_seats(
                &self,
                office: &prepazka_models::ids::OfficeId,
                from: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<(prepazka_models::booking::SlotKey, prepazka_models::booking::Seats)>, crate::StoreError> {
                crate::ops::slot_seats(&self.readers, office, from).await
            }

            async fn booking_by_code(
                &self,
                code: &prepazka_models::ids::BookingCode,
            ) -> Result<Option<crate::BookingRecord>, crate::StoreError> {
                crate::ops::booking_by_code(&self.readers, code).await
            }

            async fn bookings_by_hold(&self, hold_ref: &str) -> Result<Vec<crate::BookingRecord>, crate::StoreError> {
                crate::ops::bookings_by_hold(&self.readers, hold_ref).await
            }

            async fn idempotent_response(&self, scope: &str, key: &str) -> Result<Option<crate::StoredResponse>, crate::StoreError> {
                crate::ops::idempotent_response(&self.readers, scope, key).await
            }

            async fn outbox(&self) -> Result<Vec<crate::OutboxRecord>, crate::StoreError> {
                crate::ops::outbox(&self.readers).await
            }

            async fn audit_for(&self, subject: &str) -> Result<Vec<crate::AuditRecord>, crate::StoreError> {
                crate::ops::audit_for(&self.readers, subject).await
            }

            async fn ai_log_rows(&self, from_seq: i64, limit: i64) -> Result<Vec<crate::AiLogRow>, crate::StoreError> {
                crate::ops::ai_log_rows(&self.readers, from_seq, limit).await
            }

            async fn ai_log_session_rows(&self, session: &str) -> Result<Vec<crate::AiLogRow>, crate::StoreError> {
                crate::ops::ai_log_session_rows(&self.readers, session).await
            }

            async fn ai_log_checkpoints(&self) -> Result<Vec<crate::AiLogCheckpointRow>, crate::StoreError> {
                crate::ops::ai_log_checkpoints(&self.readers).await
            }

            async fn ai_data_key(&self, session: &str) -> Result<Option<crate::AiDataKeyRow>, crate::StoreError> {
                crate::ops::ai_data_key(&self.readers, session).await
            }

            async fn device(
                &self,
                token_hash: &str,
            ) -> Result<Option<(prepazka_models::ids::OfficeId, prepazka_models::office::DeviceKind)>, crate::StoreError> {
                crate::ops::device(&self.readers, token_hash).await
            }

            async fn devices(&self) -> Result<Vec<crate::DeviceRecord>, crate::StoreError> {
                crate::ops::devices(&self.readers).await
            }

            async fn device_record(&self, token_hash: &str) -> Result<Option<crate::DeviceRecord>, crate::StoreError> {
                crate::ops::device_record_of(&self.readers, token_hash).await
            }

            async fn staff(&self, username: &str) -> Result<Option<(prepazka_models::office::StaffMember, String)>, crate::StoreError> {
                crate::ops::staff(&self.readers, username).await
            }

            async fn session(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<crate::StaffSession>, crate::StoreError> {
                crate::ops::session(&self.readers, token_hash, now).await
            }

            async fn queue_events(
                &self,
                office: &prepazka_models::ids::OfficeId,
                day: chrono::NaiveDate,
                after: u64,
            ) -> Result<Vec<crate::QueueRecord>, crate::StoreError> {
                crate::ops::queue_events(&self.readers, office, day, after).await
            }

            async fn counters(
                &self,
                office: &prepazka_models::ids::OfficeId,
            ) -> Result<Vec<prepazka_models::queue::Counter>, crate::StoreError> {
                crate::ops::counters(&self.readers, office).await
            }

            async fn closures(
                &self,
                office: &prepazka_models::ids::OfficeId,
            ) -> Result<Vec<(chrono::NaiveDate, String)>, crate::StoreError> {
                crate::ops::closures(&self.readers, office).await
            }

            async fn bookings_between(
                &self,
                office: &prepazka_models::ids::OfficeId,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<crate::BookingRecord>, crate::StoreError> {
                crate::ops::bookings_between(&self.readers, office, from, to).await
            }

            async fn booking_by_id(&self, id: i64) -> Result<Option<crate::BookingRecord>, crate::StoreError> {
                crate::ops::booking_by_id(&self.readers, id).await
            }

            async fn booking_counts(&self) -> Result<crate::BookingCounts, crate::StoreError> {
                crate::ops::booking_counts(&self.readers).await
            }

            async fn backup_to(&self, path: &std::path::Path) -> Result<(), crate::StoreError> {
                self.backup(path).await
            }

            async fn close(&self) {
                self.close_writer().await;
                self.readers.close().await;
            }
        }
    };
}
pub(crate) use store_impl;
