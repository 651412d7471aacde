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
    }
    if db.is_check_violation() && mentions("slots_within_capacity", "slots_within_capacity") {
        return Some(ErrorCode::SlotTaken);
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

pub(crate) const BOOKING_COLUMNS: &str = "id, code, hold_ref, office_id, service, starts_at, person_key, booked_by, status, \
     hold_expires_at, dob_check, fee_czk, email, locale, slot_id";

/// Stamps out the shared statements for one backend: `$Db` is the sqlx database type.
macro_rules! shared_ops {
    ($Db:ty) => {
        use std::str::FromStr as _;

        use chrono::{DateTime, Utc};
        use prepazka_models::booking::{BookingStatus, Seats, SlotKey};
        use prepazka_models::ids::{BookingCode, OfficeId, PersonKey};
        use prepazka_models::locale::Locale;
        use prepazka_models::office::{Office, Region};
        use prepazka_models::service::ServiceKind;
        use prepazka_models::ErrorCode;
        use sqlx::Row as _;

        use crate::ops::{corrupt, from_ms, ms, ItemError, BOOKING_COLUMNS};
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
            for write in writes {
                sqlx::query("SAVEPOINT item").execute(&mut *conn).await?;
                match apply_one(conn, write).await {
                    Ok(outcome) => {
                        sqlx::query("RELEASE SAVEPOINT item").execute(&mut *conn).await?;
                        results.push(Ok(outcome));
                    }
                    Err(ItemError::Rule(code)) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT item").execute(&mut *conn).await?;
                        sqlx::query("RELEASE SAVEPOINT item").execute(&mut *conn).await?;
                        results.push(Err(code));
                    }
                    Err(ItemError::Db(err)) => return Err(err.into()),
                }
            }
            Ok(results)
        }

        async fn apply_one(conn: &mut Conn, write: &Write) -> Result<Outcome, ItemError> {
            match write {
                Write::UpsertOffice(office) => upsert_office(conn, office).await,
                Write::ReleaseSlots { office, slots } => {
                    // Many rows per statement: a restart re-releases thousands of slots.
                    for chunk in slots.chunks(200) {
                        let rows: Vec<String> = (0..chunk.len())
                            .map(|i| format!("(${}, ${}, ${}, ${}, 0)", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                            .collect();
                        let sql = format!(
                            "INSERT INTO slots (office_id, service, starts_at, capacity, taken) VALUES {} \
                             ON CONFLICT (office_id, service, starts_at) DO NOTHING",
                            rows.join(", ")
                        );
                        let mut query = sqlx::query(&sql);
                        for (service, start, capacity) in chunk {
                            query = query.bind(office.as_str()).bind(service.slug()).bind(ms(*start)).bind(i64::from(*capacity));
                        }
                        query.execute(&mut *conn).await?;
                    }
                    Ok(Outcome::Done)
                }
                Write::Hold { hold, now, idempotency } => {
                    let ids = hold_seats(conn, hold, *now).await?;
                    audit(conn, *now, hold.booked_by.as_str(), "hold", &hold.hold_ref, serde_json::json!({
                        "office": hold.office.as_str(), "service": hold.service.slug(), "seats": hold.seats.len(),
                    }))
                    .await?;
                    remember(conn, idempotency, *now).await?;
                    Ok(Outcome::Held { booking_ids: ids })
                }
                Write::Confirm { hold_ref, booked_by, email, locale, now, message, idempotency } => {
                    let bookings = confirm_hold(conn, hold_ref, booked_by, email, *locale, *now).await?;
                    let first = bookings.first().map(|b| b.id);
                    enqueue(conn, message, first, *now).await?;
                    audit(conn, *now, booked_by.as_str(), "confirm", hold_ref, serde_json::json!({ "bookings": bookings.len() })).await?;
                    remember(conn, idempotency, *now).await?;
                    Ok(Outcome::Confirmed { bookings })
                }
                Write::Cancel { code, actor, now, message } => {
                    let (booking, slot_id) = active_booking(conn, code).await?;
                    sqlx::query("UPDATE bookings SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND status = 'confirmed'")
                        .bind(ms(*now))
                        .bind(booking.id)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("UPDATE slots SET taken = taken - 1 WHERE id = $1").bind(slot_id).execute(&mut *conn).await?;
                    enqueue(conn, message, Some(booking.id), *now).await?;
                    audit(conn, *now, actor, "cancel", &booking.hold_ref, serde_json::json!({ "booking": booking.id })).await?;
                    Ok(Outcome::Cancelled { booking: BookingRecord { status: BookingStatus::Cancelled, ..booking } })
                }
                Write::Reschedule { code, to, actor, now, message, idempotency } => {
                    let (booking, old_slot) = active_booking(conn, code).await?;
                    if booking.starts_at == *to {
                        return Err(ItemError::Rule(ErrorCode::SameSlot));
                    }
                    // The new seat is taken before the old one is released.
                    let new_slot = take_seat(conn, &booking.office, booking.service, *to).await?;
                    sqlx::query("UPDATE bookings SET slot_id = $1, starts_at = $2, updated_at = $3 WHERE id = $4 AND status = 'confirmed'")
                        .bind(new_slot)
                        .bind(ms(*to))
                        .bind(ms(*now))
                        .bind(booking.id)
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("UPDATE slots SET taken = taken - 1 WHERE id = $1").bind(old_slot).execute(&mut *conn).await?;
                    enqueue(conn, message, Some(booking.id), *now).await?;
                    audit(conn, *now, actor, "reschedule", &booking.hold_ref, serde_json::json!({
                        "booking": booking.id, "from": ms(booking.starts_at), "to": ms(*to),
                    }))
                    .await?;
                    remember(conn, idempotency, *now).await?;
                    let from = booking.starts_at;
                    Ok(Outcome::Rescheduled { booking: BookingRecord { starts_at: *to, ..booking }, from })
                }
                Write::ExpireHolds { office, now } => {
                    let rows = sqlx::query(
                        "SELECT id, slot_id, service, starts_at FROM bookings \
                         WHERE office_id = $1 AND status = 'held' AND hold_expires_at <= $2",
                    )
                    .bind(office.as_str())
                    .bind(ms(*now))
                    .fetch_all(&mut *conn)
                    .await?;
                    let mut freed = Vec::with_capacity(rows.len());
                    for row in rows {
                        expire_booking(conn, row.try_get("id")?, row.try_get("slot_id")?, *now).await?;
                        let service = ServiceKind::from_str(row.try_get::<&str, _>("service")?).map_err(ItemError::Rule)?;
                        let start = from_ms(row.try_get("starts_at")?).map_err(|_| ItemError::Rule(ErrorCode::Internal))?;
                        freed.push((service, start));
                    }
                    Ok(Outcome::Expired { freed })
                }
                Write::PurgeIdempotency { before } => {
                    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(ms(*before)).execute(&mut *conn).await?;
                    Ok(Outcome::Done)
                }
            }
        }

        async fn upsert_office(conn: &mut Conn, office: &Office) -> Result<Outcome, ItemError> {
            let services = serde_json::to_string(&office.services).map_err(|_| ItemError::Rule(ErrorCode::InvalidInput))?;
            let hours = serde_json::to_string(&office.hours).map_err(|_| ItemError::Rule(ErrorCode::InvalidInput))?;
            sqlx::query(
                "INSERT INTO offices (id, name, region, city, address, has_biometrics, services, hours) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, region = excluded.region, city = excluded.city, \
                 address = excluded.address, has_biometrics = excluded.has_biometrics, services = excluded.services, \
                 hours = excluded.hours",
            )
            .bind(office.id.as_str())
            .bind(&office.name)
            .bind(office.region.slug())
            .bind(&office.city)
            .bind(&office.address)
            .bind(office.has_biometrics)
            .bind(services)
            .bind(hours)
            .execute(&mut *conn)
            .await?;
            Ok(Outcome::Done)
        }

        /// Takes one seat in a slot if one is free; the database decides.
        async fn take_seat(conn: &mut Conn, office: &OfficeId, service: ServiceKind, start: DateTime<Utc>) -> Result<i64, ItemError> {
            let taken = sqlx::query(
                "UPDATE slots SET taken = taken + 1 \
                 WHERE office_id = $1 AND service = $2 AND starts_at = $3 AND taken < capacity RETURNING id",
            )
            .bind(office.as_str())
            .bind(service.slug())
            .bind(ms(start))
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = taken {
                return Ok(row.try_get("id")?);
            }
            let exists = sqlx::query("SELECT id FROM slots WHERE office_id = $1 AND service = $2 AND starts_at = $3")
                .bind(office.as_str())
                .bind(service.slug())
                .bind(ms(start))
                .fetch_optional(&mut *conn)
                .await?;
            Err(ItemError::Rule(if exists.is_some() { ErrorCode::SlotTaken } else { ErrorCode::NotASlot }))
        }

        async fn hold_seats(conn: &mut Conn, hold: &NewHold, now: DateTime<Utc>) -> Result<Vec<i64>, ItemError> {
            let mut ids = Vec::with_capacity(hold.seats.len());
            for seat in &hold.seats {
                // A person's own hold that ran out still sits in the cap index until swept:
                // expire it here so it does not block them.
                let stale = sqlx::query(
                    "SELECT id, slot_id FROM bookings WHERE person_key = $1 AND service = $2 AND status = 'held' AND hold_expires_at <= $3",
                )
                .bind(seat.person.as_str())
                .bind(hold.service.slug())
                .bind(ms(now))
                .fetch_optional(&mut *conn)
                .await?;
                if let Some(row) = stale {
                    expire_booking(conn, row.try_get("id")?, row.try_get("slot_id")?, now).await?;
                }
                let slot_id = take_seat(conn, &hold.office, hold.service, seat.starts_at).await?;
                let row = sqlx::query(
                    "INSERT INTO bookings (code, hold_ref, office_id, service, slot_id, starts_at, person_key, booked_by, status, \
                     hold_expires_at, dob_check, fee_czk, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'held', $9, $10, $11, $12, $12) RETURNING id",
                )
                .bind(seat.code.as_str())
                .bind(&hold.hold_ref)
                .bind(hold.office.as_str())
                .bind(hold.service.slug())
                .bind(slot_id)
                .bind(ms(seat.starts_at))
                .bind(seat.person.as_str())
                .bind(hold.booked_by.as_str())
                .bind(ms(hold.expires_at))
                .bind(&seat.dob_check)
                .bind(seat.fee_czk.map(i64::from))
                .bind(ms(now))
                .fetch_one(&mut *conn)
                .await?;
                ids.push(row.try_get("id")?);
            }
            Ok(ids)
        }

        async fn expire_booking(conn: &mut Conn, id: i64, slot_id: i64, now: DateTime<Utc>) -> Result<(), ItemError> {
            let done = sqlx::query("UPDATE bookings SET status = 'expired', updated_at = $1 WHERE id = $2 AND status = 'held'")
                .bind(ms(now))
                .bind(id)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 1 {
                sqlx::query("UPDATE slots SET taken = taken - 1 WHERE id = $1").bind(slot_id).execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn confirm_hold(
            conn: &mut Conn,
            hold_ref: &str,
            booked_by: &PersonKey,
            email: &str,
            locale: Locale,
            now: DateTime<Utc>,
        ) -> Result<Vec<BookingRecord>, ItemError> {
            let confirmed = sqlx::query(
                "UPDATE bookings SET status = 'confirmed', email = $1, locale = $2, updated_at = $3 \
                 WHERE hold_ref = $4 AND booked_by = $5 AND status = 'held' AND hold_expires_at > $3",
            )
            .bind(email)
            .bind(locale.code())
            .bind(ms(now))
            .bind(hold_ref)
            .bind(booked_by.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected();
            let sql = format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE hold_ref = $1 AND booked_by = $2 ORDER BY id");
            let rows = sqlx::query(&sql).bind(hold_ref).bind(booked_by.as_str()).fetch_all(&mut *conn).await?;
            let bookings = rows
                .iter()
                .map(booking_from_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ItemError::Rule(ErrorCode::Internal))?;
            if confirmed == 0 {
                let code = if bookings.is_empty() {
                    ErrorCode::HoldNotFound
                } else if bookings.iter().any(|b| matches!(b.status, BookingStatus::Held | BookingStatus::Expired)) {
                    ErrorCode::HoldExpired
                } else {
                    ErrorCode::BookingNotActive
                };
                return Err(ItemError::Rule(code));
            }
            if confirmed as usize != bookings.len() {
                return Err(ItemError::Rule(ErrorCode::HoldExpired));
            }
            Ok(bookings)
        }

        /// A confirmed booking and its slot row id, or why there is none.
        async fn active_booking(conn: &mut Conn, code: &BookingCode) -> Result<(BookingRecord, i64), ItemError> {
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
            Ok((booking, row.try_get("slot_id")?))
        }

        async fn enqueue(conn: &mut Conn, message: &NewOutboxMessage, booking: Option<i64>, now: DateTime<Utc>) -> Result<(), ItemError> {
            sqlx::query(
                "INSERT INTO outbox (kind, booking_id, locale, payload, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
            )
            .bind(&message.kind)
            .bind(booking)
            .bind(message.locale.code())
            .bind(message.payload.to_string())
            .bind(ms(now))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn audit(conn: &mut Conn, now: DateTime<Utc>, actor: &str, action: &str, subject: &str, detail: serde_json::Value) -> Result<(), ItemError> {
            sqlx::query("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
                .bind(ms(now))
                .bind(actor)
                .bind(action)
                .bind(subject)
                .bind(detail.to_string())
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        async fn remember(conn: &mut Conn, record: &Option<IdempotencyRecord>, now: DateTime<Utc>) -> Result<(), ItemError> {
            let Some(record) = record else { return Ok(()) };
            sqlx::query(
                "INSERT INTO idempotency_keys (scope, idem_key, body_hash, status_code, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&record.scope)
            .bind(&record.key)
            .bind(&record.body_hash)
            .bind(i64::from(record.status_code))
            .bind(&record.response)
            .bind(ms(now))
            .execute(&mut *conn)
            .await?;
            Ok(())
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
