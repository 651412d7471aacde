//! Booking through the public API of the real binary, on SQLite and on PostgreSQL: the whole
//! flow, idempotency, and the races the design names (500 clients for one seat, a K-seat slot,
//! one person firing 50 bookings at once).

mod common;

use common::*;
use futures_util::future::join_all;
use prepazka_store::Backend;
use serde_json::json;

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Sqlite).await })+ }
        mod postgres { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Postgres).await })+ }
    };
}

on_both_backends!(whole_flow_with_idempotency, five_hundred_clients_one_seat, k_seat_slot_holds_k, one_person_fifty_parallel_bookings);

async fn whole_flow_with_idempotency(backend: Backend) {
    let server = Server::start(backend).await;
    let c = client();
    let token = verify_population(&c, &server, 1).await;
    let slots = free_slots(&c, &server, "brno", "visa_sticker").await;
    let (start, _) = slots.first().expect("free slots").clone();
    let (status, held) = hold(&c, &server, &token, "brno", "visa_sticker", &start, "hold-1").await;
    assert_eq!(status, 201, "{held}");
    // A replay gets the same answer; another body under the same key is refused.
    let (again, replay) = hold(&c, &server, &token, "brno", "visa_sticker", &start, "hold-1").await;
    assert_eq!((again, &replay), (201, &held));
    let (reused, body) = hold(&c, &server, &token, "brno", "visa_sticker", &slots[1].0, "hold-1").await;
    assert_eq!((reused, body["error"].as_str()), (422, Some("idempotency_key_reused")));
    let hold_id = held["hold_id"].as_str().expect("hold id");
    let (status, confirmed) = confirm(&c, &server, &token, hold_id, "confirm-1").await;
    assert_eq!(status, 201, "{confirmed}");
    let (_, replayed) = confirm(&c, &server, &token, hold_id, "confirm-1").await;
    assert_eq!(replayed, confirmed, "a confirmed replay returns the same booking code");
    let code = confirmed["bookings"][0]["booking_code"].as_str().expect("code").to_owned();
    assert_eq!(code.len(), 14);
    assert!(confirmed["bookings"][0]["check_in_qr"].as_str().is_some_and(|q| q.starts_with("PZK1:")));
    // Missing key.
    let (status, body) = post(&c, &format!("{}/api/v1/holds", server.url), None, &json!({})).await;
    assert_eq!(status, 400, "{body}");

    let born = prepazka_actors::registry::population_birth_date(1).expect("date").to_string();
    let born = born.as_str();
    let lookup = |code: &str, born: &str| json!({ "booking_code": code, "date_of_birth": born });
    let (status, found) = post(&c, &format!("{}/api/v1/bookings/lookup", server.url), None, &lookup(&code, born)).await;
    assert_eq!((status, found["status"].as_str()), (200, Some("confirmed")), "{found}");
    let (status, _) = post(&c, &format!("{}/api/v1/bookings/lookup", server.url), None, &lookup(&code, "1961-02-03")).await;
    assert_eq!(status, 404, "a wrong date of birth finds nothing");
    let target = slots.iter().rev().find(|(s, free)| *s != start && *free > 0).expect("another slot").0.clone();
    let body = json!({ "booking_code": code, "date_of_birth": born, "starts_at": target });
    let (status, moved) = post(&c, &format!("{}/api/v1/bookings/reschedule", server.url), Some("move-1"), &body).await;
    assert_eq!(status, 200, "{moved}");
    let store = server.store().await;
    let parsed = prepazka_models::ids::BookingCode::parse(&code).expect("code");
    let stored = store.booking_by_code(&parsed).await.expect("read").expect("stored");
    assert_eq!(
        stored.starts_at.to_rfc3339(),
        chrono::DateTime::parse_from_rfc3339(&target).expect("rfc3339").with_timezone(&chrono::Utc).to_rfc3339()
    );
    let (status, cancelled) = post(&c, &format!("{}/api/v1/bookings/cancel", server.url), None, &lookup(&code, born)).await;
    assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")));
    let (status, body) = post(&c, &format!("{}/api/v1/bookings/cancel", server.url), None, &lookup(&code, born)).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("booking_not_active")));
    // The cancelled seat is on sale again.
    let free_after: u64 = free_slots(&c, &server, "brno", "visa_sticker").await.iter().filter(|(s, _)| *s == target).map(|(_, f)| *f).sum();
    assert_eq!(free_after, 4);
    let kinds: Vec<String> = store.outbox().await.expect("outbox").into_iter().map(|o| o.kind).collect();
    assert_eq!(kinds, ["booking_confirmed", "booking_rescheduled", "booking_cancelled"]);
}

/// Verifies `count` synthetic people starting at `first`, concurrently.
async fn tokens(c: &awc::Client, server: &Server, first: u32, count: u32) -> Vec<String> {
    join_all((first..first + count).map(|n| verify_population(c, server, n))).await
}

