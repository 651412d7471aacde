//! Interpreting through the real binary, the real model workers and real speech (espeak-ng test
//! set, `scripts/setup-models --testset`): the notice gates the audio, an utterance is
//! transcribed, translated and shown only after its records are committed, the officer's stop
//! halts output, a `kill -9` leaves a recovery record and a verifying log, and bad audio ends a
//! session cleanly while the server stays up.
//!
//! Needs the model cache (`scripts/setup-models`); `PREPAZKA_SKIP_MODEL_TESTS=1` skips the tests
//! that run the models (the rest still run).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use awc::ws;
use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use prepazka_store::Backend;
use serde_json::Value;

const TUESDAY_MORNING: &str = "2027-03-16T08:30:00+01:00";

fn no_redirects() -> awc::Client {
    awc::Client::builder().disable_redirects().timeout(Duration::from_secs(60)).finish()
}

fn skip_models() -> bool {
    std::env::var("PREPAZKA_SKIP_MODEL_TESTS").is_ok_and(|v| v == "1")
}

fn testset_wav(name: &str) -> PathBuf {
    let cache = std::env::var_os("PREPAZKA_MODEL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/prepazka/models"));
    let path = cache.join("testset").join(name);
    assert!(path.exists(), "{} is missing: run scripts/setup-models --testset (or set PREPAZKA_SKIP_MODEL_TESTS=1)", path.display());
    path
}

/// The 16-bit samples of a 16 kHz mono WAV, as little-endian bytes.
fn pcm_of(path: &PathBuf) -> Vec<u8> {
    let bytes = std::fs::read(path).expect("wav");
    let data = bytes.windows(4).position(|w| w == b"data").expect("data chunk");
    bytes[data + 8..].to_vec()
}

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("csrf token").to_owned()
}

async fn sign_in(c: &awc::Client, server: &Server, username: &str) -> String {
    let staff = std::fs::read_to_string(server.data_dir.join("staff.txt")).expect("staff.txt");
    let password = staff.lines().find_map(|l| l.strip_prefix(&format!("{username} "))).expect("demo account").to_owned();
    let res = c
        .post(format!("{}/staff/login", server.url))
        .send_form(&[("username", username), ("password", password.as_str())])
        .await
        .expect("login");
    assert_eq!(res.status().as_u16(), 303);
    res.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .expect("cookie")
}

async fn get(c: &awc::Client, server: &Server, cookie: &str, path: &str) -> (u16, String) {
    let mut res = c.get(format!("{}{path}", server.url)).insert_header(("Cookie", cookie)).send().await.expect("get");
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(1 << 22).await.expect("body")).into_owned())
}

async fn post(c: &awc::Client, server: &Server, cookie: &str, path: &str, fields: &[(&str, &str)]) -> (u16, String, Option<String>) {
    let mut res = c.post(format!("{}{path}", server.url)).insert_header(("Cookie", cookie)).send_form(&fields).await.expect("post");
    let location = res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().limit(1 << 22).await.expect("body")).into_owned(), location)
}

struct Session {
    id: String,
    cookie: String,
    csrf: String,
    client_link: String,
}

/// The Prague-Žižkov overseer opens a session for an English-speaking client.
async fn open_session(c: &awc::Client, server: &Server, language: &str) -> Session {
    let cookie = sign_in(c, server, "interpreting_overseer-praha-zizkov").await;
    let (status, page) = get(c, server, &cookie, "/interpret").await;
    assert_eq!(status, 200, "{page}");
    let csrf = csrf_of(&page);
    let (status, body, location) = post(c, server, &cookie, "/interpret/start", &[("csrf", &csrf), ("language", language)]).await;
    assert_eq!(status, 303, "{body}");
    let location = location.expect("redirect to the session");
    let id = location.trim_start_matches("/interpret/").to_owned();
    let (status, page) = get(c, server, &cookie, &location).await;
    assert_eq!(status, 200, "{page}");
    let client_link =
        page.split("id=\"client-link\" href=\"").nth(1).and_then(|r| r.split('"').next()).expect("client link").replace("&amp;", "&");
    Session { id, cookie, csrf, client_link }
}

