//! How each [`Write`] becomes statements, written once for every backend: the batch opens a
//! transaction, runs its items (without savepoints first; with a savepoint per item, rolling an
//! item back alone, when one was refused after it had written), and commits. The connection is anything that can run [`Stmt`]s ([`WriteConn`]): sqlx's
//! PostgreSQL connection, or the SQLite connection that the direct writer owns on its thread
//! (`sqlite_direct.rs`), where a whole batch runs without a hop between threads.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};
use prepazka_models::booking::BookingStatus;
use prepazka_models::ids::{BookingCode, PersonKey};
use prepazka_models::office::Office;
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;

use crate::ops::{booking_from_row, from_ms, ms, Arg, ItemError, Row, Stmt, BOOKING_COLUMNS};
use crate::{BookingRecord, IdempotencyRecord, NewHold, NewOutboxMessage, Outcome, StoreError, Write};

/// A connection the write path can drive. Errors that break a guarded rule come back as
/// [`ItemError::Rule`] (each backend maps its constraint errors), anything else as
/// [`ItemError::Db`].
#[allow(async_fn_in_trait)]
pub(crate) trait WriteConn {
    /// Runs a transaction-control statement (`BEGIN`, `COMMIT`, `ROLLBACK`).
    async fn control(&mut self, sql: &str) -> Result<(), StoreError>;
    /// Runs statements in order and returns the rows each changed.
    async fn run(&mut self, stmts: Vec<Stmt>) -> Result<Vec<u64>, ItemError>;
    /// Runs one query and returns its rows.
    async fn rows(&mut self, stmt: Stmt) -> Result<Vec<Row>, ItemError>;
}

pub(crate) type BatchResult = Result<Vec<Result<Outcome, ErrorCode>>, StoreError>;

/// How a pass over a batch keeps its items apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// No savepoints. A savepoint per item makes SQLite copy every page the item first touches
    /// into a statement journal (about a sixth of the writer's work under load) and costs
    /// PostgreSQL two round trips per item; yet items rarely fail once their statements run,
    /// because the offices decide against their boards first. An item that does fail after its
    /// first statement sends the whole batch round again, per item.
    Optimistic,
    /// A savepoint per item: an item that breaks a rule is rolled back alone.
    PerItem,
}

/// What a pass over a batch came to.
enum Pass {
    Committed(Vec<Result<Outcome, ErrorCode>>),
    /// An optimistic pass met an item that failed after writing: rolled back, to run per item.
    Undone,
}

/// Runs `writes` in one transaction opened with `begin`: first without savepoints, and only
/// if an item fails half-way, again with a savepoint per item. Either way each item's answer
/// is the one it would get alone in its place in the batch.
pub(crate) async fn apply_batch<C: WriteConn>(conn: &mut C, begin: &str, writes: &[Write]) -> BatchResult {
    if let Pass::Committed(results) = run_pass(conn, begin, writes, Isolation::Optimistic).await? {
        return Ok(results);
    }
    tracing::debug!(items = writes.len(), "an item failed after writing; the batch runs again with a savepoint per item");
    match run_pass(conn, begin, writes, Isolation::PerItem).await? {
        Pass::Committed(results) => Ok(results),
        Pass::Undone => Err(StoreError::Config("a batch run per item was undone".into())),
    }
}

async fn run_pass<C: WriteConn>(conn: &mut C, begin: &str, writes: &[Write], isolation: Isolation) -> Result<Pass, StoreError> {
    conn.control(begin).await?;
    let result = match apply_items(conn, writes, isolation).await {
        Ok(Pass::Committed(results)) => conn.control("COMMIT").await.map(|()| Pass::Committed(results)),
        other => other,
    };
    if !matches!(result, Ok(Pass::Committed(_))) {
        // The transaction may already be gone (a failed COMMIT ends it); a second error here
        // tells nothing new.
        let _ = conn.control("ROLLBACK").await;
    }
    result
}

async fn apply_items<C: WriteConn>(conn: &mut C, writes: &[Write], isolation: Isolation) -> Result<Pass, StoreError> {
    let mut results = Vec::with_capacity(writes.len());
    // A succeeded item's savepoint is released by the next item's first command (or by
    // COMMIT): one call into the connection per item.
    let mut release_pending = false;
    for write in writes {
        // Items open their savepoint with their first statements; a rule checked before that
        // has nothing to roll back.
        let mut opened = false;
        let mut item = Item { conn: &mut *conn, isolation, opened: &mut opened, release_pending: &mut release_pending };
        match apply_one(&mut item, write).await {
            Ok(outcome) => {
                release_pending |= opened && isolation == Isolation::PerItem;
                results.push(Ok(outcome));
            }
            Err(ItemError::Db(err)) => return Err(err),
            Err(_) if opened && isolation == Isolation::Optimistic => return Ok(Pass::Undone),
            Err(err) => {
                if opened {
                    conn.run(vec![Stmt::new("ROLLBACK TO SAVEPOINT item"), Stmt::new("RELEASE SAVEPOINT item")]).await.map_err(ItemError::into_store)?;
                }
                let code = match (err, write) {
                    (ItemError::Refused, Write::Confirm { hold_ref, booked_by, .. }) => match why_not_confirmed(conn, hold_ref, booked_by).await {
                        Ok(code) | Err(ItemError::Rule(code)) => code,
                        Err(ItemError::Db(err)) => return Err(err),
                        Err(ItemError::Refused) => ErrorCode::Internal,
                    },
                    (ItemError::Rule(code), _) => code,
                    _ => ErrorCode::Internal,
                };
                results.push(Err(code));
            }
        }
    }
    Ok(Pass::Committed(results))
}

