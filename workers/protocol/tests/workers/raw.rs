//! Broken frames written straight into a worker's stdin: each gets a typed error and the worker
//! goes on answering. The client never writes such bytes, so this talks to the pipe itself.

use std::io::{BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use prepazka_worker_protocol::frame::{self, MAGIC};
use prepazka_worker_protocol::message::{JobError, Reply, ReplyEnvelope, Request, RequestEnvelope};
use prepazka_worker_protocol::{locate_worker_binary, WorkerKind, ASR_WORKER, MT_WORKER};

use crate::common::{model, QWEN_MODEL, WHISPER_MODEL};

struct Raw {
    child: Child,
    /// `None` once closed.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Raw {
    fn start(binary: &str, model: &std::path::Path) -> Raw {
        let binary = locate_worker_binary(binary).unwrap_or_else(|e| panic!("{e}"));
        let mut child = Command::new(binary)
            .arg("--model")
            .arg(model)
            .args(["--threads", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("worker starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Raw { child, stdin: Some(stdin), stdout }
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(bytes).expect("write");
        stdin.flush().expect("flush");
    }

    fn send(&mut self, id: u64, request: Request) {
        let header = serde_json::to_vec(&RequestEnvelope { id, request }).expect("json");
        self.send_bytes(&frame::encode(&header, &[]).expect("frame"));
    }

    fn reply(&mut self) -> ReplyEnvelope {
        let f = frame::read_frame(&mut self.stdout).expect("a reply frame");
        serde_json::from_slice(&f.header).expect("reply json")
    }

    fn expect_bad_input(&mut self, id: Option<u64>, what: &str) {
        match self.reply() {
            ReplyEnvelope { id: got, reply: Reply::Error { error: JobError::BadInput { reason } } } if got == id => {
                eprintln!("{what}: {reason}")
            }
            other => panic!("{what}: expected BadInput for {id:?}, got {other:?}"),
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn garbage_then_good_requests(binary: &str, model: &std::path::Path, kind: WorkerKind) {
    let mut w = Raw::start(binary, model);

    w.send_bytes(b"this is not a frame\n");
    w.expect_bad_input(None, "garbage");

    // A magic with an impossible length: refused before anything is allocated.
    let mut oversized = MAGIC.to_vec();
    oversized.extend_from_slice(&u32::MAX.to_be_bytes());
    oversized.extend_from_slice(&0u32.to_be_bytes());
    w.send_bytes(&oversized);
    w.expect_bad_input(None, "oversized frame");

    w.send_bytes(&frame::encode(b"{\"id\": 7, \"request\": ", &[]).expect("frame"));
    w.expect_bad_input(None, "bad json");
    w.send_bytes(&frame::encode(br#"{"id":8,"request":{"op":"transcribe","language":"xx","task":"transcribe"}}"#, &[]).expect("frame"));
    w.expect_bad_input(Some(8), "unknown language");
    w.send_bytes(
        &frame::encode(br#"{"id":9,"request":{"op":"transcribe","language":"cs","task":"transcribe"}}"#, &[1, 2, 3]).expect("frame"),
    );
    w.expect_bad_input(Some(9), "payload not whole f32 samples");

    w.send(10, Request::Info);
    match w.reply() {
        ReplyEnvelope { id: Some(10), reply: Reply::Info(info) } => assert_eq!(info.kind, kind),
        other => panic!("expected Info, got {other:?}"),
    }
}

#[test]
fn asr_worker_survives_broken_frames() {
    let Some(model) = model(WHISPER_MODEL) else { return };
    garbage_then_good_requests(ASR_WORKER, &model, WorkerKind::Asr);
}

#[test]
fn mt_worker_survives_broken_frames() {
    let Some(model) = model(QWEN_MODEL) else { return };
    garbage_then_good_requests(MT_WORKER, &model, WorkerKind::Mt);
}

#[test]
fn a_worker_exits_when_its_stdin_closes() {
    let Some(model) = model(WHISPER_MODEL) else { return };
    let mut w = Raw::start(ASR_WORKER, &model);
    w.send(1, Request::Info);
    assert!(matches!(w.reply().reply, Reply::Info(_)));
    w.stdin = None;
    let status = w.child.wait().expect("wait");
    assert!(status.success(), "{status}");
}