async fn state(c: &awc::Client, server: &Server, s: &Session) -> Value {
    let (status, body) = get(c, server, &s.cookie, &format!("/interpret/{}/state", s.id)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("state JSON")
}

type Socket = actix_codec::Framed<awc::BoxedSocket, ws::Codec>;

async fn officer_socket(c: &awc::Client, server: &Server, s: &Session) -> Socket {
    let url = format!("{}/interpret/{}/ws?side=officer", server.url.replace("http://", "ws://"), s.id);
    let (_, socket) = c.ws(url).header("Cookie", s.cookie.clone()).max_frame_size(1 << 20).connect().await.expect("officer socket");
    socket
}

async fn hello(socket: &mut Socket, rate: u32) {
    socket.send(ws::Message::Text(format!(r#"{{"type":"hello","sample_rate":{rate},"channels":1}}"#).into())).await.expect("hello");
}

/// Sends `pcm` and then 1.5 s of silence (so the voice detector closes the utterance) in 100 ms
/// frames: the first two seconds at once, the rest at the pace of speech, as a microphone would.
async fn speak(socket: &mut Socket, pcm: &[u8]) {
    let mut audio = pcm.to_vec();
    audio.extend(std::iter::repeat_n(0u8, 32_000 * 3 / 2));
    for (i, frame) in audio.chunks(3_200).enumerate() {
        if i >= 20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        socket.send(ws::Message::Binary(frame.to_vec().into())).await.expect("audio frame");
    }
}

/// Reads events until one matches, or panics after `limit`.
async fn wait_for(socket: &mut Socket, limit: Duration, mut wanted: impl FnMut(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next()).await.expect("event in time").expect("socket open").expect("frame");
        if let ws::Frame::Text(text) = frame {
            let event: Value = serde_json::from_slice(&text).expect("event JSON");
            if wanted(&event) {
                return event;
            }
        }
    }
}

async fn records(server: &Server, session: &str) -> Vec<String> {
    let store = server.store().await;
    let rows = store.ai_log_session_rows(session).await.expect("rows");
    store.close().await;
    rows.into_iter().map(|r| r.kind).collect()
}

fn ai_log(server: &Server, words: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prepazka"))
        .arg("ai-log")
        .args(words)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .args(["--database-url", &server.database_url])
        .env("RUST_LOG", "error")
        .output()
        .expect("run prepazka ai-log");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| k.as_str() == kind).count()
}

/// The whole exchange: nothing is processed before the notice; an officer's Czech sentence is
/// transcribed, translated and shown with exactly one transcription, translation and
/// presentation record; a correction is logged and shown; stop halts output; the log verifies
/// and exports; after `kill -9` mid-session the session has a recovery record.
#[actix_rt::test]
async fn an_interpreted_exchange_is_logged_before_it_is_shown() {
    if skip_models() {
        return;
    }
    let pcm = pcm_of(&testset_wav("cs-officer-01.wav"));
    let mut server = Server::start_at(Backend::Sqlite, TUESDAY_MORNING).await;
    let c = no_redirects();
    let s = open_session(&c, &server, "en").await;
    assert_eq!(state(&c, &server, &s).await["phase"], "awaiting_notice");

    // Before the notice is acknowledged, speech is dropped, not processed.
    let mut socket = officer_socket(&c, &server, &s).await;
    hello(&mut socket, 16_000).await;
    speak(&mut socket, &pcm).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(state(&c, &server, &s).await["segments"].as_array().expect("segments").is_empty());
    assert_eq!(count(&records(&server, &s.id).await, "asr.segment"), 0, "no audio processed before the notice");

    // The client's screen shows the notice in English and the acknowledgement opens the session.
    let (status, page) = get(&c, &server, "", &s.client_link).await;
    assert_eq!(status, 200);
    assert!(page.contains("artificial intelligence") && page.contains("human interpreter"), "{page}");
    let tag = s.client_link.split("k=").nth(1).and_then(|r| r.split('&').next()).expect("tag").to_owned();
    let (status, _, _) = post(&c, &server, "", &format!("/interpret/{}/ack", s.id), &[("k", "forged")]).await;
    assert_eq!(status, 404, "a forged tag opens nothing");
    let (status, body, _) = post(&c, &server, "", &format!("/interpret/{}/ack", s.id), &[("k", &tag)]).await;
    assert_eq!(status, 303, "{body}");
    wait_for(&mut socket, Duration::from_secs(5), |e| e["type"] == "phase" && e["phase"] == "active").await;

    // One utterance: recognised, translated, logged, shown.
    speak(&mut socket, &pcm).await;
    let event = wait_for(&mut socket, Duration::from_secs(120), |e| e["type"] == "segment").await;
    let segment = &event["segment"];
    assert_eq!(segment["side"], "officer");
    assert_eq!(segment["from"], "cs");
    assert_eq!(segment["to"], "en");
    assert!(!segment["transcript"].as_str().unwrap_or_default().is_empty(), "{segment}");
    assert!(segment["translation"].is_string() || segment["withheld"].is_string(), "{segment}");
    let kinds = records(&server, &s.id).await;
    assert_eq!(count(&kinds, "session.start"), 1);
    assert_eq!(count(&kinds, "notice.acknowledged"), 1);
    assert_eq!(count(&kinds, "asr.segment"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "mt.segment"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "output.presented"), 1, "{kinds:?}");
    let order: Vec<&str> =
        kinds.iter().map(String::as_str).filter(|k| k.starts_with("asr") || k.starts_with("mt") || k.starts_with("output")).collect();
    assert_eq!(order, ["asr.segment", "mt.segment", "output.presented"]);

    // The officer corrects it: logged, and both screens get the correction.
    let n = segment["id"].as_u64().expect("segment id").to_string();
    let (status, body, _) = post(
        &c,
        &server,
        &s.cookie,
        &format!("/interpret/{}/segments/{n}", s.id),
        &[("csrf", &s.csrf), ("action", "correct"), ("text", "Please look into the camera.")],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let corrected =
        wait_for(&mut socket, Duration::from_secs(5), |e| e["type"] == "segment" && e["segment"]["review"] == "corrected").await;
    assert_eq!(corrected["segment"]["correction"], "Please look into the camera.");
    let (status, _, _) = post(&c, &server, &s.cookie, &format!("/interpret/{}/segments/{n}", s.id), &[("action", "reject")]).await;
    assert_eq!(status, 403, "an action without the CSRF token is refused");
    let (status, _, _) =
        post(&c, &server, &s.cookie, &format!("/interpret/{}/segments/999", s.id), &[("csrf", &s.csrf), ("action", "accept")]).await;
    assert_eq!(status, 404);
    let (status, _, _) =
        post(&c, &server, &s.cookie, &format!("/interpret/{}/segments/{n}", s.id), &[("csrf", &s.csrf), ("action", "explode")]).await;
    assert_eq!(status, 400);
    assert_eq!(count(&records(&server, &s.id).await, "oversight.action"), 1);

    // The transcript for the case file has both languages, the label and the correction.
    let (status, transcript) = get(&c, &server, &s.cookie, &format!("/interpret/{}/transcript", s.id)).await;
    assert_eq!(status, 200);
    assert!(transcript.contains(segment["transcript"].as_str().unwrap_or_default()), "{transcript}");
    assert!(transcript.contains("Please look into the camera."), "{transcript}");
    assert_eq!(count(&all_kinds(&server).await, "log.access"), 1, "reading the transcript is logged (AI-L18)");

    // Stop: the phase flips at once and later speech shows nothing.
    let (status, _, _) = post(&c, &server, &s.cookie, &format!("/interpret/{}/finish", s.id), &[("csrf", &s.csrf), ("how", "stop")]).await;
    assert_eq!(status, 303);
    wait_for(&mut socket, Duration::from_secs(1), |e| e["type"] == "phase" && e["phase"] == "stopped").await;
    let _ = socket.send(ws::Message::Binary(pcm[..3_200].to_vec().into())).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = state(&c, &server, &s).await;
    assert_eq!(after["phase"], "stopped");
    assert_eq!(after["segments"].as_array().map(Vec::len), Some(1));
    let kinds = records(&server, &s.id).await;
    assert_eq!(count(&kinds, "session.stop"), 1);
    assert_eq!(count(&kinds, "output.presented"), 1);

    let (ok, report) = ai_log(&server, &["verify"]);
    assert!(ok, "{report}");
    // The offline export would be a second appender while the server runs: refused.
    let bundle = server.data_dir.join("session.json");
    let (ok, report) = ai_log(&server, &["export", "--session", &s.id, "--to", bundle.to_str().expect("path")]);
    assert!(!ok && report.contains("locked"), "{report}");
    assert!(!bundle.exists());

    // Through the server, the export is itself logged (AI-L18), and only for the session's office.
    let (status, body) = get(&c, &server, &s.cookie, &format!("/interpret/{}/export", s.id)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("proof"), "{body}");
    let brno = sign_in(&c, &server, "interpreting_overseer-brno").await;
    let (status, _) = get(&c, &server, &brno, &format!("/interpret/{}/export", s.id)).await;
    assert_eq!(status, 422);
    let officer = sign_in(&c, &server, "officer-praha-zizkov").await;
    let (status, _) = get(&c, &server, &officer, &format!("/interpret/{}/export", s.id)).await;
    assert_eq!(status, 403);
    let all = all_kinds(&server).await;
    assert_eq!(count(&all, "log.export"), 1, "{all:?}");
    let (ok, report) = ai_log(&server, &["verify"]);
    assert!(ok, "{report}");

    // A second session, left open by kill -9: after restart it carries a recovery record.
    let open = open_session(&c, &server, "uk").await;
    server.kill9();
    server.spawn();
    let kinds = records(&server, &open.id).await;
    for _ in 0..50 {
        if count(&records(&server, &open.id).await, "session.crash_recovered") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&records(&server, &open.id).await, "session.crash_recovered"), 1, "{kinds:?}");
    let (ok, report) = ai_log(&server, &["verify"]);
    assert!(ok, "{report}");

    // With the server down, the offline export writes the bundle and logs itself.
    server.kill9();
    let (ok, report) = ai_log(&server, &["export", "--session", &s.id, "--to", bundle.to_str().expect("path"), "--by", "auditor-1"]);
    assert!(ok, "{report}");
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&bundle).expect("bundle")).expect("bundle JSON");
    assert!(exported.to_string().contains("proof"), "{exported}");
    assert_eq!(count(&all_kinds(&server).await, "log.export"), 2);
    let (ok, report) = ai_log(&server, &["verify"]);
    assert!(ok, "{report}");
}

