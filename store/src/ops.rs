//! The statements both backends share. SQLite and PostgreSQL accept the same `$n` placeholders
//! and, with the schema in `migrations/`, the same SQL; only the connection types differ, so
//! the functions are written once here and stamped out per backend by [`shared_ops!`].
//!
//! Every write is one `Write` applied on the single writer connection inside a savepoint that
//! the caller (`apply_batch`) opened. A rule broken by an item comes back as
//! [`ItemError::Rule`]; the caller rolls back to the savepoint and goes on with the batch.

use chrono::{DateTime, TimeZone, Utc};
use prepazka_models::ErrorCode;

/// Why one item of a batch failed.
#[derive(Debug)]
pub(crate) enum ItemError {
    /// A rule said no: this item is rolled back, the batch goes on.
    Rule(ErrorCode),
    /// A confirmation found fewer held seats than its hold has: rolled back, and the reason is
    /// read afterwards (reading it before the rollback would see the item's own changes).
    Refused,
    /// The database failed: the whole batch is rolled back.
    Db(sqlx::Error),
}

impl From<sqlx::Error> for ItemError {
    fn from(err: sqlx::Error) -> Self {
        match constraint_code(&err) {
            Some(code) => ItemError::Rule(code),
            None => ItemError::Db(err),
        }
    }
}

/// Maps the named constraints that guard our invariants to the rule they stand for. PostgreSQL
/// names the constraint; SQLite names the columns in its message.
fn constraint_code(err: &sqlx::Error) -> Option<ErrorCode> {
    let db = err.as_database_error()?;
    let name = db.constraint().unwrap_or_default().to_owned();
    let message = db.message();
    let mentions = |constraint: &str, sqlite_columns: &str| name == constraint || message.contains(sqlite_columns);
    if db.is_unique_violation() {
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
    }
    if db.is_check_violation() && mentions("slots_within_capacity", "slots_within_capacity") {
        return Some(ErrorCode::SlotTaken);
    }
    if db.is_check_violation() && mentions("counters_number_check", "counters_number_check") {
        return Some(ErrorCode::InvalidInput);
    }
    // A start that is no slot finds no slot id.
    if matches!(db.kind(), sqlx::error::ErrorKind::NotNullViolation) && message.contains("slot_id") {
        return Some(ErrorCode::NotASlot);
    }
    None
}

pub(crate) fn ms(instant: DateTime<Utc>) -> i64 {
    instant.timestamp_millis()
}

pub(crate) fn from_ms(millis: i64) -> Result<DateTime<Utc>, crate::StoreError> {
    Utc.timestamp_millis_opt(millis).single().ok_or_else(|| crate::StoreError::Corrupt(format!("instant {millis}")))
}

pub(crate) fn corrupt(what: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(what.to_owned())
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

/// Backends whose driver runs several `;`-separated statements with shared numbered
/// parameters in one call (sqlx's SQLite worker does; PostgreSQL's extended protocol does not).
pub(crate) const ONE_COMMAND_PER_ITEM: &[&str] = &["SQLite"];

/// Joins statements into one command: each statement's `$k` becomes `$(offset + k)` so that
/// all of them draw on one list of values.
pub(crate) fn join(stmts: Vec<Stmt>) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for stmt in stmts {
        let offset = args.len();
        let mut chars = stmt.sql.chars().peekable();
        while let Some(c) = chars.next() {
            sql.push(c);
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut number = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    number.push(d);
                    chars.next();
                }
                let n: usize = number.parse().unwrap_or(0);
                sql.push_str(&(n + offset).to_string());
            }
        }
        sql.push_str(";\n");
        args.extend(stmt.args);
    }
    (sql, args)
}

pub(crate) const BOOKING_COLUMNS: &str = "id, code, hold_ref, office_id, service, starts_at, person_key, booked_by, status, \
     hold_expires_at, dob_check, fee_czk, email, locale, slot_id";

