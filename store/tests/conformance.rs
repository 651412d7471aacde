//! The store conformance suite: every case runs on SQLite and on PostgreSQL in the same
//! `cargo test` (PostgreSQL from `PREPAZKA_TEST_PG_URL`, started by `scripts/test`).

use chrono::{DateTime, Duration, TimeZone, Utc};
use prepazka_models::booking::{BookingStatus, SlotKey};
use prepazka_models::calendar::WeeklyHours;
use prepazka_models::ids::{BookingCode, OfficeId, PersonKey};
use prepazka_models::locale::Locale;
use prepazka_models::office::{Office, OfficeService, Region};
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use prepazka_store::testing::TestDatabase;
use prepazka_store::{Backend, IdempotencyRecord, NewHold, NewOutboxMessage, NewSeat, Outcome, SharedStore, Write};

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(prepazka_store::Backend::Sqlite).await })+
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(prepazka_store::Backend::Postgres).await })+
        }
    };
}

on_both_backends!(
    migrations_are_idempotent_and_durable,
    offices_round_trip,
    hold_confirm_writes_outbox_audit_and_idempotency,
    slot_never_exceeds_capacity,
    one_active_booking_per_person_and_service,
    expired_holds_free_seats_and_unblock_the_person,
    cancel_frees_the_seat_once,
    reschedule_takes_new_seat_before_releasing_old,
    household_hold_is_all_or_nothing,
    idempotency_key_is_unique_per_scope,
    stored_answers_survive_reopening_and_go_with_a_purge,
    random_operations_agree_with_the_ledger,
    a_refused_item_mid_batch_leaves_its_neighbours_alone,
    closing_a_day_cancels_its_bookings_with_notices_in_one_step,
    capacity_changes_never_go_below_seats_taken,
    counters_round_trip,
    assisted_writes_are_audited_under_the_officer_and_need_no_email,
    devices_are_listed_and_revoked_once,
);

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).single().unwrap_or_default()
}

fn now() -> DateTime<Utc> {
    at(6, 0) - Duration::days(3)
}

fn office_id() -> OfficeId {
    OfficeId::parse("praha-1").unwrap_or_else(|_| unreachable!())
}

fn person(n: u32) -> PersonKey {
    PersonKey::from_hex(&format!("{n:064x}")).unwrap_or_else(|_| unreachable!())
}

fn code(n: u32) -> BookingCode {
    BookingCode::parse(&format!("{n:012}")).unwrap_or_else(|_| unreachable!())
}

struct Fixture {
    store: SharedStore,
    _db: TestDatabase,
}

async fn fixture(backend: Backend, capacity: u32) -> Fixture {
    let db = TestDatabase::new(backend).await.expect("test database");
    let store = db.open().await.expect("open store");
    let office = Office {
        id: office_id(),
        name: "Praha I".into(),
        region: Region::Praha,
        city: "Praha".into(),
        address: "Konzulární 1".into(),
        has_biometrics: true,
        services: ServiceKind::ALL.iter().map(|&service| OfficeService { service, slot_minutes: 30, capacity }).collect(),
        hours: WeeklyHours::typical_office(),
    };
    let slots = (0..6)
        .flat_map(|i| [ServiceKind::Interview, ServiceKind::VisaSticker].map(|s| (s, at(7, 0) + Duration::minutes(30 * i), capacity)))
        .collect();
    let results =
        store.apply_batch(vec![Write::UpsertOffice(office), Write::ReleaseSlots { office: office_id(), slots }]).await.expect("seed");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    Fixture { store, _db: db }
}

fn hold(reference: &str, by: u32, seats: &[(u32, u32, DateTime<Utc>)], service: ServiceKind) -> Write {
    Write::Hold {
        hold: NewHold {
            hold_ref: reference.into(),
            office: office_id(),
            service,
            booked_by: person(by),
            expires_at: now() + Duration::minutes(5),
            seats: seats
                .iter()
                .map(|&(who, c, start)| NewSeat {
                    code: code(c),
                    person: person(who),
                    starts_at: start,
                    dob_check: "x".into(),
                    fee_czk: None,
                })
                .collect(),
            assisted_by: None,
        },
        now: now(),
        idempotency: None,
    }
}

fn message(kind: &str) -> NewOutboxMessage {
    NewOutboxMessage { kind: kind.into(), locale: Locale::Uk, payload: serde_json::json!({ "kind": kind }) }
}

