//! Assisted booking through the real binary: an officer books, reschedules and cancels for a
//! person without internet under the online flow's rules and caps, the audit names the officer,
//! and an officer cannot work for another office or without the session's CSRF token.

mod common;

use std::time::Duration;

use common::*;
use prepazka_actors::registry::{population_birth_date, population_number, population_pin};
use prepazka_store::Backend;

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Sqlite).await })+ }
        mod postgres { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Postgres).await })+ }
    };
}

on_both_backends!(assisted_booking_keeps_the_online_rules, assisted_reschedule_and_cancel_free_the_seat, assist_pages_refuse_bad_requests);

/// A Tuesday morning in Prague, whenever the tests run.
const TUESDAY_MORNING: &str = "2027-03-16T08:30:00+01:00";
const OFFICER: &str = "officer-praha-zizkov";

fn tuesday() -> chrono::NaiveDate {
    prepazka_models::identity::parse_iso_date("2027-03-16").expect("day")
}

fn staff_password(server: &Server, username: &str) -> String {
    let staff = std::fs::read_to_string(server.data_dir.join("staff.txt")).expect("staff.txt");
    staff.lines().find_map(|l| l.strip_prefix(&format!("{username} "))).expect("demo member of staff").to_owned()
}

/// The value of the hidden field `name` on a page.
fn hidden(page: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    page.split(&needle).nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_else(|| panic!("no {name} on {page}")).to_owned()
}

fn booking_code(page: &str) -> String {
    let start = page.find("data-booking-code>").expect("booking code on the page") + "data-booking-code>".len();
    page[start..start + page[start..].find('<').expect("end")].to_owned()
}

struct Staff {
    cookie: String,
    csrf: String,
}

async fn sign_in(c: &awc::Client, server: &Server, username: &str) -> Staff {
    let res = c
        .post(format!("{}/staff/login", server.url))
        .send_form(&[("username", username), ("password", &staff_password(server, username))])
        .await
        .expect("login");
    assert_eq!(res.status().as_u16(), 303);
    let cookie =
        res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).expect("cookie").to_owned();
    let (status, page) = page(c, server, &cookie, "/counter/assist").await;
    assert_eq!(status, 200, "{page}");
    Staff { csrf: hidden(&page, "csrf"), cookie }
}

async fn page(c: &awc::Client, server: &Server, cookie: &str, path: &str) -> (u16, String) {
    let mut res = c
        .get(format!("{}{path}", server.url))
        .insert_header(("Cookie", cookie))
        .insert_header(("Accept-Language", "en"))
        .send()
        .await
        .expect("get");
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned())
}

async fn post(c: &awc::Client, server: &Server, cookie: &str, path: &str, fields: &impl serde::Serialize, lang: &str) -> (u16, String) {
    let mut res = c
        .post(format!("{}{path}", server.url))
        .insert_header(("Cookie", cookie))
        .insert_header(("Accept-Language", lang))
        .send_form(fields)
        .await
        .expect("post");
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned())
}

/// Verifies synthetic person `n` at the desk (registration number and PIN) for a visa sticker
/// at `start`; returns the page with the booking form.
async fn verify_at_desk(c: &awc::Client, server: &Server, staff: &Staff, n: u32, start: &str) -> (u16, String) {
    let (number, pin) = (population_number(n), population_pin(n));
    let fields = [
        ("csrf", staff.csrf.as_str()),
        ("office", "praha-zizkov"),
        ("service", "visa_sticker"),
        ("start", start),
        ("method", "registration"),
        ("registration_number", &number),
        ("pin", &pin),
    ];
    post(c, server, &staff.cookie, "/counter/assist/verify", &fields, "en").await
}

/// Books synthetic person `n` at the desk: verify, then book and confirm (e-mail optional).
async fn book_at_desk(c: &awc::Client, server: &Server, staff: &Staff, n: u32, start: &str, email: &str) -> (u16, String) {
    let (status, form) = verify_at_desk(c, server, staff, n, start).await;
    assert_eq!(status, 200, "{form}");
    let (identity, idem) = (hidden(&form, "identity"), hidden(&form, "idem"));
    let fields = [
        ("csrf", staff.csrf.as_str()),
        ("office", "praha-zizkov"),
        ("service", "visa_sticker"),
        ("start", start),
        ("identity", &identity),
        ("idem", &idem),
        ("email", email),
        ("locale", "uk"),
    ];
    post(c, server, &staff.cookie, "/counter/assist/book", &fields, "en").await
}