/// Stamps out the shared statements for one backend: `$Db` is the sqlx database type.
macro_rules! shared_ops {
    ($Db:ty) => {
        use std::str::FromStr as _;

        use chrono::{DateTime, Utc};
        use prepazka_models::booking::{BookingStatus, Seats, SlotKey};
        use prepazka_models::ids::{BookingCode, OfficeId, PersonKey};
        use prepazka_models::office::{Office, Region};
        use prepazka_models::service::ServiceKind;
        use prepazka_models::ErrorCode;
        use sqlx::Row as _;

        use crate::ops::{corrupt, from_ms, ms, Arg, ItemError, Stmt, BOOKING_COLUMNS};
        use crate::{
            AuditRecord, BookingCounts, BookingRecord, IdempotencyRecord, NewHold, NewOutboxMessage, Outcome,
            OutboxRecord, StoreError, StoredResponse, Write,
        };

        type Conn = <$Db as sqlx::Database>::Connection;
        type DbRow = <$Db as sqlx::Database>::Row;
        type Pool = sqlx::Pool<$Db>;

        /// Runs `writes` in one transaction opened with `begin`, a savepoint per item.
        pub(crate) async fn apply_batch(
            conn: &mut Conn,
            begin: &str,
            writes: &[Write],
        ) -> Result<Vec<Result<Outcome, ErrorCode>>, StoreError> {
            sqlx::query(begin).execute(&mut *conn).await?;
            let result = apply_items(conn, writes).await;
            let result = match result {
                Ok(results) => sqlx::query("COMMIT").execute(&mut *conn).await.map(|_| results).map_err(StoreError::from),
                Err(err) => Err(err),
            };
            if result.is_err() {
                // The transaction may already be gone (a failed COMMIT ends it); a second error
                // here tells nothing new.
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            }
            result
        }

        async fn apply_items(conn: &mut Conn, writes: &[Write]) -> Result<Vec<Result<Outcome, ErrorCode>>, StoreError> {
            let mut results = Vec::with_capacity(writes.len());
            // A succeeded item's savepoint is released by the next item's first command (or by
            // COMMIT), so that on SQLite an item costs one round trip to the driver's thread.
            let mut release_pending = false;
            for write in writes {
                // Items open their savepoint with their first statements; a rule checked before
                // that has nothing to roll back.
                let mut opened = false;
                match apply_one(&mut Item { conn: &mut *conn, opened: &mut opened, release_pending: &mut release_pending }, write).await {
                    Ok(outcome) => {
                        release_pending |= opened;
                        results.push(Ok(outcome));
                    }
                    Err(ItemError::Db(err)) => return Err(err.into()),
                    Err(err) => {
                        if opened {
                            run(conn, vec![Stmt::new("ROLLBACK TO SAVEPOINT item"), Stmt::new("RELEASE SAVEPOINT item")]).await?;
                        }
                        let code = match (err, write) {
                            (ItemError::Refused, Write::Confirm { hold_ref, booked_by, .. }) => match why_not_confirmed(conn, hold_ref, booked_by).await {
                                Ok(code) | Err(ItemError::Rule(code)) => code,
                                Err(ItemError::Db(err)) => return Err(err.into()),
                                Err(ItemError::Refused) => ErrorCode::Internal,
                            },
                            (ItemError::Rule(code), _) => code,
                            _ => ErrorCode::Internal,
                        };
                        results.push(Err(code));
                    }
                }
            }
            Ok(results)
        }

        /// Runs statements and returns the rows each changed. On SQLite they go to the
        /// connection's worker thread as one command (one round trip); PostgreSQL's extended
        /// protocol takes one statement at a time.
        async fn run(conn: &mut Conn, stmts: Vec<Stmt>) -> Result<Vec<u64>, sqlx::Error> {
            use futures_util::TryStreamExt as _;
            if crate::ops::ONE_COMMAND_PER_ITEM.contains(&<$Db as sqlx::Database>::NAME) {
                let (sql, args) = crate::ops::join(stmts);
                let mut query = sqlx::query(&sql);
                for arg in args {
                    query = bind_arg(query, arg);
                }
                #[allow(deprecated)]
                let changes: Vec<u64> = query.execute_many(&mut *conn).await.map_ok(|r| r.rows_affected()).try_collect().await?;
                Ok(changes)
            } else {
                let mut changes = Vec::with_capacity(stmts.len());
                for stmt in stmts {
                    let mut query = sqlx::query(&stmt.sql);
                    for arg in stmt.args {
                        query = bind_arg(query, arg);
                    }
                    changes.push(query.execute(&mut *conn).await?.rows_affected());
                }
                Ok(changes)
            }
        }

        fn bind_arg<'q>(query: sqlx::query::Query<'q, $Db, <$Db as sqlx::Database>::Arguments<'q>>, arg: crate::ops::Arg) -> sqlx::query::Query<'q, $Db, <$Db as sqlx::Database>::Arguments<'q>> {
            use crate::ops::Arg;
            match arg {
                Arg::Int(v) => query.bind(v),
                Arg::OptInt(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
                Arg::OptText(v) => query.bind(v),
                Arg::Bool(v) => query.bind(v),
                Arg::Bytes(v) => query.bind(v),
            }
        }

        /// One item of a batch: the connection, and whether the item's savepoint is open.
        struct Item<'a> {
            conn: &'a mut Conn,
            opened: &'a mut bool,
            release_pending: &'a mut bool,
        }

        /// Opens the item's savepoint and runs its statements; a broken rule surfaces as the
        /// constraint that guards it (see `constraint_code`).
        async fn in_savepoint(item: &mut Item<'_>, stmts: Vec<Stmt>) -> Result<Vec<u64>, ItemError> {
            let mut all = Vec::with_capacity(stmts.len() + 2);
            let released = std::mem::take(item.release_pending);
            if released {
                all.push(Stmt::new("RELEASE SAVEPOINT item"));
            }
            all.push(Stmt::new("SAVEPOINT item"));
            all.extend(stmts);
            // Set first: on SQLite a failing statement comes after the savepoint statement.
            *item.opened = true;
            let mut changes = run(item.conn, all).await?;
            changes.drain(..if released { 2 } else { 1 });
            Ok(changes)
        }

        async fn apply_one(item: &mut Item<'_>, write: &Write) -> Result<Outcome, ItemError> {
            match write {
                Write::UpsertOffice(office) => {
                    in_savepoint(item, vec![upsert_office(office)?]).await?;
                    Ok(Outcome::Done)
                }
                Write::ReleaseSlots { office, slots } => {
                    // Many rows per statement: a restart re-releases thousands of slots.
                    let stmts = slots
                        .chunks(200)
                        .map(|chunk| {
                            let rows: Vec<String> = (0..chunk.len())
                                .map(|i| format!("(${}, ${}, ${}, ${}, 0)", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                                .collect();
                            let sql = format!(
                                "INSERT INTO slots (office_id, service, starts_at, capacity, taken) VALUES {} \
                                 ON CONFLICT (office_id, service, starts_at) DO NOTHING",
                                rows.join(", ")
                            );
                            let args = chunk
                                .iter()
                                .flat_map(|(service, start, capacity)| {
                                    [Arg::text(office.as_str()), Arg::text(service.slug()), Arg::Int(ms(*start)), Arg::Int(i64::from(*capacity))]
                                })
                                .collect();
                            Stmt { sql, args }
                        })
                        .collect();
                    in_savepoint(item, stmts).await?;
                    Ok(Outcome::Done)
                }
                Write::Hold { hold, now, idempotency } => {
                    let mut stmts = hold_seats(hold, *now);
                    let actor = hold.assisted_by.as_deref().unwrap_or(hold.booked_by.as_str());
                    stmts.push(audit(*now, actor, "hold", &hold.hold_ref, serde_json::json!({
                        "office": hold.office.as_str(), "service": hold.service.slug(), "seats": hold.seats.len(),
                    })));
                    stmts.extend(remember(idempotency, *now));
                    in_savepoint(item, stmts).await?;
                    Ok(Outcome::Held { seats: hold.seats.len() })
                }
                Write::Confirm { hold_ref, booked_by, seats, email, locale, now, message, idempotency, assisted_by } => {
                    let actor = assisted_by.as_deref().unwrap_or(booked_by.as_str());
                    let mut stmts = vec![Stmt::new(
                        "UPDATE bookings SET status = 'confirmed', email = $1, locale = $2, updated_at = $3 \
                         WHERE hold_ref = $4 AND booked_by = $5 AND status = 'held' AND hold_expires_at > $3",
                    )
                    .arg(Arg::OptText(email.clone()))
                    .arg(Arg::text(locale.code()))
                    .arg(Arg::Int(ms(*now)))
                    .arg(Arg::text(hold_ref))
                    .arg(Arg::text(booked_by.as_str()))];
                    // Without an address there is no one to write to: the person has the printout.
                    if email.is_some() {
                        stmts.push(enqueue_for_hold(message, hold_ref, *now));
                    }
                    stmts.push(audit(*now, actor, "confirm", hold_ref, serde_json::json!({ "bookings": seats })));
                    stmts.extend(remember(idempotency, *now));
                    let changes = in_savepoint(item, stmts).await?;
                    if changes.first().copied() != Some(*seats as u64) {
                        return Err(ItemError::Refused);
                    }
                    Ok(Outcome::Confirmed { count: *seats })
                }
                Write::Cancel { code, actor, now, message } => {
                    let booking = active_booking(item.conn, code).await?;
                    let stmts = [
                        Some(
                            Stmt::new("UPDATE bookings SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND status = 'confirmed'")
                                .arg(Arg::Int(ms(*now)))
                                .arg(Arg::Int(booking.id)),
                        ),
                        booking.email.is_some().then(|| enqueue(message, Some(booking.id), *now)),
                        Some(audit(*now, actor, "cancel", &booking.hold_ref, serde_json::json!({ "booking": booking.id }))),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    in_savepoint(item, stmts).await?;
                    Ok(Outcome::Cancelled { booking: BookingRecord { status: BookingStatus::Cancelled, ..booking } })
                }
                Write::Reschedule { code, to, actor, now, message, idempotency } => {
                    let booking = active_booking(item.conn, code).await?;
                    if booking.starts_at == *to {
                        return Err(ItemError::Rule(ErrorCode::SameSlot));
                    }
                    // Moving the row makes the trigger take the new seat, then free the old one;
                    // a full or missing slot fails the statement and nothing moves.
                    let mut stmts = vec![Stmt::new(
                        "UPDATE bookings SET starts_at = $1, updated_at = $2, slot_id = \
                         (SELECT id FROM slots WHERE office_id = $3 AND service = $4 AND starts_at = $1) \
                         WHERE id = $5 AND status = 'confirmed'",
                    )
                    .arg(Arg::Int(ms(*to)))
                    .arg(Arg::Int(ms(*now)))
                    .arg(Arg::text(booking.office.as_str()))
                    .arg(Arg::text(booking.service.slug()))
                    .arg(Arg::Int(booking.id))];
                    if booking.email.is_some() {
                        stmts.push(enqueue(message, Some(booking.id), *now));
                    }
                    stmts.push(audit(*now, actor, "reschedule", &booking.hold_ref, serde_json::json!({
                        "booking": booking.id, "from": ms(booking.starts_at), "to": ms(*to),
                    })));
                    stmts.extend(remember(idempotency, *now));
                    in_savepoint(item, stmts).await?;
                    let from = booking.starts_at;
                    Ok(Outcome::Rescheduled { booking: BookingRecord { starts_at: *to, ..booking }, from })
                }
                Write::ExpireHolds { office, now } => {
                    let rows = sqlx::query(
                        "SELECT service, starts_at FROM bookings WHERE office_id = $1 AND status = 'held' AND hold_expires_at <= $2",
                    )
                    .bind(office.as_str())
                    .bind(ms(*now))
                    .fetch_all(&mut *item.conn)
                    .await?;
                    let mut freed = Vec::with_capacity(rows.len());
                    for row in rows {
                        let service = ServiceKind::from_str(row.try_get::<&str, _>("service")?).map_err(ItemError::Rule)?;
                        let start = from_ms(row.try_get("starts_at")?).map_err(|_| ItemError::Rule(ErrorCode::Internal))?;
                        freed.push((service, start));
                    }
                    let expire = Stmt::new("UPDATE bookings SET status = 'expired', updated_at = $1 WHERE office_id = $2 AND status = 'held' AND hold_expires_at <= $1")
                        .arg(Arg::Int(ms(*now)))
                        .arg(Arg::text(office.as_str()));
                    in_savepoint(item, vec![expire]).await?;
                    Ok(Outcome::Expired { freed })
                }
                Write::AppendAiLog { rows, data_key } => {
                    let mut stmts = Vec::with_capacity(rows.len() + 1);
                    if let Some(key) = data_key {
                        stmts.push(
                            Stmt::new("INSERT INTO ai_log_data_keys (session_id, key_id, wrapped_key, created_at) VALUES ($1, $2, $3, $4)")
                                .arg(Arg::text(&key.session))
                                .arg(Arg::text(&key.key_id))
                                .arg(Arg::Bytes(key.wrapped.clone()))
                                .arg(Arg::Int(key.created_at_ms)),
                        );
                    }
                    for row in rows {
                        stmts.push(
                            Stmt::new("INSERT INTO ai_log_records (seq, record, leaf_hash, session_id, kind, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                                .arg(Arg::Int(row.seq))
                                .arg(Arg::Bytes(row.record.clone()))
                                .arg(Arg::Bytes(row.leaf_hash.clone()))
                                .arg(Arg::OptText(row.session.clone()))
                                .arg(Arg::text(&row.kind))
                                .arg(Arg::Int(row.created_at_ms)),
                        );
                    }
                    in_savepoint(item, stmts).await?;
                    Ok(Outcome::Done)
                }
                Write::AiLogCheckpoint(checkpoint) => {
                    let insert = Stmt::new("INSERT INTO ai_log_checkpoints (tree_size, root_hash, signed_at, line) VALUES ($1, $2, $3, $4)")
                        .arg(Arg::Int(checkpoint.tree_size))
                        .arg(Arg::Bytes(checkpoint.root_hash.clone()))
                        .arg(Arg::Int(checkpoint.signed_at_ms))
                        .arg(Arg::text(&checkpoint.line));
                    in_savepoint(item, vec![insert]).await?;
                    Ok(Outcome::Done)
                }
                Write::EnrolDevice { token_hash, office, kind, label, actor, now } => {
                    let enrol = Stmt::new("INSERT INTO devices (token_hash, office_id, kind, label, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .arg(Arg::text(token_hash))
                        .arg(Arg::text(office.as_str()))
                        .arg(Arg::text(kind.as_str()))
                        .arg(Arg::text(label))
                        .arg(Arg::Int(ms(*now)));
                    // The audit names the device by the start of its token's hash, never the token.
                    let audit = audit(*now, actor, "enrol_device", office.as_str(), serde_json::json!({
                        "device": &token_hash[..token_hash.len().min(12)], "kind": kind.as_str(),
                    }));
                    in_savepoint(item, vec![enrol, audit]).await?;
                    Ok(Outcome::Done)
                }
                Write::RevokeDevice { token_hash, actor, now } => {
                    let office: Option<String> = sqlx::query_scalar("SELECT office_id FROM devices WHERE token_hash = $1 AND revoked_at IS NULL")
                        .bind(token_hash)
                        .fetch_optional(&mut *item.conn)
                        .await?;
                    let office = office.ok_or(ItemError::Rule(ErrorCode::NotFound))?;
                    let revoke = Stmt::new("UPDATE devices SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
                        .arg(Arg::Int(ms(*now)))
                        .arg(Arg::text(token_hash));
                    let audit = audit(*now, actor, "revoke_device", &office, serde_json::json!({ "device": &token_hash[..token_hash.len().min(12)] }));
                    let changes = in_savepoint(item, vec![revoke, audit]).await?;
                    if changes.first().copied() != Some(1) {
                        return Err(ItemError::Rule(ErrorCode::NotFound));
                    }
                    Ok(Outcome::Done)
                }
                Write::UpsertStaff { member, password_hash, now } => {
                    let upsert = Stmt::new(
                        "INSERT INTO staff (username, office_id, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (username) DO UPDATE SET office_id = excluded.office_id, role = excluded.role, password_hash = excluded.password_hash",
                    )
                    .arg(Arg::text(&member.username))
                    .arg(Arg::OptText(member.office.as_ref().map(|o| o.as_str().to_owned())))
                    .arg(Arg::text(member.role.as_str()))
                    .arg(Arg::text(password_hash))
                    .arg(Arg::Int(ms(*now)));
                    in_savepoint(item, vec![upsert]).await?;
                    Ok(Outcome::Done)
                }
                Write::OpenSession { token_hash, username, csrf, now, expires_at } => {
                    let open = Stmt::new("INSERT INTO staff_sessions (token_hash, username, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                        .arg(Arg::text(token_hash))
                        .arg(Arg::text(username))
                        .arg(Arg::text(csrf))
                        .arg(Arg::Int(ms(*now)))
                        .arg(Arg::Int(ms(*expires_at)));
                    let audit = audit(*now, username, "sign_in", username, serde_json::json!({}));
                    in_savepoint(item, vec![open, audit]).await?;
                    Ok(Outcome::Done)
                }
                Write::CloseSession { token_hash } => {
                    in_savepoint(item, vec![Stmt::new("DELETE FROM staff_sessions WHERE token_hash = $1").arg(Arg::text(token_hash))]).await?;
                    Ok(Outcome::Done)
                }
                Write::QueueEvent { office, day, record } => {
                    let event = serde_json::to_string(&record.event).map_err(|_| ItemError::Rule(ErrorCode::Internal))?;
                    let append = Stmt::new(
                        "INSERT INTO queue_events (office_id, day, seq, at, kind, ticket, counter, booking_id, event) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .arg(Arg::text(office.as_str()))
                    .arg(Arg::Text(day.to_string()))
                    .arg(Arg::Int(record.seq as i64))
                    .arg(Arg::Int(ms(record.at)))
                    .arg(Arg::text(record.event.kind()))
                    .arg(Arg::Text(record.event.ticket().to_string()))
                    .arg(Arg::OptInt(record.event.counter().map(i64::from)))
                    .arg(Arg::OptInt(record.event.booking()))
                    .arg(Arg::Text(event));
                    in_savepoint(item, vec![append]).await?;
                    Ok(Outcome::Done)
                }
                Write::SaveCounter { office, counter, actor, now } => {
                    let services: Vec<&str> = counter.services.iter().map(|s| s.slug()).collect();
                    let services = serde_json::to_string(&services).map_err(|_| ItemError::Rule(ErrorCode::Internal))?;
                    let save = Stmt::new(
                        "INSERT INTO counters (office_id, number, services, status, officer, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (office_id, number) DO UPDATE SET services = excluded.services, status = excluded.status, \
                         officer = excluded.officer, updated_at = excluded.updated_at",
                    )
                    .arg(Arg::text(office.as_str()))
                    .arg(Arg::Int(i64::from(counter.number)))
                    .arg(Arg::Text(services.clone()))
                    .arg(Arg::text(counter.status.as_str()))
                    .arg(Arg::OptText(counter.officer.clone()))
                    .arg(Arg::Int(ms(*now)));
                    let audit = audit(*now, actor, "counter", &format!("{}/{}", office.as_str(), counter.number), serde_json::json!({
                        "status": counter.status.as_str(), "services": services,
                    }));
                    in_savepoint(item, vec![save, audit]).await?;
                    Ok(Outcome::Done)
                }
                Write::CloseOffice { office, day, from, to, reason, rebook_path, actor, now } => {
                    let rows = sqlx::query(
                        "SELECT id, code, service, starts_at, locale FROM bookings \
                         WHERE office_id = $1 AND starts_at >= $2 AND starts_at < $3 AND status IN ('held', 'confirmed') ORDER BY id",
                    )
                    .bind(office.as_str())
                    .bind(ms(*from))
                    .bind(ms(*to))
                    .fetch_all(&mut *item.conn)
                    .await?;
                    let mut stmts = vec![
                        Stmt::new("INSERT INTO office_closures (office_id, day, reason, closed_by, created_at) VALUES ($1, $2, $3, $4, $5)")
                            .arg(Arg::text(office.as_str()))
                            .arg(Arg::Text(day.to_string()))
                            .arg(Arg::text(reason))
                            .arg(Arg::text(actor))
                            .arg(Arg::Int(ms(*now))),
                        Stmt::new(
                            "UPDATE bookings SET status = 'cancelled', updated_at = $1 \
                             WHERE office_id = $2 AND starts_at >= $3 AND starts_at < $4 AND status IN ('held', 'confirmed')",
                        )
                        .arg(Arg::Int(ms(*now)))
                        .arg(Arg::text(office.as_str()))
                        .arg(Arg::Int(ms(*from)))
                        .arg(Arg::Int(ms(*to))),
                        // Nothing can be booked into the closed day afterwards.
                        Stmt::new("UPDATE slots SET capacity = 0 WHERE office_id = $1 AND starts_at >= $2 AND starts_at < $3")
                            .arg(Arg::text(office.as_str()))
                            .arg(Arg::Int(ms(*from)))
                            .arg(Arg::Int(ms(*to))),
                    ];
                    for row in &rows {
                        let id: i64 = row.try_get("id")?;
                        let locale: Option<String> = row.try_get("locale")?;
                        let locale = locale.and_then(|l| l.parse::<prepazka_models::locale::Locale>().ok()).unwrap_or(prepazka_models::locale::Locale::Cs);
                        let message = NewOutboxMessage {
                            kind: "closure_notice".into(),
                            locale,
                            payload: serde_json::json!({
                                "code": row.try_get::<String, _>("code")?,
                                "office": office.as_str(),
                                "service": row.try_get::<String, _>("service")?,
                                "starts_at": row.try_get::<i64, _>("starts_at")?,
                                "rebook": rebook_path,
                            }),
                        };
                        stmts.push(enqueue(&message, Some(id), *now));
                    }
                    stmts.push(audit(*now, actor, "close_office", office.as_str(), serde_json::json!({
                        "day": day.to_string(), "reason": reason, "cancelled": rows.len(),
                    })));
                    in_savepoint(item, stmts).await?;
                    Ok(Outcome::Closed { cancelled: rows.len() })
                }
                Write::SetCapacity { office, service, from, to, capacity, actor, now } => {
                    let set = Stmt::new(
                        "UPDATE slots SET capacity = CASE WHEN taken > $1 THEN taken ELSE $1 END \
                         WHERE office_id = $2 AND service = $3 AND starts_at >= $4 AND starts_at < $5",
                    )
                    .arg(Arg::Int(i64::from(*capacity)))
                    .arg(Arg::text(office.as_str()))
                    .arg(Arg::text(service.slug()))
                    .arg(Arg::Int(ms(*from)))
                    .arg(Arg::Int(ms(*to)));
                    let audit = audit(*now, actor, "capacity", office.as_str(), serde_json::json!({
                        "service": service.slug(), "from": ms(*from), "to": ms(*to), "capacity": capacity,
                    }));
                    in_savepoint(item, vec![set, audit]).await?;
                    Ok(Outcome::Done)
                }
                Write::ConfigureOffice { office, actor, now } => {
                    let audit = audit(*now, actor, "configure_office", office.id.as_str(), serde_json::json!({
                        "services": office.services.len(),
                    }));
                    in_savepoint(item, vec![upsert_office(office)?, audit]).await?;
                    Ok(Outcome::Done)
                }
                Write::PurgeIdempotency { before } => {
                    in_savepoint(item, vec![Stmt::new("DELETE FROM idempotency_keys WHERE created_at < $1").arg(Arg::Int(ms(*before)))]).await?;
                    Ok(Outcome::Done)
                }
            }
        }

        fn upsert_office(office: &Office) -> Result<Stmt, ItemError> {
            let services = serde_json::to_string(&office.services).map_err(|_| ItemError::Rule(ErrorCode::InvalidInput))?;
            let hours = serde_json::to_string(&office.hours).map_err(|_| ItemError::Rule(ErrorCode::InvalidInput))?;
            Ok(Stmt::new(
                "INSERT INTO offices (id, name, region, city, address, has_biometrics, services, hours) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, region = excluded.region, city = excluded.city, \
                 address = excluded.address, has_biometrics = excluded.has_biometrics, services = excluded.services, \
                 hours = excluded.hours",
            )
            .arg(Arg::text(office.id.as_str()))
            .arg(Arg::text(&office.name))
            .arg(Arg::text(office.region.slug()))
            .arg(Arg::text(&office.city))
            .arg(Arg::text(&office.address))
            .arg(Arg::Bool(office.has_biometrics))
            .arg(Arg::Text(services))
            .arg(Arg::Text(hours)))
        }

        /// The statements that seat a hold's people. Per seat: the person's own hold that ran
        /// out gives way first (it still sits in the cap index until swept), then the booking
        /// row goes in; the trigger takes the seat, the CHECK on slots refuses a full slot, the
        /// NOT NULL on `slot_id` a start that is no slot, the partial unique index a second
        /// active booking of the same person and service.
        fn hold_seats(hold: &NewHold, now: DateTime<Utc>) -> Vec<Stmt> {
            let mut stmts = Vec::with_capacity(hold.seats.len() * 2);
            for seat in &hold.seats {
                stmts.push(
                    Stmt::new(
                        "UPDATE bookings SET status = 'expired', updated_at = $1 \
                         WHERE person_key = $2 AND service = $3 AND status IN ('held', 'confirmed') AND status = 'held' AND hold_expires_at <= $1",
                    )
                    .arg(Arg::Int(ms(now)))
                    .arg(Arg::text(seat.person.as_str()))
                    .arg(Arg::text(hold.service.slug())),
                );
                stmts.push(
                    Stmt::new(
                        "INSERT INTO bookings (code, hold_ref, office_id, service, slot_id, starts_at, person_key, booked_by, status, \
                         hold_expires_at, dob_check, fee_czk, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, (SELECT id FROM slots WHERE office_id = $3 AND service = $4 AND starts_at = $5), \
                         $5, $6, $7, 'held', $8, $9, $10, $11, $11)",
                    )
                    .arg(Arg::text(seat.code.as_str()))
                    .arg(Arg::text(&hold.hold_ref))
                    .arg(Arg::text(hold.office.as_str()))
                    .arg(Arg::text(hold.service.slug()))
                    .arg(Arg::Int(ms(seat.starts_at)))
                    .arg(Arg::text(seat.person.as_str()))
                    .arg(Arg::text(hold.booked_by.as_str()))
                    .arg(Arg::Int(ms(hold.expires_at)))
                    .arg(Arg::text(&seat.dob_check))
                    .arg(Arg::OptInt(seat.fee_czk.map(i64::from)))
                    .arg(Arg::Int(ms(now))),
                );
            }
            stmts
        }

        /// Why a hold could not be confirmed, read after the attempt was rolled back.
        async fn why_not_confirmed(conn: &mut Conn, hold_ref: &str, booked_by: &PersonKey) -> Result<ErrorCode, ItemError> {
            let rows = sqlx::query("SELECT status FROM bookings WHERE hold_ref = $1 AND booked_by = $2")
                .bind(hold_ref)
                .bind(booked_by.as_str())
                .fetch_all(&mut *conn)
                .await?;
            let statuses: Vec<String> = rows.iter().map(|r| r.try_get("status")).collect::<Result<_, _>>()?;
            Ok(if statuses.is_empty() {
                ErrorCode::HoldNotFound
            } else if statuses.iter().any(|s| s == "held" || s == "expired") {
                ErrorCode::HoldExpired
            } else {
                ErrorCode::BookingNotActive
            })
        }

        /// A confirmed booking, or why there is none.
        async fn active_booking(conn: &mut Conn, code: &BookingCode) -> Result<BookingRecord, ItemError> {
            let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE code = $1");
            let row = sqlx::query(&sql)
                .bind(code.as_str())
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(ItemError::Rule(ErrorCode::BookingNotFound))?;
            let booking = booking_from_row(&row).map_err(|_| ItemError::Rule(ErrorCode::Internal))?;
            if booking.status != BookingStatus::Confirmed {
                return Err(ItemError::Rule(ErrorCode::BookingNotActive));
            }
            Ok(booking)
        }

        fn enqueue(message: &NewOutboxMessage, booking: Option<i64>, now: DateTime<Utc>) -> Stmt {
            Stmt::new(
                "INSERT INTO outbox (kind, booking_id, locale, payload, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            )
            .arg(Arg::text(&message.kind))
            .arg(Arg::OptInt(booking))
            .arg(Arg::text(message.locale.code()))
            .arg(Arg::Text(message.payload.to_string()))
            .arg(Arg::Int(ms(now)))
        }

        fn enqueue_for_hold(message: &NewOutboxMessage, hold_ref: &str, now: DateTime<Utc>) -> Stmt {
            Stmt::new(
                "INSERT INTO outbox (kind, booking_id, locale, payload, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, (SELECT MIN(id) FROM bookings WHERE hold_ref = $2), $3, $4, 'pending', 0, $5, $5)",
            )
            .arg(Arg::text(&message.kind))
            .arg(Arg::text(hold_ref))
            .arg(Arg::text(message.locale.code()))
            .arg(Arg::Text(message.payload.to_string()))
            .arg(Arg::Int(ms(now)))
        }

        fn audit(now: DateTime<Utc>, actor: &str, action: &str, subject: &str, detail: serde_json::Value) -> Stmt {
            Stmt::new("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
                .arg(Arg::Int(ms(now)))
                .arg(Arg::text(actor))
                .arg(Arg::text(action))
                .arg(Arg::text(subject))
                .arg(Arg::Text(detail.to_string()))
        }

        fn remember(record: &Option<IdempotencyRecord>, now: DateTime<Utc>) -> Option<Stmt> {
            let record = record.as_ref()?;
            Some(
                Stmt::new("INSERT INTO idempotency_keys (scope, idem_key, body_hash, status_code, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .arg(Arg::text(&record.scope))
                    .arg(Arg::text(&record.key))
                    .arg(Arg::text(&record.body_hash))
                    .arg(Arg::Int(i64::from(record.status_code)))
                    .arg(Arg::text(&record.response))
                    .arg(Arg::Int(ms(now))),
            )
        }

        fn booking_from_row(row: &DbRow) -> Result<BookingRecord, StoreError> {
            let text = |name: &str| row.try_get::<String, _>(name).map_err(StoreError::from);
            let person = |name: &str| text(name).and_then(|v| PersonKey::from_hex(&v).map_err(|_| corrupt("person key")));
            Ok(BookingRecord {
                id: row.try_get("id")?,
                code: BookingCode::parse(&text("code")?).map_err(|_| corrupt("booking code"))?,
                hold_ref: text("hold_ref")?,
                office: OfficeId::parse(&text("office_id")?).map_err(|_| corrupt("office id"))?,
                service: ServiceKind::from_str(&text("service")?).map_err(|_| corrupt("service"))?,
                starts_at: from_ms(row.try_get("starts_at")?)?,
                person: person("person_key")?,
                booked_by: person("booked_by")?,
                status: BookingStatus::parse(&text("status")?).ok_or_else(|| corrupt("status"))?,
                hold_expires_at: from_ms(row.try_get("hold_expires_at")?)?,
                dob_check: text("dob_check")?,
                fee_czk: row.try_get::<Option<i64>, _>("fee_czk")?.and_then(|v| u32::try_from(v).ok()),
                email: row.try_get("email")?,
                locale: row.try_get::<Option<String>, _>("locale")?.and_then(|l| l.parse().ok()),
            })
        }

        pub(crate) async fn offices(pool: &Pool) -> Result<Vec<Office>, StoreError> {
            let rows = sqlx::query("SELECT id, name, region, city, address, has_biometrics, services, hours FROM offices ORDER BY id")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let text = |name: &str| row.try_get::<String, _>(name).map_err(StoreError::from);
                    Ok(Office {
                        id: OfficeId::parse(&text("id")?).map_err(|_| corrupt("office id"))?,
                        name: text("name")?,
                        region: Region::parse(&text("region")?).ok_or_else(|| corrupt("region"))?,
                        city: text("city")?,
                        address: text("address")?,
                        has_biometrics: row.try_get("has_biometrics")?,
                        services: serde_json::from_str(&text("services")?).map_err(|_| corrupt("office services"))?,
                        hours: serde_json::from_str(&text("hours")?).map_err(|_| corrupt("office hours"))?,
                    })
                })
                .collect()
        }

        pub(crate) async fn slot_seats(pool: &Pool, office: &OfficeId, from: DateTime<Utc>) -> Result<Vec<(SlotKey, Seats)>, StoreError> {
            let rows = sqlx::query("SELECT service, starts_at, capacity, taken FROM slots WHERE office_id = $1 AND starts_at >= $2")
                .bind(office.as_str())
                .bind(ms(from))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let service = ServiceKind::from_str(&row.try_get::<String, _>("service")?).map_err(|_| corrupt("service"))?;
                    let count = |name: &str| -> Result<u32, StoreError> {
                        u32::try_from(row.try_get::<i64, _>(name)?).map_err(|_| corrupt("seat count"))
                    };
                    Ok((SlotKey { service, start: from_ms(row.try_get("starts_at")?)? }, Seats { capacity: count("capacity")?, taken: count("taken")? }))
                })
                .collect()
        }

        pub(crate) async fn booking_by_code(pool: &Pool, code: &BookingCode) -> Result<Option<BookingRecord>, StoreError> {
            let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE code = $1");
            let row = sqlx::query(&sql).bind(code.as_str()).fetch_optional(pool).await?;
            row.as_ref().map(booking_from_row).transpose()
        }

        pub(crate) async fn bookings_by_hold(pool: &Pool, hold_ref: &str) -> Result<Vec<BookingRecord>, StoreError> {
            let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE hold_ref = $1 ORDER BY id");
            let rows = sqlx::query(&sql).bind(hold_ref).fetch_all(pool).await?;
            rows.iter().map(booking_from_row).collect()
        }

        pub(crate) async fn idempotent_response(pool: &Pool, scope: &str, key: &str) -> Result<Option<StoredResponse>, StoreError> {
            let row = sqlx::query("SELECT body_hash, status_code, response FROM idempotency_keys WHERE scope = $1 AND idem_key = $2")
                .bind(scope)
                .bind(key)
                .fetch_optional(pool)
                .await?;
            row.map(|row| {
                Ok(StoredResponse {
                    body_hash: row.try_get("body_hash")?,
                    status_code: u16::try_from(row.try_get::<i64, _>("status_code")?).map_err(|_| corrupt("status code"))?,
                    response: row.try_get("response")?,
                })
            })
            .transpose()
        }

        pub(crate) async fn outbox(pool: &Pool) -> Result<Vec<OutboxRecord>, StoreError> {
            let rows = sqlx::query("SELECT id, kind, booking_id, locale, payload, status, attempts FROM outbox ORDER BY id")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(OutboxRecord {
                        id: row.try_get("id")?,
                        kind: row.try_get("kind")?,
                        booking_id: row.try_get("booking_id")?,
                        locale: row.try_get("locale")?,
                        payload: serde_json::from_str(&row.try_get::<String, _>("payload")?).map_err(|_| corrupt("outbox payload"))?,
                        status: row.try_get("status")?,
                        attempts: row.try_get("attempts")?,
                    })
                })
                .collect()
        }

        pub(crate) async fn audit_for(pool: &Pool, subject: &str) -> Result<Vec<AuditRecord>, StoreError> {
            let rows = sqlx::query("SELECT at, actor, action, subject, detail FROM audit_log WHERE subject = $1 ORDER BY id")
                .bind(subject)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(AuditRecord {
                        at: from_ms(row.try_get("at")?)?,
                        actor: row.try_get("actor")?,
                        action: row.try_get("action")?,
                        subject: row.try_get("subject")?,
                        detail: serde_json::from_str(&row.try_get::<String, _>("detail")?).map_err(|_| corrupt("audit detail"))?,
                    })
                })
                .collect()
        }

        fn ai_log_row(row: &DbRow) -> Result<crate::AiLogRow, StoreError> {
            Ok(crate::AiLogRow {
                seq: row.try_get("seq")?,
                record: row.try_get("record")?,
                leaf_hash: row.try_get("leaf_hash")?,
                session: row.try_get("session_id")?,
                kind: row.try_get("kind")?,
                created_at_ms: row.try_get("created_at")?,
            })
        }

        pub(crate) async fn ai_log_rows(pool: &Pool, from_seq: i64, limit: i64) -> Result<Vec<crate::AiLogRow>, StoreError> {
            let rows = sqlx::query("SELECT seq, record, leaf_hash, session_id, kind, created_at FROM ai_log_records WHERE seq >= $1 ORDER BY seq LIMIT $2")
                .bind(from_seq)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(ai_log_row).collect()
        }

        pub(crate) async fn ai_log_session_rows(pool: &Pool, session: &str) -> Result<Vec<crate::AiLogRow>, StoreError> {
            let rows = sqlx::query("SELECT seq, record, leaf_hash, session_id, kind, created_at FROM ai_log_records WHERE session_id = $1 ORDER BY seq")
                .bind(session)
                .fetch_all(pool)
                .await?;
            rows.iter().map(ai_log_row).collect()
        }

        pub(crate) async fn ai_log_checkpoints(pool: &Pool) -> Result<Vec<crate::AiLogCheckpointRow>, StoreError> {
            let rows = sqlx::query("SELECT tree_size, root_hash, signed_at, line FROM ai_log_checkpoints ORDER BY tree_size").fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok(crate::AiLogCheckpointRow {
                        tree_size: row.try_get("tree_size")?,
                        root_hash: row.try_get("root_hash")?,
                        signed_at_ms: row.try_get("signed_at")?,
                        line: row.try_get("line")?,
                    })
                })
                .collect()
        }

        pub(crate) async fn ai_data_key(pool: &Pool, session: &str) -> Result<Option<crate::AiDataKeyRow>, StoreError> {
            let row = sqlx::query("SELECT session_id, key_id, wrapped_key, created_at FROM ai_log_data_keys WHERE session_id = $1")
                .bind(session)
                .fetch_optional(pool)
                .await?;
            row.map(|row| {
                Ok(crate::AiDataKeyRow {
                    session: row.try_get("session_id")?,
                    key_id: row.try_get("key_id")?,
                    wrapped: row.try_get("wrapped_key")?,
                    created_at_ms: row.try_get("created_at")?,
                })
            })
            .transpose()
        }

        pub(crate) async fn device(pool: &Pool, token_hash: &str) -> Result<Option<(OfficeId, prepazka_models::office::DeviceKind)>, StoreError> {
            let row = sqlx::query("SELECT office_id, kind FROM devices WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?;
            row.map(|row| {
                let office = OfficeId::parse(&row.try_get::<String, _>("office_id")?).map_err(|_| corrupt("office id"))?;
                let kind = prepazka_models::office::DeviceKind::parse(&row.try_get::<String, _>("kind")?).ok_or_else(|| corrupt("device kind"))?;
                Ok((office, kind))
            })
            .transpose()
        }

        fn device_record(row: &DbRow) -> Result<crate::DeviceRecord, StoreError> {
            Ok(crate::DeviceRecord {
                token_hash: row.try_get("token_hash")?,
                office: OfficeId::parse(&row.try_get::<String, _>("office_id")?).map_err(|_| corrupt("office id"))?,
                kind: prepazka_models::office::DeviceKind::parse(&row.try_get::<String, _>("kind")?).ok_or_else(|| corrupt("device kind"))?,
                label: row.try_get("label")?,
                created_at: from_ms(row.try_get("created_at")?)?,
                revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms).transpose()?,
            })
        }

        pub(crate) async fn devices(pool: &Pool) -> Result<Vec<crate::DeviceRecord>, StoreError> {
            let rows = sqlx::query("SELECT token_hash, office_id, kind, label, created_at, revoked_at FROM devices ORDER BY office_id, created_at, token_hash")
                .fetch_all(pool)
                .await?;
            rows.iter().map(device_record).collect()
        }

        pub(crate) async fn device_record_of(pool: &Pool, token_hash: &str) -> Result<Option<crate::DeviceRecord>, StoreError> {
            let row = sqlx::query("SELECT token_hash, office_id, kind, label, created_at, revoked_at FROM devices WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(device_record).transpose()
        }

        fn staff_member(row: &DbRow) -> Result<prepazka_models::office::StaffMember, StoreError> {
            let office = row.try_get::<Option<String>, _>("office_id")?.map(|o| OfficeId::parse(&o).map_err(|_| corrupt("office id"))).transpose()?;
            Ok(prepazka_models::office::StaffMember {
                username: row.try_get("username")?,
                office,
                role: prepazka_models::office::StaffRole::parse(&row.try_get::<String, _>("role")?).ok_or_else(|| corrupt("staff role"))?,
            })
        }

        pub(crate) async fn staff(pool: &Pool, username: &str) -> Result<Option<(prepazka_models::office::StaffMember, String)>, StoreError> {
            let row = sqlx::query("SELECT username, office_id, role, password_hash FROM staff WHERE username = $1").bind(username).fetch_optional(pool).await?;
            row.map(|row| Ok((staff_member(&row)?, row.try_get("password_hash")?))).transpose()
        }

        pub(crate) async fn session(pool: &Pool, token_hash: &str, now: DateTime<Utc>) -> Result<Option<crate::StaffSession>, StoreError> {
            let row = sqlx::query(
                "SELECT s.username, s.office_id, s.role, x.csrf, x.expires_at FROM staff_sessions x JOIN staff s ON s.username = x.username \
                 WHERE x.token_hash = $1 AND x.expires_at > $2",
            )
            .bind(token_hash)
            .bind(ms(now))
            .fetch_optional(pool)
            .await?;
            row.map(|row| Ok(crate::StaffSession { member: staff_member(&row)?, csrf: row.try_get("csrf")?, expires_at: from_ms(row.try_get("expires_at")?)? }))
                .transpose()
        }

        pub(crate) async fn queue_events(pool: &Pool, office: &OfficeId, day: chrono::NaiveDate, after: u64) -> Result<Vec<crate::QueueRecord>, StoreError> {
            let rows = sqlx::query("SELECT seq, at, event FROM queue_events WHERE office_id = $1 AND day = $2 AND seq > $3 ORDER BY seq")
                .bind(office.as_str())
                .bind(day.to_string())
                .bind(after as i64)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(crate::QueueRecord {
                        seq: u64::try_from(row.try_get::<i64, _>("seq")?).map_err(|_| corrupt("queue seq"))?,
                        at: from_ms(row.try_get("at")?)?,
                        event: serde_json::from_str(&row.try_get::<String, _>("event")?).map_err(|_| corrupt("queue event"))?,
                    })
                })
                .collect()
        }

        pub(crate) async fn counters(pool: &Pool, office: &OfficeId) -> Result<Vec<prepazka_models::queue::Counter>, StoreError> {
            let rows = sqlx::query("SELECT number, services, status, officer FROM counters WHERE office_id = $1 ORDER BY number")
                .bind(office.as_str())
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let services: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("services")?).map_err(|_| corrupt("counter services"))?;
                    Ok(prepazka_models::queue::Counter {
                        number: u16::try_from(row.try_get::<i64, _>("number")?).map_err(|_| corrupt("counter number"))?,
                        services: services.iter().map(|s| ServiceKind::from_str(s).map_err(|_| corrupt("counter service"))).collect::<Result<_, _>>()?,
                        status: prepazka_models::queue::CounterStatus::parse(&row.try_get::<String, _>("status")?).ok_or_else(|| corrupt("counter status"))?,
                        officer: row.try_get("officer")?,
                    })
                })
                .collect()
        }

        pub(crate) async fn closures(pool: &Pool, office: &OfficeId) -> Result<Vec<(chrono::NaiveDate, String)>, StoreError> {
            let rows = sqlx::query("SELECT day, reason FROM office_closures WHERE office_id = $1 ORDER BY day")
                .bind(office.as_str())
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let day = chrono::NaiveDate::parse_from_str(&row.try_get::<String, _>("day")?, "%Y-%m-%d").map_err(|_| corrupt("closure day"))?;
                    Ok((day, row.try_get("reason")?))
                })
                .collect()
        }

        pub(crate) async fn bookings_between(pool: &Pool, office: &OfficeId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<BookingRecord>, StoreError> {
            let sql = format!(
                "SELECT {BOOKING_COLUMNS} FROM bookings WHERE office_id = $1 AND starts_at >= $2 AND starts_at < $3 AND status = 'confirmed' ORDER BY starts_at, id"
            );
            let rows = sqlx::query(&sql).bind(office.as_str()).bind(ms(from)).bind(ms(to)).fetch_all(pool).await?;
            rows.iter().map(booking_from_row).collect()
        }

        pub(crate) async fn booking_by_id(pool: &Pool, id: i64) -> Result<Option<BookingRecord>, StoreError> {
            let row = sqlx::query(&format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1")).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(booking_from_row).transpose()
        }

        pub(crate) async fn booking_counts(pool: &Pool) -> Result<BookingCounts, StoreError> {
            let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM bookings GROUP BY status").fetch_all(pool).await?;
            let mut counts = BookingCounts::default();
            for row in rows {
                let n: i64 = row.try_get("n")?;
                match row.try_get::<String, _>("status")?.as_str() {
                    "held" => counts.held = n,
                    "confirmed" => counts.confirmed = n,
                    "cancelled" => counts.cancelled = n,
                    "expired" => counts.expired = n,
                    _ => return Err(corrupt("status")),
                }
            }
            counts.outbox = sqlx::query("SELECT COUNT(*) AS n FROM outbox").fetch_one(pool).await?.try_get("n")?;
            counts.audit = sqlx::query("SELECT COUNT(*) AS n FROM audit_log").fetch_one(pool).await?.try_get("n")?;
            Ok(counts)
        }

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
                        .bind(ms(Utc::now()))
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
/// durability check and backup, which each backend has as inherent `durability` and `backup`.
/// Expects a `shared` module (from [`shared_ops!`]) and `writer` / `readers` pools in scope.
macro_rules! store_impl {
    ($Store:ident, $backend:expr, $begin:literal, $migrations:expr) => {
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
                writes: &[crate::Write],
            ) -> Result<Vec<Result<crate::Outcome, prepazka_models::ErrorCode>>, crate::StoreError> {
                let mut conn = self.writer.acquire().await?;
                shared::apply_batch(&mut conn, $begin, writes).await
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

            async fn booking_by_code(
                &self,
                code: &prepazka_models::ids::BookingCode,
            ) -> Result<Option<crate::BookingRecord>, crate::StoreError> {
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

            async fn ai_log_rows(&self, from_seq: i64, limit: i64) -> Result<Vec<crate::AiLogRow>, crate::StoreError> {
                shared::ai_log_rows(&self.readers, from_seq, limit).await
            }

            async fn ai_log_session_rows(&self, session: &str) -> Result<Vec<crate::AiLogRow>, crate::StoreError> {
                shared::ai_log_session_rows(&self.readers, session).await
            }

            async fn ai_log_checkpoints(&self) -> Result<Vec<crate::AiLogCheckpointRow>, crate::StoreError> {
                shared::ai_log_checkpoints(&self.readers).await
            }

            async fn ai_data_key(&self, session: &str) -> Result<Option<crate::AiDataKeyRow>, crate::StoreError> {
                shared::ai_data_key(&self.readers, session).await
            }

            async fn device(
                &self,
                token_hash: &str,
            ) -> Result<Option<(prepazka_models::ids::OfficeId, prepazka_models::office::DeviceKind)>, crate::StoreError> {
                shared::device(&self.readers, token_hash).await
            }

            async fn devices(&self) -> Result<Vec<crate::DeviceRecord>, crate::StoreError> {
                shared::devices(&self.readers).await
            }

            async fn device_record(&self, token_hash: &str) -> Result<Option<crate::DeviceRecord>, crate::StoreError> {
                shared::device_record_of(&self.readers, token_hash).await
            }

            async fn staff(&self, username: &str) -> Result<Option<(prepazka_models::office::StaffMember, String)>, crate::StoreError> {
                shared::staff(&self.readers, username).await
            }

            async fn session(
                &self,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<crate::StaffSession>, crate::StoreError> {
                shared::session(&self.readers, token_hash, now).await
            }

            async fn queue_events(
                &self,
                office: &prepazka_models::ids::OfficeId,
                day: chrono::NaiveDate,
                after: u64,
            ) -> Result<Vec<crate::QueueRecord>, crate::StoreError> {
                shared::queue_events(&self.readers, office, day, after).await
            }

            async fn counters(
                &self,
                office: &prepazka_models::ids::OfficeId,
            ) -> Result<Vec<prepazka_models::queue::Counter>, crate::StoreError> {
                shared::counters(&self.readers, office).await
            }

            async fn closures(
                &self,
                office: &prepazka_models::ids::OfficeId,
            ) -> Result<Vec<(chrono::NaiveDate, String)>, crate::StoreError> {
                shared::closures(&self.readers, office).await
            }

            async fn bookings_between(
                &self,
                office: &prepazka_models::ids::OfficeId,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<crate::BookingRecord>, crate::StoreError> {
                shared::bookings_between(&self.readers, office, from, to).await
            }

            async fn booking_by_id(&self, id: i64) -> Result<Option<crate::BookingRecord>, crate::StoreError> {
                shared::booking_by_id(&self.readers, id).await
            }

            async fn booking_counts(&self) -> Result<crate::BookingCounts, crate::StoreError> {
                shared::booking_counts(&self.readers).await
            }

            async fn backup_to(&self, path: &std::path::Path) -> Result<(), crate::StoreError> {
                self.backup(path).await
            }

            async fn close(&self) {
                self.writer.close().await;
                self.readers.close().await;
            }
        }
    };
}
pub(crate) use store_impl;
