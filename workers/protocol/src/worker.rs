//! The request loop both worker binaries run (feature `worker`), and what a worker process does
//! before it: take stdout away from native code, lower its priority, hash its weights, read
//! its arguments.
//!
//! Concurrency model: two threads. The **frame thread** reads requests from stdin, answers
//! `Info`, refuses bad input and answers `Busy` at once while a job runs. The **job thread** (the
//! caller's, which owns the model: native contexts stay on the thread that made them) runs one
//! job at a time. A flag, not the channel, says whether a job is running, and the job thread
//! clears it *before* writing the reply, so a client that sends its next request as soon as it
//! reads a reply is never told `Busy` by mistake. Replies from both threads go through one
//! lock, a whole frame at a time.
//!
//! A Rust panic inside a job is caught and answered as `Internal`; a native crash ends the
//! process, and the client reports it (that is why this is a separate process at all).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use sha2::{Digest, Sha256};

use crate::frame::{self, FrameError};
use crate::message::{
    decode_samples, parse_request, Info, JobError, Reply, ReplyEnvelope, Request, TranscribeJob, Transcript, TranslateRequest, Translation,
};

/// What a worker can do. Each binary implements the half it has a model for; the other half
/// answers `BadInput`, so a request sent to the wrong worker gets a reason, not a hang.
pub trait Engine {
    fn transcribe(&mut self, _job: TranscribeJob) -> Result<Transcript, JobError> {
        Err(JobError::bad_input("this worker does not transcribe"))
    }
    fn translate(&mut self, _request: TranslateRequest) -> Result<Translation, JobError> {
        Err(JobError::bad_input("this worker does not translate"))
    }
}

enum Job {
    Transcribe(TranscribeJob),
    Translate(TranslateRequest),
}

type SharedOut = Arc<Mutex<Box<dyn Write + Send>>>;

/// Serves requests from `input` until it ends, answering on `output`. Returns when the input
/// ends (the client closed the pipe or went away) or the output breaks.
pub fn serve<E: Engine>(
    info: &Info,
    engine: &mut E,
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
) -> io::Result<()> {
    let out: SharedOut = Arc::new(Mutex::new(Box::new(BufWriter::new(output))));
    let busy = Arc::new(AtomicBool::new(false));
    // One slot is enough: the busy flag lets at most one job past the frame thread.
    let (jobs_tx, jobs_rx) = mpsc::sync_channel::<(u64, Job)>(1);
    let frame_thread = {
        let (info, busy, out) = (info.clone(), Arc::clone(&busy), Arc::clone(&out));
        thread::Builder::new().name("frames".into()).spawn(move || read_loop(BufReader::new(input), &info, &jobs_tx, &busy, &out))?
    };

    for (id, job) in jobs_rx {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| match job {
            Job::Transcribe(job) => engine.transcribe(job).map(Reply::Transcript),
            Job::Translate(request) => engine.translate(request).map(Reply::Translation),
        }));
        let reply = match outcome {
            Ok(Ok(reply)) => reply,
            Ok(Err(error)) => Reply::Error { error },
            Err(panic) => Reply::Error { error: JobError::internal(format!("the job panicked: {}", panic_message(&*panic))) },
        };
        busy.store(false, Ordering::SeqCst);
        if let Err(e) = send(&out, Some(id), &reply) {
            tracing::warn!(error = %e, "cannot write a reply; the client is gone");
            break;
        }
    }
    // The frame thread may sit in a read that only the client's exit ends; the process is about
    // to exit anyway, so it is not joined.
    drop(frame_thread);
    Ok(())
}