/// The kinds of every AI-log record, in order.
async fn all_kinds(server: &Server) -> Vec<String> {
    let store = server.store().await;
    store.ai_log_rows(0, 100_000).await.expect("rows").into_iter().map(|r| r.kind).collect()
}

/// Bad input on the audio socket ends the session cleanly, with a reason, and the server stays up.
#[actix_rt::test]
async fn bad_audio_ends_the_session_cleanly() {
    let server = Server::start_at(Backend::Sqlite, TUESDAY_MORNING).await;
    let c = no_redirects();
    type Messages = Box<dyn Fn() -> Vec<ws::Message>>;
    let cases: [(&str, Messages); 4] = [
        ("bad_audio_sample_rate", Box::new(|| vec![ws::Message::Text(r#"{"type":"hello","sample_rate":44100,"channels":1}"#.into())])),
        (
            "bad_audio_frame",
            Box::new(|| {
                vec![
                    ws::Message::Text(r#"{"type":"hello","sample_rate":16000,"channels":1}"#.into()),
                    ws::Message::Binary(vec![1u8, 2, 3].into()),
                ]
            }),
        ),
        ("bad_audio_message", Box::new(|| vec![ws::Message::Text("{not json".into())])),
        (
            "bad_audio_flood",
            Box::new(|| {
                let mut messages = vec![ws::Message::Text(r#"{"type":"hello","sample_rate":16000,"channels":1}"#.into())];
                messages.extend((0..80).map(|_| ws::Message::Binary(vec![0u8; 32_000].into())));
                messages
            }),
        ),
    ];
    for (reason, messages) in cases {
        let s = open_session(&c, &server, "ru").await;
        let tag = s.client_link.split("k=").nth(1).and_then(|r| r.split('&').next()).expect("tag").to_owned();
        let (status, _, _) = post(&c, &server, "", &format!("/interpret/{}/ack", s.id), &[("k", &tag)]).await;
        assert_eq!(status, 303);
        let mut socket = officer_socket(&c, &server, &s).await;
        for message in messages() {
            if socket.send(message).await.is_err() {
                break;
            }
        }
        let mut closed_with = None;
        while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            if let Ok(ws::Frame::Close(close)) = frame {
                closed_with = close.and_then(|c| c.description);
                break;
            }
        }
        assert_eq!(closed_with.as_deref(), Some(reason));
        let after = state(&c, &server, &s).await;
        assert_eq!(after["phase"], "halted", "{reason}: {after}");
        assert_eq!(after["reason"], reason);
        let kinds = records(&server, &s.id).await;
        assert_eq!(count(&kinds, "session.end"), 1, "{reason}: {kinds:?}");
    }
    let mut res = c.get(format!("{}/health/live", server.url)).send().await.expect("health");
    assert_eq!(res.status().as_u16(), 200, "{:?}", res.body().await);
    let (ok, report) = ai_log(&server, &["verify"]);
    assert!(ok, "{report}");
}

/// Who may do what: only the overseer opens sessions, the supervisor suspends the office (and
/// open sessions stop), and a suspended office refuses new sessions until resumed.
#[actix_rt::test]
async fn roles_and_office_suspension() {
    let server = Server::start_at(Backend::Sqlite, TUESDAY_MORNING).await;
    let c = no_redirects();
    let officer = sign_in(&c, &server, "officer-praha-zizkov").await;
    let (status, _) = get(&c, &server, &officer, "/interpret").await;
    assert_eq!(status, 403, "an officer without the overseer role cannot interpret");
    let s = open_session(&c, &server, "vi").await;
    let (status, _, _) = post(&c, &server, &s.cookie, "/interpret/start", &[("csrf", &s.csrf), ("language", "xx")]).await;
    assert_eq!(status, 400);
    let brno = sign_in(&c, &server, "interpreting_overseer-brno").await;
    let (status, _) = get(&c, &server, &brno, &format!("/interpret/{}/state", s.id)).await;
    assert_eq!(status, 422, "another office's overseer cannot see the session");

    let supervisor = sign_in(&c, &server, "supervisor-praha-zizkov").await;
    let (_, page) = get(&c, &server, &supervisor, "/supervisor").await;
    let csrf = csrf_of(&page);
    let (status, body, _) = post(&c, &server, &supervisor, "/interpret/suspend", &[("csrf", &csrf), ("state", "suspended")]).await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(state(&c, &server, &s).await["phase"], "stopped");
    let (status, _, _) = post(&c, &server, &s.cookie, "/interpret/start", &[("csrf", &s.csrf), ("language", "vi")]).await;
    assert_eq!(status, 409, "a suspended office opens no session");
    let (status, _, _) = post(&c, &server, &supervisor, "/interpret/suspend", &[("csrf", &csrf), ("state", "active")]).await;
    assert_eq!(status, 303);
    let (status, _, _) = post(&c, &server, &s.cookie, "/interpret/start", &[("csrf", &s.csrf), ("language", "vi")]).await;
    assert_eq!(status, 303);
    let kinds: Vec<String> = {
        let store = server.store().await;
        let rows = store.ai_log_rows(0, 10_000).await.expect("rows");
        rows.into_iter().map(|r| r.kind).collect()
    };
    assert_eq!(count(&kinds, "system.suspend"), 1);
    assert_eq!(count(&kinds, "system.resume"), 1);
}
