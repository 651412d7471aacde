//! The office day in the building, through the real binary: devices enrolled by link, a kiosk
//! issuing walk-in tickets, and the display stream delivering each transition live and
//! replaying what a reconnecting display missed (`Last-Event-ID`).

mod common;

use std::time::Duration;

use common::*;
use prepazka_store::Backend;

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Sqlite).await })+ }
        mod postgres { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Postgres).await })+ }
    };
}

on_both_backends!(
    kiosk_ticket_reaches_the_display_live_and_on_reconnect,
    kiosk_check_in_refusals,
    officer_calls_a_ticket_to_the_display,
    supervisor_runs_counters_and_exports_the_day,
    unplanned_closure_cancels_the_day_with_notices,
);

/// A Tuesday morning in Prague (the office opens at 8:00, closes at 14:00), whenever the tests run.
const TUESDAY_MORNING: &str = "2027-03-16T08:30:00+01:00";
const TUESDAY: &str = "2027-03-16";

fn tuesday() -> chrono::NaiveDate {
    prepazka_models::identity::parse_iso_date(TUESDAY).expect("day")
}

/// The CSRF token on a staff page.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("csrf token").to_owned()
}

/// Posts a staff form; returns the status and the body.
async fn staff_post(c: &awc::Client, server: &Server, session: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut res = c.post(format!("{}{path}", server.url)).insert_header(("Cookie", session)).send_form(&fields).await.expect("staff form");
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned())
}

/// Signs in as a demo member of staff; returns the session cookie and the CSRF token.
async fn staff_session(c: &awc::Client, server: &Server, username: &str) -> (String, String) {
    let (status, session) = sign_in(c, server, username, &staff_password(server, username)).await;
    assert_eq!(status, 303);
    let session = session.expect("session cookie");
    let (_, page) = counter_page(c, server, &session, 1).await;
    (session.clone(), csrf_of(&page))
}

async fn open_counter(c: &awc::Client, server: &Server, session: &str, csrf: &str, counter: &str) {
    let (status, body) =
        staff_post(c, server, session, "/counter/state", &[("csrf", csrf), ("counter", counter), ("action", "open")]).await;
    assert_eq!(status, 303, "{body}");
}

fn enrolment_link(server: &Server, office: &str, kind: &str) -> String {
    let devices = std::fs::read_to_string(server.data_dir.join("devices.txt")).expect("devices.txt");
    let line = devices.lines().find(|l| l.starts_with(&format!("{office} {kind} "))).expect("link for office and kind");
    line.rsplit(' ').next().expect("url").to_owned()
}

/// Follows an enrolment link and returns the device cookie it sets.
async fn enrol(c: &awc::Client, link: &str) -> String {
    let res = c.get(link).send().await.expect("enrol");
    assert_eq!(res.status().as_u16(), 303);
    let set_cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("device cookie").to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    set_cookie.split(';').next().expect("name=value").to_owned()
}

async fn take_ticket(c: &awc::Client, server: &Server, kiosk: &str, service: &str) -> String {
    let mut res = c
        .post(format!("{}/kiosk/walk-in", server.url))
        .insert_header(("Cookie", kiosk))
        .insert_header(("Accept-Language", "uk"))
        .send_form(&[("service", service)])
        .await
        .expect("walk-in");
    let body = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    assert_eq!(res.status().as_u16(), 200, "{body}");
    let start = body.find("data-ticket>").expect("ticket on the page") + "data-ticket>".len();
    body[start..start + body[start..].find('<').expect("end")].to_owned()
}

