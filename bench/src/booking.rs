//! `booking-surge`: many clients book at once across all offices (a slot-release surge). Each
//! booking is what a browser does: verify identity, read the free slots of a day (another day
//! while the day has none), hold one (with an idempotency key), confirm it (with another).
//! Reports confirmed bookings per second and latency percentiles; the caller checks the
//! database afterwards for double bookings.
//!
//! The clients run on one thread, each on its own kept-alive connection (`http::KeepAlive`):
//! the tool shares the machine with the server it measures, so it spends as little as it can.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use rand::Rng as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::KeepAlive;

struct Options {
    /// `host:port` of the server.
    address: String,
    clients: usize,
    bookings: usize,
    first_person: u32,
    days: i64,
}

fn options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options { address: "127.0.0.1:8080".into(), clients: 256, bookings: 20_000, first_person: 1, days: 14 };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|_| format!("{flag}: not a number"));
        match flag.as_str() {
            "--url" => o.address = value.trim_start_matches("http://").trim_end_matches('/').to_owned(),
            "--clients" => o.clients = number()?,
            "--bookings" => o.bookings = number()?,
            "--first-person" => o.first_person = number()? as u32,
            "--days" => o.days = number()? as i64,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// Registration number and PIN of synthetic person `n` (mirrors the fake registry).
fn person(n: u32) -> (String, String) {
    (format!("POP-{n:08}"), format!("{:04}", (u64::from(n) * 7919 + 1234) % 10_000))
}

#[derive(Default)]
struct Tally {
    confirmed: usize,
    slot_taken: usize,
    other_errors: HashMap<String, usize>,
    booking_ms: Vec<f64>,
    request_ms: HashMap<&'static str, Vec<f64>>,
}

/// Sends one request on the client's connection and records how long it took; answers the
/// status and the raw body, which each step reads into the few fields it needs (the tool shares
/// the machine with the server it measures: no JSON tree per response).
async fn timed(
    tally: &mut Tally,
    connection: &mut KeepAlive,
    name: &'static str,
    (method, path): (&str, String),
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Result<(u16, Vec<u8>), String> {
    let started = Instant::now();
    let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
    let (status, bytes) = connection.send(method, &path, headers, body.as_deref()).await.map_err(|e| format!("{name}: {e}"))?;
    tally.request_ms.entry(name).or_default().push(started.elapsed().as_secs_f64() * 1e3);
    Ok((status, bytes))
}

/// The fields of the server's answers that a booking reads.
#[derive(Deserialize, Default)]
struct Answer<'a> {
    #[serde(borrow, default)]
    identity_token: Option<&'a str>,
    #[serde(borrow, default)]
    slots: Vec<SlotAnswer<'a>>,
    #[serde(borrow, default)]
    hold_id: Option<&'a str>,
    #[serde(borrow, default)]
    error: Option<&'a str>,
}

#[derive(Deserialize)]
struct SlotAnswer<'a> {
    #[serde(borrow)]
    starts_at: &'a str,
}

fn read(body: &[u8]) -> Answer<'_> {
    serde_json::from_slice(body).unwrap_or_default()
}

