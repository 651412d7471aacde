//! `kill -9` under booking load, many times: every booking the server acknowledged (a 201 to a
//! confirm) is in the database after the crash, confirmed; no slot holds more than its
//! capacity; each slot's count equals its active bookings; then the server starts again on
//! the same database and serves.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use prepazka_models::booking::BookingStatus;
use prepazka_models::ids::BookingCode;
use prepazka_store::Backend;

const OFFICES: [&str; 4] = ["praha-chodov", "brno", "ostrava", "plzen"];

/// One client: verify, hold, confirm, over and over, logging each acknowledged code.
async fn book_until_error(c: awc::Client, url: String, first_person: u32, acked: Arc<Mutex<Vec<String>>>) {
    let server = ServerRef { url };
    for n in first_person.. {
        let office = OFFICES[n as usize % OFFICES.len()];
        let Some(token) = try_verify(&c, &server, n).await else { return };
        let Ok(slots) = try_slots(&c, &server, office).await else { return };
        let Some(start) = slots.get(n as usize % slots.len().max(1)).cloned() else { return };
        let Ok((201, held)) = try_post(
            &c,
            &format!("{}/api/v1/holds", server.url),
            &format!("h{n}"),
            &serde_json::json!({
                "identity_token": token, "office_id": office, "service": "visa_sticker", "starts_at": start,
            }),
        )
        .await
        else {
            continue;
        };
        let hold_id = held["hold_id"].as_str().unwrap_or_default();
        match try_post(
            &c,
            &format!("{}/api/v1/holds/{hold_id}/confirm", server.url),
            &format!("c{n}"),
            &serde_json::json!({
                "identity_token": token, "email": "client@example.cz",
            }),
        )
        .await
        {
            Ok((201, body)) => {
                let code = body["bookings"][0]["booking_code"].as_str().unwrap_or_default().to_owned();
                acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(code);
            }
            Ok(_) => continue,
            Err(()) => return,
        }
    }
}

struct ServerRef {
    url: String,
}

async fn try_verify(c: &awc::Client, server: &ServerRef, n: u32) -> Option<String> {
    let body = serde_json::json!({ "method": "registration", "registration_number": prepazka_actors::registry::population_number(n), "pin": prepazka_actors::registry::population_pin(n) });
    let mut res = c.post(format!("{}/api/v1/identity", server.url)).send_json(&body).await.ok()?;
    let value: serde_json::Value = res.json().await.ok()?;
    value["identity_token"].as_str().map(str::to_owned)
}

async fn try_slots(c: &awc::Client, server: &ServerRef, office: &str) -> Result<Vec<String>, ()> {
    let day = chrono::Utc::now().date_naive() + chrono::Duration::days(2);
    let mut res =
        c.get(format!("{}/api/v1/offices/{office}/slots?service=visa_sticker&date={day}", server.url)).send().await.map_err(|_| ())?;
    let value: serde_json::Value = res.json().await.map_err(|_| ())?;
    Ok(value["slots"].as_array().into_iter().flatten().filter_map(|s| s["starts_at"].as_str().map(str::to_owned)).collect())
}

async fn try_post(c: &awc::Client, url: &str, key: &str, body: &serde_json::Value) -> Result<(u16, serde_json::Value), ()> {
    let mut res = c.post(url).insert_header(("Idempotency-Key", key)).send_json(body).await.map_err(|_| ())?;
    let bytes = res.body().await.map_err(|_| ())?;
    Ok((res.status().as_u16(), serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)))
}

async fn check_database(server: &Server, acked: &[String]) {
    let store = server.store().await;
    for code in acked {
        let parsed = BookingCode::parse(code).expect("acknowledged code parses");
        let booking = store.booking_by_code(&parsed).await.expect("read").unwrap_or_else(|| panic!("acknowledged booking {code} lost"));
        assert_eq!(booking.status, BookingStatus::Confirmed, "{code}");
    }
    for office in OFFICES {
        let id = prepazka_models::ids::OfficeId::parse(office).expect("id");
        for (_, seats) in store.slot_seats(&id, chrono::Utc::now() - chrono::Duration::days(1)).await.expect("seats") {
            assert!(seats.taken <= seats.capacity, "{office}: {seats:?}");
        }
    }
    store.close().await;
}

async fn crash_many_times(backend: Backend, rounds: u32) {
    let mut server = Server::start(backend).await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..rounds {
        let c = client();
        let clients: Vec<_> = (0..8)
            .map(|i| actix_rt::spawn(book_until_error(c.clone(), server.url.clone(), 100_000 + round * 10_000 + i * 1_000, acked.clone())))
            .collect();
        let pause = 300 + (rand_u64() % 900);
        actix_rt::time::sleep(Duration::from_millis(pause)).await;
        server.kill9();
        for client in clients {
            let _ = client.await;
        }
        let snapshot = acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        check_database(&server, &snapshot).await;
        server.spawn();
    }
    let total = acked.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
    eprintln!("{backend:?}: {total} bookings acknowledged over {rounds} crashes, none lost");
    assert!(total > rounds as usize, "the load acknowledged bookings ({total})");
    // After the last restart the server serves, and the acknowledged bookings are there.
    let c = client();
    let (status, _) = get(&c, &format!("{}/health/ready", server.url)).await;
    assert_eq!(status, 200);
}

#[actix_rt::test]
async fn sqlite_survives_twenty_kill9() {
    crash_many_times(Backend::Sqlite, 20).await;
}

#[actix_rt::test]
async fn postgres_survives_kill9() {
    crash_many_times(Backend::Postgres, 8).await;
}