async fn kiosk_ticket_reaches_the_display_live_and_on_reconnect(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    // Redirects are looked at, not followed (the enrolment answers 303 with the cookie).
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let kiosk = enrol(&c, &enrolment_link(&server, "praha-zizkov", "kiosk")).await;
    let display = enrol(&c, &enrolment_link(&server, "praha-zizkov", "display")).await;

    let mut stream = EventStream::open(&server, &display, None).await;
    let headers = stream.read_until("retry: ").await;
    assert!(headers.starts_with("HTTP/1.1 200") && headers.to_lowercase().contains("content-type: text/event-stream"), "{headers}");
    let first = take_ticket(&c, &server, &kiosk, "visa_sticker").await;
    assert_eq!(first, "V001");
    let seen = stream.read_until("\"V001\"").await;
    let id = seen.lines().find_map(|l| l.strip_prefix("id: ")).expect("event id").trim().to_owned();
    assert!(seen.contains("\"kind\":\"issued\""), "{seen}");
    drop(stream);

    // While the display is away, another ticket; on reconnect it gets exactly what it missed.
    assert_eq!(take_ticket(&c, &server, &kiosk, "visa_sticker").await, "V002");
    let mut again = EventStream::open(&server, &display, Some(&id)).await;
    let replayed = again.read_until("\"V002\"").await;
    assert!(!replayed.contains("\"V001\""), "{replayed}");

    // Devices are bound to their use: no cookie, the wrong kind, a made-up link.
    let (status, _) = get(&c, &format!("{}/display/events", server.url)).await;
    assert_eq!(status, 401);
    let res = c.get(format!("{}/display/events", server.url)).insert_header(("Cookie", kiosk.as_str())).send().await.expect("request");
    assert_eq!(res.status().as_u16(), 403);
    let res = c.get(format!("{}/enrol/{}", server.url, "ab".repeat(32))).send().await.expect("request");
    assert_eq!(res.status().as_u16(), 401);
    let res = c
        .post(format!("{}/kiosk/walk-in", server.url))
        .insert_header(("Cookie", kiosk.as_str()))
        .send_form(&[("service", "tea")])
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
}

/// Checking an appointment in at the kiosk: too early, at the wrong office, with a wrong date of
/// birth or a forged QR payload, each gets its own clear answer in the kiosk's language.
async fn kiosk_check_in_refusals(backend: Backend) {
    let server = Server::start(backend).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let token = verify_population(&c, &server, 777).await;
    let start = free_slots(&c, &server, "praha-zizkov", "visa_sticker").await.first().expect("slot").0.clone();
    let (_, held) = hold(&c, &server, &token, "praha-zizkov", "visa_sticker", &start, "h").await;
    let (status, confirmed) = confirm(&c, &server, &token, held["hold_id"].as_str().expect("id"), "c").await;
    assert_eq!(status, 201);
    let code = confirmed["bookings"][0]["booking_code"].as_str().expect("code").to_owned();
    let qr = confirmed["bookings"][0]["check_in_qr"].as_str().expect("qr").to_owned();
    let born = prepazka_actors::registry::population_birth_date(777).expect("date").to_string();
    let here = enrol(&c, &enrolment_link(&server, "praha-zizkov", "kiosk")).await;
    let elsewhere = enrol(&c, &enrolment_link(&server, "brno", "kiosk")).await;
    let check_in = |kiosk: String, fields: Vec<(&'static str, String)>| {
        let c = c.clone();
        let url = format!("{}/kiosk/check-in", server.url);
        async move {
            let mut res = c
                .post(url)
                .insert_header(("Cookie", kiosk))
                .insert_header(("Accept-Language", "uk"))
                .send_form(&fields)
                .await
                .expect("check-in");
            (res.status().as_u16(), String::from_utf8_lossy(&res.body().await.expect("body")).into_owned())
        }
    };
    let (status, page) = check_in(here.clone(), vec![("booking_code", code.clone()), ("date_of_birth", born.clone())]).await;
    assert_eq!(status, 422, "the slot is tomorrow or later: {page}");
    assert!(page.contains("Зареєструватися ще зарано"), "{page}");
    let (status, page) = check_in(here.clone(), vec![("booking_code", qr.clone())]).await;
    assert_eq!(status, 422, "the QR code alone identifies the booking: {page}");
    let (status, page) = check_in(elsewhere, vec![("booking_code", code.clone()), ("date_of_birth", born.clone())]).await;
    assert_eq!(status, 422);
    assert!(page.contains("іншого відділення"), "{page}");
    let (status, _) = check_in(here.clone(), vec![("booking_code", code.clone()), ("date_of_birth", "1900-01-01".into())]).await;
    assert_eq!(status, 404);
    let flipped = if qr.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{flipped}", &qr[..qr.len() - 1]);
    let (status, _) = check_in(here.clone(), vec![("booking_code", forged)]).await;
    assert_eq!(status, 400);
    let (status, _) = check_in(here, vec![("booking_code", "'; DROP TABLE bookings; --".into())]).await;
    assert_eq!(status, 400);
}