/// Books synthetic person `n` online (the public API); returns the confirm answer.
async fn book_online(c: &awc::Client, server: &Server, n: u32, office: &str, start: &str) -> (u16, serde_json::Value) {
    let token = verify_population(c, server, n).await;
    let (status, held) = hold(c, server, &token, office, "visa_sticker", start, &format!("h{n}")).await;
    if status != 201 {
        return (status, held);
    }
    confirm(c, server, &token, held["hold_id"].as_str().expect("hold id"), &format!("c{n}")).await
}

async fn free_at(c: &awc::Client, server: &Server, start: &str) -> u64 {
    free_slots_from(c, server, "praha-zizkov", "visa_sticker", tuesday()).await.into_iter().find(|(s, _)| s == start).map_or(0, |(_, f)| f)
}

/// Capacity and the one-booking-per-person-and-service cap hold whoever books; the booking is
/// audited under the officer; no e-mail, no message (the page prints the confirmation).
async fn assisted_booking_keeps_the_online_rules(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let staff = sign_in(&c, &server, OFFICER).await;
    let (_, counter) = page(&c, &server, &staff.cookie, "/counter").await;
    assert!(counter.contains("href=\"/counter/assist\""), "the counter page links to assisted booking");

    let slots = free_slots_from(&c, &server, "praha-zizkov", "visa_sticker", tuesday()).await;
    let (first, capacity) = slots.first().cloned().expect("a free slot");
    let second = slots.iter().find(|(s, _)| *s != first).expect("another slot").0.clone();

    // At the desk, without e-mail: booked, printable, audited under the officer, no message.
    let (status, booked) = book_at_desk(&c, &server, &staff, 301, &first, "").await;
    assert_eq!(status, 200, "{booked}");
    assert!(booked.contains("window.print()") && booked.contains("<svg"), "a printable confirmation with its QR code");
    assert!(booked.contains("lang=\"uk\""), "the confirmation is in the person's language");
    let code = booking_code(&booked);
    let store = server.store().await;
    let booking =
        store.booking_by_code(&prepazka_models::ids::BookingCode::parse(&code).expect("code")).await.expect("read").expect("booked");
    assert_eq!(booking.email, None);
    let audit = store.audit_for(&booking.hold_ref).await.expect("audit");
    let actions: Vec<(&str, &str)> = audit.iter().map(|a| (a.action.as_str(), a.actor.as_str())).collect();
    assert_eq!(actions, [("hold", OFFICER), ("confirm", OFFICER)]);
    assert!(store.outbox().await.expect("outbox").iter().all(|m| m.booking_id != Some(booking.id)), "no address, no message");
    assert_eq!(free_at(&c, &server, &first).await, capacity - 1);

    // The same person online, same service, another time: the cap refuses it.
    let (status, body) = book_online(&c, &server, 301, "praha-zizkov", &second).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("person_cap_reached")), "{body}");
    // And the other way round: booked online first, then at the desk.
    let (status, _) = book_online(&c, &server, 302, "praha-zizkov", &second).await;
    assert_eq!(status, 201);
    let (status, refused) = book_at_desk(&c, &server, &staff, 302, &first, "").await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("already have a booking for this service"), "{refused}");

    // With e-mail: the confirmation message is queued as online.
    let (status, booked) = book_at_desk(&c, &server, &staff, 303, &first, "client303@example.cz").await;
    assert_eq!(status, 200, "{booked}");
    let code = prepazka_models::ids::BookingCode::parse(&booking_code(&booked)).expect("code");
    let with_mail = store.booking_by_code(&code).await.expect("read").expect("booked");
    assert_eq!(with_mail.email.as_deref(), Some("client303@example.cz"));
    assert!(store.outbox().await.expect("outbox").iter().any(|m| m.kind == "booking_confirmed" && m.booking_id == Some(with_mail.id)));

    // Fill the slot online; the desk gets the same refusal as anyone.
    let left = free_at(&c, &server, &first).await;
    for n in 0..left {
        let (status, body) = book_online(&c, &server, 400 + n as u32, "praha-zizkov", &first).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, full) = book_at_desk(&c, &server, &staff, 399, &first, "").await;
    assert_eq!(status, 409, "{full}");
    assert!(full.contains("Someone else has just taken this time"), "{full}");
    assert_eq!(free_at(&c, &server, &first).await, 0);
}

