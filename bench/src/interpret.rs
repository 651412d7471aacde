//! `interpret`: quality and speed of interpreting at the counter (issue 5), through the real
//! server, the real model workers and the spoken test set, as the two screens would see it.
//!
//! For each client language it opens a session as the interpreting overseer (`/interpret/start`),
//! reads the client link and its tag from the officer's page, connects the officer's audio socket
//! (staff cookie) and the client's (`?side=client&k=TAG`), acknowledges the notice and waits for
//! the `active` phase. Then it speaks, turn by turn: the Czech officer items on the officer socket
//! and that language's client items on the client socket, each item as 100 ms frames of 16 kHz
//! 16-bit PCM **paced at real time** (a microphone: frame k leaves at t0 + k·100 ms; the server
//! refuses audio more than 5 s ahead of the wall clock), followed by 1.5 s of silence, and it
//! waits for the item's `segment` event (or a `notice`: nothing usable) on **both** sockets
//! before the next item. The WebSocket client is a small one on `tokio::net::TcpStream` (masked
//! client frames, no extensions), so a frame leaves when it is written and an event is stamped
//! when its bytes are read.
//!
//! Where an utterance ends is known exactly: the tool runs the server's voice-activity rule
//! (`prepazka_models::interpret::vad`: 20 ms frames, −45 dBFS floor and 9 dB over an
//! adaptive noise estimate, 3 frames to start, 35 frames = 700 ms of non-speech to end, 240 ms
//! of pre-roll) over exactly the samples it sends on that socket. Each item is padded to whole
//! 100 ms frames, so the detector's 20 ms grid is the tool's. For each segment it takes
//!
//! - **from end of speech**: from sending the frame that holds the last speech frame to the
//!   event's arrival on a screen (includes the detector's 700 ms end-of-speech wait);
//! - **from end of utterance**: from sending the frame that completes the 700 ms (the moment the
//!   server cuts the utterance) to the arrival: the same without that wait;
//! - the server's own per-stage `timings` (recognition = whisper's compute in the worker,
//!   translation and checks incl. the back-translation = wall time around the worker calls, log
//!   = the AI-log commits, total = from the cut to the hand-over to the screens); **delivery** is
//!   "from end of utterance" on the later screen minus the server's total.
//!
//! Quality: WER and CER per spoken language (`prepazka_models::interpret::wer`, normalised
//! words/characters, corpus rates), chrF per direction (`prepazka_models::interpret::chrf`,
//! sacrebleu's corpus chrF) of the translation the screens show against the test set's
//! reference, with the counts of prepared (phrasebook) and machine translations, withheld and
//! uncertain segments.
//!
//! With `--long`, also ~5 s utterances: two items' speech (trimmed at −45 dBFS) joined by 300 ms
//! of silence (Czech officer pairs in the English session, one pair of client items in each
//! client language), for the issue's "recognition of a 5-second utterance" target.
//!
//! Memory: VmRSS and VmHWM of the `prepazka-asr-worker` and `prepazka-mt-worker` children of
//! `--pid` (the server), sampled after every item.
//!
//! Prints a Markdown report on stdout; `--out FILE` writes every item's measurements as JSON.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use prepazka_models::interpret::chrf::ChrfStats;
use prepazka_models::interpret::vad::{level_db_pcm16, Detector, FrameEvent, FRAME, SAMPLE_RATE};
use prepazka_models::interpret::wer::{char_error_rate, word_error_rate, ErrorRate};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::booking::percentile;
use crate::http::{form, parse_head, request};

const RATE: usize = SAMPLE_RATE;
/// One socket frame: 100 ms, as the browser's worklet sends.
const CHUNK: usize = RATE / 10;
const FRAMES_PER_CHUNK: usize = CHUNK / FRAME;

struct Options {
    address: String,
    data_dir: PathBuf,
    testset: PathBuf,
    pid: Option<u32>,
    languages: Vec<String>,
    user: String,
    silence_ms: usize,
    timeout: Duration,
    items: usize,
    long: bool,
    /// A spoken set of phrasebook sentences (same layout as the test set; ids `probe-<phrase>`).
    probe: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn default_testset() -> PathBuf {
    std::env::var_os("PREPAZKA_MODEL_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("PREPAZKA_MODEL_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/prepazka/models"))
        .join("testset")
}

fn options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        address: "127.0.0.1:8080".into(),
        data_dir: PathBuf::new(),
        testset: default_testset(),
        pid: None,
        languages: ["uk", "ru", "vi", "en", "mn"].map(String::from).to_vec(),
        user: "interpreting_overseer-praha-zizkov".into(),
        silence_ms: 1_500,
        timeout: Duration::from_secs(180),
        items: usize::MAX,
        long: false,
        probe: None,
        out: None,
    };
    let mut data_dir = None;
    while let Some(flag) = args.next() {
        if flag == "--long" {
            o.long = true;
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|_| format!("{flag}: not a number"));
        match flag.as_str() {
            "--url" => o.address = value.trim_start_matches("http://").trim_end_matches('/').to_owned(),
            "--data-dir" => data_dir = Some(PathBuf::from(value)),
            "--testset" => o.testset = value.into(),
            "--pid" => o.pid = Some(number()? as u32),
            "--languages" => o.languages = value.split(',').map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
            "--user" => o.user = value,
            "--silence-ms" => o.silence_ms = number()?,
            "--timeout-s" => o.timeout = Duration::from_secs(number()? as u64),
            "--items" => o.items = number()?,
            "--out" => o.out = Some(value.into()),
            "--probe" => o.probe = Some(value.into()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    o.data_dir = data_dir.ok_or("--data-dir (the server's, for staff.txt) is required")?;
    Ok(o)
}

pub fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let o = options(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    tokio::task::LocalSet::new().block_on(&runtime, measure(o))
}

// ---------------------------------------------------------------------------------------------
// The test set.

#[derive(Clone)]
struct Item {
    id: String,
    speaker: String,
    lang: String,
    text: String,
    translations: BTreeMap<String, String>,
    audio: Option<PathBuf>,
}

fn load_testset(dir: &Path) -> Result<Vec<Item>, String> {
    let path = dir.join("index.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e} (run scripts/setup-models --testset)", path.display()))?;
    let index: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let items = index["items"].as_array().ok_or(format!("{}: no items", path.display()))?;
    Ok(items
        .iter()
        .map(|i| Item {
            id: i["id"].as_str().unwrap_or_default().to_owned(),
            speaker: i["speaker"].as_str().unwrap_or_default().to_owned(),
            lang: i["lang"].as_str().unwrap_or_default().to_owned(),
            text: i["text"].as_str().unwrap_or_default().to_owned(),
            translations: i["translations"]
                .as_object()
                .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
                .unwrap_or_default(),
            audio: i["audio"].as_str().map(|a| dir.join(a)),
        })
        .collect())
}

/// The samples of a 16 kHz mono 16-bit PCM WAV.
fn read_wav(path: &Path) -> Result<Vec<i16>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    prepazka_models::interpret::wav::parse_pcm16(&bytes).map_err(|why| format!("{}: {why}", path.display()))
}

/// The samples from the first to the last 20 ms frame above −45 dBFS (a clip without its
/// leading and trailing silence), for joining two items into one long utterance.
fn trim(samples: &[i16]) -> &[i16] {
    let loud: Vec<usize> = samples.chunks(FRAME).enumerate().filter(|(_, f)| level_db_pcm16(f) > -45.0).map(|(i, _)| i).collect();
    match (loud.first(), loud.last()) {
        (Some(&first), Some(&last)) => &samples[first * FRAME..((last + 1) * FRAME).min(samples.len())],
        _ => samples,
    }
}

// ---------------------------------------------------------------------------------------------
// The server's voice-activity rule (`prepazka_models::interpret::vad`) over the audio this tool
// sends: where the server starts and cuts each utterance.

struct Vad {
    detector: Detector,
    /// Frames since the socket's first sample.
    frame: usize,
    /// An utterance in progress: its first frame (pre-roll included), first and last speech frames.
    current: Option<(usize, usize, usize)>,
}

/// One utterance as the server will cut it, in the detector's frames since the socket's first
/// sample.
#[derive(Debug, Clone, Copy, Serialize)]
struct Cut {
    first: usize,
    first_speech: usize,
    last_speech: usize,
    /// The frame whose arrival ends the utterance (the 35th non-speech frame).
    end: usize,
}

impl Cut {
    fn audio_ms(&self) -> u64 {
        ((self.end + 1 - self.first) * 20) as u64
    }

