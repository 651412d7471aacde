//! Hostile and malformed input gets a clear, localised 4xx: never a 500, never a panic, never a
//! half-written record.

mod common;

use common::*;
use prepazka_store::Backend;
use serde_json::{json, Value};

async fn raw_post(c: &awc::Client, url: &str, content_type: &str, body: Vec<u8>, lang: &str) -> (u16, Value, String) {
    let mut res = c
        .post(url)
        .insert_header(("Content-Type", content_type))
        .insert_header(("Accept-Language", lang))
        .insert_header(("Idempotency-Key", format!("k{}", rand_u64())))
        .send_body(body)
        .await
        .expect("request");
    let bytes = res.body().limit(1 << 20).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (res.status().as_u16(), serde_json::from_slice(&bytes).unwrap_or(Value::Null), text)
}

#[actix_rt::test]
async fn hostile_api_input_gets_localised_4xx() {
    let server = Server::start(Backend::Sqlite).await;
    let c = client();
    let token = verify_population(&c, &server, 77).await;
    let api = |path: &str| format!("{}/api/v1{path}", server.url);
    let ten_mb = vec![b'a'; 10 * 1024 * 1024];
    let cases: Vec<(String, &str, Vec<u8>, u16, &str)> = vec![
        (api("/holds"), "application/json", ten_mb, 413, "payload_too_large"),
        (api("/holds"), "text/plain", b"{}".to_vec(), 415, "unsupported_media_type"),
        (api("/holds"), "application/json", b"{not json".to_vec(), 400, "invalid_input"),
        (api("/holds"), "application/json", b"[1,2,3]".to_vec(), 400, "invalid_input"),
        (api("/identity"), "application/json", json!({"method": "telepathy"}).to_string().into_bytes(), 400, "invalid_input"),
        (api("/identity"), "application/json", json!({"method": "travel_document", "document_number": "AB1234567", "date_of_birth": "1990-02-30", "name": "Jan"}).to_string().into_bytes(), 400, "invalid_date"),
        (api("/identity"), "application/json", json!({"method": "travel_document", "document_number": "AB1234567", "date_of_birth": "12.03.1990", "name": "Jan"}).to_string().into_bytes(), 400, "invalid_date"),
        (api("/identity"), "application/json", json!({"method": "travel_document", "document_number": "AB1234567", "date_of_birth": "1990-03-12", "name": "😀 Smile"}).to_string().into_bytes(), 400, "invalid_name"),
        (api("/identity"), "application/json", json!({"method": "travel_document", "document_number": "AB1234567", "date_of_birth": "1990-03-12", "name": "\u{202E}nimda"}).to_string().into_bytes(), 400, "invalid_name"),
        (api("/identity"), "application/json", json!({"method": "travel_document", "document_number": "'; DROP TABLE bookings; --", "date_of_birth": "1990-03-12", "name": "Jan"}).to_string().into_bytes(), 400, "invalid_passport_number"),
        (api("/identity"), "application/json", json!({"method": "travel_document", "document_number": "AB1234567", "date_of_birth": "1990-03-12", "name": "<script>alert(1)</script>"}).to_string().into_bytes(), 400, "invalid_name"),
        (api("/identity"), "application/json", json!({"method": "registration", "registration_number": "UKR-2026-000123", "pin": "0000"}).to_string().into_bytes(), 401, "identity_not_verified"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "atlantis", "service": "interview", "starts_at": "2026-12-01T08:00:00+01:00"}).to_string().into_bytes(), 404, "office_not_found"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "Praha'--", "service": "interview", "starts_at": "2026-12-01T08:00:00+01:00"}).to_string().into_bytes(), 400, "invalid_office_id"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "brno", "service": "tea", "starts_at": "2026-12-01T08:00:00+01:00"}).to_string().into_bytes(), 400, "invalid_service"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "brno", "service": "interview", "starts_at": "tomorrow"}).to_string().into_bytes(), 400, "invalid_date_time"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "brno", "service": "interview", "starts_at": "1999-12-01T08:00:00+01:00"}).to_string().into_bytes(), 422, "slot_in_past"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "brno", "service": "interview", "starts_at": "2030-12-02T08:00:00+01:00"}).to_string().into_bytes(), 422, "beyond_horizon"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "tabor", "service": "biometric_capture", "starts_at": "2026-12-01T08:00:00+01:00"}).to_string().into_bytes(), 422, "needs_biometric_office"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "brno", "service": "card_pickup", "starts_at": "2026-12-01T08:00:00+01:00"}).to_string().into_bytes(), 422, "no_card_to_pick_up"),
        (api("/holds"), "application/json", json!({"identity_token": "forged.token", "office_id": "brno", "service": "interview", "starts_at": "2026-12-01T08:00:00+01:00"}).to_string().into_bytes(), 401, "identity_not_verified"),
        (api("/holds"), "application/json", json!({"identity_token": token, "office_id": "brno", "service": "interview", "starts_at": "2026-12-01T08:00:00+01:00", "members": [5]}).to_string().into_bytes(), 422, "not_in_household"),
        (api("/holds/not-a-hold/confirm"), "application/json", json!({"identity_token": token, "email": "a@b.cz"}).to_string().into_bytes(), 404, "hold_not_found"),
        (api("/holds/00000000000000000000000000000000/confirm"), "application/json", json!({"identity_token": token, "email": "not an email"}).to_string().into_bytes(), 400, "invalid_email"),
        (api("/bookings/lookup"), "application/json", json!({"booking_code": "<b>x</b>", "date_of_birth": "1990-01-01"}).to_string().into_bytes(), 400, "invalid_booking_code"),
        (api("/bookings/lookup"), "application/json", json!({"booking_code": "ABCD-EFGH-JKMN", "date_of_birth": "1990-01-01"}).to_string().into_bytes(), 404, "booking_not_found"),
        (api("/nowhere"), "application/json", b"{}".to_vec(), 404, "not_found"),
    ];
    for (url, content_type, body, status, code) in cases {
        for lang in ["uk", "vi"] {
            let (got, value, text) = raw_post(&c, &url, content_type, body.clone(), lang).await;
            assert_eq!((got, value["error"].as_str()), (status, Some(code)), "{url} ({lang}): {text}");
            let message = value["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty() && message != code, "{code} has a message");
            let localised = match lang {
                "uk" => message.chars().any(|ch| ('\u{0400}'..='\u{04FF}').contains(&ch)),
                _ => message.chars().any(|ch| "ạảãàáâậầấẩẫăắằặẳẵđêếềệểễôốồộổỗơớờợởỡưứừựửữíìịỉĩ".contains(ch)),
            };
            assert!(localised, "{code} in {lang}: {message}");
        }
    }
    // Nothing was half-written by any of it.
    let counts = server.store().await.booking_counts().await.expect("counts");
    assert_eq!((counts.held, counts.confirmed, counts.outbox), (0, 0, 0));
}