/// An officer finds a booking by code and date of birth, moves it and cancels it: the seats
/// follow, and the audit names the officer.
async fn assisted_reschedule_and_cancel_free_the_seat(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let staff = sign_in(&c, &server, OFFICER).await;
    let slots = free_slots_from(&c, &server, "praha-zizkov", "visa_sticker", tuesday()).await;
    let (first, capacity) = slots.first().cloned().expect("a free slot");
    let second = slots.iter().find(|(s, _)| *s != first).expect("another slot").0.clone();
    let (status, confirmed) = book_online(&c, &server, 501, "praha-zizkov", &first).await;
    assert_eq!(status, 201, "{confirmed}");
    let code = confirmed["bookings"][0]["booking_code"].as_str().expect("code").to_owned();
    let born = population_birth_date(501).expect("date").to_string();
    let keep = |extra: &[(&'static str, String)]| {
        let mut fields = vec![
            ("csrf", staff.csrf.clone()),
            ("office", "praha-zizkov".to_owned()),
            ("booking_code", code.clone()),
            ("date_of_birth", born.clone()),
        ];
        fields.extend(extra.iter().cloned());
        fields
    };

    let found = keep(&[]);
    let (status, page) = post(&c, &server, &staff.cookie, "/counter/assist/find", &found, "en").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("/counter/assist/reschedule") && page.contains("/counter/assist/cancel"), "{page}");
    let idem = hidden(&page, "idem");

    let moved = keep(&[("starts_at", second.clone()), ("idem", idem)]);
    let (status, page) = post(&c, &server, &staff.cookie, "/counter/assist/reschedule", &moved, "en").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(free_at(&c, &server, &first).await, capacity, "the old seat is free again");
    assert_eq!(free_at(&c, &server, &second).await, capacity - 1);

    let (status, page) = post(&c, &server, &staff.cookie, "/counter/assist/cancel", &found, "en").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(free_at(&c, &server, &second).await, capacity, "the cancelled seat is free again");

    let store = server.store().await;
    let booking =
        store.booking_by_code(&prepazka_models::ids::BookingCode::parse(&code).expect("code")).await.expect("read").expect("booking");
    assert_eq!(booking.status, prepazka_models::booking::BookingStatus::Cancelled);
    let audit = store.audit_for(&booking.hold_ref).await.expect("audit");
    let by_officer: Vec<&str> = audit.iter().filter(|a| a.actor == OFFICER).map(|a| a.action.as_str()).collect();
    assert_eq!(by_officer, ["reschedule", "cancel"]);
    assert!(audit.iter().all(|a| !a.detail.to_string().contains(&born)), "no date of birth in the audit");
    // The person had given an e-mail online: they hear about both changes.
    let kinds: Vec<String> =
        store.outbox().await.expect("outbox").into_iter().filter(|m| m.booking_id == Some(booking.id)).map(|m| m.kind).collect();
    assert!(kinds.contains(&"booking_rescheduled".to_owned()) && kinds.contains(&"booking_cancelled".to_owned()), "{kinds:?}");

    // Cancelled already: a second cancel is refused, not a 500.
    let (status, _) = post(&c, &server, &staff.cookie, "/counter/assist/cancel", &found, "en").await;
    assert_eq!(status, 409);
}