fn confirm(reference: &str, by: u32, when: DateTime<Utc>) -> Write {
    confirm_seats(reference, by, when, 1)
}

fn confirm_seats(reference: &str, by: u32, when: DateTime<Utc>, seats: usize) -> Write {
    Write::Confirm {
        hold_ref: reference.into(),
        booked_by: person(by),
        seats,
        email: Some("olena@example.cz".into()),
        locale: Locale::Uk,
        now: when,
        message: message("booking_confirmed"),
        idempotency: None,
        assisted_by: None,
    }
}

async fn apply(store: &SharedStore, writes: Vec<Write>) -> Vec<Result<Outcome, ErrorCode>> {
    store.apply_batch(writes).await.expect("batch commits")
}

async fn taken(store: &SharedStore, service: ServiceKind, start: DateTime<Utc>) -> u32 {
    let seats = store.slot_seats(&office_id(), now()).await.expect("seats");
    seats.iter().find(|(k, _)| *k == SlotKey { service, start }).map(|(_, s)| s.taken).expect("slot exists")
}

async fn migrations_are_idempotent_and_durable(backend: Backend) {
    let f = fixture(backend, 1).await;
    f.store.migrate().await.expect("second migration run is a no-op");
    f.store.check_durability().await.expect("durable settings");
    assert_eq!(f.store.backend(), backend);
}

async fn offices_round_trip(backend: Backend) {
    let f = fixture(backend, 3).await;
    let offices = f.store.offices().await.expect("offices");
    assert_eq!(offices.len(), 1);
    assert_eq!(offices[0].id, office_id());
    assert_eq!(offices[0].hours, WeeklyHours::typical_office());
    assert_eq!(offices[0].service(ServiceKind::Interview).map(|s| s.capacity), Some(3));
}

async fn hold_confirm_writes_outbox_audit_and_idempotency(backend: Backend) {
    let f = fixture(backend, 2).await;
    let mut write = hold("h1", 1, &[(1, 1, at(7, 0))], ServiceKind::Interview);
    if let Write::Hold { idempotency, .. } = &mut write {
        *idempotency = Some(IdempotencyRecord {
            scope: "p1:/holds".into(),
            key: "k1".into(),
            body_hash: "abc".into(),
            status_code: 201,
            response: "{}".into(),
        });
    }
    let held = apply(&f.store, vec![write]).await;
    assert!(matches!(&held[0], Ok(Outcome::Held { seats: 1 })), "{held:?}");
    let confirmed = apply(&f.store, vec![confirm("h1", 1, now() + Duration::minutes(1))]).await;
    assert_eq!(confirmed[0], Ok(Outcome::Confirmed { count: 1 }));
    let stored = f.store.booking_by_code(&code(1)).await.expect("read").expect("booking exists");
    assert_eq!(stored.status, BookingStatus::Confirmed);
    assert_eq!(stored.email.as_deref(), Some("olena@example.cz"));
    assert_eq!(stored.locale, Some(Locale::Uk));
    let outbox = f.store.outbox().await.expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        (outbox[0].kind.as_str(), outbox[0].status.as_str(), outbox[0].booking_id),
        ("booking_confirmed", "pending", Some(stored.id))
    );
    let audit = f.store.audit_for("h1").await.expect("audit");
    assert_eq!(audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(), ["hold", "confirm"]);
    assert!(audit.iter().all(|a| !a.detail.to_string().contains("olena")), "no personal data in the audit");
    let remembered = f.store.idempotent_response("p1:/holds", "k1").await.expect("read").expect("stored");
    assert_eq!((remembered.status_code, remembered.body_hash.as_str()), (201, "abc"));
    // Confirming twice is refused; the booking stays as it is.
    let again = apply(&f.store, vec![confirm("h1", 1, now() + Duration::minutes(2))]).await;
    assert_eq!(again[0], Err(ErrorCode::BookingNotActive));
    // Someone else cannot confirm another person's hold.
    apply(&f.store, vec![hold("h2", 2, &[(2, 2, at(7, 0))], ServiceKind::Interview)]).await;
    let stolen = apply(&f.store, vec![confirm("h2", 3, now() + Duration::minutes(1))]).await;
    assert_eq!(stolen[0], Err(ErrorCode::HoldNotFound));
}