/// Signs in and returns the session cookie.
async fn sign_in(c: &awc::Client, server: &Server, username: &str, password: &str) -> (u16, Option<String>) {
    let res =
        c.post(format!("{}/staff/login", server.url)).send_form(&[("username", username), ("password", password)]).await.expect("login");
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap_or_default().to_owned());
    (res.status().as_u16(), cookie)
}

fn staff_password(server: &Server, username: &str) -> String {
    let staff = std::fs::read_to_string(server.data_dir.join("staff.txt")).expect("staff.txt");
    staff.lines().find_map(|l| l.strip_prefix(&format!("{username} "))).expect("demo officer").to_owned()
}

async fn counter_page(c: &awc::Client, server: &Server, session: &str, counter: u16) -> (u16, String) {
    let mut res =
        c.get(format!("{}/counter?counter={counter}", server.url)).insert_header(("Cookie", session)).send().await.expect("counter page");
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned())
}

/// An officer signs in, calls the kiosk's ticket to counter 3, and the display stream shows the
/// call; forms without the session's CSRF token, or without a session, are refused.
async fn officer_calls_a_ticket_to_the_display(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    assert_eq!(sign_in(&c, &server, "officer-praha-zizkov", "wrong-password").await.0, 401);
    let (status, session) = sign_in(&c, &server, "officer-praha-zizkov", &staff_password(&server, "officer-praha-zizkov")).await;
    assert_eq!(status, 303);
    let session = session.expect("session cookie");
    let kiosk = enrol(&c, &enrolment_link(&server, "praha-zizkov", "kiosk")).await;
    let display = enrol(&c, &enrolment_link(&server, "praha-zizkov", "display")).await;
    let mut stream = EventStream::open(&server, &display, None).await;
    stream.read_until("retry: ").await;
    assert_eq!(take_ticket(&c, &server, &kiosk, "interview").await, "I001");

    let (status, page) = counter_page(&c, &server, &session, 3).await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    assert!(page.contains("data-counter-status=\"closed\""), "a counter starts closed");
    let call = |fields: Vec<(&'static str, String)>, cookie: Option<String>| {
        let c = c.clone();
        let url = format!("{}/counter/call", server.url);
        async move {
            let mut req = c.post(url);
            if let Some(cookie) = cookie {
                req = req.insert_header(("Cookie", cookie));
            }
            req.send_form(&fields).await.expect("call").status().as_u16()
        }
    };
    assert_eq!(
        call(vec![("csrf", "forged".into()), ("counter", "3".into()), ("service", "interview".into())], Some(session.clone())).await,
        403
    );
    assert_eq!(call(vec![("csrf", csrf.clone()), ("counter", "3".into()), ("service", "interview".into())], None).await, 401);
    assert_eq!(
        call(vec![("csrf", csrf.clone()), ("counter", "3".into()), ("service", "interview".into())], Some(session.clone())).await,
        409,
        "a closed counter calls nobody"
    );
    open_counter(&c, &server, &session, &csrf, "3").await;
    open_counter(&c, &server, &session, &csrf, "4").await;
    assert_eq!(
        call(vec![("csrf", csrf.clone()), ("counter", "3".into()), ("service", "interview".into())], Some(session.clone())).await,
        303
    );
    let seen = stream.read_until("\"called\"").await;
    assert!(seen.contains("\"ticket\":\"I001\"") && seen.contains("\"counter\":3"), "{seen}");
    let (_, page) = counter_page(&c, &server, &session, 3).await;
    assert!(page.contains("data-current-ticket>I001<"), "the counter shows its ticket");
    assert!(page.contains("data-light=\"identity\" data-colour=\"amber\""), "a walk-in's identity is checked at the desk: {page}");
    // Nobody else waits for an interview.
    assert_eq!(
        call(vec![("csrf", csrf.clone()), ("counter", "4".into()), ("service", "interview".into())], Some(session.clone())).await,
        409
    );
    let done = c
        .post(format!("{}/counter/ticket", server.url))
        .insert_header(("Cookie", session.as_str()))
        .send_form(&[("csrf", csrf.as_str()), ("counter", "3"), ("ticket", "I001"), ("action", "complete")])
        .await
        .expect("complete");
    assert_eq!(done.status().as_u16(), 303);
    stream.read_until("\"completed\"").await;
}