    fn speech_ms(&self) -> u64 {
        ((self.last_speech + 1 - self.first_speech) * 20) as u64
    }
}

impl Vad {
    fn new() -> Self {
        Vad { detector: Detector::default(), frame: 0, current: None }
    }

    /// Feeds whole frames; returns the utterances they complete (those the server keeps).
    fn push(&mut self, samples: &[i16]) -> Vec<Cut> {
        let mut cuts = Vec::new();
        for frame in samples.chunks_exact(FRAME) {
            let index = self.frame;
            self.frame += 1;
            match (self.detector.frame(level_db_pcm16(frame)), &mut self.current) {
                (FrameEvent::Started { pre_roll, speech_run }, _) => {
                    self.current = Some((index + 1 - pre_roll, index + 1 - speech_run, index));
                }
                (FrameEvent::Continues { speech: true }, Some((_, _, last))) => *last = index,
                (FrameEvent::Ended { enough_speech }, Some((first, first_speech, last_speech))) => {
                    let cut = Cut { first: *first, first_speech: *first_speech, last_speech: *last_speech, end: index };
                    self.current = None;
                    if enough_speech {
                        cuts.push(cut);
                    }
                }
                _ => {}
            }
        }
        cuts
    }
}

// ---------------------------------------------------------------------------------------------
// A small WebSocket client.

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
enum Side {
    Officer,
    Client,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Officer => "officer",
            Side::Client => "client",
        }
    }
}

enum Incoming {
    Event(Side, Instant, Value),
    Closed(Side, String),
}

struct Socket {
    writer: OwnedWriteHalf,
}