async fn slot_never_exceeds_capacity(backend: Backend) {
    let f = fixture(backend, 3).await;
    let writes = (1..=8).map(|n| hold(&format!("h{n}"), n, &[(n, n, at(7, 30))], ServiceKind::Interview)).collect();
    let results = apply(&f.store, writes).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    assert!(results.iter().filter(|r| r.is_err()).all(|r| *r == Err(ErrorCode::SlotTaken)));
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 30)).await, 3);
    let not_a_slot = apply(&f.store, vec![hold("x", 50, &[(50, 50, at(7, 10))], ServiceKind::Interview)]).await;
    assert_eq!(not_a_slot[0], Err(ErrorCode::NotASlot));
    let counts = f.store.booking_counts().await.expect("counts");
    assert_eq!(counts.held, 3, "failed items leave no rows behind");
}

async fn one_active_booking_per_person_and_service(backend: Backend) {
    let f = fixture(backend, 5).await;
    let writes = (0..6)
        .map(|i| hold(&format!("h{i}"), 1, &[(1, 10 + i, at(7, 0) + Duration::minutes(30 * i64::from(i)))], ServiceKind::Interview))
        .collect();
    let results = apply(&f.store, writes).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results[1..].iter().all(|r| *r == Err(ErrorCode::PersonCapReached)), "{results:?}");
    let other_service = apply(&f.store, vec![hold("v", 1, &[(1, 99, at(7, 0))], ServiceKind::VisaSticker)]).await;
    assert!(other_service[0].is_ok(), "another service is another cap");
}

async fn expired_holds_free_seats_and_unblock_the_person(backend: Backend) {
    let f = fixture(backend, 1).await;
    apply(&f.store, vec![hold("h1", 1, &[(1, 1, at(8, 0))], ServiceKind::Interview)]).await;
    let late = now() + Duration::minutes(6);
    assert_eq!(apply(&f.store, vec![confirm("h1", 1, late)]).await[0], Err(ErrorCode::HoldExpired));
    // The same person comes back after expiry, before any sweep: their stale hold gives way.
    let mut again = hold("h2", 1, &[(1, 2, at(8, 30))], ServiceKind::Interview);
    if let Write::Hold { now: when, hold, .. } = &mut again {
        *when = late;
        hold.expires_at = late + Duration::minutes(5);
    }
    assert!(apply(&f.store, vec![again]).await[0].is_ok());
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(8, 0)).await, 0);
    apply(&f.store, vec![hold("h3", 3, &[(3, 3, at(8, 0))], ServiceKind::Interview)]).await;
    let swept = apply(&f.store, vec![Write::ExpireHolds { office: office_id(), now: late + Duration::minutes(10) }]).await;
    let Ok(Outcome::Expired { freed }) = &swept[0] else { panic!("{swept:?}") };
    assert_eq!(freed.len(), 2, "h2 and h3 ran out");
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(8, 0)).await, 0);
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(8, 30)).await, 0);
}

async fn cancel_frees_the_seat_once(backend: Backend) {
    let f = fixture(backend, 1).await;
    apply(&f.store, vec![hold("h1", 1, &[(1, 1, at(9, 0))], ServiceKind::Interview), confirm("h1", 1, now())]).await;
    let cancel =
        || Write::Cancel { code: code(1), actor: person(1).as_str().to_owned(), now: now(), message: message("booking_cancelled") };
    let results = apply(&f.store, vec![cancel(), cancel()]).await;
    assert!(matches!(results[0], Ok(Outcome::Cancelled { .. })));
    assert_eq!(results[1], Err(ErrorCode::BookingNotActive));
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(9, 0)).await, 0);
    let seat_is_back = apply(&f.store, vec![hold("h2", 2, &[(2, 2, at(9, 0))], ServiceKind::Interview)]).await;
    assert!(seat_is_back[0].is_ok());
    let kinds: Vec<String> = f.store.outbox().await.expect("outbox").into_iter().map(|o| o.kind).collect();
    assert_eq!(kinds, ["booking_confirmed", "booking_cancelled"]);
    let unknown = Write::Cancel { code: code(777), actor: "x".into(), now: now(), message: message("booking_cancelled") };
    assert_eq!(apply(&f.store, vec![unknown]).await[0], Err(ErrorCode::BookingNotFound));
}

