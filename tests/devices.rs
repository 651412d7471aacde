//! Kiosks and displays enrolled by an administrator, through the real binary: a token created on
//! `/admin/devices` (shown once, stored only as its SHA-256) enrols a working device, revoking
//! it stops the device with a localised message, only administrators get the page, and
//! `prepazka enrol` prints a working token for operators without it.

mod common;

use std::time::Duration;

use common::*;
use prepazka_store::Backend;
use prepazka_web::office_day::token_hash;

macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Sqlite).await })+ }
        mod postgres { $(#[actix_rt::test] async fn $name() { super::$name(prepazka_store::Backend::Postgres).await })+ }
    };
}

on_both_backends!(administrator_enrols_and_revokes_devices, only_administrators_manage_devices, cli_enrol_prints_a_working_token);

const TUESDAY_MORNING: &str = "2027-03-16T08:30:00+01:00";

fn staff_password(server: &Server, username: &str) -> String {
    let staff = std::fs::read_to_string(server.data_dir.join("staff.txt")).expect("staff.txt");
    staff.lines().find_map(|l| l.strip_prefix(&format!("{username} "))).expect("demo member of staff").to_owned()
}

/// Signs in; returns the status, where it leads and the session cookie.
async fn sign_in(c: &awc::Client, server: &Server, username: &str) -> (u16, String, String) {
    let res = c
        .post(format!("{}/staff/login", server.url))
        .send_form(&[("username", username), ("password", &staff_password(server, username))])
        .await
        .expect("login");
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let cookie =
        res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).unwrap_or_default().to_owned();
    (res.status().as_u16(), location, cookie)
}

async fn get_page(c: &awc::Client, url: &str, cookie: &str, lang: &str) -> (u16, String) {
    let mut res = c.get(url).insert_header(("Cookie", cookie)).insert_header(("Accept-Language", lang)).send().await.expect("get");
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned())
}

async fn post_form(c: &awc::Client, server: &Server, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let mut res = c.post(format!("{}{path}", server.url)).insert_header(("Cookie", cookie)).send_form(&fields).await.expect("post");
    let cache = res.headers().get("cache-control").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(16 << 20).await.expect("body")).into_owned(), cache)
}

fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page.find(start).unwrap_or_else(|| panic!("no {start} on {page}")) + start.len();
    &page[from..from + page[from..].find(end).expect("end")]
}

/// Follows an enrolment link; returns the status and the device cookie it set, if any.
async fn enrol(c: &awc::Client, link: &str) -> (u16, Option<String>) {
    let res = c.get(link).insert_header(("Accept-Language", "cs")).send().await.expect("enrol");
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).map(str::to_owned);
    (res.status().as_u16(), cookie)
}