/// `kill -9` while a kiosk issues tickets and two counters call them, several times: every
/// ticket the kiosk printed and every call a counter was shown is in the store after the crash,
/// the day's sequence is gap-free, no ticket was called twice, and numbering goes on after the
/// restart.
#[actix_rt::test]
async fn calling_survives_kill9() {
    use std::sync::{Arc, Mutex};
    let mut server = Server::start_at(Backend::Sqlite, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(5)).finish();
    let printed = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut calls_acknowledged = 0usize;
    for round in 0..6 {
        let kiosk = enrol(&c, &enrolment_link(&server, "brno", "kiosk")).await;
        let (_, session) = sign_in(&c, &server, "officer-brno", &staff_password(&server, "officer-brno")).await;
        let session = session.expect("session");
        let (_, page) = counter_page(&c, &server, &session, 1).await;
        let csrf = csrf_of(&page);
        open_counter(&c, &server, &session, &csrf, "1").await;
        open_counter(&c, &server, &session, &csrf, "2").await;
        let issuing = {
            let (c, url, printed) = (c.clone(), server.url.clone(), printed.clone());
            actix_rt::spawn(async move {
                loop {
                    let Ok(mut res) = c
                        .post(format!("{url}/kiosk/walk-in"))
                        .insert_header(("Cookie", kiosk.as_str()))
                        .send_form(&[("service", "visa_sticker")])
                        .await
                    else {
                        return;
                    };
                    let Ok(body) = res.body().await else { return };
                    let body = String::from_utf8_lossy(&body);
                    if let Some(start) = body.find("data-ticket>") {
                        let rest = &body[start + "data-ticket>".len()..];
                        printed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(rest[..rest.find('<').unwrap_or(0)].to_owned());
                    }
                }
            })
        };
        let calling: Vec<_> = (1..=2u16)
            .map(|counter| {
                let (c, url, session, csrf) = (c.clone(), server.url.clone(), session.clone(), csrf.clone());
                actix_rt::spawn(async move {
                    let mut acknowledged = 0;
                    loop {
                        let fields =
                            [("csrf", csrf.as_str()), ("counter", if counter == 1 { "1" } else { "2" }), ("service", "visa_sticker")];
                        match c.post(format!("{url}/counter/call")).insert_header(("Cookie", session.as_str())).send_form(&fields).await {
                            Ok(res) if res.status().as_u16() == 303 => {
                                acknowledged += 1;
                                // Finish with the client before calling the next one.
                                let page = c
                                    .get(format!("{url}/counter?counter={counter}"))
                                    .insert_header(("Cookie", session.as_str()))
                                    .send()
                                    .await;
                                let Ok(mut page) = page else { return acknowledged };
                                let Ok(body) = page.body().limit(16 << 20).await else { return acknowledged };
                                let body = String::from_utf8_lossy(&body).into_owned();
                                let Some(ticket) = body.split("data-current-ticket>").nth(1).and_then(|rest| rest.split('<').next()) else {
                                    continue;
                                };
                                let counter_field = counter.to_string();
                                let done = [
                                    ("csrf", csrf.as_str()),
                                    ("counter", counter_field.as_str()),
                                    ("ticket", ticket),
                                    ("action", "complete"),
                                ];
                                if c.post(format!("{url}/counter/ticket"))
                                    .insert_header(("Cookie", session.as_str()))
                                    .send_form(&done)
                                    .await
                                    .is_err()
                                {
                                    return acknowledged;
                                }
                            }
                            Ok(_) => actix_rt::time::sleep(Duration::from_millis(5)).await,
                            Err(_) => return acknowledged,
                        }
                    }
                })
            })
            .collect();
        actix_rt::time::sleep(Duration::from_millis(300 + (rand_u64() % 500))).await;
        server.kill9();
        let _ = issuing.await;
        for caller in calling {
            calls_acknowledged += caller.await.unwrap_or(0);
        }
        let store = server.store().await;
        let office = prepazka_models::ids::OfficeId::parse("brno").expect("id");
        let day = tuesday();
        let events = store.queue_events(&office, day, 0).await.expect("events");
        assert!(events.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1), "round {round}: gap-free");
        let issued: std::collections::BTreeSet<String> =
            events.iter().filter(|e| e.event.kind() == "issued").map(|e| e.event.ticket().to_string()).collect();
        for ticket in printed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            assert!(issued.contains(ticket), "round {round}: printed ticket {ticket} lost");
        }
        let called: Vec<String> = events.iter().filter(|e| e.event.kind() == "called").map(|e| e.event.ticket().to_string()).collect();
        let unique: std::collections::BTreeSet<&String> = called.iter().collect();
        assert_eq!(unique.len(), called.len(), "round {round}: a ticket called twice");
        assert!(called.len() >= calls_acknowledged, "round {round}: {} calls stored, {calls_acknowledged} acknowledged", called.len());
        store.close().await;
        server.spawn();
    }
    let printed = printed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
    assert!(printed > 6 && calls_acknowledged > 0, "load ran: {printed} tickets, {calls_acknowledged} calls");
}