async fn reschedule_takes_new_seat_before_releasing_old(backend: Backend) {
    let f = fixture(backend, 1).await;
    apply(
        &f.store,
        vec![
            hold("h1", 1, &[(1, 1, at(7, 0))], ServiceKind::Interview),
            confirm("h1", 1, now()),
            hold("h2", 2, &[(2, 2, at(7, 30))], ServiceKind::Interview),
        ],
    )
    .await;
    let move_to = |to| Write::Reschedule {
        code: code(1),
        to,
        actor: "p1".into(),
        now: now(),
        message: message("booking_rescheduled"),
        idempotency: None,
    };
    assert_eq!(apply(&f.store, vec![move_to(at(7, 30))]).await[0], Err(ErrorCode::SlotTaken));
    assert_eq!(apply(&f.store, vec![move_to(at(7, 0))]).await[0], Err(ErrorCode::SameSlot));
    assert_eq!(apply(&f.store, vec![move_to(at(7, 5))]).await[0], Err(ErrorCode::NotASlot));
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 0)).await, 1, "failed moves keep the old seat");
    let moved = apply(&f.store, vec![move_to(at(8, 0))]).await;
    assert!(matches!(&moved[0], Ok(Outcome::Rescheduled { from, .. }) if *from == at(7, 0)), "{moved:?}");
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 0)).await, 0);
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(8, 0)).await, 1);
    let stored = f.store.booking_by_code(&code(1)).await.expect("read").expect("exists");
    assert_eq!(stored.starts_at, at(8, 0));
}

async fn household_hold_is_all_or_nothing(backend: Backend) {
    let f = fixture(backend, 2).await;
    apply(&f.store, vec![hold("x", 9, &[(9, 9, at(7, 30))], ServiceKind::Interview)]).await;
    // Three people in parallel need three seats; the slot has one left.
    let parallel =
        apply(&f.store, vec![hold("fam", 1, &[(1, 1, at(7, 30)), (2, 2, at(7, 30)), (3, 3, at(7, 30))], ServiceKind::Interview)]).await;
    assert_eq!(parallel[0], Err(ErrorCode::SlotTaken));
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 30)).await, 1, "no member kept a seat");
    assert!(f.store.bookings_by_hold("fam").await.expect("read").is_empty());
    let consecutive =
        apply(&f.store, vec![hold("fam", 1, &[(1, 1, at(7, 0)), (2, 2, at(7, 30)), (3, 3, at(8, 0))], ServiceKind::Interview)]).await;
    assert!(consecutive[0].is_ok(), "{consecutive:?}");
    let confirmed = apply(&f.store, vec![confirm_seats("fam", 1, now(), 3)]).await;
    assert_eq!(confirmed[0], Ok(Outcome::Confirmed { count: 3 }));
    let stored = f.store.bookings_by_hold("fam").await.expect("read");
    assert!(stored.iter().all(|b| b.status == BookingStatus::Confirmed) && stored.len() == 3);
}

async fn idempotency_key_is_unique_per_scope(backend: Backend) {
    let f = fixture(backend, 5).await;
    let with_key = |n: u32, scope: &str| {
        let mut write = hold(&format!("h{n}"), n, &[(n, n, at(7, 0))], ServiceKind::Interview);
        if let Write::Hold { idempotency, .. } = &mut write {
            *idempotency = Some(IdempotencyRecord {
                scope: scope.into(),
                key: "same".into(),
                body_hash: "h".into(),
                status_code: 201,
                response: "{}".into(),
            });
        }
        write
    };
    let results = apply(&f.store, vec![with_key(1, "a"), with_key(2, "a"), with_key(3, "b")]).await;
    assert!(results[0].is_ok());
    assert_eq!(results[1], Err(ErrorCode::IdempotencyKeyInFlight));
    assert!(results[2].is_ok(), "another scope may use the same key");
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 0)).await, 2, "the refused item took no seat");
}