async fn administrator_enrols_and_revokes_devices(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let (status, home, admin) = sign_in(&c, &server, "administrator").await;
    assert_eq!((status, home.as_str()), (303, "/admin/devices"));
    let (status, listing) = get_page(&c, &format!("{}/admin/devices", server.url), &admin, "en").await;
    assert_eq!(status, 200, "{listing}");
    assert!(listing.contains("demo kiosk") && listing.contains("Praha II – Žižkov"), "the demo's devices are listed");
    let csrf = between(&listing, "name=\"csrf\" value=\"", "\"").to_owned();

    let fields = [("csrf", csrf.as_str()), ("office", "praha-zizkov"), ("kind", "kiosk"), ("label", "Entrance, ground floor")];
    let (status, created, cache) = post_form(&c, &server, &admin, "/admin/devices", &fields).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(cache.as_deref(), Some("no-store"), "the page with the token is never cached");
    assert!(created.contains("<svg"), "the enrolment link has a QR code");
    let token = between(&created, "data-token>", "<").to_owned();
    let link = between(&created, "data-enrolment-link>", "<").to_owned();
    assert!(link.ends_with(&format!("/enrol/{token}")), "{link}");

    // Stored hashed, audited without the token.
    let store = server.store().await;
    let devices = store.devices().await.expect("devices");
    assert!(devices.iter().any(|d| d.token_hash == token_hash(&token) && d.label == "Entrance, ground floor"));
    assert!(devices.iter().all(|d| d.token_hash != token));
    let audit = store.audit_for("praha-zizkov").await.expect("audit");
    let enrolled = audit.iter().find(|a| a.action == "enrol_device" && a.actor == "administrator").expect("audited");
    assert!(!enrolled.detail.to_string().contains(&token));

    // The link enrols a kiosk that works; the listing shows it and that it was seen.
    let (status, cookie) = enrol(&c, &link).await;
    assert_eq!(status, 303);
    let kiosk = cookie.expect("device cookie");
    assert_eq!(get_page(&c, &format!("{}/kiosk", server.url), &kiosk, "en").await.0, 200);
    let (_, listing) = get_page(&c, &format!("{}/admin/devices?office=praha-zizkov", server.url), &admin, "en").await;
    let row = between(&listing, &format!("data-device=\"{}\"", &token_hash(&token)[..12]), "</tr>");
    assert!(row.contains("Entrance, ground floor") && row.contains("data-device-status=\"active\"") && !row.contains("Not seen"), "{row}");
    assert!(listing.contains("<h3>Praha II – Žižkov</h3>") && !listing.contains("<h3>Brno</h3>"), "the filter shows one office");

    // Revoked: the kiosk, its link and its cookie stop working, with a clear message.
    let hash = token_hash(&token);
    let (status, _, _) = post_form(&c, &server, &admin, "/admin/devices/revoke", &[("csrf", &csrf), ("device", &hash)]).await;
    assert_eq!(status, 303);
    let (status, page) = get_page(&c, &format!("{}/kiosk", server.url), &kiosk, "cs").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Registrace tohoto zařízení byla správcem zrušena"), "{page}");
    let (status, page) = get_page(&c, &format!("{}/kiosk", server.url), &kiosk, "uk").await;
    assert_eq!(status, 403);
    assert!(page.contains("Реєстрацію цього пристрою скасував адміністратор"), "{page}");
    let (status, _, _) = post_form(&c, &server, &kiosk, "/kiosk/walk-in", &[("service", "visa_sticker")]).await;
    assert_eq!(status, 403);
    assert_eq!(enrol(&c, &link).await, (403, None));
    let (_, listing) = get_page(&c, &format!("{}/admin/devices?office=praha-zizkov", server.url), &admin, "en").await;
    assert!(between(&listing, &format!("data-device=\"{}\"", &hash[..12]), "</tr>").contains("data-device-status=\"revoked\""));
    let audit = store.audit_for("praha-zizkov").await.expect("audit");
    assert!(audit.iter().any(|a| a.action == "revoke_device" && a.actor == "administrator"));

    // A revoked display's event stream is refused too; revoking twice is a 404.
    let fields = [("csrf", csrf.as_str()), ("office", "brno"), ("kind", "display"), ("label", "Hall TV")];
    let (_, created, _) = post_form(&c, &server, &admin, "/admin/devices", &fields).await;
    let display_token = between(&created, "data-token>", "<").to_owned();
    let display = enrol(&c, between(&created, "data-enrolment-link>", "<")).await.1.expect("display cookie");
    assert_eq!(get_page(&c, &format!("{}/display", server.url), &display, "en").await.0, 200);
    let display_hash = token_hash(&display_token);
    // Its open stream is told at once and ends (the page reloads into the refusal); another
    // display's stream goes on.
    let mut open = EventStream::open(&server, &display, None).await;
    open.read_until("retry: ").await;
    let fields = [("csrf", csrf.as_str()), ("office", "brno"), ("kind", "display"), ("label", "Other TV")];
    let (_, other_created, _) = post_form(&c, &server, &admin, "/admin/devices", &fields).await;
    let other = enrol(&c, between(&other_created, "data-enrolment-link>", "<")).await.1.expect("display cookie");
    let mut other_stream = EventStream::open(&server, &other, None).await;
    other_stream.read_until("retry: ").await;
    post_form(&c, &server, &admin, "/admin/devices/revoke", &[("csrf", &csrf), ("device", &display_hash)]).await;
    let told = open.read_until("event: revoked").await;
    // The end of the chunked body: the response is over.
    if !told.contains("\r\n0\r\n\r\n") {
        open.read_until("\r\n0\r\n\r\n").await;
    }
    let fields = [("csrf", csrf.as_str()), ("office", "brno"), ("kind", "kiosk"), ("label", "Brno kiosk")];
    let (_, kiosk_created, _) = post_form(&c, &server, &admin, "/admin/devices", &fields).await;
    let brno_kiosk = enrol(&c, between(&kiosk_created, "data-enrolment-link>", "<")).await.1.expect("kiosk cookie");
    let (status, _, _) = post_form(&c, &server, &brno_kiosk, "/kiosk/walk-in", &[("service", "visa_sticker")]).await;
    assert!(status < 400, "{status}");
    let seen = other_stream.read_until("event: queue").await;
    assert!(!seen.contains("revoked"), "{seen}");
    assert_eq!(get_page(&c, &format!("{}/display/events", server.url), &display, "en").await.0, 403);
    let (status, _, _) = post_form(&c, &server, &admin, "/admin/devices/revoke", &[("csrf", &csrf), ("device", &display_hash)]).await;
    assert_eq!(status, 404);

    // Bad input: a localised 4xx each, never a 500.
    let cases: [(&[(&str, &str)], u16); 6] = [
        (&[("office", "praha-zizkov"), ("kind", "kiosk"), ("label", "x")], 403),
        (&[("csrf", &csrf), ("office", "praha-zizkov"), ("kind", "toaster"), ("label", "x")], 400),
        (&[("csrf", &csrf), ("office", "atlantis"), ("kind", "kiosk"), ("label", "x")], 404),
        (&[("csrf", &csrf), ("office", "Not An Id!"), ("kind", "kiosk"), ("label", "x")], 400),
        (&[("csrf", &csrf), ("office", "praha-zizkov"), ("kind", "kiosk"), ("label", "   ")], 400),
        (&[("csrf", &csrf), ("office", "praha-zizkov"), ("kind", "kiosk"), ("label", &"x".repeat(61))], 400),
    ];
    for (fields, expected) in cases {
        assert_eq!(post_form(&c, &server, &admin, "/admin/devices", fields).await.0, expected, "{fields:?}");
    }
    assert_eq!(post_form(&c, &server, &admin, "/admin/devices/revoke", &[("csrf", &csrf), ("device", "nope")]).await.0, 404);
    assert_eq!(post_form(&c, &server, &admin, "/admin/devices/revoke", &[("device", &hash)]).await.0, 403);
    assert_eq!(get_page(&c, &format!("{}/admin/devices?office=atlantis", server.url), &admin, "en").await.0, 404);
}

