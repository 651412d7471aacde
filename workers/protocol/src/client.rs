//! The async client the server uses to reach one worker process (feature `client`).
//!
//! Concurrency model: a [`WorkerClient`] owns at most one child process and lets **one call at a
//! time** through a `tokio::sync::Mutex` taken with `try_lock`: a second concurrent call is
//! answered [`WorkerError::Busy`] at once, never queued, so a caller (the interpreting session)
//! decides itself whether to wait, skip or tell the officer. The child is started by
//! [`WorkerClient::spawn`] and again, after a short backoff, by the first call after it died or
//! was killed.
//!
//! Failure semantics, each a distinct error:
//! - the worker refused the request: `BadInput`, `Busy` or `Internal`, as it said; the worker
//!   stays up;
//! - the pipe broke or closed during the job (the process died, say `kill -9` or a native
//!   crash on bad audio): `Crashed` with the exit status; the next call starts a new worker. A
//!   worker found dead *between* jobs is logged and replaced, and the call goes on;
//! - no reply within `job_timeout`: the worker is killed, `Timeout`; the next call starts a new one;
//! - a caller that stops waiting (its future dropped) leaves the job running; its late reply is
//!   recognised by its id and dropped. Only a caller dropped in the middle of *writing* a
//!   request leaves the pipe unusable, and then the worker is quietly replaced.
//!
//! The worker's stderr is forwarded line by line to `tracing` (target `prepazka_worker`); its
//! last lines are kept for the error that reports a crash.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::frame::{self, Frame, PREFIX_LEN};
use crate::message::{
    encode_samples, AsrTask, Info, JobError, Language, Reply, ReplyEnvelope, Request, RequestEnvelope, Transcript, TranslateRequest,
    Translation,
};

/// How to start and use one worker. Plain data: build it with [`WorkerConfig::new`] and struct
/// update syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// The worker executable ([`crate::locate_worker_binary`] finds the usual one).
    pub binary: PathBuf,
    /// The weights file, passed as `--model`.
    pub model: PathBuf,
    /// Inference threads, passed as `--threads`.
    pub threads: u32,
    /// Niceness the worker adds to itself, so that the server keeps the cores it needs.
    pub nice: i32,
    /// The longest a job may take before the worker is killed.
    pub job_timeout: Duration,
    /// The longest a start may take (loading and hashing the model).
    pub load_timeout: Duration,
    /// The wait before the first restart after a failure; it doubles with each failure in a row,
    /// up to 32 times.
    pub respawn_backoff: Duration,
}

impl WorkerConfig {
    pub fn new(binary: impl Into<PathBuf>, model: impl Into<PathBuf>) -> Self {
        WorkerConfig {
            binary: binary.into(),
            model: model.into(),
            threads: 2,
            nice: 10,
            job_timeout: Duration::from_secs(60),
            load_timeout: Duration::from_secs(120),
            respawn_backoff: Duration::from_millis(250),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The request breaks a rule (audio too long, empty text …); retrying will not help.
    #[error("bad input: {reason}")]
    BadInput { reason: String },
    /// Another job is running (in this client, or, rarely, still in the worker).
    #[error("worker busy")]
    Busy,
    /// The worker failed on a valid request and is still up.
    #[error("worker internal error: {reason}")]
    Internal { reason: String },
    /// The worker process died during the job. `stderr_tail` holds its last lines of log.
    #[error("worker crashed ({})", describe(.status))]
    Crashed { status: Option<ExitStatus>, stderr_tail: String },
    /// The job ran past the configured timeout; the worker was killed.
    #[error("no reply within {timeout:?}; the worker was killed")]
    Timeout { timeout: Duration },
    /// The worker could not be started or did not get ready.
    #[error("worker {} did not start: {reason}", .binary.display())]
    Start { binary: PathBuf, reason: String },
    /// The worker answered something this client does not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl From<JobError> for WorkerError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::BadInput { reason } => WorkerError::BadInput { reason },
            JobError::Busy => WorkerError::Busy,
            JobError::Internal { reason } => WorkerError::Internal { reason },
        }
    }
}

fn describe(status: &Option<ExitStatus>) -> String {
    status.map_or_else(|| "exit status unknown".to_owned(), |s| s.to_string())
}

/// A handle on one worker process. Share it behind an `Arc`; every method takes `&self`.
pub struct WorkerClient {
    config: WorkerConfig,
    state: Mutex<State>,
    /// The running child's pid, 0 when none: readable without the lock, so that memory can be
    /// sampled (and a test can kill the child) while a job holds it.
    pid: AtomicU32,
}