/// Without a session, without the CSRF token, for another office, with a wrong role or with
/// malformed input: a localised 4xx, never a 500.
async fn assist_pages_refuse_bad_requests(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let start = free_slots_from(&c, &server, "praha-zizkov", "visa_sticker", tuesday()).await.first().expect("slot").0.clone();

    let (status, _) = page(&c, &server, "pz_staff=nothing", "/counter/assist").await;
    assert_eq!(status, 401);
    let staff = sign_in(&c, &server, OFFICER).await;

    // No CSRF token, or someone else's: refused before anything is looked at.
    let (number, pin) = (population_number(601), population_pin(601));
    let mut fields = vec![
        ("office", "praha-zizkov".to_owned()),
        ("service", "visa_sticker".to_owned()),
        ("start", start.clone()),
        ("method", "registration".to_owned()),
        ("registration_number", number),
        ("pin", pin),
    ];
    let (status, body) = post(&c, &server, &staff.cookie, "/counter/assist/verify", &fields, "cs").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Platnost formuláře vypršela"), "{body}");
    for path in ["/counter/assist/book", "/counter/assist/find", "/counter/assist/cancel", "/counter/assist/reschedule"] {
        let (status, _) = post(&c, &server, &staff.cookie, path, &[("csrf", "forged")], "en").await;
        assert_eq!(status, 403, "{path}");
    }

    // The officer of Praha II cannot book at Brno, nor manage a Brno booking.
    fields.push(("csrf", staff.csrf.clone()));
    let mut brno = fields.clone();
    brno[0].1 = "brno".into();
    let (status, _) = post(&c, &server, &staff.cookie, "/counter/assist/verify", &brno, "en").await;
    assert_eq!(status, 403);
    let brno_start = free_slots_from(&c, &server, "brno", "visa_sticker", tuesday()).await.first().expect("slot").0.clone();
    let (status, confirmed) = book_online(&c, &server, 602, "brno", &brno_start).await;
    assert_eq!(status, 201, "{confirmed}");
    let code = confirmed["bookings"][0]["booking_code"].as_str().expect("code").to_owned();
    let born = population_birth_date(602).expect("date").to_string();
    let find = [("csrf", staff.csrf.as_str()), ("office", "praha-zizkov"), ("booking_code", &code), ("date_of_birth", &born)];
    let (status, body) = post(&c, &server, &staff.cookie, "/counter/assist/find", &find, "en").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("another office"), "{body}");
    let (status, _) = post(&c, &server, &staff.cookie, "/counter/assist/cancel", &find, "en").await;
    assert_eq!(status, 422);

    // The administrator has no counter, so no assisted booking either.
    let admin = c
        .post(format!("{}/staff/login", server.url))
        .send_form(&[("username", "administrator"), ("password", &staff_password(&server, "administrator"))])
        .await
        .expect("login");
    let admin_cookie =
        admin.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).expect("cookie").to_owned();
    assert_eq!(page(&c, &server, &admin_cookie, "/counter/assist").await.0, 403);

    // Malformed input gets its own 4xx.
    let cases: [(&str, u16); 4] = [
        ("/counter/assist/slots?service=tea", 400),
        ("/counter/assist/slots?service=visa_sticker&day=someday", 400),
        ("/counter/assist/identity?service=visa_sticker&start=tomorrow", 400),
        ("/counter/assist/identity?service=visa_sticker", 400),
    ];
    for (path, expected) in cases {
        assert_eq!(page(&c, &server, &staff.cookie, path).await.0, expected, "{path}");
    }
    let (status, _) = page(&c, &server, &staff.cookie, "/counter/assist/slots?service=visa_sticker").await;
    assert_eq!(status, 200);
    let wrong_pin = [
        ("csrf", staff.csrf.as_str()),
        ("office", "praha-zizkov"),
        ("service", "visa_sticker"),
        ("start", &start),
        ("method", "registration"),
        ("registration_number", "POP-00000601"),
        ("pin", "0000"),
    ];
    let (status, body) = post(&c, &server, &staff.cookie, "/counter/assist/verify", &wrong_pin, "uk").await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body.contains("lang=\"uk\""), "{body}");
    let no_method = [("csrf", staff.csrf.as_str()), ("office", "praha-zizkov"), ("service", "visa_sticker"), ("start", &start)];
    assert_eq!(post(&c, &server, &staff.cookie, "/counter/assist/verify", &no_method, "en").await.0, 400);
    let (status, form) = verify_at_desk(&c, &server, &staff, 603, &start).await;
    assert_eq!(status, 200, "{form}");
    let (identity, idem) = (hidden(&form, "identity"), hidden(&form, "idem"));
    let book = |email: &'static str, identity: String, locale: &'static str| {
        vec![
            ("csrf", staff.csrf.clone()),
            ("office", "praha-zizkov".to_owned()),
            ("service", "visa_sticker".to_owned()),
            ("start", start.clone()),
            ("identity", identity),
            ("idem", idem.clone()),
            ("email", email.to_owned()),
            ("locale", locale.to_owned()),
        ]
    };
    assert_eq!(
        post(&c, &server, &staff.cookie, "/counter/assist/book", &book("not-an-address", identity.clone(), "uk"), "en").await.0,
        400
    );
    assert_eq!(post(&c, &server, &staff.cookie, "/counter/assist/book", &book("", identity.clone(), "xx"), "en").await.0, 400);
    assert_eq!(post(&c, &server, &staff.cookie, "/counter/assist/book", &book("", "forged.token".into(), "uk"), "en").await.0, 401);
    let find = [("csrf", staff.csrf.as_str()), ("office", "praha-zizkov"), ("booking_code", "nonsense"), ("date_of_birth", "1990-01-01")];
    assert_eq!(post(&c, &server, &staff.cookie, "/counter/assist/find", &find, "en").await.0, 400);
}