#[actix_rt::test]
async fn hostile_page_input_gets_4xx_pages() {
    let server = Server::start(Backend::Sqlite).await;
    let c = client();
    let cases = [
        ("/offices/atlantis", 404),
        ("/offices/brno/tea", 400),
        ("/offices/brno/interview?day=2026-13-45", 400),
        ("/offices/brno/interview/book?start=yesterday", 400),
        ("/holds/whatever", 401),
        ("/no/such/page", 404),
    ];
    for (path, status) in cases {
        let mut res = c.get(format!("{}{path}", server.url)).insert_header(("Accept-Language", "ru")).send().await.expect("request");
        let body = String::from_utf8_lossy(&res.body().await.unwrap_or_default()).into_owned();
        assert_eq!(res.status().as_u16(), status, "{path}: {body}");
        assert!(body.contains("<html lang=\"ru\"") && body.contains("role=\"alert\""), "{path}: a Russian error page");
    }
    let (status, _, text) = raw_post(
        &c,
        &format!("{}/manage", server.url),
        "application/x-www-form-urlencoded",
        b"booking_code=%3Cscript%3E&date_of_birth=x".to_vec(),
        "cs",
    )
    .await;
    assert_eq!(status, 400);
    assert!(!text.contains("<script>"), "input is never echoed unescaped");
}