/// The client's phone follows the ticket from the link in the ticket's QR code: waiting, then
/// "go to counter 5" once called; a link with a wrong tag shows nothing.
#[actix_rt::test]
async fn phone_follows_its_ticket() {
    let server = Server::start_at(Backend::Sqlite, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let kiosk = enrol(&c, &enrolment_link(&server, "brno", "kiosk")).await;
    let mut res = c
        .post(format!("{}/kiosk/walk-in", server.url))
        .insert_header(("Cookie", kiosk.as_str()))
        .send_form(&[("service", "card_pickup")])
        .await
        .expect("walk-in");
    let page = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    let link = page
        .split("href=\"")
        .find(|p| p.starts_with("/t/brno/"))
        .and_then(|p| p.split('"').next())
        .expect("live link")
        .replace("&amp;", "&");
    assert!(page.contains("<svg"), "the ticket carries a QR code");
    let phone = |path: String| {
        let c = c.clone();
        let url = format!("{}{path}", server.url);
        async move {
            let mut res = c.get(url).insert_header(("Accept-Language", "vi")).send().await.expect("phone");
            (res.status().as_u16(), String::from_utf8_lossy(&res.body().await.expect("body")).into_owned())
        }
    };
    let (status, waiting) = phone(link.clone()).await;
    assert_eq!(status, 200, "{waiting}");
    assert!(waiting.contains("Vui lòng chờ") && waiting.contains("data-ticket>P001<"), "{waiting}");
    let (_, session) = sign_in(&c, &server, "officer-brno", &staff_password(&server, "officer-brno")).await;
    let session = session.expect("session");
    let (_, counter) = counter_page(&c, &server, &session, 5).await;
    let csrf = csrf_of(&counter);
    open_counter(&c, &server, &session, &csrf, "5").await;
    let called = c
        .post(format!("{}/counter/call", server.url))
        .insert_header(("Cookie", session.as_str()))
        .send_form(&[("csrf", csrf.as_str()), ("counter", "5"), ("service", "card_pickup")])
        .await
        .expect("call");
    assert_eq!(called.status().as_u16(), 303);
    let (_, now_called) = phone(link.clone()).await;
    assert!(now_called.contains("Vui lòng đến quầy 5"), "{now_called}");
    let flipped = if link.ends_with('0') { '1' } else { '0' };
    let (status, _) = phone(format!("{}{flipped}", &link[..link.len() - 1])).await;
    assert_eq!(status, 404);
    let (status, _) = phone(link.replace("P001", "P002")).await;
    assert_eq!(status, 404, "a tag opens one ticket only");
}

/// A supervisor assigns services and opens counters, sees the queues and the charts, and
/// exports the day as CSV (ticket numbers and times, never a name); officers call only for
/// the services their counter is assigned, and may flag a waiting ticket as priority.
async fn supervisor_runs_counters_and_exports_the_day(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let (officer, officer_csrf) = staff_session(&c, &server, "officer-praha-zizkov").await;
    let (status, supervisor) = sign_in(&c, &server, "supervisor-praha-zizkov", &staff_password(&server, "supervisor-praha-zizkov")).await;
    assert_eq!(status, 303);
    let supervisor = supervisor.expect("session");
    let page = |session: String| {
        let c = c.clone();
        let url = format!("{}/supervisor", server.url);
        async move {
            let mut res =
                c.get(url).insert_header(("Cookie", session)).insert_header(("Accept-Language", "en")).send().await.expect("page");
            (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned())
        }
    };
    assert_eq!(page(officer.clone()).await.0, 403, "officers do not supervise");
    let (status, overview) = page(supervisor.clone()).await;
    assert_eq!(status, 200, "{overview}");
    let csrf = csrf_of(&overview);
    assert!(overview.contains("data-chart=\"waiting\"") && overview.contains("data-counters"), "{overview}");

    // Counter 2 serves interviews only.
    let form = [("csrf", csrf.as_str()), ("counter", "2"), ("action", "assign"), ("service", "interview")];
    assert_eq!(staff_post(&c, &server, &supervisor, "/supervisor/counter", &form).await.0, 303);
    let form = [("csrf", csrf.as_str()), ("counter", "2"), ("action", "assign"), ("service", "tea")];
    assert_eq!(staff_post(&c, &server, &supervisor, "/supervisor/counter", &form).await.0, 400);
    open_counter(&c, &server, &officer, &officer_csrf, "2").await;
    let kiosk = enrol(&c, &enrolment_link(&server, "praha-zizkov", "kiosk")).await;
    assert_eq!(take_ticket(&c, &server, &kiosk, "visa_sticker").await, "V001");
    assert_eq!(take_ticket(&c, &server, &kiosk, "visa_sticker").await, "V002");
    let call = [("csrf", officer_csrf.as_str()), ("counter", "2")];
    assert_eq!(staff_post(&c, &server, &officer, "/counter/call", &call).await.0, 409, "counter 2 does not serve visas");
    let form = [("csrf", csrf.as_str()), ("counter", "2"), ("action", "assign"), ("service", "interview"), ("service", "visa_sticker")];
    assert_eq!(staff_post(&c, &server, &supervisor, "/supervisor/counter", &form).await.0, 303);
    // V002 flagged as priority goes before V001.
    let flag = [("csrf", officer_csrf.as_str()), ("counter", "2"), ("ticket", "V002"), ("action", "priority")];
    assert_eq!(staff_post(&c, &server, &officer, "/counter/ticket", &flag).await.0, 303);
    assert_eq!(staff_post(&c, &server, &officer, "/counter/ticket", &flag).await.0, 409, "already priority");
    assert_eq!(staff_post(&c, &server, &officer, "/counter/call", &call).await.0, 303);
    let (_, counter) = counter_page(&c, &server, &officer, 2).await;
    assert!(counter.contains("data-current-ticket>V002<"), "{counter}");
    let close = [("csrf", officer_csrf.as_str()), ("counter", "2"), ("action", "close")];
    assert_eq!(staff_post(&c, &server, &officer, "/counter/state", &close).await.0, 409, "a counter with a client finishes first");
    let done = [("csrf", officer_csrf.as_str()), ("counter", "2"), ("ticket", "V002"), ("action", "complete")];
    assert_eq!(staff_post(&c, &server, &officer, "/counter/ticket", &done).await.0, 303);

    let (_, overview) = page(supervisor.clone()).await;
    let visas = overview.split("data-service=\"visa_sticker\"").nth(1).expect("visa row");
    assert!(visas.contains("data-waiting>1<"), "V001 still waits: {visas}");
    let mut res =
        c.get(format!("{}/supervisor/day.csv", server.url)).insert_header(("Cookie", supervisor.as_str())).send().await.expect("csv");
    assert_eq!(res.status().as_u16(), 200);
    let csv = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("ticket,service,origin,priority,arrived"), "{csv}");
    assert_eq!(lines.len(), 3, "{csv}");
    let v002 = lines.iter().find(|l| l.starts_with("V002,")).expect("V002 row");
    assert!(v002.contains(",walk_in,true,") && v002.contains(",done,2,"), "{v002}");
    let (status, _) =
        staff_post(&c, &server, &supervisor, "/supervisor/counter", &[("csrf", "forged"), ("counter", "2"), ("action", "close")]).await;
    assert_eq!(status, 403);
}