async fn client_loop(id: usize, o: Rc<Options>, offices: Rc<Vec<String>>, quota: usize) -> Tally {
    let mut connection = KeepAlive::new(&o.address);
    let mut tally = Tally::default();
    let today = chrono::Utc::now().date_naive();
    let services = ["visa_sticker", "application_submission", "interview", "card_pickup", "biometric_capture"];
    // Each client has its own people: a person may hold one booking per service.
    let mut n = o.first_person + (id * quota * 10) as u32;
    let mut rng = rand::thread_rng();
    let mut attempt = 0usize;
    while tally.confirmed < quota && attempt < quota * 4 {
        attempt += 1;
        n += 1;
        let started = Instant::now();
        let office = &offices[rng.gen_range(0..offices.len())];
        // Card pickup and biometrics need a card or equipment; book the services every office has.
        let service = services[rng.gen_range(0..3)];
        let day = today + chrono::Duration::days(rng.gen_range(1..=o.days));
        let (number, pin) = person(n);
        let Ok((200, verified)) = timed(
            &mut tally,
            &mut connection,
            "identity",
            ("POST", "/api/v1/identity".into()),
            &[],
            Some(&json!({"method": "registration", "registration_number": number, "pin": pin})),
        )
        .await
        else {
            *tally.other_errors.entry("identity".into()).or_default() += 1;
            continue;
        };
        let token = read(&verified).identity_token.unwrap_or_default().to_owned();
        // As a person in a browser does: verified once, they look at days until one has a free
        // slot (weekends and holidays have none).
        let mut free: Vec<String> = Vec::new();
        let mut day = day;
        for _ in 0..10 {
            let path = format!("/api/v1/offices/{office}/slots?service={service}&date={day}");
            let Ok((200, slots)) = timed(&mut tally, &mut connection, "slots", ("GET", path), &[], None).await else {
                *tally.other_errors.entry("slots".into()).or_default() += 1;
                break;
            };
            free = read(&slots).slots.iter().map(|slot| slot.starts_at.to_owned()).collect();
            if !free.is_empty() {
                break;
            }
            day = today + chrono::Duration::days(rng.gen_range(1..=o.days));
        }
        if free.is_empty() {
            continue;
        }
        let start = free[rng.gen_range(0..free.len())].to_owned();
        let hold_body = json!({"identity_token": token, "office_id": office, "service": service, "starts_at": start});
        let key = format!("h-{n}");
        match timed(&mut tally, &mut connection, "hold", ("POST", "/api/v1/holds".into()), &[("Idempotency-Key", &key)], Some(&hold_body)).await {
            Ok((201, held)) => {
                let hold_id = read(&held).hold_id.unwrap_or_default().to_owned();
                let key = format!("c-{n}");
                match timed(
                    &mut tally,
                    &mut connection,
                    "confirm",
                    ("POST", format!("/api/v1/holds/{hold_id}/confirm")),
                    &[("Idempotency-Key", &key)],
                    Some(&json!({"identity_token": token, "email": "bench@example.cz", "locale": "uk"})),
                )
                .await
                {
                    Ok((201, _)) => {
                        tally.confirmed += 1;
                        tally.booking_ms.push(started.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok((status, body)) => {
                        *tally.other_errors.entry(format!("confirm {status} {:?}", read(&body).error)).or_default() += 1;
                    }
                    Err(e) => *tally.other_errors.entry(e).or_default() += 1,
                }
            }
            Ok((409, body)) if read(&body).error == Some("slot_taken") => tally.slot_taken += 1,
            Ok((status, body)) => *tally.other_errors.entry(format!("hold {status} {:?}", read(&body).error)).or_default() += 1,
            Err(e) => *tally.other_errors.entry(e).or_default() += 1,
        }
    }
    tally
}

pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[((values.len() as f64 - 1.0) * p).round() as usize]
}

pub fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let o = options(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let (status, body) = KeepAlive::new(&o.address).send("GET", "/api/v1/offices", &[], None).await?;
        if status != 200 {
            return Err(format!("GET /api/v1/offices: {status}"));
        }
        let offices: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let offices: Vec<String> =
            offices["offices"].as_array().into_iter().flatten().filter_map(|x| x["id"].as_str().map(str::to_owned)).collect();
        let quota = o.bookings.div_ceil(o.clients);
        let o = Rc::new(o);
        let offices = Rc::new(offices);
        let started = Instant::now();
        let tasks: Vec<_> = (0..o.clients).map(|id| tokio::task::spawn_local(client_loop(id, o.clone(), offices.clone(), quota))).collect();
        let mut total = Tally::default();
        for task in tasks {
            let t = task.await.map_err(|e| e.to_string())?;
            total.confirmed += t.confirmed;
            total.slot_taken += t.slot_taken;
            total.booking_ms.extend(t.booking_ms);
            for (k, v) in t.other_errors {
                *total.other_errors.entry(k).or_default() += v;
            }
            for (k, v) in t.request_ms {
                total.request_ms.entry(k).or_default().extend(v);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "clients={} confirmed={} seconds={seconds:.2} confirmed_per_second={:.0}",
            o.clients,
            total.confirmed,
            total.confirmed as f64 / seconds
        );
        println!(
            "booking (identity+slots+hold+confirm) ms: p50={:.1} p99={:.1}",
            percentile(&mut total.booking_ms, 0.5),
            percentile(&mut total.booking_ms, 0.99)
        );
        let mut names: Vec<_> = total.request_ms.keys().copied().collect();
        names.sort();
        for name in names {
            let values = total.request_ms.get_mut(name).map(std::mem::take).unwrap_or_default();
            let mut values = values;
            let count = values.len();
            println!("  {name:<8} n={count:<7} p50={:.1} ms p99={:.1} ms", percentile(&mut values, 0.5), percentile(&mut values, 0.99));
        }
        println!("slot_taken (lost races, retried)={} other_errors={:?}", total.slot_taken, total.other_errors);
        Ok::<(), String>(())
    })
}