/// A stored answer is found again after the store is reopened, a purge forgets exactly the
/// answers older than its bound, and a refused write leaves no answer behind. (On SQLite the
/// lookups go through the writer's in-memory list of keys first: it must agree with the table.)
async fn stored_answers_survive_reopening_and_go_with_a_purge(backend: Backend) {
    let f = fixture(backend, 1).await;
    let keyed = |write: Write, key: &str, created: DateTime<Utc>| match write {
        Write::Hold { hold, .. } => Write::Hold {
            hold,
            now: created,
            idempotency: Some(IdempotencyRecord {
                scope: "holds:p".into(),
                key: key.into(),
                body_hash: format!("hash-{key}"),
                status_code: 201,
                response: format!("{{\"key\":\"{key}\"}}"),
            }),
        },
        other => other,
    };
    let old = now() - Duration::days(2);
    let results = apply(
        &f.store,
        vec![
            keyed(hold("h1", 1, &[(1, 1, at(7, 0))], ServiceKind::Interview), "old", old),
            keyed(hold("h2", 2, &[(2, 2, at(7, 0))], ServiceKind::Interview), "refused", now()),
            keyed(hold("h3", 3, &[(3, 3, at(7, 30))], ServiceKind::Interview), "new", now()),
        ],
    )
    .await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert_eq!(results[1], Err(ErrorCode::SlotTaken));
    let answer = |store: SharedStore, key: &'static str| async move {
        store.idempotent_response("holds:p", key).await.expect("read").map(|stored| stored.response)
    };
    assert_eq!(answer(f.store.clone(), "old").await.as_deref(), Some(r#"{"key":"old"}"#));
    assert_eq!(answer(f.store.clone(), "refused").await, None, "a refused write stores no answer");
    assert_eq!(apply(&f.store, vec![Write::PurgeIdempotency { before: now() - Duration::days(1) }]).await[0], Ok(Outcome::Done));
    assert_eq!(answer(f.store.clone(), "old").await, None, "older than the purge bound");
    assert_eq!(answer(f.store.clone(), "new").await.as_deref(), Some(r#"{"key":"new"}"#));
    f.store.close().await;
    let store = f._db.open().await.expect("reopen");
    assert_eq!(answer(store.clone(), "new").await.as_deref(), Some(r#"{"key":"new"}"#), "kept across a restart");
    assert_eq!(answer(store.clone(), "old").await, None);
    assert_eq!(answer(store.clone(), "refused").await, None);
    // A purged key may be used again.
    let again = apply(&store, vec![keyed(hold("h4", 4, &[(4, 4, at(8, 0))], ServiceKind::Interview), "old", now())]).await;
    assert!(again[0].is_ok(), "{again:?}");
    assert_eq!(answer(store.clone(), "old").await.as_deref(), Some(r#"{"key":"old"}"#));
}

/// Drives the store and the pure `Ledger` with the same random operations and checks that they
/// agree on every answer and every seat count.
async fn random_operations_agree_with_the_ledger(backend: Backend) {
    use prepazka_models::booking::{Ledger, Seats, SlotBoard};
    use rand::{Rng, SeedableRng};
    let f = fixture(backend, 2).await;
    let starts: Vec<_> = (0..3).map(|i| at(7, 0) + Duration::minutes(30 * i)).collect();
    let mut board = SlotBoard::default();
    for start in &starts {
        board.insert(SlotKey { service: ServiceKind::Interview, start: *start }, Seats { capacity: 2, taken: 0 });
    }
    let mut ledger = Ledger::new(board);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut clock = now();
    let mut ids: Vec<(u64, u32)> = Vec::new(); // ledger id, booking code number
    for step in 0..120u32 {
        let choice = rng.gen_range(0..10);
        if choice < 4 {
            let who = rng.gen_range(0..5);
            let start = starts[rng.gen_range(0..3)];
            let slot = SlotKey { service: ServiceKind::Interview, start };
            let expected = ledger.hold(who, slot, clock, Duration::minutes(5));
            let mut write = hold(&format!("h{step}"), who, &[(who, 1000 + step, start)], ServiceKind::Interview);
            if let Write::Hold { now: n, hold, .. } = &mut write {
                *n = clock;
                hold.expires_at = clock + Duration::minutes(5);
            }
            let got = apply(&f.store, vec![write]).await;
            assert_eq!(got[0].is_ok(), expected.is_ok(), "step {step}: {got:?} vs {expected:?}");
            if let Ok(id) = expected {
                ids.push((id, step));
            }
        } else if choice < 7 && !ids.is_empty() {
            let (id, step_made) = ids[rng.gen_range(0..ids.len())];
            let who = ledger.booking(id).map(|b| b.person).unwrap_or_default();
            let expected = ledger.confirm(id, clock);
            let got = apply(&f.store, vec![confirm(&format!("h{step_made}"), who, clock)]).await;
            assert_eq!(got[0].as_ref().err(), expected.as_ref().err(), "step {step}");
        } else if choice < 8 && !ids.is_empty() {
            let (id, step_made) = ids[rng.gen_range(0..ids.len())];
            let expected = ledger.cancel(id);
            let write =
                Write::Cancel { code: code(1000 + step_made), actor: "t".into(), now: clock, message: message("booking_cancelled") };
            let got = apply(&f.store, vec![write]).await;
            assert_eq!(got[0].as_ref().err(), expected.as_ref().err(), "step {step}");
        } else {
            clock += Duration::minutes(rng.gen_range(1..4));
            ledger.expire(clock);
            apply(&f.store, vec![Write::ExpireHolds { office: office_id(), now: clock }]).await;
        }
        for start in &starts {
            let slot = SlotKey { service: ServiceKind::Interview, start: *start };
            let expected = ledger.board.seats(&slot).map(|s| s.taken);
            // Holds that ran out but are not swept yet still occupy a seat in the database
            // until the sweeper runs; compare after a sweep at the same instant.
            apply(&f.store, vec![Write::ExpireHolds { office: office_id(), now: clock }]).await;
            ledger.expire(clock);
            let expected_after = ledger.board.seats(&slot).map(|s| s.taken);
            assert_eq!(
                Some(taken(&f.store, ServiceKind::Interview, *start).await),
                expected_after,
                "step {step}, before sweep {expected:?}"
            );
        }
    }
}

/// PostgreSQL with `synchronous_commit = off` could lose acknowledged commits: refused.
#[tokio::test]
async fn postgres_without_synchronous_commit_is_refused() {
    let db = TestDatabase::new(Backend::Postgres).await.expect("test database");
    let name = db.url.rsplit('/').next().expect("database name").to_owned();
    let store = db.open().await.expect("open");
    store.check_durability().await.expect("durable by default");
    store.close().await;
    let admin = std::env::var("PREPAZKA_TEST_PG_URL").expect("admin url");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.expect("admin");
    sqlx::query(&format!("ALTER DATABASE {name} SET synchronous_commit = off")).execute(&mut conn).await.expect("alter");
    let store = db.open().await.expect("open again");
    assert!(matches!(store.check_durability().await, Err(prepazka_store::StoreError::NotDurable(_))));
}

/// Within one batch, an item refused in the middle (by a constraint or by a short row count)
/// is rolled back alone: the items before and after it commit.
async fn a_refused_item_mid_batch_leaves_its_neighbours_alone(backend: Backend) {
    let f = fixture(backend, 1).await;
    apply(&f.store, vec![hold("h1", 1, &[(1, 1, at(7, 0))], ServiceKind::Interview)]).await;
    let results = apply(
        &f.store,
        vec![
            hold("h2", 2, &[(2, 2, at(7, 30))], ServiceKind::Interview),
            confirm("h1", 9, now()),                                     // not this person's hold
            hold("h3", 3, &[(3, 3, at(7, 30))], ServiceKind::Interview), // slot full
            confirm_seats("h1", 1, now(), 2),                            // the hold has one seat, not two
            confirm("h1", 1, now()),
            hold("h4", 4, &[(4, 4, at(8, 0))], ServiceKind::Interview),
        ],
    )
    .await;
    assert!(results[0].is_ok(), "{results:?}");
    assert_eq!(results[1], Err(ErrorCode::HoldNotFound));
    assert_eq!(results[2], Err(ErrorCode::SlotTaken));
    assert_eq!(results[3], Err(ErrorCode::HoldExpired));
    assert_eq!(results[4], Ok(Outcome::Confirmed { count: 1 }));
    assert!(results[5].is_ok());
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 30)).await, 1);
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(8, 0)).await, 1);
    let outbox = f.store.outbox().await.expect("outbox");
    assert_eq!(outbox.len(), 1, "only the real confirmation wrote an outbox row");
    let audit = f.store.audit_for("h1").await.expect("audit");
    assert_eq!(audit.iter().filter(|a| a.action == "confirm").count(), 1);
}

async fn closing_a_day_cancels_its_bookings_with_notices_in_one_step(backend: Backend) {
    let f = fixture(backend, 2).await;
    let results = apply(
        &f.store,
        vec![
            hold("h1", 1, &[(1, 1, at(7, 0))], ServiceKind::Interview),
            confirm("h1", 1, now()),
            hold("h2", 2, &[(2, 2, at(8, 0))], ServiceKind::VisaSticker),
        ],
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("day");
    let (from, to) = prepazka_models::calendar::prague_day_bounds(day).expect("bounds");
    let close = Write::CloseOffice {
        office: office_id(),
        day,
        from,
        to,
        reason: "outage".into(),
        rebook_path: "/book/praha-1".into(),
        actor: "supervisor-1".into(),
        now: now(),
    };
    assert_eq!(apply(&f.store, vec![close.clone()]).await, vec![Ok(Outcome::Closed { cancelled: 2 })]);
    for c in [1, 2] {
        let booking = f.store.booking_by_code(&code(c)).await.expect("read").expect("booking");
        assert_eq!(booking.status, BookingStatus::Cancelled);
    }
    let notices: Vec<_> = f.store.outbox().await.expect("outbox").into_iter().filter(|m| m.kind == "closure_notice").collect();
    assert_eq!(notices.len(), 2, "one notice per person");
    assert!(notices.iter().all(|n| n.payload["rebook"] == "/book/praha-1"));
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 0)).await, 0);
    let seats = f.store.slot_seats(&office_id(), now()).await.expect("seats");
    assert!(seats.iter().all(|(_, s)| s.capacity == 0), "the closed day is off sale");
    assert_eq!(apply(&f.store, vec![hold("h3", 3, &[(3, 3, at(9, 0))], ServiceKind::Interview)]).await[0], Err(ErrorCode::SlotTaken));
    assert_eq!(f.store.closures(&office_id()).await.expect("closures"), vec![(day, "outage".to_owned())]);
    let audit = f.store.audit_for("praha-1").await.expect("audit");
    assert!(audit.iter().any(|a| a.action == "close_office" && a.actor == "supervisor-1"));
    // Closing twice is refused by the database and changes nothing.
    assert!(apply(&f.store, vec![close]).await[0].is_err());
}