/// One item of a batch: the connection, and whether the item's savepoint is open.
struct Item<'a, C> {
    conn: &'a mut C,
    isolation: Isolation,
    /// Whether the item has run statements (under its savepoint, when it has one).
    opened: &'a mut bool,
    release_pending: &'a mut bool,
}

/// Runs the item's statements, under its savepoint when the pass has them; a broken rule
/// surfaces as the constraint that guards it (see `ops::rule_for`).
async fn in_savepoint<C: WriteConn>(item: &mut Item<'_, C>, stmts: Vec<Stmt>) -> Result<Vec<u64>, ItemError> {
    // Set first: a failing statement has run after whatever came before it.
    *item.opened = true;
    if item.isolation == Isolation::Optimistic {
        return item.conn.run(stmts).await;
    }
    let mut all = Vec::with_capacity(stmts.len() + 2);
    let released = std::mem::take(item.release_pending);
    if released {
        all.push(Stmt::new("RELEASE SAVEPOINT item"));
    }
    all.push(Stmt::new("SAVEPOINT item"));
    all.extend(stmts);
    let mut changes = item.conn.run(all).await?;
    changes.drain(..if released { 2 } else { 1 });
    Ok(changes)
}

/// A row that cannot be read rolls its item back, not the batch.
fn unreadable(_: StoreError) -> ItemError {
    ItemError::Rule(ErrorCode::Internal)
}

async fn apply_one<C: WriteConn>(item: &mut Item<'_, C>, write: &Write) -> Result<Outcome, ItemError> {
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
                    let rows: Vec<String> =
                        (0..chunk.len()).map(|i| format!("(${}, ${}, ${}, ${}, 0)", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4)).collect();
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
            // Moving the row makes the trigger take the new seat, then free the old one; a full
            // or missing slot fails the statement and nothing moves.
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
            let rows = item
                .conn
                .rows(
                    Stmt::new("SELECT service, starts_at FROM bookings WHERE office_id = $1 AND status = 'held' AND hold_expires_at <= $2")
                        .arg(Arg::text(office.as_str()))
                        .arg(Arg::Int(ms(*now))),
                )
                .await?;
            let mut freed = Vec::with_capacity(rows.len());
            for row in rows {
                let service = ServiceKind::from_str(&row.text("service").map_err(unreadable)?).map_err(ItemError::Rule)?;
                let start = row.int("starts_at").and_then(from_ms).map_err(unreadable)?;
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
            let rows = item
                .conn
                .rows(Stmt::new("SELECT office_id FROM devices WHERE token_hash = $1 AND revoked_at IS NULL").arg(Arg::text(token_hash)))
                .await?;
            let office = rows.first().ok_or(ItemError::Rule(ErrorCode::NotFound))?.text("office_id").map_err(unreadable)?;
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
            let rows = item
                .conn
                .rows(
                    Stmt::new(
                        "SELECT id, code, service, starts_at, locale FROM bookings \
                         WHERE office_id = $1 AND starts_at >= $2 AND starts_at < $3 AND status IN ('held', 'confirmed') ORDER BY id",
                    )
                    .arg(Arg::text(office.as_str()))
                    .arg(Arg::Int(ms(*from)))
                    .arg(Arg::Int(ms(*to))),
                )
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
                let locale = row.opt_text("locale").map_err(unreadable)?;
                let locale = locale.and_then(|l| l.parse::<prepazka_models::locale::Locale>().ok()).unwrap_or(prepazka_models::locale::Locale::Cs);
                let message = NewOutboxMessage {
                    kind: "closure_notice".into(),
                    locale,
                    payload: serde_json::json!({
                        "code": row.text("code").map_err(unreadable)?,
                        "office": office.as_str(),
                        "service": row.text("service").map_err(unreadable)?,
                        "starts_at": row.int("starts_at").map_err(unreadable)?,
                        "rebook": rebook_path,
                    }),
                };
                stmts.push(enqueue(&message, Some(row.int("id").map_err(unreadable)?), *now));
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

/// The statements that seat a hold's people. Per seat: the person's own hold that ran out gives
/// way first (it still sits in the cap index until swept), then the booking row goes in; the
/// trigger takes the seat, the CHECK on slots refuses a full slot, the NOT NULL on `slot_id` a
/// start that is no slot, the partial unique index a second active booking of the same person
/// and service.
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
async fn why_not_confirmed<C: WriteConn>(conn: &mut C, hold_ref: &str, booked_by: &PersonKey) -> Result<ErrorCode, ItemError> {
    let rows = conn
        .rows(Stmt::new("SELECT status FROM bookings WHERE hold_ref = $1 AND booked_by = $2").arg(Arg::text(hold_ref)).arg(Arg::text(booked_by.as_str())))
        .await?;
    let statuses: Vec<String> = rows.iter().map(|r| r.text("status")).collect::<Result<_, _>>().map_err(unreadable)?;
    Ok(if statuses.is_empty() {
        ErrorCode::HoldNotFound
    } else if statuses.iter().any(|s| s == "held" || s == "expired") {
        ErrorCode::HoldExpired
    } else {
        ErrorCode::BookingNotActive
    })
}

/// A confirmed booking, or why there is none.
async fn active_booking<C: WriteConn>(conn: &mut C, code: &BookingCode) -> Result<BookingRecord, ItemError> {
    let rows = conn.rows(Stmt { sql: format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE code = $1"), args: vec![Arg::text(code.as_str())] }).await?;
    let row = rows.first().ok_or(ItemError::Rule(ErrorCode::BookingNotFound))?;
    let booking = booking_from_row(row).map_err(unreadable)?;
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