/// An unplanned closure cancels every booking of the day in one step, writes a notice with a
/// rebooking link for each person, takes the day off sale, and is audited; kiosks stop issuing
/// walk-in tickets that day.
async fn unplanned_closure_cancels_the_day_with_notices(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let mut codes = Vec::new();
    let mut day = String::new();
    for (n, person) in [501u32, 502].into_iter().enumerate() {
        let token = verify_population(&c, &server, person).await;
        let slots = free_slots_from(&c, &server, "praha-zizkov", "interview", tuesday()).await;
        let start = slots.first().expect("a slot on a later day").0.clone();
        day = start[..10].to_owned();
        let (status, held) = hold(&c, &server, &token, "praha-zizkov", "interview", &start, &format!("h{n}")).await;
        assert_eq!(status, 201, "{held}");
        let (status, confirmed) = confirm(&c, &server, &token, held["hold_id"].as_str().expect("id"), &format!("c{n}")).await;
        assert_eq!(status, 201);
        codes.push(confirmed["bookings"][0]["booking_code"].as_str().expect("code").to_owned());
    }
    let (supervisor, _) = staff_session(&c, &server, "supervisor-praha-zizkov").await;
    let (_, overview) = {
        let mut res =
            c.get(format!("{}/supervisor", server.url)).insert_header(("Cookie", supervisor.as_str())).send().await.expect("page");
        (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned())
    };
    let csrf = csrf_of(&overview);
    let close = [("csrf", csrf.as_str()), ("day", day.as_str()), ("reason", "power outage")];
    assert_eq!(staff_post(&c, &server, &supervisor, "/supervisor/close-day", &close).await.0, 303);
    assert_eq!(staff_post(&c, &server, &supervisor, "/supervisor/close-day", &close).await.0, 422, "closed already");
    let past = [("csrf", csrf.as_str()), ("day", "2027-03-15"), ("reason", "too late")];
    assert_eq!(staff_post(&c, &server, &supervisor, "/supervisor/close-day", &past).await.0, 422, "the past cannot be closed");

    let store = server.store().await;
    for code in &codes {
        let code = prepazka_models::ids::BookingCode::parse(code).expect("code");
        let booking = store.booking_by_code(&code).await.expect("read").expect("booking");
        assert_eq!(booking.status, prepazka_models::booking::BookingStatus::Cancelled);
    }
    let notices: Vec<_> = store.outbox().await.expect("outbox").into_iter().filter(|m| m.kind == "closure_notice").collect();
    assert_eq!(notices.len(), 2);
    assert!(notices.iter().all(|n| n.payload["rebook"] == "/offices/praha-zizkov"));
    let audit = store.audit_for("praha-zizkov").await.expect("audit");
    assert!(audit.iter().any(|a| a.action == "close_office" && a.actor == "supervisor-praha-zizkov"));
    let token = verify_population(&c, &server, 503).await;
    let slots = free_slots_from(&c, &server, "praha-zizkov", "interview", tuesday()).await;
    assert!(!slots.is_empty() && slots.iter().all(|(s, _)| !s.starts_with(&day)), "the closed day is off sale");
    let closed_start = format!("{day}T09:00:00+01:00");
    let (status, refused) = hold(&c, &server, &token, "praha-zizkov", "interview", &closed_start, "h-closed").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"], "office_closed_on_day");
    store.close().await;
}