fn read_loop(mut input: impl Read, info: &Info, jobs: &mpsc::SyncSender<(u64, Job)>, busy: &AtomicBool, out: &SharedOut) {
    // Set after a frame error: the bytes last consumed, from which to look for the next magic.
    let mut lost: Option<[u8; 4]> = None;
    loop {
        let read = match lost.take() {
            Some(window) => frame::resync(&mut input, window),
            None => frame::read_frame(&mut input),
        };
        let frame = match read {
            Ok(frame) => frame,
            Err(e) if e.needs_resync() => {
                lost = Some(match e {
                    FrameError::BadMagic(window) => window,
                    _ => [0; 4],
                });
                tracing::warn!(error = %e, "bad frame; looking for the next one");
                if send(out, None, &Reply::Error { error: JobError::bad_input(format!("bad frame: {e}")) }).is_err() {
                    return;
                }
                continue;
            }
            Err(FrameError::Eof) => return,
            Err(e) => {
                tracing::warn!(error = %e, "input ended");
                return;
            }
        };

        let (id, reply) = match parse_request(&frame.header) {
            Err((id, error)) => (id, Some(Reply::Error { error })),
            Ok(envelope) => (Some(envelope.id), dispatch(envelope.id, envelope.request, frame.payload, info, jobs, busy)),
        };
        if let Some(reply) = reply {
            if send(out, id, &reply).is_err() {
                return;
            }
        }
    }
}

/// Answers what can be answered here; hands a job to the job thread and returns `None`.
fn dispatch(
    id: u64,
    request: Request,
    payload: Vec<u8>,
    info: &Info,
    jobs: &mpsc::SyncSender<(u64, Job)>,
    busy: &AtomicBool,
) -> Option<Reply> {
    let job = match request {
        Request::Info if payload.is_empty() => return Some(Reply::Info(info.clone())),
        Request::Transcribe { language, task } => match decode_samples(&payload) {
            Ok(samples) => Job::Transcribe(TranscribeJob { language, task, samples }),
            Err(error) => return Some(Reply::Error { error }),
        },
        Request::Translate(request) if payload.is_empty() => match request.validate() {
            Ok(()) => Job::Translate(request),
            Err(error) => return Some(Reply::Error { error }),
        },
        Request::Info | Request::Translate(_) => return Some(Reply::Error { error: JobError::bad_input("this request takes no payload") }),
    };
    if busy.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        return Some(Reply::Error { error: JobError::Busy });
    }
    if jobs.send((id, job)).is_err() {
        // The job thread is gone: the process is ending.
        return Some(Reply::Error { error: JobError::internal("the worker is shutting down") });
    }
    None
}

fn send(out: &SharedOut, id: Option<u64>, reply: &Reply) -> io::Result<()> {
    let header = serde_json::to_vec(&ReplyEnvelope { id, reply: reply.clone() }).map_err(io::Error::other)?;
    let mut out = out.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    frame::write_frame(&mut *out, &header, &[]).map_err(|e| match e {
        FrameError::Io(e) => e,
        other => io::Error::other(other),
    })
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Takes stdout for the protocol and points file descriptor 1 at stderr.
///
/// whisper.cpp, llama.cpp and ggml write diagnostics with `printf`/`fprintf(stdout)` here and
/// there; one such line in the reply stream would desynchronise the client. After this call,
/// anything native code prints lands in stderr (which the client logs), and the returned file
/// is the only way to the real stdout. Call it first thing, before any thread starts.
#[allow(unsafe_code)]
pub fn claim_stdout() -> io::Result<File> {
    let protocol = io::stdout().as_fd().try_clone_to_owned()?;
    // SAFETY: dup2 between two descriptors this process holds for its whole life; no memory is
    // read or written, and Rust's `Stdout` keeps working (it now writes to stderr).
    let rc = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(File::from(protocol))
}

/// Lowers the worker's scheduling priority so that inference yields the cores to the server.
///
/// On Linux a nice value belongs to a thread; called before any thread starts, every thread the
/// worker (and ggml's thread pool) starts later inherits it.
#[allow(unsafe_code)]
pub fn lower_priority(nice: i32) -> io::Result<()> {
    // SAFETY: a system call on this process with integer arguments only.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(crate::message::hex(&hasher.finalize()))
}

/// The command line both workers take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerArgs {
    pub model: PathBuf,
    pub threads: u32,
    pub nice: i32,
}

