//! `sse-fanout`: call-to-display latency over many open event streams, from ONE thread.
//!
//! A current-thread tokio runtime opens `--streams N` Server-Sent Events streams with plain
//! HTTP/1.1 requests on `tokio::net::TcpStream` (as a browser's `EventSource` does; awc does
//! not hand SSE chunks over promptly), waits until every stream has received its first bytes,
//! then triggers `--events K` events one at a time, `--interval-ms` apart. For each event it
//! takes the instant the trigger's HTTP response head arrived and, on every stream, the instant
//! the event's frame was read; it reports percentiles over all (event, stream) pairs, the
//! deliveries that never came, and the server's resident memory per open stream (VmRSS of
//! `--pid` before opening the streams, after all are open, and after the events).
//!
//! Targets:
//! - `floor`: `GET /events`, trigger `POST /trigger?id=ID`, the frame carries `"id":"ID"`
//!   (`prepazka-bench sse-floor`);
//! - `prepazka`: the real path. A display enrolled by its link (`devices.txt` in `--data-dir`)
//!   follows `GET /display/events` (and `--phones N` of the streams follow a ticket's
//!   `/t/…/events` link instead); the officer from `staff.txt` signs in and opens `--counter`;
//!   the kiosk issues the walk-in tickets beforehand; each trigger is `POST /counter/call`
//!   (committed, sequenced, published), the frame waited for is `"kind":"called"` with that
//!   ticket, and after the measurement `POST /counter/ticket action=complete` frees the counter.
//!   `--calls M` times M call + complete pairs back to back at that counter (calls/s over
//!   HTTP) before any stream is open, and M more after the measurement, with the streams open.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::booking::percentile;
use crate::http::{find, form, parse_head, request, take_chunks};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Floor,
    Prepazka,
}

struct Options {
    address: String,
    streams: usize,
    events: usize,
    interval: Duration,
    pid: Option<u32>,
    target: Target,
    data_dir: Option<PathBuf>,
    office: String,
    service: String,
    counter: u16,
    phones: usize,
    calls: usize,
    connect_concurrency: usize,
    timeout: Duration,
    verbose: bool,
    /// Sent as `Last-Event-ID` by every stream (a reconnecting display).
    last_event_id: Option<String>,
}