impl std::fmt::Debug for WorkerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerClient").field("binary", &self.config.binary).field("pid", &self.pid()).finish()
    }
}

#[derive(Default)]
struct State {
    process: Option<Process>,
    next_id: u64,
    /// Failures in a row (crash, timeout, failed start); the backoff grows with them.
    failures: u32,
    last_failure: Option<Instant>,
}

struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr_task: JoinHandle<()>,
    stderr_tail: Arc<StdMutex<VecDeque<String>>>,
    /// True while a request is being written. Still true at the next call means a caller was
    /// dropped mid-frame and the pipe holds half a request.
    mid_write: bool,
}

/// How an exchange went wrong, before it is told to the caller.
enum Broken {
    /// EOF or a broken pipe: the process is gone or going.
    Closed,
    Protocol(String),
}

const STDERR_TAIL_LINES: usize = 20;
const STDERR_LINE_CHARS: usize = 400;

impl WorkerClient {
    /// Starts the worker and waits until its model is loaded (it answers `Info`).
    pub async fn spawn(config: WorkerConfig) -> Result<WorkerClient, WorkerError> {
        let client = WorkerClient { config, state: Mutex::new(State::default()), pid: AtomicU32::new(0) };
        {
            let mut state = client.state.lock().await;
            client.start(&mut state).await?;
        }
        Ok(client)
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// What the worker runs: model, hashes, threads. Asks the worker (starting it if needed).
    pub async fn info(&self) -> Result<Info, WorkerError> {
        match self.call(Request::Info, Vec::new()).await? {
            Reply::Info(info) => Ok(info),
            other => Err(unexpected(&other)),
        }
    }

    /// Transcribes (or translates into English) 16 kHz mono samples in [-1, 1], at most 30 s.
    /// `language: None` lets Whisper detect the language.
    pub async fn transcribe(&self, language: Option<Language>, task: AsrTask, samples: &[f32]) -> Result<Transcript, WorkerError> {
        match self.call(Request::Transcribe { language, task }, encode_samples(samples)).await? {
            Reply::Transcript(t) => Ok(t),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn translate(&self, request: &TranslateRequest) -> Result<Translation, WorkerError> {
        match self.call(Request::Translate(request.clone()), Vec::new()).await? {
            Reply::Translation(t) => Ok(t),
            other => Err(unexpected(&other)),
        }
    }

    /// The running worker's process id, if one is running.
    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::SeqCst)).filter(|&p| p != 0)
    }

    /// The running worker's resident memory (`VmRSS` of `/proc/<pid>/status`), for benchmarks.
    pub fn resident_memory_bytes(&self) -> Option<u64> {
        resident_memory_bytes(self.pid()?)
    }

    /// Closes the worker's stdin (it exits on its own when idle) and waits for it, killing it if
    /// it takes longer than five seconds. The next call would start a new one.
    pub async fn shutdown(&self) {
        let mut state = self.state.lock().await;
        if let Some(mut process) = state.process.take() {
            self.pid.store(0, Ordering::SeqCst);
            drop(process.stdin);
            if tokio::time::timeout(Duration::from_secs(5), process.child.wait()).await.is_err() {
                let _ = process.child.start_kill();
                let _ = process.child.wait().await;
            }
        }
    }

    async fn call(&self, request: Request, payload: Vec<u8>) -> Result<Reply, WorkerError> {
        let mut guard = self.state.try_lock().map_err(|_| WorkerError::Busy)?;
        let state = &mut *guard;
        // Refused here rather than after starting a worker for it.
        if payload.len() > frame::MAX_PAYLOAD_BYTES as usize {
            return Err(WorkerError::BadInput { reason: format!("request payload of {} bytes is over the frame limit", payload.len()) });
        }
        // A worker that died between jobs is no failure of this job: replace it and go on.
        if let Some(status) = state.process.as_mut().and_then(|p| p.child.try_wait().ok().flatten()) {
            tracing::warn!(worker = %self.name(), status = %status, "worker exited while idle; starting a new one");
            self.reap(state).await;
        }
        if state.process.as_ref().is_some_and(|p| p.mid_write) {
            tracing::warn!(worker = %self.name(), "a caller gave up while writing a request; replacing the worker");
            self.kill(state).await;
        }
        if state.process.is_none() {
            self.start(state).await?;
        }
        state.next_id += 1;
        let id = state.next_id;
        let bytes = encode_request(id, request, &payload)?;
        let Some(process) = state.process.as_mut() else {
            return Err(WorkerError::Protocol("no worker process after start".into()));
        };

        match tokio::time::timeout(self.config.job_timeout, exchange(process, id, &bytes)).await {
            Ok(Ok(Reply::Error { error })) => Err(error.into()),
            Ok(Ok(reply)) => {
                state.failures = 0;
                Ok(reply)
            }
            Ok(Err(Broken::Closed)) => {
                let (status, stderr_tail) = self.reap(state).await;
                tracing::warn!(worker = %self.name(), status = %describe(&status), "worker crashed during a job");
                Err(WorkerError::Crashed { status, stderr_tail })
            }
            Ok(Err(Broken::Protocol(reason))) => {
                self.kill(state).await;
                Err(WorkerError::Protocol(reason))
            }
            Err(_elapsed) => {
                tracing::warn!(worker = %self.name(), timeout = ?self.config.job_timeout, "job timed out; killing the worker");
                self.kill(state).await;
                Err(WorkerError::Timeout { timeout: self.config.job_timeout })
            }
        }
    }