impl WorkerArgs {
    pub const USAGE: &'static str = "usage: WORKER [--model PATH] [--threads N] [--nice N]\n\
        Speaks prepazka's worker protocol on stdin/stdout; logs go to stderr.\n\
        --model    weights file (default: $PREPAZKA_MODEL_DIR or ~/.cache/prepazka/models, then the model's file name)\n\
        --threads  inference threads (default 2)\n\
        --nice     scheduling niceness added at start (default 0; the server's client passes 10)";

    /// Parses the arguments after the program name. `default_model` is the model's file name in
    /// the model cache (`scripts/setup-models` puts it there).
    pub fn parse(args: impl IntoIterator<Item = String>, default_model: &str) -> Result<Self, String> {
        let mut model = None;
        let mut threads = 2u32;
        let mut nice = 0i32;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{}", Self::USAGE));
            match arg.as_str() {
                "--model" => model = Some(PathBuf::from(value("--model")?)),
                "--threads" => {
                    threads = value("--threads")?
                        .parse()
                        .ok()
                        .filter(|n| (1..=64).contains(n))
                        .ok_or("--threads must be a number from 1 to 64")?;
                }
                "--nice" => {
                    nice = value("--nice")?.parse().ok().filter(|n| (0..=19).contains(n)).ok_or("--nice must be a number from 0 to 19")?
                }
                "-h" | "--help" => return Err(Self::USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{}", Self::USAGE)),
            }
        }
        let model = match model {
            Some(m) => m,
            None => default_model_dir().ok_or("no --model given and neither PREPAZKA_MODEL_DIR nor HOME is set")?.join(default_model),
        };
        Ok(WorkerArgs { model, threads, nice })
    }
}