fn options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        address: "127.0.0.1:8080".into(),
        streams: 10_000,
        events: 20,
        interval: Duration::from_millis(500),
        pid: None,
        target: Target::Floor,
        data_dir: None,
        office: "praha-zizkov".into(),
        service: "visa_sticker".into(),
        counter: 1,
        phones: 0,
        calls: 0,
        connect_concurrency: 128,
        timeout: Duration::from_secs(10),
        verbose: false,
        last_event_id: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--verbose" {
            o.verbose = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|_| format!("{flag}: not a number"));
        match flag.as_str() {
            "--url" => {
                o.address = value.trim_start_matches("http://").trim_end_matches('/').to_owned();
            }
            "--streams" => o.streams = number()?,
            "--events" => o.events = number()?.max(1),
            "--interval-ms" => o.interval = Duration::from_millis(number()? as u64),
            "--pid" => o.pid = Some(number()? as u32),
            "--target" => {
                o.target = match value.as_str() {
                    "floor" => Target::Floor,
                    "prepazka" => Target::Prepazka,
                    other => return Err(format!("--target: floor or prepazka, not {other}")),
                }
            }
            "--data-dir" => o.data_dir = Some(value.into()),
            "--office" => o.office = value,
            "--service" => o.service = value,
            "--counter" => o.counter = number()? as u16,
            "--phones" => o.phones = number()?,
            "--calls" => o.calls = number()?,
            "--connect-concurrency" => o.connect_concurrency = number()?.max(1),
            "--timeout-ms" => o.timeout = Duration::from_millis(number()? as u64),
            "--last-event-id" => o.last_event_id = Some(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// What every stream task shares (one thread: `Cell`/`RefCell`).
struct Shared {
    events: usize,
    /// What precedes an event's key in its frame; the key ends at the next `"`.
    prefix: &'static [u8],
    keys: RefCell<HashMap<Vec<u8>, usize>>,
    /// `stream * events + event` → when that stream read that event.
    arrivals: RefCell<Vec<Option<Instant>>>,
    delivered: RefCell<Vec<usize>>,
    connected: Cell<usize>,
    failed: Cell<usize>,
    /// Closed by the server after having connected.
    dropped: Cell<usize>,
    errors: RefCell<HashMap<String, usize>>,
}

impl Shared {
    fn fail(&self, why: String) {
        self.failed.set(self.failed.get() + 1);
        *self.errors.borrow_mut().entry(why).or_default() += 1;
    }

    fn frame(&self, stream: usize, frame: &[u8], at: Instant) {
        let Some(start) = find(frame, self.prefix).map(|p| p + self.prefix.len()) else {
            return;
        };
        let Some(len) = frame[start..].iter().position(|&b| b == b'"') else {
            return;
        };
        let Some(&event) = self.keys.borrow().get(&frame[start..start + len]) else {
            return;
        };
        let mut arrivals = self.arrivals.borrow_mut();
        let slot = &mut arrivals[stream * self.events + event];
        if slot.is_none() {
            *slot = Some(at);
            self.delivered.borrow_mut()[event] += 1;
        }
    }

    fn alive(&self) -> usize {
        self.connected.get() - self.dropped.get()
    }
}

/// One stream: connect, send the request, then read frames until the server closes.
async fn follow(index: usize, shared: Rc<Shared>, address: Rc<str>, request: Rc<[u8]>, gate: Rc<Semaphore>) {
    let mut permit = gate.acquire().await.ok();
    let mut attempt = 0;
    let mut socket = loop {
        match TcpStream::connect(&*address).await {
            Ok(socket) => break socket,
            Err(e) if attempt >= 4 => return shared.fail(format!("connect: {e}")),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
            }
        }
    };
    let _ = socket.set_nodelay(true);
    if let Err(e) = socket.write_all(&request).await {
        return shared.fail(format!("send: {e}"));
    }
    let mut buffer = vec![0u8; 4096];
    let (mut raw, mut body) = (Vec::new(), Vec::new());
    let mut chunked = None;
    loop {
        let n = match socket.read(&mut buffer).await {
            Ok(n) if n > 0 => n,
            result => {
                let why = result.err().map(|e| e.to_string()).unwrap_or_else(|| "closed".into());
                if permit.is_none() {
                    shared.dropped.set(shared.dropped.get() + 1);
                    *shared.errors.borrow_mut().entry(format!("after connecting: {why}")).or_default() += 1;
                } else {
                    shared.fail(format!("before the first bytes: {why}"));
                }
                return;
            }
        };
        let now = Instant::now();
        raw.extend_from_slice(&buffer[..n]);
        if chunked.is_none() {
            let Some((status, end)) = parse_head(&raw) else { continue };
            if status != 200 {
                return shared.fail(format!("status {status}"));
            }
            chunked = Some(String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase().contains("transfer-encoding: chunked"));
            raw.drain(..end);
        }
        if chunked == Some(true) {
            take_chunks(&mut raw, &mut body);
        } else {
            body.append(&mut raw);
        }
        if permit.is_some() && !body.is_empty() {
            permit = None;
            shared.connected.set(shared.connected.get() + 1);
        }
        while let Some(end) = find(&body, b"\n\n") {
            shared.frame(index, &body[..end], now);
            body.drain(..end + 2);
        }
    }
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU seconds of `pid` so far (`/proc` counts in USER_HZ, 100 on Linux).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// The real server's side of the run: a signed-in officer with an open counter, tickets.
struct Office {
    session: String,
    csrf: String,
    display: String,
    tickets: Vec<String>,
    /// `/t/…/events?k=…` of each ticket (a phone's stream).
    phone_paths: Vec<String>,
}

fn between<'a>(text: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let start = text.find(before)? + before.len();
    Some(&text[start..start + text[start..].find(after)?])
}

async fn prepare_office(o: &Options, tickets: usize) -> Result<Office, String> {
    let dir = o.data_dir.as_ref().ok_or("--target prepazka needs --data-dir (devices.txt, staff.txt)")?;
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let devices = read("devices.txt")?;
    let enrol = |kind: &str| {
        let line = devices.lines().find(|l| l.starts_with(&format!("{} {kind} ", o.office)));
        line.and_then(|l| l.find("/enrol/").map(|at| l[at..].trim().to_owned())).ok_or(format!("no {kind} link for {}", o.office))
    };
    let mut cookies = Vec::new();
    for kind in ["display", "kiosk"] {
        let res = request(&o.address, "GET", &enrol(kind)?, &[], None).await?;
        if res.status != 303 {
            return Err(format!("enrolling the {kind}: {}", res.status));
        }
        cookies.push(res.cookie().ok_or("no device cookie")?);
    }
    let (display, kiosk) = (cookies[0].clone(), cookies[1].clone());
    let username = format!("officer-{}", o.office);
    let staff = read("staff.txt")?;
    let password = staff.lines().find_map(|l| l.strip_prefix(&format!("{username} "))).ok_or(format!("{username} not in staff.txt"))?;
    let login = form(&[("username", &username), ("password", password)]);
    let res = request(&o.address, "POST", "/staff/login", &[], Some(("application/x-www-form-urlencoded", &login))).await?;
    let session = res.cookie().filter(|_| res.status == 303).ok_or(format!("signing in: {}", res.status))?;
    let page = request(&o.address, "GET", &format!("/counter?counter={}", o.counter), &[("Cookie", &session)], None).await?;
    let csrf = between(&page.text(), "name=\"csrf\" value=\"", "\"").ok_or("no CSRF token on the counter page")?.to_owned();
    let counter = o.counter.to_string();
    let open = form(&[("csrf", &csrf), ("counter", &counter), ("action", "open")]);
    let res =
        request(&o.address, "POST", "/counter/state", &[("Cookie", &session)], Some(("application/x-www-form-urlencoded", &open))).await?;
    if res.status != 303 {
        return Err(format!("opening counter {counter}: {} {}", res.status, res.text()));
    }
    let mut office = Office { session, csrf, display, tickets: Vec::new(), phone_paths: Vec::new() };
    let walk_in = form(&[("service", &o.service)]);
    for _ in 0..tickets {
        let res =
            request(&o.address, "POST", "/kiosk/walk-in", &[("Cookie", &kiosk)], Some(("application/x-www-form-urlencoded", &walk_in)))
                .await?;
        let page = res.text();
        if res.status != 200 {
            return Err(format!("kiosk walk-in: {} {}", res.status, between(&page, "<main", "</main>").unwrap_or(&page)));
        }
        office.tickets.push(between(&page, "data-ticket>", "<").ok_or("no ticket on the kiosk's page")?.to_owned());
        let live = page.find(" data-live-link").and_then(|end| page[..end].rfind("href=\"").map(|start| &page[start + 6..end - 1]));
        let live = live.ok_or("no live link on the kiosk's page")?.replace("&amp;", "&");
        office.phone_paths.push(live.replacen('?', "/events?", 1));
    }
    Ok(office)
}

async fn staff_form(o: &Options, office: &Office, path: &str, fields: &[(&str, &str)]) -> Result<crate::http::Response, String> {
    let body = form(fields);
    request(&o.address, "POST", path, &[("Cookie", &office.session)], Some(("application/x-www-form-urlencoded", &body))).await
}

async fn call(o: &Options, office: &Office) -> Result<crate::http::Response, String> {
    let counter = o.counter.to_string();
    staff_form(o, office, "/counter/call", &[("csrf", &office.csrf), ("counter", &counter), ("service", &o.service)]).await
}

/// Calls and completes `tickets` back to back at one counter; calls per second.
async fn calls_per_second(o: &Options, office: &Office, tickets: &[String]) -> Result<f64, String> {
    let started = Instant::now();
    for ticket in tickets {
        let res = call(o, office).await?;
        if res.status != 303 {
            return Err(format!("call: status {}", res.status));
        }
        complete(o, office, ticket).await?;
    }
    Ok(tickets.len() as f64 / started.elapsed().as_secs_f64())
}

async fn complete(o: &Options, office: &Office, ticket: &str) -> Result<(), String> {
    let counter = o.counter.to_string();
    let fields = [("csrf", office.csrf.as_str()), ("counter", &counter), ("ticket", ticket), ("action", "complete")];
    let res = staff_form(o, office, "/counter/ticket", &fields).await?;
    if res.status != 303 {
        return Err(format!("completing {ticket}: {} (was another ticket called?)", res.status));
    }
    Ok(())
}

fn stream_request(o: &Options, path: &str, cookie: Option<&str>) -> Rc<[u8]> {
    let address = &o.address;
    let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
    let last = o.last_event_id.as_ref().map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n{cookie}{last}\r\n")
        .into_bytes()
        .into()
}

pub fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let o = options(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    tokio::task::LocalSet::new().block_on(&runtime, measure(o))
}

async fn measure(o: Options) -> Result<(), String> {
    let load_at_start = load_average();
    let run_id = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0));
    let office = match o.target {
        Target::Prepazka => Some(prepare_office(&o, o.calls + o.events + o.calls).await?),
        Target::Floor => None,
    };
    // Tickets are called in the order issued: the first `calls` before any stream is open, the
    // next `events` for the measurement, the last `calls` with all the streams open.
    let calls_alone = match &office {
        Some(office) if o.calls > 0 => Some(calls_per_second(&o, office, &office.tickets[..o.calls]).await?),
        _ => None,
    };
    let requests: Vec<Rc<[u8]>> = match &office {
        None => vec![stream_request(&o, "/events", None)],
        Some(office) => std::iter::once(stream_request(&o, "/display/events", Some(&office.display)))
            .chain(office.phone_paths.iter().map(|p| stream_request(&o, p, None)))
            .collect(),
    };
    let shared = Rc::new(Shared {
        events: o.events,
        prefix: match o.target {
            Target::Floor => b"\"id\":\"",
            Target::Prepazka => b"\"kind\":\"called\",\"ticket\":\"",
        },
        keys: RefCell::new(HashMap::new()),
        arrivals: RefCell::new(vec![None; o.streams * o.events]),
        delivered: RefCell::new(vec![0; o.events]),
        connected: Cell::new(0),
        failed: Cell::new(0),
        dropped: Cell::new(0),
        errors: RefCell::new(HashMap::new()),
    });

    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = rss_kib(o.pid);
    let opening = Instant::now();
    let gate = Rc::new(Semaphore::new(o.connect_concurrency));
    let address: Rc<str> = o.address.as_str().into();
    for i in 0..o.streams {
        // Phones first (spread over the tickets' links), then displays.
        let request = if i < o.phones && requests.len() > 1 { requests[1 + i % (requests.len() - 1)].clone() } else { requests[0].clone() };
        tokio::task::spawn_local(follow(i, shared.clone(), address.clone(), request, gate.clone()));
    }
    let mut reported = Instant::now();
    // RSS when half the streams are open: the second half's growth is a check on the per-stream
    // figure that does not depend on what the process held before.
    let mut rss_half = None;
    while shared.connected.get() + shared.failed.get() < o.streams {
        if rss_half.is_none() && shared.connected.get() >= o.streams / 2 {
            rss_half = rss_kib(o.pid).map(|rss| (rss, shared.connected.get()));
        }
        if opening.elapsed() > Duration::from_secs(600) {
            return Err(format!("only {} of {} streams connected in 600 s", shared.connected.get(), o.streams));
        }
        if reported.elapsed() > Duration::from_secs(5) {
            eprintln!("  {} streams open, {} failed", shared.connected.get(), shared.failed.get());
            reported = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_seconds = opening.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = rss_kib(o.pid);

    let cpu_start = cpu_seconds(o.pid);
    let mut requested = Vec::with_capacity(o.events);
    let mut responded = Vec::with_capacity(o.events);
    let mut trigger_ms = Vec::with_capacity(o.events);
    for k in 0..o.events {
        let key = match &office {
            Some(office) => office.tickets[o.calls + k].clone(),
            None => format!("{run_id}-{k}"),
        };
        shared.keys.borrow_mut().insert(key.clone().into_bytes(), k);
        let sent = Instant::now();
        let res = match &office {
            Some(office) => call(&o, office).await?,
            None => request(&o.address, "POST", &format!("/trigger?id={key}"), &[], None).await?,
        };
        let expected = if office.is_some() { 303 } else { 200 };
        if res.status != expected {
            return Err(format!("trigger {k}: status {} {}", res.status, res.text()));
        }
        requested.push(sent);
        responded.push(res.head_at);
        trigger_ms.push(res.head_at.duration_since(sent).as_secs_f64() * 1e3);
        let deadline = Instant::now() + o.timeout;
        while shared.delivered.borrow()[k] < shared.alive() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Some(office) = &office {
            complete(&o, office, &key).await?;
        }
        tokio::time::sleep(o.interval).await;
    }
    let cpu_events = cpu_start.zip(cpu_seconds(o.pid)).map(|(a, b)| b - a);
    let rss_after = rss_kib(o.pid);

    let calls_with_streams = match &office {
        Some(office) if o.calls > 0 => Some(calls_per_second(&o, office, &office.tickets[o.calls + o.events..]).await?),
        _ => None,
    };

    // Latency of every (event, stream) pair, and of the last stream per event.
    let arrivals = shared.arrivals.borrow();
    let mut latencies = Vec::with_capacity(arrivals.len());
    let mut from_request = Vec::with_capacity(arrivals.len());
    let (mut missing, mut early) = (0usize, 0usize);
    let mut last_per_event = vec![0f64; o.events];
    // Per event, relative to the trigger's request: response, first and last arrival.
    let mut first_arrival: Vec<Option<Instant>> = vec![None; o.events];
    let mut last_arrival: Vec<Option<Instant>> = vec![None; o.events];
    let mut spread = Vec::with_capacity(arrivals.len());
    for stream in 0..o.streams {
        for k in 0..responded.len() {
            if let Some(arrived) = arrivals[stream * o.events + k] {
                first_arrival[k] = Some(first_arrival[k].map_or(arrived, |f| f.min(arrived)));
                last_arrival[k] = Some(last_arrival[k].map_or(arrived, |f| f.max(arrived)));
            }
        }
    }
    for stream in 0..o.streams {
        for (k, at) in responded.iter().enumerate() {
            match arrivals[stream * o.events + k] {
                Some(arrived) => {
                    if arrived < *at {
                        early += 1;
                    }
                    let ms = arrived.saturating_duration_since(*at).as_secs_f64() * 1e3;
                    last_per_event[k] = last_per_event[k].max(ms);
                    latencies.push(ms);
                    from_request.push(arrived.saturating_duration_since(requested[k]).as_secs_f64() * 1e3);
                    if let Some(first) = first_arrival[k] {
                        spread.push(arrived.saturating_duration_since(first).as_secs_f64() * 1e3);
                    }
                }
                None => missing += 1,
            }
        }
    }
    let p = |values: &mut Vec<f64>, q| percentile(values, q);
    let (p50, p95, p99, max) = (p(&mut latencies, 0.5), p(&mut latencies, 0.95), p(&mut latencies, 0.99), p(&mut latencies, 1.0));
    let (r50, r95, r99, rmax) =
        (p(&mut from_request, 0.5), p(&mut from_request, 0.95), p(&mut from_request, 0.99), p(&mut from_request, 1.0));
    let (s50, s99, smax) = (p(&mut spread, 0.5), p(&mut spread, 0.99), p(&mut spread, 1.0));
    let per_stream =
        |rss: Option<u64>| rss.zip(rss_before).map(|(after, before)| (after as f64 - before as f64) / o.streams as f64).unwrap_or(f64::NAN);
    let (kib_connected, kib_after) = (per_stream(rss_connected), per_stream(rss_after));
    let kib_second_half = rss_half
        .zip(rss_connected)
        .map(|((half, at), all)| (all as f64 - half as f64) / (shared.connected.get() - at).max(1) as f64)
        .unwrap_or(f64::NAN);
    let target = format!("{:?}", o.target).to_lowercase();
    println!(
        "target={target} streams={} (phones {}) connected={} failed={} dropped={} opened in {connect_seconds:.1} s",
        o.streams,
        o.phones.min(o.streams),
        shared.connected.get(),
        shared.failed.get(),
        shared.dropped.get()
    );
    println!(
        "server RSS KiB: before {} / all open {} / after the events {} -> {kib_connected:.1} / {kib_after:.1} KiB per stream \
         ({kib_second_half:.1} KiB per stream over the second half opened)",
        rss_before.unwrap_or(0),
        rss_connected.unwrap_or(0),
        rss_after.unwrap_or(0)
    );
    println!(
        "trigger response to arrival, {} (event, stream) pairs: p50={p50:.1} p95={p95:.1} p99={p99:.1} max={max:.1} ms; missing={missing}; arrived before the trigger's response: {early}",
        latencies.len()
    );
    println!("trigger request sent to arrival (includes the server's work before it answers): p50={r50:.1} p95={r95:.1} p99={r99:.1} max={rmax:.1} ms");
    println!("fan-out spread (from the event's first arrival on any stream): p50={s50:.1} p99={s99:.1} max={smax:.1} ms");
    if o.verbose {
        let ms = |at: Option<Instant>, k: usize| at.map_or(f64::NAN, |at| at.duration_since(requested[k]).as_secs_f64() * 1e3);
        for k in 0..responded.len() {
            println!(
                "  event {k:>3}: response {:6.1} ms, first arrival {:6.1} ms, last {:6.1} ms after the request",
                ms(Some(responded[k]), k),
                ms(first_arrival[k], k),
                ms(last_arrival[k], k)
            );
        }
    }
    println!(
        "last stream per event: p50={:.1} max={:.1} ms; trigger response p50={:.1} max={:.1} ms",
        p(&mut last_per_event.clone(), 0.5),
        p(&mut last_per_event, 1.0),
        p(&mut trigger_ms.clone(), 0.5),
        p(&mut trigger_ms, 1.0)
    );
    if let Some(cpu) = cpu_events {
        println!("server CPU during the event phase: {cpu:.2} s ({:.1} ms per trigger)", cpu * 1e3 / o.events as f64);
    }
    if let (Some(alone), Some(with)) = (calls_alone, calls_with_streams) {
        println!(
            "call-next over HTTP, one counter, {} call + complete pairs back to back: {alone:.0} calls/s with no stream open, \
             {with:.0} calls/s with the streams open",
            o.calls
        );
    }
    let errors = shared.errors.borrow();
    if !errors.is_empty() {
        println!("stream errors: {errors:?}");
    }
    println!("load average: {load_at_start} at start, {} at end", load_average());
    println!(
        "RESULT target={target} streams={} p50_ms={p50:.2} p95_ms={p95:.2} p99_ms={p99:.2} max_ms={max:.2} req_p50_ms={r50:.2} req_p95_ms={r95:.2} req_p99_ms={r99:.2} req_max_ms={rmax:.2} spread_p50_ms={s50:.2} spread_p99_ms={s99:.2} early={early} missing={missing} failed={} kib_per_stream_connected={kib_connected:.2} kib_per_stream_after={kib_after:.2} kib_per_stream_second_half={kib_second_half:.2} calls_per_s_alone={} calls_per_s_streams={}",
        o.streams,
        shared.failed.get(),
        calls_alone.map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into()),
        calls_with_streams.map(|r| format!("{r:.0}")).unwrap_or_else(|| "-".into())
    );
    Ok(())
}