/// The entrance QR code on the display rotates: a fresh one opens a page where a phone takes a
/// walk-in ticket and lands on its live page; an old or forged one is refused, and one phone
/// cannot take tickets without end.
#[actix_rt::test]
async fn remote_join_by_rotating_entrance_code() {
    let server = Server::start_at(Backend::Sqlite, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let display = enrol(&c, &enrolment_link(&server, "brno", "display")).await;
    let mut res = c.get(format!("{}/display/join.svg", server.url)).insert_header(("Cookie", display.as_str())).send().await.expect("qr");
    assert_eq!(res.status().as_u16(), 200);
    let svg = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    let link = svg.split("<desc>").nth(1).and_then(|d| d.split("</desc>").next()).expect("link in the QR's description").to_owned();
    let path = link.trim_start_matches(&server.url).to_owned();
    assert!(path.starts_with("/join/brno/"), "{path}");
    let mut res = c.get(&link).send().await.expect("join page");
    assert_eq!(res.status().as_u16(), 200);
    let page = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    assert!(page.contains("value=\"visa_sticker\""), "{page}");
    let take = |url: String| {
        let c = c.clone();
        async move {
            let res = c.post(url).send_form(&[("service", "visa_sticker")]).await.expect("take");
            (res.status().as_u16(), res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned())
        }
    };
    let (status, location) = take(link.clone()).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/t/brno/2027-03-16/V001?k="), "{location}");
    let (status, _) = c.get(format!("{}{location}", server.url)).send().await.map(|r| (r.status().as_u16(), ())).expect("live page");
    assert_eq!(status, 200);
    let parts: Vec<&str> = path.split('/').collect();
    let window: i64 = parts[3].parse().expect("window");
    let old = format!("{}/join/brno/{}/{}", server.url, window - 2, parts[4]);
    assert_eq!(take(old).await.0, 410, "an old code has expired");
    let forged = format!("{}/join/brno/{window}/{}", server.url, "0".repeat(16));
    assert_eq!(c.get(forged).send().await.expect("forged").status().as_u16(), 410);
    assert_eq!(take(link.clone()).await.0, 303);
    assert_eq!(take(link.clone()).await.0, 303);
    assert_eq!(take(link).await.0, 429, "three tickets per phone per quarter hour");
}

async fn kiosk_page_en(c: &awc::Client, server: &Server, kiosk: &str) -> String {
    let mut res = c
        .get(format!("{}/kiosk", server.url))
        .insert_header(("Cookie", kiosk))
        .insert_header(("Accept-Language", "en"))
        .send()
        .await
        .expect("kiosk");
    String::from_utf8_lossy(&res.body().await.expect("body")).into_owned()
}

/// Walk-in tickets stop half an hour before closing, and the kiosk says until when they are issued.
#[actix_rt::test]
async fn walk_in_tickets_stop_before_closing() {
    // Tuesday: open until 14:00.
    let server = Server::start_at(Backend::Sqlite, "2027-03-16T13:40:00+01:00").await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let kiosk = enrol(&c, &enrolment_link(&server, "brno", "kiosk")).await;
    let page = kiosk_page_en(&c, &server, &kiosk).await;
    assert!(page.contains("No more walk-in tickets"), "{page}");
    let mut res = c
        .post(format!("{}/kiosk/walk-in", server.url))
        .insert_header(("Cookie", kiosk.as_str()))
        .insert_header(("Accept-Language", "en"))
        .send_form(&[("service", "visa_sticker")])
        .await
        .expect("walk-in");
    assert_eq!(res.status().as_u16(), 422);
    let body = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    assert!(body.contains("No more walk-in tickets"), "{body}");
    drop(server);
    let server = Server::start_at(Backend::Sqlite, "2027-03-16T09:00:00+01:00").await;
    let kiosk = enrol(&c, &enrolment_link(&server, "brno", "kiosk")).await;
    let page = kiosk_page_en(&c, &server, &kiosk).await;
    assert!(page.contains("issued today until 13:30"), "{page}");
}