async fn capacity_changes_never_go_below_seats_taken(backend: Backend) {
    let f = fixture(backend, 2).await;
    let results = apply(
        &f.store,
        vec![hold("h1", 1, &[(1, 1, at(7, 0))], ServiceKind::Interview), hold("h2", 2, &[(2, 2, at(7, 0))], ServiceKind::Interview)],
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("day");
    let (from, to) = prepazka_models::calendar::prague_day_bounds(day).expect("bounds");
    let set = |capacity| Write::SetCapacity {
        office: office_id(),
        service: ServiceKind::Interview,
        from,
        to,
        capacity,
        actor: "supervisor-1".into(),
        now: now(),
    };
    assert_eq!(apply(&f.store, vec![set(0)]).await, vec![Ok(Outcome::Done)]);
    let seats = f.store.slot_seats(&office_id(), now()).await.expect("seats");
    let capacity = |start| seats.iter().find(|(k, _)| *k == SlotKey { service: ServiceKind::Interview, start }).map(|(_, s)| s.capacity);
    assert_eq!(capacity(at(7, 0)), Some(2), "two seats are taken: the capacity stays at two");
    assert_eq!(capacity(at(7, 30)), Some(0));
    assert_eq!(apply(&f.store, vec![set(5)]).await, vec![Ok(Outcome::Done)]);
    let seats = f.store.slot_seats(&office_id(), now()).await.expect("seats");
    assert!(seats.iter().filter(|(k, _)| k.service == ServiceKind::Interview).all(|(_, s)| s.capacity == 5));
    assert!(seats.iter().filter(|(k, _)| k.service == ServiceKind::VisaSticker).all(|(_, s)| s.capacity == 2), "other services untouched");
}

async fn counters_round_trip(backend: Backend) {
    use prepazka_models::queue::{Counter, CounterStatus};
    let f = fixture(backend, 2).await;
    let counter = Counter {
        number: 7,
        services: [ServiceKind::Interview, ServiceKind::CardPickup].into(),
        status: CounterStatus::Open,
        officer: Some("officer-1".into()),
    };
    let save =
        |counter: &Counter| Write::SaveCounter { office: office_id(), counter: counter.clone(), actor: "officer-1".into(), now: now() };
    assert_eq!(apply(&f.store, vec![save(&counter)]).await, vec![Ok(Outcome::Done)]);
    assert_eq!(f.store.counters(&office_id()).await.expect("counters"), vec![counter.clone()]);
    let closed = Counter { status: CounterStatus::Closed, officer: None, ..counter };
    assert_eq!(apply(&f.store, vec![save(&closed)]).await, vec![Ok(Outcome::Done)]);
    assert_eq!(f.store.counters(&office_id()).await.expect("counters"), vec![closed.clone()]);
    let out_of_range = Counter { number: 100, ..closed };
    assert!(apply(&f.store, vec![save(&out_of_range)]).await[0].is_err(), "the database refuses counter 100");
}

/// An officer holds and confirms for a person without e-mail: the audit names the officer, no
/// message is queued (nor for the later reschedule and cancel), and the person's cap still holds.
async fn assisted_writes_are_audited_under_the_officer_and_need_no_email(backend: Backend) {
    let f = fixture(backend, 2).await;
    let mut write = hold("h1", 1, &[(1, 1, at(7, 0))], ServiceKind::Interview);
    if let Write::Hold { hold, .. } = &mut write {
        hold.assisted_by = Some("officer-1".into());
    }
    assert!(matches!(apply(&f.store, vec![write]).await[0], Ok(Outcome::Held { seats: 1 })));
    let mut write = confirm("h1", 1, now() + Duration::minutes(1));
    if let Write::Confirm { email, assisted_by, .. } = &mut write {
        *email = None;
        *assisted_by = Some("officer-1".into());
    }
    assert_eq!(apply(&f.store, vec![write]).await[0], Ok(Outcome::Confirmed { count: 1 }));
    let stored = f.store.booking_by_code(&code(1)).await.expect("read").expect("booking");
    assert_eq!((stored.status, stored.email.as_deref()), (BookingStatus::Confirmed, None));
    // The same person cannot hold the same service again, whoever asks.
    let twice = apply(&f.store, vec![hold("h2", 1, &[(1, 2, at(7, 30))], ServiceKind::Interview)]).await;
    assert_eq!(twice[0], Err(ErrorCode::PersonCapReached));
    let moved = Write::Reschedule {
        code: code(1),
        to: at(7, 30),
        actor: "officer-1".into(),
        now: now() + Duration::minutes(2),
        message: message("booking_rescheduled"),
        idempotency: None,
    };
    let cancelled = Write::Cancel {
        code: code(1),
        actor: "officer-1".into(),
        now: now() + Duration::minutes(3),
        message: message("booking_cancelled"),
    };
    let results = apply(&f.store, vec![moved, cancelled]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(f.store.outbox().await.expect("outbox").is_empty(), "no address, no messages");
    let audit = f.store.audit_for("h1").await.expect("audit");
    let rows: Vec<(&str, &str)> = audit.iter().map(|a| (a.action.as_str(), a.actor.as_str())).collect();
    assert_eq!(rows, [("hold", "officer-1"), ("confirm", "officer-1"), ("reschedule", "officer-1"), ("cancel", "officer-1")]);
    assert_eq!(taken(&f.store, ServiceKind::Interview, at(7, 30)).await, 0);
}

/// Devices: enrolled under their token's hash (audited without it), listed, revoked once.
async fn devices_are_listed_and_revoked_once(backend: Backend) {
    use prepazka_models::office::DeviceKind;
    let f = fixture(backend, 1).await;
    let hash = "ab".repeat(32);
    let enrol = Write::EnrolDevice {
        token_hash: hash.clone(),
        office: office_id(),
        kind: DeviceKind::Display,
        label: "Hall TV".into(),
        actor: "administrator".into(),
        now: now(),
    };
    assert_eq!(apply(&f.store, vec![enrol]).await[0], Ok(Outcome::Done));
    let listed = f.store.devices().await.expect("devices");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].kind, listed[0].label.as_str(), listed[0].revoked_at), (DeviceKind::Display, "Hall TV", None));
    assert_eq!(f.store.device(&hash).await.expect("read"), Some((office_id(), DeviceKind::Display)));
    let revoke = || Write::RevokeDevice { token_hash: hash.clone(), actor: "administrator".into(), now: now() + Duration::minutes(1) };
    let results = apply(&f.store, vec![revoke(), revoke()]).await;
    assert_eq!(results, [Ok(Outcome::Done), Err(ErrorCode::NotFound)]);
    let record = f.store.device_record(&hash).await.expect("read").expect("still listed");
    assert_eq!(record.revoked_at, Some(now() + Duration::minutes(1)));
    assert_eq!(f.store.device(&hash).await.expect("read"), None, "a revoked device is not enrolled");
    let unknown = Write::RevokeDevice { token_hash: "cd".repeat(32), actor: "administrator".into(), now: now() };
    assert_eq!(apply(&f.store, vec![unknown]).await[0], Err(ErrorCode::NotFound));
    let audit = f.store.audit_for(office_id().as_str()).await.expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["enrol_device", "revoke_device"]);
}