/// `$PREPAZKA_MODEL_DIR`, else `~/.cache/prepazka/models`: where `scripts/setup-models` writes.
pub fn default_model_dir() -> Option<PathBuf> {
    std::env::var_os("PREPAZKA_MODEL_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/prepazka/models")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{AsrTask, RequestEnvelope, WorkerKind};
    use std::io::Cursor;
    use std::sync::mpsc::Receiver;

    struct Echo;
    impl Engine for Echo {
        fn translate(&mut self, request: TranslateRequest) -> Result<Translation, JobError> {
            if request.text == "panic" {
                panic!("told to");
            }
            Ok(Translation { text: request.text, prompt_tokens: 0, generated_tokens: 0, stop: crate::StopReason::EndOfTurn, compute_ms: 0 })
        }
    }

    fn info() -> Info {
        Info {
            kind: WorkerKind::Mt,
            protocol: 1,
            engine: "test".into(),
            model: "m".into(),
            model_sha256: "0".repeat(64),
            decoding: "{}".into(),
            decoding_sha256: "1".repeat(64),
            threads: 1,
            load_ms: 0,
        }
    }

    fn request(id: u64, request: Request, payload: &[u8]) -> Vec<u8> {
        frame::encode(&serde_json::to_vec(&RequestEnvelope { id, request }).expect("json"), payload).expect("frame")
    }

    /// An output that hands every write to a channel, so the test reads replies as they come.
    struct ChanWriter(mpsc::Sender<Vec<u8>>);
    impl Write for ChanWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.send(buf.to_vec()).map_err(io::Error::other)?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn replies(rx: Receiver<Vec<u8>>) -> Vec<ReplyEnvelope> {
        let bytes: Vec<u8> = rx.into_iter().flatten().collect();
        let mut c = Cursor::new(bytes);
        let mut out = vec![];
        while let Ok(f) = frame::read_frame(&mut c) {
            out.push(serde_json::from_slice(&f.header).expect("reply json"));
        }
        out
    }

    fn translate(text: &str) -> Request {
        Request::Translate(TranslateRequest {
            from: crate::Language::Cs,
            to: crate::Language::En,
            text: text.into(),
            glossary: vec![],
            keep_verbatim: vec![],
        })
    }

    #[test]
    fn bad_requests_get_typed_errors_and_the_loop_goes_on() {
        let mut input = request(1, Request::Info, &[]);
        input.extend(b"garbage between frames");
        input.extend(request(2, translate("ahoj"), &[]));
        input.extend(request(
            3,
            Request::Transcribe { language: None, task: AsrTask::Transcribe },
            &crate::encode_samples(&[f32::NAN; 16_000]),
        ));
        input.extend(request(4, translate(""), &[]));
        input.extend(frame::encode(br#"{"id":5,"request":{"op":"nope"}}"#, &[]).expect("frame"));
        input.extend(request(7, Request::Info, &[]));
        let (tx, rx) = mpsc::channel();
        serve(&info(), &mut Echo, Cursor::new(input), ChanWriter(tx)).expect("serve");
        let got = replies(rx);
        let by_id = |id: Option<u64>| got.iter().filter(move |r| r.id == id).map(|r| r.reply.clone()).collect::<Vec<_>>();
        assert_eq!(by_id(Some(1)), vec![Reply::Info(info())]);
        assert!(matches!(by_id(None)[..], [Reply::Error { error: JobError::BadInput { .. } }]), "{got:?}");
        assert!(matches!(&by_id(Some(2))[..], [Reply::Translation(t)] if t.text == "ahoj"), "{got:?}");
        for id in [3, 4, 5] {
            assert!(matches!(by_id(Some(id))[..], [Reply::Error { error: JobError::BadInput { .. } }]), "{id}: {got:?}");
        }
        assert_eq!(by_id(Some(7)), vec![Reply::Info(info())]);
    }

    #[test]
    fn a_second_job_while_one_runs_is_told_busy_at_once() {
        struct Gate(mpsc::Receiver<()>);
        impl Engine for Gate {
            fn translate(&mut self, request: TranslateRequest) -> Result<Translation, JobError> {
                let _ = self.0.recv();
                Echo.translate(request)
            }
        }
        let (open, gate) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        let mut input = request(1, translate("first"), &[]);
        input.extend(request(2, translate("second"), &[]));
        let server = thread::spawn(move || serve(&info(), &mut Gate(gate), Cursor::new(input), ChanWriter(tx)));
        // The first job is held at the gate, so the first reply out must be the refusal.
        let first = rx.recv().expect("a reply");
        let first: ReplyEnvelope =
            serde_json::from_slice(&frame::read_frame(&mut Cursor::new(first)).expect("frame").header).expect("json");
        assert_eq!(first, ReplyEnvelope { id: Some(2), reply: Reply::Error { error: JobError::Busy } });
        open.send(()).expect("gate");
        server.join().expect("no panic").expect("serve");
        assert!(matches!(&replies(rx)[..], [ReplyEnvelope { id: Some(1), reply: Reply::Translation(t) }] if t.text == "first"));
    }

    #[test]
    fn a_panicking_job_is_an_internal_error() {
        let (tx, rx) = mpsc::channel();
        serve(&info(), &mut Echo, Cursor::new(request(6, translate("panic"), &[])), ChanWriter(tx)).expect("serve");
        assert!(
            matches!(&replies(rx)[..], [ReplyEnvelope { id: Some(6), reply: Reply::Error { error: JobError::Internal { reason } } }] if reason.contains("told to"))
        );
    }

    #[test]
    fn a_request_to_the_wrong_worker_is_bad_input() {
        let input = request(1, Request::Transcribe { language: None, task: AsrTask::Transcribe }, &crate::encode_samples(&[0.0; 16_000]));
        let (tx, rx) = mpsc::channel();
        serve(&info(), &mut Echo, Cursor::new(input), ChanWriter(tx)).expect("serve");
        assert!(
            matches!(&replies(rx)[..], [ReplyEnvelope { id: Some(1), reply: Reply::Error { error: JobError::BadInput { reason } } }] if reason.contains("does not transcribe"))
        );
    }

    #[test]
    fn args() {
        let parse = |a: &[&str]| WorkerArgs::parse(a.iter().map(|s| s.to_string()), "m.bin");
        assert_eq!(
            parse(&["--model", "/x", "--threads", "3", "--nice", "10"]),
            Ok(WorkerArgs { model: "/x".into(), threads: 3, nice: 10 })
        );
        assert!(parse(&[]).expect("defaults").model.ends_with("m.bin"));
        assert!(parse(&["--threads", "0"]).is_err());
        assert!(parse(&["--threads"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }
}
