//! The end-to-end harness: runs the real `prepazka` binary as a child process on a free port
//! with a fresh database (SQLite file or PostgreSQL database), and talks to it over HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use prepazka_store::testing::TestDatabase;
use prepazka_store::Backend;
use serde_json::{json, Value};

pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    /// Extra command-line arguments and environment for the binary.
    pub extra_args: Vec<String>,
    pub extra_env: Vec<(String, String)>,
    _db: Option<TestDatabase>,
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prepazka-e2e-{}-{:x}", std::process::id(), rand_u64()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0));
    h.finish()
}

impl Server {
    /// A demo server (offices seeded) on a fresh database of `backend`.
    pub async fn start(backend: Backend) -> Server {
        let mut server = Server::start_stopped(backend).await;
        server.spawn();
        server
    }

    /// Like [`Server::start`], with the server's clock starting at `clock_start` (RFC 3339):
    /// office-day tests run on a weekday morning whenever they run.
    pub async fn start_at(backend: Backend, clock_start: &str) -> Server {
        let mut server = Server::start_stopped(backend).await;
        server.extra_env.push(("PREPAZKA_CLOCK_START".into(), clock_start.into()));
        server.spawn();
        server
    }

    async fn start_stopped(backend: Backend) -> Server {
        let data_dir = temp_dir();
        let (database_url, db) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", data_dir.join("prepazka.db").display()), None),
            Backend::Postgres => {
                let db = TestDatabase::new(Backend::Postgres).await.expect("PostgreSQL test database");
                (db.url.clone(), Some(db))
            }
        };
        Server { child: None, url: String::new(), database_url, data_dir, extra_args: Vec::new(), extra_env: Vec::new(), _db: db }
    }

    /// Like [`Server::start`] on SQLite, with extra arguments.
    pub async fn start_with(args: &[&str]) -> Server {
        let data_dir = temp_dir();
        let database_url = format!("sqlite://{}", data_dir.join("prepazka.db").display());
        let extra_args = args.iter().map(|a| a.replace("{data}", &data_dir.display().to_string())).collect();
        let mut server = Server { child: None, url: String::new(), database_url, data_dir, extra_args, extra_env: Vec::new(), _db: None };
        server.spawn();
        server
    }

    /// Starts the binary on the same database and data directory.
    pub fn spawn(&mut self) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_prepazka"))
            .args(["demo", "--listen", "127.0.0.1:0", "--horizon-days", "14"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--database-url", &self.database_url])
            .args(&self.extra_args)
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PREPAZKA_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .env("PREPAZKA_VERIFY_PER_MINUTE", "1000000")
            .env("PREPAZKA_REGISTRY_LATENCY_MS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prepazka");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first).expect("read the address line");
        // Keep draining what the server prints so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = first.trim().strip_prefix("prepazka listening on ").unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        self.url = url.trim_end_matches('/').to_owned();
        self.child = Some(child);
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().ok()?;
        for _ in 0..300 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        None
    }

    pub async fn store(&self) -> prepazka_store::SharedStore {
        prepazka_store::connect(&self.database_url).await.expect("open the server's database")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn client() -> awc::Client {
    awc::Client::builder().connector(awc::Connector::new().limit(1024)).timeout(Duration::from_secs(60)).finish()
}

/// POSTs JSON; returns status and body (JSON, or `null` when the body is not JSON).
pub async fn post(client: &awc::Client, url: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    post_lang(client, url, key, body, "en").await
}

pub async fn post_lang(client: &awc::Client, url: &str, key: Option<&str>, body: &Value, lang: &str) -> (u16, Value) {
    let mut req = client.post(url).insert_header(("Accept-Language", lang));
    if let Some(key) = key {
        req = req.insert_header(("Idempotency-Key", key));
    }
    let mut res = req.send_json(body).await.expect("request");
    let bytes = res.body().limit(1 << 20).await.expect("body");
    (res.status().as_u16(), serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

pub async fn get(client: &awc::Client, url: &str) -> (u16, Value) {
    let mut res = client.get(url).send().await.expect("request");
    let bytes = res.body().limit(1 << 22).await.expect("body");
    (res.status().as_u16(), serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Verifies synthetic person `n` of the fake registry; returns the identity token.
pub async fn verify_population(client: &awc::Client, server: &Server, n: u32) -> String {
    let (status, body) = post(
        client,
        &format!("{}/api/v1/identity", server.url),
        None,
        &json!({ "method": "registration", "registration_number": prepazka_actors::registry::population_number(n), "pin": prepazka_actors::registry::population_pin(n) }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["identity_token"].as_str().expect("token").to_owned()
}

/// The free slots of a service at an office over the next two weeks, earliest first.
pub async fn free_slots(client: &awc::Client, server: &Server, office: &str, service: &str) -> Vec<(String, u64)> {
    free_slots_from(client, server, office, service, chrono::Utc::now().date_naive()).await
}

/// Free slots on the 13 days after `today` (the server's today, when its clock is shifted).
pub async fn free_slots_from(
    client: &awc::Client,
    server: &Server,
    office: &str,
    service: &str,
    today: chrono::NaiveDate,
) -> Vec<(String, u64)> {
    let mut slots = Vec::new();
    for offset in 1..14 {
        let day = today + chrono::Duration::days(offset);
        let (status, body) = get(client, &format!("{}/api/v1/offices/{office}/slots?service={service}&date={day}", server.url)).await;
        assert_eq!(status, 200, "{body}");
        for slot in body["slots"].as_array().into_iter().flatten() {
            slots.push((slot["starts_at"].as_str().unwrap_or_default().to_owned(), slot["free"].as_u64().unwrap_or(0)));
        }
    }
    slots
}

pub async fn hold(client: &awc::Client, server: &Server, token: &str, office: &str, service: &str, start: &str, key: &str) -> (u16, Value) {
    post(
        client,
        &format!("{}/api/v1/holds", server.url),
        Some(key),
        &json!({ "identity_token": token, "office_id": office, "service": service, "starts_at": start }),
    )
    .await
}

pub async fn confirm(client: &awc::Client, server: &Server, token: &str, hold_id: &str, key: &str) -> (u16, Value) {
    post(
        client,
        &format!("{}/api/v1/holds/{hold_id}/confirm", server.url),
        Some(key),
        &json!({ "identity_token": token, "email": "client@example.cz", "locale": "uk" }),
    )
    .await
}

/// An event stream read the way a browser's EventSource reads it: plain HTTP/1.1 on a socket.
pub struct EventStream {
    socket: tokio::net::TcpStream,
}

impl EventStream {
    pub async fn open(server: &Server, cookie: &str, last_event_id: Option<&str>) -> EventStream {
        use tokio::io::AsyncWriteExt as _;
        let address = server.url.trim_start_matches("http://");
        let mut socket = tokio::net::TcpStream::connect(address).await.expect("connect");
        let last = last_event_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        let request =
            format!("GET /display/events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n{last}\r\n");
        socket.write_all(request.as_bytes()).await.expect("send");
        EventStream { socket }
    }

    /// Reads until `needle` has arrived; returns everything read (headers included).
    pub async fn read_until(&mut self, needle: &str) -> String {
        use tokio::io::AsyncReadExt as _;
        let mut seen = String::new();
        let mut buffer = [0u8; 4096];
        let reading = async {
            loop {
                let n = self.socket.read(&mut buffer).await.expect("read");
                assert!(n > 0, "stream closed; read: {seen}");
                seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
                if seen.contains(needle) {
                    return;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), reading).await.is_err() {
            panic!("no {needle} within 10 s; read: {seen}");
        }
        seen
    }
}