    /// Starts a process and waits for its `Info`, after the backoff if the last one failed.
    async fn start(&self, state: &mut State) -> Result<(), WorkerError> {
        if let Some(at) = state.last_failure {
            let backoff = self.config.respawn_backoff.saturating_mul(1 << state.failures.saturating_sub(1).min(5));
            if let Some(wait) = backoff.checked_sub(at.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let start_error = |reason: String| WorkerError::Start { binary: self.config.binary.clone(), reason };
        let mut child = Command::new(&self.config.binary)
            .arg("--model")
            .arg(&self.config.model)
            .arg("--threads")
            .arg(self.config.threads.to_string())
            .arg("--nice")
            .arg(self.config.nice.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                state.failures += 1;
                state.last_failure = Some(Instant::now());
                start_error(e.to_string())
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take()) else {
            return Err(start_error("the child's pipes were not set up".into()));
        };
        let stderr_tail = Arc::new(StdMutex::new(VecDeque::new()));
        let stderr_task = tokio::spawn(forward_stderr(stderr, self.name(), Arc::clone(&stderr_tail)));
        self.pid.store(child.id().unwrap_or(0), Ordering::SeqCst);
        state.process = Some(Process { child, stdin, stdout: BufReader::new(stdout), stderr_task, stderr_tail, mid_write: false });

        state.next_id += 1;
        let id = state.next_id;
        let bytes = encode_request(id, Request::Info, &[])?;
        let Some(process) = state.process.as_mut() else {
            return Err(start_error("no process".into()));
        };
        let started = Instant::now();
        let reason = match tokio::time::timeout(self.config.load_timeout, exchange(process, id, &bytes)).await {
            Ok(Ok(Reply::Info(info))) => {
                tracing::info!(worker = %self.name(), model = %info.model, load_ms = info.load_ms, took_ms = started.elapsed().as_millis() as u64, "worker ready");
                return Ok(());
            }
            Ok(Ok(other)) => format!("answered {} to Info", reply_kind(&other)),
            Ok(Err(Broken::Protocol(reason))) => reason,
            Ok(Err(Broken::Closed)) => {
                let (status, tail) = self.reap(state).await;
                return Err(start_error(format!("exited while starting ({}): {}", describe(&status), tail.trim())));
            }
            Err(_) => format!("not ready after {:?}", self.config.load_timeout),
        };
        self.kill(state).await;
        Err(start_error(reason))
    }

    /// After EOF or a broken pipe: waits for the exit status and the last stderr lines.
    async fn reap(&self, state: &mut State) -> (Option<ExitStatus>, String) {
        let Some(mut process) = state.process.take() else { return (None, String::new()) };
        self.note_failure(state);
        // The pipe can close a moment before the process has finished exiting.
        let status = match tokio::time::timeout(Duration::from_secs(2), process.child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = process.child.start_kill();
                process.child.wait().await.ok()
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut process.stderr_task).await;
        let tail = process.stderr_tail.lock().map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default();
        (status, tail)
    }

    async fn kill(&self, state: &mut State) {
        if let Some(mut process) = state.process.take() {
            self.note_failure(state);
            let _ = process.child.start_kill();
            let _ = process.child.wait().await;
        }
    }

    fn note_failure(&self, state: &mut State) {
        self.pid.store(0, Ordering::SeqCst);
        state.failures = state.failures.saturating_add(1);
        state.last_failure = Some(Instant::now());
    }

    fn name(&self) -> String {
        self.config.binary.file_name().map_or_else(|| "worker".to_owned(), |n| n.to_string_lossy().into_owned())
    }
}

fn encode_request(id: u64, request: Request, payload: &[u8]) -> Result<Vec<u8>, WorkerError> {
    let header = serde_json::to_vec(&RequestEnvelope { id, request }).map_err(|e| WorkerError::Protocol(e.to_string()))?;
    frame::encode(&header, payload).map_err(|e| WorkerError::BadInput { reason: e.to_string() })
}

/// Writes one request and reads replies until the one with this id; earlier replies (to callers
/// that gave up) are dropped.
async fn exchange(process: &mut Process, id: u64, request: &[u8]) -> Result<Reply, Broken> {
    process.mid_write = true;
    process.stdin.write_all(request).await.map_err(|_| Broken::Closed)?;
    process.stdin.flush().await.map_err(|_| Broken::Closed)?;
    process.mid_write = false;
    loop {
        let frame = read_frame(&mut process.stdout).await?;
        let envelope: ReplyEnvelope =
            serde_json::from_slice(&frame.header).map_err(|e| Broken::Protocol(format!("bad reply header: {e}")))?;
        match envelope.id {
            Some(got) if got == id => return Ok(envelope.reply),
            Some(got) => tracing::debug!(got, want = id, "dropping the reply to an abandoned request"),
            None => tracing::warn!(reply = reply_kind(&envelope.reply), "the worker reported a broken frame"),
        }
    }
}

async fn read_frame(r: &mut (impl AsyncRead + Unpin)) -> Result<Frame, Broken> {
    let mut prefix = [0u8; PREFIX_LEN];
    read_exact(r, &mut prefix).await?;
    let prefix = frame::parse_prefix(&prefix).map_err(|e| Broken::Protocol(format!("bad reply frame: {e}")))?;
    let mut header = vec![0u8; prefix.header_len as usize];
    read_exact(r, &mut header).await?;
    let mut payload = vec![0u8; prefix.payload_len as usize];
    read_exact(r, &mut payload).await?;
    Ok(Frame { header, payload })
}

async fn read_exact(r: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> Result<(), Broken> {
    r.read_exact(buf).await.map(drop).map_err(|_| Broken::Closed)
}

async fn forward_stderr(stderr: tokio::process::ChildStderr, worker: String, tail: Arc<StdMutex<VecDeque<String>>>) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    // Bytes, not `lines()`: a line that is not UTF-8 must not stop the reading, or the pipe
    // would fill and the worker block on its next log line.
    while matches!(reader.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
        let text: String = String::from_utf8_lossy(&line).trim_end().chars().take(STDERR_LINE_CHARS).collect();
        line.clear();
        if text.is_empty() {
            continue;
        }
        tracing::info!(target: "prepazka_worker", worker = %worker, "{text}");
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text);
        }
    }
}

