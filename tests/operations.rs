//! Operations: SIGTERM stops cleanly with nothing acknowledged lost; `prepazka backup` copies a
//! live SQLite database and a server started on the copy serves the bookings; the health and
//! metrics endpoints answer.

mod common;

use std::process::Command;

use common::*;
use prepazka_store::Backend;

async fn book_one(c: &awc::Client, server: &Server, person: u32) -> String {
    let token = verify_population(c, server, person).await;
    let start = free_slots(c, server, "liberec", "visa_sticker").await.first().expect("slot").0.clone();
    let (status, held) = hold(c, server, &token, "liberec", "visa_sticker", &start, &format!("h{person}")).await;
    assert_eq!(status, 201, "{held}");
    let (status, confirmed) = confirm(c, server, &token, held["hold_id"].as_str().expect("id"), &format!("c{person}")).await;
    assert_eq!(status, 201, "{confirmed}");
    confirmed["bookings"][0]["booking_code"].as_str().expect("code").to_owned()
}

#[actix_rt::test]
async fn sigterm_stops_cleanly_and_keeps_bookings() {
    let mut server = Server::start(Backend::Sqlite).await;
    let c = client();
    let code = book_one(&c, &server, 501).await;
    assert_eq!(server.terminate(), Some(0), "clean exit on SIGTERM");
    let store = server.store().await;
    let parsed = prepazka_models::ids::BookingCode::parse(&code).expect("code");
    assert!(store.booking_by_code(&parsed).await.expect("read").is_some());
}

#[actix_rt::test]
async fn backup_of_live_database_restores() {
    let mut server = Server::start(Backend::Sqlite).await;
    let c = client();
    let code = book_one(&c, &server, 601).await;
    let copy = server.data_dir.join("backup.db");
    let output = Command::new(env!("CARGO_BIN_EXE_prepazka"))
        .args(["backup", "--database-url", &server.database_url, "--to"])
        .arg(&copy)
        .env("PREPAZKA_LOG_FORMAT", "json")
        .output()
        .expect("run backup");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Bookings made after the backup are not in it; the one before is.
    let later = book_one(&c, &server, 602).await;
    server.kill9();
    server.database_url = format!("sqlite://{}", copy.display());
    server.spawn();
    let born = prepazka_actors::registry::population_birth_date(601).expect("date").to_string();
    let lookup = |code: &str| serde_json::json!({ "booking_code": code, "date_of_birth": born });
    let (status, found) = post(&c, &format!("{}/api/v1/bookings/lookup", server.url), None, &lookup(&code)).await;
    assert_eq!(status, 200, "{found}");
    let store = server.store().await;
    let later = prepazka_models::ids::BookingCode::parse(&later).expect("code");
    assert!(store.booking_by_code(&later).await.expect("read").is_none());
}

#[actix_rt::test]
async fn health_and_metrics() {
    let server = Server::start(Backend::Sqlite).await;
    let c = client();
    for path in ["/health/live", "/health/ready"] {
        assert_eq!(get(&c, &format!("{}{path}", server.url)).await.0, 200, "{path}");
    }
    book_one(&c, &server, 701).await;
    let mut res = c.get(format!("{}/metrics", server.url)).send().await.expect("metrics");
    let text = String::from_utf8_lossy(&res.body().await.expect("body")).into_owned();
    assert!(text.contains("prepazka_writer_items_total"));
    let items: u64 = text.lines().find_map(|l| l.strip_prefix("prepazka_writer_items_total ")).and_then(|v| v.parse().ok()).unwrap_or(0);
    assert!(items >= 2, "hold and confirm went through the writer: {items}");
    assert!(text.contains("prepazka_http_responses_total{class=\"2xx\"}"));
}

#[actix_rt::test]
async fn serves_https_with_a_configured_certificate() {
    let dir = temp_dir();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let server = Server::start_with(&["--tls-cert", cert.to_str().expect("utf-8"), "--tls-key", key.to_str().expect("utf-8")]).await;
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let curl = |args: &[&str]| Command::new("curl").args(["-s", "--max-time", "10"]).args(args).output().expect("curl");
    let ok = curl(&["--cacert", cert.to_str().expect("utf-8"), &format!("{}/health/live", server.url)]);
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "ok", "{}", String::from_utf8_lossy(&ok.stderr));
    let plain = curl(&[&format!("{}/health/live", server.url.replacen("https", "http", 1))]);
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "ok", "plain HTTP is not served on the TLS port");
    // Pages are served over TLS, language cookie included.
    let headers = curl(&["--cacert", cert.to_str().expect("utf-8"), "-D", "-", "-o", "/dev/null", &format!("{}/?lang=uk", server.url)]);
    let headers = String::from_utf8_lossy(&headers.stdout).to_lowercase();
    assert!(headers.contains("set-cookie: lang=uk"), "{headers}");
    let _ = std::fs::remove_dir_all(dir);
}