async fn only_administrators_manage_devices(backend: Backend) {
    let server = Server::start(backend).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    assert_eq!(get_page(&c, &format!("{}/admin/devices", server.url), "", "en").await.0, 401);
    for username in ["officer-praha-zizkov", "supervisor-brno"] {
        let (status, _, cookie) = sign_in(&c, &server, username).await;
        assert_eq!(status, 303);
        let (status, page) = get_page(&c, &format!("{}/admin/devices", server.url), &cookie, "vi").await;
        assert_eq!(status, 403, "{username}");
        assert!(page.contains("Vai trò của bạn không cho phép việc này"), "{page}");
        let (_, counter) = get_page(&c, &format!("{}/counter", server.url), &cookie, "en").await;
        let csrf = between(&counter, "name=\"csrf\" value=\"", "\"").to_owned();
        let fields = [("csrf", csrf.as_str()), ("office", "praha-zizkov"), ("kind", "kiosk"), ("label", "x")];
        assert_eq!(post_form(&c, &server, &cookie, "/admin/devices", &fields).await.0, 403, "{username}");
        assert_eq!(post_form(&c, &server, &cookie, "/admin/devices/revoke", &[("csrf", &csrf), ("device", &"a".repeat(64))]).await.0, 403);
    }
    let devices = server.store().await.devices().await.expect("devices");
    assert!(devices.iter().all(|d| d.label != "x"), "nothing was enrolled");
}

/// `prepazka enrol` against the running server's database prints a token that enrols a device.
async fn cli_enrol_prints_a_working_token(backend: Backend) {
    let server = Server::start_at(backend, TUESDAY_MORNING).await;
    let c = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_prepazka"))
            .arg("enrol")
            .args(["--database-url", &server.database_url])
            .args(args)
            .env("PREPAZKA_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run prepazka enrol")
    };
    let out = run(&["--office", "brno", "--kind", "display", "--label", "Hall TV", "--base-url", &server.url]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let token =
        stdout.lines().find(|l| l.len() == 64 && l.bytes().all(|b| b.is_ascii_hexdigit())).expect("the token on its own line").to_owned();
    let link = stdout.lines().find_map(|l| l.strip_prefix("enrolment link: ")).expect("the link").to_owned();
    assert_eq!(link, format!("{}/enrol/{token}", server.url));
    let (status, cookie) = enrol(&c, &link).await;
    assert_eq!(status, 303);
    let (status, page) = get_page(&c, &format!("{}/display", server.url), &cookie.expect("cookie"), "en").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Brno"), "bound to Brno");
    let store = server.store().await;
    assert!(store.devices().await.expect("devices").iter().any(|d| d.token_hash == token_hash(&token) && d.label == "Hall TV"));
    assert!(store.audit_for("brno").await.expect("audit").iter().any(|a| a.action == "enrol_device" && a.actor == "cli"));

    for bad in [
        &["--office", "atlantis", "--kind", "kiosk", "--label", "x"][..],
        &["--office", "brno", "--kind", "toaster", "--label", "x"],
        &["--office", "brno", "--kind", "kiosk"],
        &["--office", "brno", "--kind", "kiosk", "--label", ""],
    ] {
        let out = run(bad);
        assert!(!out.status.success(), "{bad:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
}