fn reply_kind(reply: &Reply) -> &'static str {
    match reply {
        Reply::Info(_) => "info",
        Reply::Transcript(_) => "transcript",
        Reply::Translation(_) => "translation",
        Reply::Error { .. } => "error",
    }
}

fn unexpected(reply: &Reply) -> WorkerError {
    WorkerError::Protocol(format!("unexpected {} reply", reply_kind(reply)))
}

/// `VmRSS` of a process, in bytes.
pub fn resident_memory_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_resident_memory_is_readable() {
        let rss = resident_memory_bytes(std::process::id()).expect("VmRSS of this process");
        assert!(rss > 1024 * 1024, "{rss}");
    }

    #[tokio::test]
    async fn a_missing_binary_is_a_start_error() {
        let err =
            WorkerClient::spawn(WorkerConfig::new("/nonexistent/prepazka-asr-worker", "/nonexistent/model")).await.expect_err("no binary");
        assert!(matches!(err, WorkerError::Start { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_worker_that_exits_at_once_is_a_start_error_with_its_words() {
        // `sh -c` with our arguments: prints to stderr and exits 3 without reading a thing.
        let script = std::env::temp_dir().join(format!("prepazka-fake-worker-{}", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\necho 'model file not found' >&2\nexit 3\n").expect("script");
        let mut perms = std::fs::metadata(&script).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&script, perms).expect("chmod");
        let err = WorkerClient::spawn(WorkerConfig::new(&script, "/nowhere")).await.expect_err("exits");
        let text = err.to_string();
        assert!(text.contains("exit status: 3") && text.contains("model file not found"), "{text}");
        let _ = std::fs::remove_file(&script);
    }
}