async fn five_hundred_clients_one_seat(backend: Backend) {
    let server = Server::start(backend).await;
    let c = client();
    // Branch offices have two seats per slot: take one, then 500 people race for the last.
    let (start, free) = free_slots(&c, &server, "tabor", "interview").await.first().cloned().expect("slot");
    assert_eq!(free, 2);
    let first = verify_population(&c, &server, 9_000).await;
    assert_eq!(hold(&c, &server, &first, "tabor", "interview", &start, "k").await.0, 201);
    let racers = tokens(&c, &server, 10_000, 500).await;
    let results = join_all(racers.iter().enumerate().map(|(i, token)| {
        let (c, server, start) = (&c, &server, &start);
        async move { hold(c, server, token, "tabor", "interview", start, &format!("race-{i}")).await }
    }))
    .await;
    let won = results.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(won, 1, "exactly one of 500 gets the last seat");
    assert!(
        results.iter().all(|(status, body)| *status == 201 || (*status == 409 && body["error"] == "slot_taken")),
        "losers see slot_taken"
    );
    let seats = server
        .store()
        .await
        .slot_seats(&prepazka_models::ids::OfficeId::parse("tabor").expect("id"), chrono::Utc::now())
        .await
        .expect("seats");
    assert!(seats.iter().all(|(_, s)| s.taken <= s.capacity));
}

async fn k_seat_slot_holds_k(backend: Backend) {
    let server = Server::start(backend).await;
    let c = client();
    let (start, free) = free_slots(&c, &server, "praha-chodov", "application_submission").await.first().cloned().expect("slot");
    assert_eq!(free, 4);
    let racers = tokens(&c, &server, 20_000, 120).await;
    let results = join_all(racers.iter().enumerate().map(|(i, token)| {
        let (c, server, start) = (&c, &server, &start);
        async move { hold(c, server, token, "praha-chodov", "application_submission", start, &format!("k-{i}")).await }
    }))
    .await;
    assert_eq!(results.iter().filter(|(status, _)| *status == 201).count(), 4);
    let counts = server.store().await.booking_counts().await.expect("counts");
    assert_eq!(counts.held, 4);
}

async fn one_person_fifty_parallel_bookings(backend: Backend) {
    let server = Server::start(backend).await;
    let c = client();
    let token = verify_population(&c, &server, 30_000).await;
    let slots = free_slots(&c, &server, "ostrava", "visa_sticker").await;
    assert!(slots.len() >= 50);
    let results = join_all(slots.iter().take(50).enumerate().map(|(i, (start, _))| {
        let (c, server, token) = (&c, &server, &token);
        async move { hold(c, server, token, "ostrava", "visa_sticker", start, &format!("p-{i}")).await }
    }))
    .await;
    assert_eq!(results.iter().filter(|(status, _)| *status == 201).count(), 1);
    assert!(results.iter().all(|(status, body)| *status == 201 || body["error"] == "person_cap_reached"), "{results:?}");
}

/// The same key fired twice at once: one request is processed, the other is told the key is in
/// flight (409) or, if it arrives after the commit, gets the stored answer.
#[actix_rt::test]
async fn concurrent_duplicate_key_is_held_until_commit() {
    let server = Server::start(Backend::Sqlite).await;
    let c = client();
    let token = verify_population(&c, &server, 40_000).await;
    let start = free_slots(&c, &server, "zlin", "visa_sticker").await.first().expect("slot").0.clone();
    let attempts = join_all((0..8).map(|_| hold(&c, &server, &token, "zlin", "visa_sticker", &start, "same-key"))).await;
    let created: Vec<_> = attempts.iter().filter(|(s, _)| *s == 201).map(|(_, b)| b["hold_id"].clone()).collect();
    assert!(!created.is_empty());
    assert!(created.iter().all(|id| *id == created[0]), "every 201 is the same hold");
    assert!(attempts.iter().all(|(s, b)| *s == 201 || (*s == 409 && b["error"] == "idempotency_key_in_flight")), "{attempts:?}");
    let counts = server.store().await.booking_counts().await.expect("counts");
    assert_eq!(counts.held, 1, "one hold, whatever the number of duplicates");
}

/// Manage look-ups are rate-limited: after ten wrong dates of birth the code is locked.
#[actix_rt::test]
async fn guessing_the_date_of_birth_is_throttled() {
    let server = Server::start(Backend::Sqlite).await;
    let c = client();
    let url = format!("{}/api/v1/bookings/lookup", server.url);
    let mut statuses = Vec::new();
    for day in 1..=12 {
        let (status, _) =
            post(&c, &url, None, &json!({ "booking_code": "ABCD-EFGH-JKMN", "date_of_birth": format!("1990-01-{day:02}") })).await;
        statuses.push(status);
    }
    assert_eq!(&statuses[..10], &[404; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
}

/// A hold that runs out cannot be confirmed, and does not block its person.
#[actix_rt::test]
async fn expired_hold_is_gone_and_does_not_block() {
    let mut server = Server::start(Backend::Sqlite).await;
    server.kill9();
    server.extra_env = vec![("PREPAZKA_HOLD_MINUTES".into(), "0".into())];
    server.spawn();
    let c = client();
    let token = verify_population(&c, &server, 41_000).await;
    let slots = free_slots(&c, &server, "jihlava", "interview").await;
    let (status, held) = hold(&c, &server, &token, "jihlava", "interview", &slots[0].0, "h1").await;
    assert_eq!(status, 201);
    let (status, body) = confirm(&c, &server, &token, held["hold_id"].as_str().expect("id"), "c1").await;
    assert_eq!((status, body["error"].as_str()), (410, Some("hold_expired")));
    let (status, _) = hold(&c, &server, &token, "jihlava", "interview", &slots[1].0, "h2").await;
    assert_eq!(status, 201, "the expired hold gave way to the person's new one");
}