impl Socket {
    /// Opens `path` as a WebSocket; what the server sends goes to `events`, stamped when read.
    async fn open(
        address: &str,
        path: &str,
        cookie: Option<&str>,
        side: Side,
        events: mpsc::UnboundedSender<Incoming>,
    ) -> Result<Socket, String> {
        let mut stream = TcpStream::connect(address).await.map_err(|e| format!("{path}: connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let cookie = cookie.map(|c| format!("Cookie: {c}\r\n")).unwrap_or_default();
        let handshake = format!(
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{cookie}\r\n"
        );
        stream.write_all(handshake.as_bytes()).await.map_err(|e| format!("{path}: send: {e}"))?;
        let mut raw = Vec::new();
        let mut buffer = vec![0u8; 4096];
        let end = loop {
            let n = stream.read(&mut buffer).await.map_err(|e| format!("{path}: read: {e}"))?;
            if n == 0 {
                return Err(format!("{path}: closed during the handshake"));
            }
            raw.extend_from_slice(&buffer[..n]);
            if let Some((status, end)) = parse_head(&raw) {
                if status != 101 {
                    return Err(format!("{path}: HTTP {status}: {}", String::from_utf8_lossy(&raw)));
                }
                break end;
            }
        };
        let rest = raw.split_off(end);
        let (reader, writer) = stream.into_split();
        tokio::task::spawn_local(read_frames(reader, rest, side, events));
        Ok(Socket { writer })
    }

    async fn send(&mut self, opcode: u8, payload: &[u8]) -> Result<(), String> {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask: [u8; 4] = rand::random();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame).await.map_err(|e| format!("socket send: {e}"))
    }

    async fn text(&mut self, text: &str) -> Result<(), String> {
        self.send(0x1, text.as_bytes()).await
    }

    async fn close(&mut self) {
        let _ = self.send(0x8, &1000u16.to_be_bytes()).await;
    }
}

/// One complete frame at the front of `raw`: (fin, opcode, payload, bytes used).
fn parse_frame(raw: &[u8]) -> Option<(bool, u8, Vec<u8>, usize)> {
    if raw.len() < 2 {
        return None;
    }
    let (fin, opcode, masked) = (raw[0] & 0x80 != 0, raw[0] & 0x0F, raw[1] & 0x80 != 0);
    let (len, mut at) = match raw[1] & 0x7F {
        126 if raw.len() >= 4 => (u16::from_be_bytes([raw[2], raw[3]]) as usize, 4),
        127 if raw.len() >= 10 => (u64::from_be_bytes(raw[2..10].try_into().ok()?) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    let mask = if masked {
        let m: [u8; 4] = raw.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(m)
    } else {
        None
    };
    let body = raw.get(at..at + len)?;
    let payload = match mask {
        Some(m) => body.iter().enumerate().map(|(i, b)| b ^ m[i % 4]).collect(),
        None => body.to_vec(),
    };
    Some((fin, opcode, payload, at + len))
}

async fn read_frames(mut reader: OwnedReadHalf, mut raw: Vec<u8>, side: Side, events: mpsc::UnboundedSender<Incoming>) {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut message = Vec::new();
    let mut at = Instant::now();
    loop {
        while let Some((fin, opcode, payload, used)) = parse_frame(&raw) {
            raw.drain(..used);
            match opcode {
                0x1 | 0x0 => {
                    message.extend_from_slice(&payload);
                    if fin {
                        let value = serde_json::from_slice(&message).unwrap_or(Value::Null);
                        message.clear();
                        let _ = events.send(Incoming::Event(side, at, value));
                    }
                }
                0x8 => {
                    let why = if payload.len() > 2 { String::from_utf8_lossy(&payload[2..]).into_owned() } else { "closed".into() };
                    let _ = events.send(Incoming::Closed(side, why));
                    return;
                }
                _ => {}
            }
        }
        match reader.read(&mut buffer).await {
            Ok(n) if n > 0 => {
                at = Instant::now();
                raw.extend_from_slice(&buffer[..n]);
            }
            result => {
                let why = result.err().map(|e| e.to_string()).unwrap_or_else(|| "connection closed".into());
                let _ = events.send(Incoming::Closed(side, why));
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pages.

fn attribute(page: &str, marker: &str) -> Option<String> {
    page.split(marker).nth(1).and_then(|rest| rest.split('"').next()).map(|v| v.replace("&amp;", "&"))
}

async fn sign_in(o: &Options) -> Result<String, String> {
    let staff = std::fs::read_to_string(o.data_dir.join("staff.txt")).map_err(|e| format!("staff.txt: {e}"))?;
    let password = staff.lines().find_map(|l| l.strip_prefix(&format!("{} ", o.user))).ok_or(format!("{} is not in staff.txt", o.user))?;
    let body = form(&[("username", &o.user), ("password", password)]);
    let res = request(&o.address, "POST", "/staff/login", &[], Some(("application/x-www-form-urlencoded", &body))).await?;
    if res.status != 303 {
        return Err(format!("sign-in: HTTP {}", res.status));
    }
    res.cookie().ok_or("sign-in: no cookie".into())
}

async fn get(o: &Options, cookie: &str, path: &str) -> Result<String, String> {
    let res = request(&o.address, "GET", path, &[("Cookie", cookie)], None).await?;
    if res.status != 200 {
        return Err(format!("GET {path}: HTTP {}: {}", res.status, res.text()));
    }
    Ok(res.text())
}

async fn post(o: &Options, cookie: &str, path: &str, fields: &[(&str, &str)]) -> Result<Option<String>, String> {
    let body = form(fields);
    let res = request(&o.address, "POST", path, &[("Cookie", cookie)], Some(("application/x-www-form-urlencoded", &body))).await?;
    if res.status != 303 && res.status != 200 {
        return Err(format!("POST {path}: HTTP {}: {}", res.status, res.text()));
    }
    let location = res.headers("location").next().map(str::to_owned);
    Ok(location)
}

/// The model names the interpreter page shows ("Models: ASR · MT").
async fn model_names(o: &Options, cookie: &str) -> String {
    let Ok(page) = get(o, cookie, "/interpret").await else { return "?".into() };
    page.split("</form>")
        .nth(1)
        .and_then(|rest| rest.split("<p class=\"muted\">").nth(1))
        .and_then(|rest| rest.split("</p>").next())
        .map(|line| line.split_once(": ").map_or(line, |(_, names)| names).replace("&amp;", "&").replace("&#39;", "'"))
        .unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------------------------
// One session and one utterance.

struct Conversation {
    id: String,
    csrf: String,
    officer: Socket,
    client: Socket,
    events: mpsc::UnboundedReceiver<Incoming>,
    vad: [Vad; 2],
    /// Results (segments and notices) per screen, in arrival order, not yet matched to an item.
    results: [VecDeque<(Instant, Value)>; 2],
    closed: Option<String>,
}

fn slot(side: Side) -> usize {
    match side {
        Side::Officer => 0,
        Side::Client => 1,
    }
}

impl Conversation {
    async fn open(o: &Options, cookie: &str, language: &str) -> Result<Conversation, String> {
        let page = get(o, cookie, "/interpret").await?;
        let csrf = attribute(&page, "name=\"csrf\" value=\"").ok_or("no CSRF token on /interpret (is interpreting on?)")?;
        let location = post(o, cookie, "/interpret/start", &[("csrf", &csrf), ("language", language)])
            .await?
            .ok_or("/interpret/start did not redirect to the session")?;
        let id = location.trim_start_matches("/interpret/").to_owned();
        let page = get(o, cookie, &location).await?;
        let link = attribute(&page, "id=\"client-link\" href=\"").ok_or("no client link on the officer's page")?;
        let tag = link.split("k=").nth(1).and_then(|r| r.split('&').next()).ok_or("no tag in the client link")?.to_owned();
        let (sender, events) = mpsc::unbounded_channel();
        let mut officer =
            Socket::open(&o.address, &format!("/interpret/{id}/ws?side=officer"), Some(cookie), Side::Officer, sender.clone()).await?;
        let mut client = Socket::open(&o.address, &format!("/interpret/{id}/ws?side=client&k={tag}"), None, Side::Client, sender).await?;
        for socket in [&mut officer, &mut client] {
            socket.text(r#"{"type":"hello","sample_rate":16000,"channels":1}"#).await?;
        }
        let mut c = Conversation {
            id: id.clone(),
            csrf,
            officer,
            client,
            events,
            vad: [Vad::new(), Vad::new()],
            results: [VecDeque::new(), VecDeque::new()],
            closed: None,
        };
        post(o, "", &format!("/interpret/{id}/ack"), &[("k", &tag)]).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut active = [false, false];
        while active != [true, true] {
            match tokio::time::timeout_at(deadline, c.events.recv()).await {
                Ok(Some(Incoming::Event(side, _, e))) => {
                    let phase = if e["type"] == "phase" || e["type"] == "snapshot" { e["phase"].as_str() } else { None };
                    if phase == Some("active") {
                        active[slot(side)] = true;
                    }
                }
                Ok(Some(Incoming::Closed(side, why))) => return Err(format!("{} socket closed: {why}", side.name())),
                Ok(None) | Err(_) => return Err("the session did not become active within 10 s of the acknowledgement".into()),
            }
        }
        Ok(c)
    }

    async fn finish(mut self, o: &Options, cookie: &str) -> Result<(), String> {
        self.officer.close().await;
        self.client.close().await;
        post(o, cookie, &format!("/interpret/{}/finish", self.id), &[("csrf", &self.csrf), ("how", "end")]).await.map(|_| ())
    }

    /// Moves what arrived into the per-screen result queues.
    fn take(&mut self, incoming: Incoming) -> Result<(), String> {
        match incoming {
            Incoming::Event(side, at, e) => match e["type"].as_str() {
                Some("segment") if e["segment"]["review"] == "pending" => self.results[slot(side)].push_back((at, e)),
                Some("notice") => self.results[slot(side)].push_back((at, e)),
                Some("phase") if e["phase"] != "active" => {
                    return Err(format!("the session left the active phase: {} ({})", e["phase"], e["reason"]));
                }
                _ => {}
            },
            Incoming::Closed(side, why) => {
                self.closed = Some(format!("{} socket closed: {why}", side.name()));
                return Err(self.closed.clone().unwrap_or_default());
            }
        }
        Ok(())
    }

    /// Speaks `samples` (then `silence_ms` of silence) on `side` at real time and waits for the
    /// screens' results of every utterance the detector cuts from it.
    async fn speak(&mut self, o: &Options, side: Side, samples: &[i16]) -> Result<Spoken, String> {
        let mut audio = samples.to_vec();
        audio.extend(std::iter::repeat_n(0i16, o.silence_ms * RATE / 1000));
        audio.resize(audio.len().div_ceil(CHUNK) * CHUNK, 0);
        let base = self.vad[slot(side)].frame;
        let cuts = self.vad[slot(side)].push(&audio);
        let t0 = Instant::now();
        let mut sent = Vec::with_capacity(audio.len() / CHUNK);
        for (k, chunk) in audio.chunks(CHUNK).enumerate() {
            tokio::time::sleep_until(t0 + Duration::from_millis(100 * k as u64)).await;
            let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
            sent.push(Instant::now());
            let socket = match side {
                Side::Officer => &mut self.officer,
                Side::Client => &mut self.client,
            };
            socket.send(0x2, &bytes).await?;
        }
        let done_sending = Instant::now();
        // Every cut gives one result (segment or notice) on each screen.
        let wanted = cuts.len();
        let deadline = done_sending + o.timeout;
        let mut late_deadline: Option<Instant> = None;
        loop {
            let have = [self.results[0].len(), self.results[1].len()];
            if have[0] >= wanted && have[1] >= wanted {
                break;
            }
            // One screen has them all: give the other 10 s more, then count it as missing.
            if (have[0] >= wanted || have[1] >= wanted) && late_deadline.is_none() {
                late_deadline = Some(Instant::now() + Duration::from_secs(10));
            }
            let until = late_deadline.map_or(deadline, |l| l.min(deadline));
            match tokio::time::timeout_at(until, self.events.recv()).await {
                Ok(Some(incoming)) => self.take(incoming)?,
                Ok(None) => return Err("event channel closed".into()),
                Err(_) => break,
            }
        }
        let mut results = Vec::new();
        for cut in &cuts {
            let officer = self.results[0].pop_front();
            let client = self.results[1].pop_front();
            let chunk = |frame: usize| (frame.saturating_sub(base) / FRAMES_PER_CHUNK).min(sent.len() - 1);
            let speech_end_sent = sent[chunk(cut.last_speech)];
            let cut_sent = sent[chunk(cut.end)];
            let ms = |at: Instant, from: Instant| at.saturating_duration_since(from).as_secs_f64() * 1000.0;
            let event = officer.as_ref().or(client.as_ref()).map(|(_, e)| e.clone()).unwrap_or(Value::Null);
            let both = match (&officer, &client) {
                (Some((a, _)), Some((b, _))) => Some((*a).max(*b)),
                _ => None,
            };
            results.push(Outcome {
                cut: *cut,
                event,
                officer_from_speech_ms: officer.as_ref().map(|(at, _)| ms(*at, speech_end_sent)),
                client_from_speech_ms: client.as_ref().map(|(at, _)| ms(*at, speech_end_sent)),
                both_from_speech_ms: both.map(|at| ms(at, speech_end_sent)),
                both_from_cut_ms: both.map(|at| ms(at, cut_sent)),
            });
        }
        Ok(Spoken { audio_ms: (samples.len() * 1000 / RATE) as u64, outcomes: results })
    }
}

struct Spoken {
    audio_ms: u64,
    outcomes: Vec<Outcome>,
}

/// What the screens showed for one cut utterance, and when.
#[derive(Serialize, Clone)]
struct Outcome {
    cut: Cut,
    /// The officer screen's event (the client's lacks the back-translation), else the client's.
    event: Value,
    officer_from_speech_ms: Option<f64>,
    client_from_speech_ms: Option<f64>,
    /// On both screens (the later arrival), from sending the last speech frame.
    both_from_speech_ms: Option<f64>,
    /// On both screens, from sending the frame that completed the 700 ms end-of-speech wait.
    both_from_cut_ms: Option<f64>,
}

impl Outcome {
    fn segment(&self) -> Option<&Value> {
        (self.event["type"] == "segment").then_some(&self.event["segment"])
    }

    fn timing(&self, stage: &str) -> Option<f64> {
        self.segment()?["timings"][stage].as_f64()
    }

    fn label(&self) -> &str {
        match self.segment() {
            None => "notice",
            Some(s) if s["translation"].is_string() => s["label"].as_str().unwrap_or("?"),
            Some(_) => "withheld",
        }
    }
}

/// One spoken test item (or a long pair) and what came of it.
#[derive(Serialize, Clone)]
struct Measured {
    session_language: String,
    group: &'static str,
    id: String,
    side: Side,
    from: String,
    to: String,
    reference: String,
    reference_translation: Option<String>,
    audio_ms: u64,
    outcomes: Vec<Outcome>,
    /// CPU cores other processes used on average while this item was spoken and processed.
    other_cpu_cores: f64,
}

impl Measured {
    fn transcript(&self) -> String {
        self.outcomes.iter().filter_map(|o| o.segment()?["transcript"].as_str()).collect::<Vec<_>>().join(" ")
    }

    /// The translation as shown (withheld or missing parts are empty).
    fn translation(&self) -> String {
        self.outcomes.iter().filter_map(|o| o.segment()?["translation"].as_str()).collect::<Vec<_>>().join(" ")
    }

    /// prepared / machine / withheld / notice / missing, for the whole item.
    fn label(&self) -> String {
        let labels: Vec<&str> = self.outcomes.iter().map(Outcome::label).collect();
        if labels.is_empty() {
            return "not cut".into();
        }
        if self.outcomes.iter().any(|o| o.event.is_null()) {
            return "missing".into();
        }
        if labels.contains(&"machine") {
            "machine".into()
        } else if labels.iter().all(|l| *l == labels[0]) {
            labels[0].into()
        } else {
            labels.join("+")
        }
    }

    fn uncertain(&self) -> bool {
        self.outcomes.iter().any(|o| o.segment().is_some_and(|s| s["uncertain"] == true))
    }

    fn withheld(&self) -> bool {
        self.outcomes.iter().any(|o| o.segment().is_some_and(|s| s["withheld"].is_string()))
    }
}

// ---------------------------------------------------------------------------------------------
// Worker memory.

#[derive(Default, Clone, Copy, Serialize)]
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
    max_rss_kib: u64,
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The worker processes (children of `server` when given): name → pid.
fn workers(server: Option<u32>) -> BTreeMap<String, u32> {
    let mut found = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return found };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let argv0 = cmdline.split(|&b| b == 0).next().map(|a| String::from_utf8_lossy(a).into_owned()).unwrap_or_default();
        let name = Path::new(&argv0).file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name != "prepazka-asr-worker" && name != "prepazka-mt-worker" {
            continue;
        }
        if let Some(server) = server {
            if status_kib(pid, "PPid:") != Some(u64::from(server)) {
                continue;
            }
        }
        found.insert(name, pid);
    }
    found
}

fn sample_memory(server: Option<u32>, memory: &mut BTreeMap<String, Memory>) {
    let mut pids = workers(server);
    if let Some(server) = server {
        pids.insert("prepazka (server)".into(), server);
    }
    for (name, pid) in pids {
        let (Some(rss), Some(hwm)) = (status_kib(pid, "VmRSS:"), status_kib(pid, "VmHWM:")) else { continue };
        let m = memory.entry(name).or_default();
        m.rss_kib = rss;
        m.hwm_kib = m.hwm_kib.max(hwm);
        m.max_rss_kib = m.max_rss_kib.max(rss);
    }
}

/// Busy CPU time of the whole machine and of this benchmark's own processes (the server, its
/// workers and this tool), in clock ticks: the difference over an utterance is what other
/// processes took from it.
fn cpu_ticks(server: Option<u32>) -> (u64, u64) {
    let busy = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let fields: Vec<u64> = s.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
            // user nice system idle iowait irq softirq steal
            Some(fields.iter().take(8).sum::<u64>() - fields.get(3)? - fields.get(4)?)
        })
        .unwrap_or(0);
    let ticks = |path: String| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| {
                let after = s.rsplit_once(')')?.1;
                let fields: Vec<&str> = after.split_whitespace().collect();
                Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
            })
            .unwrap_or(0)
    };
    let mut own = ticks("/proc/self/stat".into());
    if let Some(server) = server {
        own += ticks(format!("/proc/{server}/stat"));
        own += workers(Some(server)).values().map(|pid| ticks(format!("/proc/{pid}/stat"))).sum::<u64>();
    }
    (busy, own)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The run.

async fn speak_item(
    o: &Options,
    conversation: &mut Conversation,
    session_language: &str,
    group: &'static str,
    item: &Item,
    samples: &[i16],
) -> Result<Measured, String> {
    let side = if item.speaker == "officer" { Side::Officer } else { Side::Client };
    let to = if side == Side::Officer { session_language.to_owned() } else { "cs".to_owned() };
    let (busy_before, own_before) = cpu_ticks(o.pid);
    let wall = Instant::now();
    let spoken = conversation.speak(o, side, samples).await?;
    let (busy_after, own_after) = cpu_ticks(o.pid);
    // Clock ticks are 1/100 s on Linux.
    let other_cpu_cores = (busy_after.saturating_sub(busy_before) as f64 - own_after.saturating_sub(own_before) as f64).max(0.0)
        / 100.0
        / wall.elapsed().as_secs_f64().max(0.001);
    let measured = Measured {
        session_language: session_language.to_owned(),
        group,
        id: item.id.clone(),
        side,
        from: item.lang.clone(),
        to: to.clone(),
        reference: item.text.clone(),
        reference_translation: item.translations.get(&to).cloned(),
        audio_ms: spoken.audio_ms,
        outcomes: spoken.outcomes,
        other_cpu_cores,
    };
    let first = measured.outcomes.first();
    eprintln!(
        "  {:<8} {:<22} {:>5} ms audio  {:<9} speech→screens {:>6} ms  recognition {:>5} ms  others {:.2} cores  {:?} → {:?}",
        group,
        item.id,
        measured.audio_ms,
        measured.label(),
        first.and_then(|o| o.both_from_speech_ms).map_or("-".into(), |v| format!("{v:.0}")),
        first.and_then(|o| o.timing("recognition")).map_or("-".into(), |v| format!("{v:.0}")),
        measured.other_cpu_cores,
        measured.transcript(),
        measured.translation(),
    );
    Ok(measured)
}

/// Two items' speech joined by 300 ms of silence (with 300 ms before), about 5 s of speech.
fn joined(a: &Item, b: &Item) -> Result<(Item, Vec<i16>), String> {
    let (pa, pb) = (read_wav(a.audio.as_ref().ok_or("no audio")?)?, read_wav(b.audio.as_ref().ok_or("no audio")?)?);
    let gap = vec![0i16; RATE * 3 / 10];
    let samples = [gap.as_slice(), trim(&pa), gap.as_slice(), trim(&pb)].concat();
    let translations =
        a.translations.iter().filter_map(|(lang, text)| Some((lang.clone(), format!("{text} {}", b.translations.get(lang)?)))).collect();
    let item = Item {
        id: format!("{}+{}", a.id, b.id.rsplit('-').next().unwrap_or(&b.id)),
        speaker: a.speaker.clone(),
        lang: a.lang.clone(),
        text: format!("{} {}", a.text, b.text),
        translations,
        audio: None,
    };
    Ok((item, samples))
}

/// The `n` pairs of `items` (in test-set order) whose trimmed speech plus the 300 ms gap is
/// nearest 5 s.
fn pairs_near_5s<'a>(items: &[&'a Item], n: usize) -> Result<Vec<(&'a Item, &'a Item)>, String> {
    let mut speech = Vec::new();
    for item in items {
        let samples = read_wav(item.audio.as_ref().ok_or("no audio")?)?;
        speech.push(trim(&samples).len() as i64 * 1000 / RATE as i64);
    }
    let mut pairs: Vec<(i64, usize, usize)> = Vec::new();
    for a in 0..items.len() {
        for b in a + 1..items.len() {
            pairs.push(((speech[a] + speech[b] + 300 - 5_000).abs(), a, b));
        }
    }
    pairs.sort_unstable();
    Ok(pairs.into_iter().take(n).map(|(_, a, b)| (items[a], items[b])).collect())
}

async fn measure(o: Options) -> Result<(), String> {
    let testset = load_testset(&o.testset)?;
    let probe = match &o.probe {
        Some(dir) => load_testset(dir)?,
        None => Vec::new(),
    };
    let load_at_start = load_average();
    let started_at = chrono::Local::now();
    let cookie = sign_in(&o).await?;
    let mut memory = BTreeMap::new();
    let mut measured: Vec<Measured> = Vec::new();
    let mut models = String::new();
    let officer: Vec<&Item> = testset.iter().filter(|i| i.speaker == "officer" && i.audio.is_some()).take(o.items).collect();
    let mut notes = Vec::new();
    let run_started = Instant::now();
    for (n, language) in o.languages.iter().enumerate() {
        eprintln!("== session {language}");
        let mut conversation = Conversation::open(&o, &cookie, language).await?;
        if n == 0 {
            // Warm-up, not counted: the workers start when the first session opens; the first
            // calls also page in the models.
            for item in testset
                .iter()
                .filter(|i| i.audio.is_some() && (i.id == "cs-officer-01" || i.speaker == "client" && &i.lang == language))
                .take(2)
            {
                let samples = read_wav(item.audio.as_ref().ok_or("no audio")?)?;
                speak_item(&o, &mut conversation, language, "warm-up", item, &samples).await?;
            }
            models = model_names(&o, &cookie).await;
            sample_memory(o.pid, &mut memory);
        }
        let clients: Vec<&Item> = testset.iter().filter(|i| i.speaker == "client" && &i.lang == language).collect();
        let spoken_clients: Vec<&Item> = clients.iter().copied().filter(|i| i.audio.is_some()).take(o.items).collect();
        if !clients.is_empty() && spoken_clients.is_empty() {
            notes.push(format!("{language}: no client audio in the test set (espeak-ng has no {language} voice); only the officer's Czech items were spoken"));
        }
        // Turn by turn, officer first, as at the counter.
        let turns = officer.len().max(spoken_clients.len());
        for t in 0..turns {
            for item in [officer.get(t), spoken_clients.get(t)].into_iter().flatten() {
                let samples = read_wav(item.audio.as_ref().ok_or("no audio")?)?;
                measured.push(speak_item(&o, &mut conversation, language, "test set", item, &samples).await?);
                sample_memory(o.pid, &mut memory);
            }
        }
        if o.long {
            // The pairs whose joined speech is nearest 5 s: three of the officer's (in the
            // English session) and two of this language's client items.
            let mut pairs = Vec::new();
            if language == "en" {
                pairs.extend(pairs_near_5s(&officer, 3)?);
            }
            pairs.extend(pairs_near_5s(&spoken_clients, 2)?);
            for (a, b) in pairs {
                let (item, samples) = joined(a, b)?;
                measured.push(speak_item(&o, &mut conversation, language, "~5 s", &item, &samples).await?);
                sample_memory(o.pid, &mut memory);
            }
        }
        // Phrasebook sentences in this language, on the client's socket: the prepared path's
        // latency and how often a recognised sentence finds its entry.
        for item in probe.iter().filter(|i| &i.lang == language && i.audio.is_some()) {
            let samples = read_wav(item.audio.as_ref().ok_or("no audio")?)?;
            measured.push(speak_item(&o, &mut conversation, language, "phrasebook probe", item, &samples).await?);
            sample_memory(o.pid, &mut memory);
        }
        conversation.finish(&o, &cookie).await?;
    }
    let run_seconds = run_started.elapsed().as_secs_f64();
    sample_memory(o.pid, &mut memory);
    let load_at_end = load_average();
    if let Some(path) = &o.out {
        let json = serde_json::json!({
            "started": started_at.to_rfc3339(), "models": models, "load_start": load_at_start, "load_end": load_at_end,
            "memory": memory, "items": measured,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json).unwrap_or_default()).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    print!(
        "{}",
        report(
            &measured,
            &memory,
            &models,
            &notes,
            &started_at.format("%Y-%m-%d %H:%M").to_string(),
            &load_at_start,
            &load_at_end,
            run_seconds
        )
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The report.

fn p(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    Some(percentile(&mut v, q))
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.0}"))
}

fn p50_p90(values: &[f64]) -> String {
    if values.is_empty() {
        return "–".into();
    }
    format!("{} / {}", ms(p(values, 0.5)), ms(p(values, 0.9)))
}

fn rate(r: ErrorRate) -> String {
    if r.reference_len == 0 {
        return "–".into();
    }
    format!("{:.2}", r.rate())
}

fn language_name(code: &str) -> &'static str {
    match code {
        "cs" => "Czech",
        "uk" => "Ukrainian",
        "ru" => "Russian",
        "vi" => "Vietnamese",
        "mn" => "Mongolian",
        "en" => "English",
        _ => "?",
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    all: &[Measured],
    memory: &BTreeMap<String, Memory>,
    models: &str,
    notes: &[String],
    date: &str,
    load_start: &str,
    load_end: &str,
    run_seconds: f64,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let test: Vec<&Measured> = all.iter().filter(|m| m.group == "test set").collect();
    let _ = writeln!(out, "### Interpreting benchmark, {date}\n");
    let _ = writeln!(
        out,
        "Models: {models}. {} test-set utterances, {} ~5 s utterances and {} phrasebook-probe sentences in {:.0} s; load average {load_start} at the start, {load_end} at the end.\n",
        test.len(),
        all.iter().filter(|m| m.group == "~5 s").count(),
        all.iter().filter(|m| m.group == "phrasebook probe").count(),
        run_seconds
    );
    let others: Vec<f64> = all.iter().filter(|m| m.group != "warm-up").map(|m| m.other_cpu_cores).collect();
    if !others.is_empty() {
        let _ = writeln!(
            out,
            "Other processes' CPU while the utterances were spoken and processed: {:.2} cores on average, {:.2} at most (one utterance).\n",
            others.iter().sum::<f64>() / others.len() as f64,
            others.iter().copied().fold(0.0, f64::max)
        );
    }
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    if !notes.is_empty() {
        out.push('\n');
    }

    // Recognition quality per spoken language.
    let _ = writeln!(out, "**Recognition** (whisper transcript against the reference text, normalised; corpus rates)\n");
    let _ = writeln!(out, "| language | clips | utterances | WER | CER | exact | no usable result |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let mut languages: Vec<&str> = test.iter().map(|m| m.from.as_str()).collect();
    languages.sort_unstable();
    languages.dedup();
    for lang in &languages {
        let rows: Vec<&&Measured> = test.iter().filter(|m| m.from == *lang).collect();
        let mut clips: Vec<&str> = rows.iter().map(|m| m.id.as_str()).collect();
        clips.sort_unstable();
        clips.dedup();
        let wer: ErrorRate = rows.iter().map(|m| word_error_rate(&m.transcript(), &m.reference)).sum();
        let cer: ErrorRate = rows.iter().map(|m| char_error_rate(&m.transcript(), &m.reference)).sum();
        let exact = rows.iter().filter(|m| word_error_rate(&m.transcript(), &m.reference).errors == 0).count();
        let nothing = rows.iter().filter(|m| m.transcript().is_empty()).count();
        let _ = writeln!(
            out,
            "| {} ({lang}) | {} | {} | {} | {} | {exact} | {nothing} |",
            language_name(lang),
            clips.len(),
            rows.len(),
            rate(wer),
            rate(cer)
        );
    }
    out.push('\n');

    // Translation quality per direction.
    let _ = writeln!(out, "**Translation** (chrF of the shown translation against the reference; corpus chrF, 0–100)\n");
    let _ = writeln!(
        out,
        "| direction | utterances | prepared | machine | withheld | no result | uncertain | chrF shown | chrF prepared | chrF machine | chrF, withheld = empty |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut directions: Vec<(String, String)> = test.iter().map(|m| (m.from.clone(), m.to.clone())).collect();
    directions.sort();
    directions.dedup();
    for (from, to) in &directions {
        let rows: Vec<&&Measured> = test.iter().filter(|m| &m.from == from && &m.to == to).collect();
        let count = |label: &str| rows.iter().filter(|m| m.label() == label).count();
        let chrf_of = |keep: &dyn Fn(&Measured) -> bool| -> String {
            let stats: Vec<ChrfStats> = rows
                .iter()
                .filter(|m| keep(m))
                .filter_map(|m| Some(ChrfStats::sentence(&m.translation(), m.reference_translation.as_deref()?)))
                .collect();
            if stats.is_empty() {
                "–".into()
            } else {
                format!("{:.1}", stats.into_iter().sum::<ChrfStats>().score())
            }
        };
        let shown = |m: &Measured| !m.translation().is_empty();
        let _ = writeln!(
            out,
            "| {from} → {to} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            rows.len(),
            count("prepared"),
            count("machine"),
            rows.iter().filter(|m| m.withheld()).count(),
            rows.iter().filter(|m| m.translation().is_empty() && !m.withheld()).count(),
            rows.iter().filter(|m| m.uncertain()).count(),
            chrf_of(&shown),
            chrf_of(&|m| m.label() == "prepared"),
            chrf_of(&|m| m.label() == "machine"),
            chrf_of(&|_| true),
        );
    }
    out.push('\n');

    // The phrasebook probe: did the recognised sentence find its own entry?
    let probes: Vec<&Measured> = all.iter().filter(|m| m.group == "phrasebook probe").collect();
    if !probes.is_empty() {
        let phrase = |m: &Measured| m.outcomes.iter().find_map(|o| o.segment()?["phrase"].as_str().map(str::to_owned));
        let own = probes.iter().filter(|m| phrase(m).as_deref() == m.id.strip_prefix("probe-")).count();
        let other = probes.iter().filter(|m| phrase(m).is_some() && phrase(m).as_deref() != m.id.strip_prefix("probe-")).count();
        let wer: ErrorRate = probes.iter().map(|m| word_error_rate(&m.transcript(), &m.reference)).sum();
        let _ = writeln!(out, "**Phrasebook probe** (the phrasebook's own sentences, spoken by espeak-ng on the client's socket)\n");
        let _ = writeln!(
            out,
            "| language | sentences | WER | its own entry shown | another entry shown | machine translated | withheld / no result |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        let mut langs: Vec<&str> = probes.iter().map(|m| m.from.as_str()).collect();
        langs.dedup();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {own} | {other} | {} | {} |",
            langs.join(", "),
            probes.len(),
            rate(wer),
            probes.iter().filter(|m| m.label() == "machine").count(),
            probes.iter().filter(|m| m.translation().is_empty()).count(),
        );
        out.push('\n');
    }

    // Latency per kind of segment.
    let outcomes = |group: &str, label: Option<&str>| -> Vec<Outcome> {
        all.iter()
            .filter(|m| m.group == group)
            .flat_map(|m| m.outcomes.iter())
            .filter(|o| o.segment().is_some() && label.is_none_or(|l| o.label() == l))
            .cloned()
            .collect()
    };
    let mut prepared = outcomes("test set", Some("prepared"));
    prepared.extend(outcomes("phrasebook probe", Some("prepared")));
    let classes: Vec<(String, Vec<Outcome>)> = vec![
        ("phrasebook hit (prepared), test set and probe".into(), prepared),
        ("machine translation".into(), outcomes("test set", Some("machine"))),
        ("withheld / not served".into(), outcomes("test set", Some("withheld"))),
        ("phrasebook probe, prepared".into(), outcomes("phrasebook probe", Some("prepared"))),
        ("phrasebook probe, machine (no entry matched)".into(), outcomes("phrasebook probe", Some("machine"))),
        ("~5 s utterances, machine".into(), outcomes("~5 s", Some("machine"))),
        ("~5 s utterances, other".into(), {
            let mut v = outcomes("~5 s", None);
            v.retain(|o| o.label() != "machine");
            v
        }),
    ];
    let _ = writeln!(out, "**Latency**, ms, p50 / p90 (server stages from the segment's `timings`; the rest measured by the tool)\n");
    let _ = writeln!(
        out,
        "| segments | n | speech | recognition | translation | checks (incl. back-translation) | log | server total | delivery | end of utterance → both screens | end of speech → both screens |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, rows) in &classes {
        if rows.is_empty() {
            continue;
        }
        let stage = |s: &str| -> Vec<f64> { rows.iter().filter_map(|o| o.timing(s)).collect() };
        let delivery: Vec<f64> = rows.iter().filter_map(|o| Some(o.both_from_cut_ms? - o.timing("total")?)).collect();
        let from_cut: Vec<f64> = rows.iter().filter_map(|o| o.both_from_cut_ms).collect();
        let from_speech: Vec<f64> = rows.iter().filter_map(|o| o.both_from_speech_ms).collect();
        let speech: Vec<f64> = rows.iter().map(|o| o.cut.speech_ms() as f64).collect();
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            rows.len(),
            p50_p90(&speech),
            p50_p90(&stage("recognition")),
            p50_p90(&stage("translation")),
            p50_p90(&stage("checks")),
            p50_p90(&stage("log")),
            p50_p90(&stage("total")),
            p50_p90(&delivery),
            p50_p90(&from_cut),
            p50_p90(&from_speech),
        );
    }
    out.push('\n');

    // Recognition time against utterance length, and the real-time factor.
    let every: Vec<&Outcome> =
        all.iter().filter(|m| m.group != "warm-up").flat_map(|m| m.outcomes.iter()).filter(|o| o.timing("recognition").is_some()).collect();
    let _ = writeln!(out, "**Recognition time and real-time factor** (RTF = whisper compute ms ÷ ms of audio it was given: speech + pre-roll + the 700 ms tail)\n");
    let _ = writeln!(out, "| speech length | n | audio to whisper, ms | recognition, ms p50 / p90 | RTF p50 / p90 |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let buckets: [(&str, u64, u64); 4] =
        [("< 3 s", 0, 3_000), ("3 – 4.5 s", 3_000, 4_500), ("4.5 – 5.5 s (~5 s)", 4_500, 5_500), ("≥ 5.5 s", 5_500, u64::MAX)];
    for (name, low, high) in buckets.iter().copied().chain(std::iter::once(("all", 0, u64::MAX))) {
        let rows: Vec<&&Outcome> = every.iter().filter(|o| (low..high).contains(&o.cut.speech_ms())).collect();
        if rows.is_empty() {
            continue;
        }
        let recognition: Vec<f64> = rows.iter().filter_map(|o| o.timing("recognition")).collect();
        let rtf: Vec<f64> = rows.iter().filter_map(|o| Some(o.timing("recognition")? / o.cut.audio_ms() as f64)).collect();
        let audio: Vec<f64> = rows.iter().map(|o| o.cut.audio_ms() as f64).collect();
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} |",
            rows.len(),
            ms(p(&audio, 0.5)),
            p50_p90(&recognition),
            match (p(&rtf, 0.5), p(&rtf, 0.9)) {
                (Some(a), Some(b)) => format!("{a:.2} / {b:.2}"),
                _ => "–".into(),
            }
        );
    }
    out.push('\n');

    let _ = writeln!(out, "**Memory** (from /proc/PID/status)\n");
    let _ = writeln!(out, "| process | VmRSS at the end | highest VmRSS sampled | VmHWM (peak) |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for (name, m) in memory {
        let mib = |kib: u64| format!("{:.0} MiB", kib as f64 / 1024.0);
        let _ = writeln!(out, "| {name} | {} | {} | {} |", mib(m.rss_kib), mib(m.max_rss_kib), mib(m.hwm_kib));
    }
    out.push('\n');

    // The issue's targets.
    let recognition_5s: Vec<f64> =
        every.iter().filter(|o| (4_500..5_500).contains(&o.cut.speech_ms())).filter_map(|o| o.timing("recognition")).collect();
    let class = |i: usize| &classes[i].1;
    let machine_class = 1;
    let median = |rows: &Vec<Outcome>, f: &dyn Fn(&Outcome) -> Option<f64>| p(&rows.iter().filter_map(f).collect::<Vec<_>>(), 0.5);
    let verdict = |v: Option<f64>, limit: f64| match v {
        Some(v) if v <= limit => format!("**{v:.0} ms: met**"),
        Some(v) => format!("**{v:.0} ms: missed**"),
        None => "not measured".into(),
    };
    let _ = writeln!(out, "**Targets** (issue 5)\n");
    let _ = writeln!(out, "| target | measured (p50) |");
    let _ = writeln!(out, "|---|---|");
    let _ = writeln!(
        out,
        "| recognition ≤ 1,500 ms for a ~5 s utterance ({} utterances of 4.5–5.5 s speech) | {} |",
        recognition_5s.len(),
        verdict(p(&recognition_5s, 0.5), 1_500.0)
    );
    let _ = writeln!(
        out,
        "| phrasebook hit on both screens ≤ 2,000 ms, from end of speech (700 ms end-of-speech wait included; {} hits) | {} |",
        class(0).len(),
        verdict(median(class(0), &|o| o.both_from_speech_ms), 2_000.0)
    );
    let _ = writeln!(
        out,
        "| phrasebook hit on both screens ≤ 2,000 ms, from the utterance's cut | {} |",
        verdict(median(class(0), &|o| o.both_from_cut_ms), 2_000.0)
    );
    let _ = writeln!(
        out,
        "| machine translation on both screens (as measured; 3,000 ms the aim), from end of speech ({} segments) | {} |",
        class(machine_class).len(),
        verdict(median(class(machine_class), &|o| o.both_from_speech_ms), 3_000.0)
    );
    let _ = writeln!(
        out,
        "| machine translation on both screens, from the utterance's cut | {} |",
        verdict(median(class(machine_class), &|o| o.both_from_cut_ms), 3_000.0)
    );
    out.push('\n');

    // Every test-set item, for the record.
    let _ = writeln!(out, "<details><summary>Every utterance</summary>\n");
    let _ = writeln!(out, "| session | item | label | WER | chrF | recognition | translation | checks | end of speech → both screens | transcript | shown translation |");
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|");
    for m in all {
        let o = m.outcomes.last();
        let chrf = m
            .reference_translation
            .as_deref()
            .filter(|_| !m.translation().is_empty())
            .map(|r| ChrfStats::sentence(&m.translation(), r).score());
        let cell = |s: String| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} | {}{} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.session_language,
            m.id,
            if m.group == "test set" { String::new() } else { format!(" ({})", m.group) },
            m.label(),
            if m.uncertain() { ", uncertain" } else { "" },
            rate(word_error_rate(&m.transcript(), &m.reference)),
            chrf.map_or("–".into(), |c| format!("{c:.0}")),
            ms(o.and_then(|o| o.timing("recognition"))),
            ms(o.and_then(|o| o.timing("translation"))),
            ms(o.and_then(|o| o.timing("checks"))),
            ms(o.and_then(|o| o.both_from_speech_ms)),
            cell(m.transcript()),
            cell(if m.translation().is_empty() {
                o.and_then(|o| o.segment().and_then(|s| s["withheld"].as_str().map(|w| format!("(withheld: {w})"))))
                    .or_else(|| o.and_then(|o| o.event["code"].as_str().map(|c| format!("(notice: {c})"))))
                    .unwrap_or_default()
            } else {
                m.translation()
            }),
        );
    }
    let _ = writeln!(out, "\n</details>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let payload = b"{\"type\":\"segment\"}";
        let mut frame = vec![0x81, payload.len() as u8];
        frame.extend_from_slice(payload);
        let (fin, opcode, body, used) = parse_frame(&frame).expect("a frame");
        assert!(fin);
        assert_eq!((opcode, body.as_slice(), used), (1, &payload[..], frame.len()));
        assert!(parse_frame(&frame[..frame.len() - 1]).is_none());
        let long = vec![7u8; 300];
        let mut frame = vec![0x82, 126, 1, 44];
        frame.extend_from_slice(&long);
        assert_eq!(parse_frame(&frame).map(|f| f.2.len()), Some(300));
    }

    #[test]
    fn the_cuts_fall_where_the_servers_rule_puts_them() {
        // 1 s of silence, 1 s of a loud tone, 1.5 s of silence: one cut, 700 ms after the tone.
        let tone: Vec<i16> = (0..RATE).map(|i| ((i as f32 * 0.05).sin() * 8_000.0) as i16).collect();
        let audio = [vec![0i16; RATE], tone, vec![0i16; RATE * 3 / 2]].concat();
        let mut vad = Vad::new();
        let cuts = vad.push(&audio);
        assert_eq!(cuts.len(), 1);
        let cut = cuts[0];
        assert_eq!(cut.first_speech, 50);
        assert_eq!(cut.last_speech, 99);
        assert_eq!(cut.end, 99 + prepazka_models::interpret::vad::END_SILENCE_FRAMES);
        assert_eq!(cut.first, 50 + 2 - 11, "12 frames of pre-roll, the third speech frame included");
        assert_eq!(cut.speech_ms(), 1_000);
    }
}
