//! How prepazka's server talks to its speech-recognition and translation worker processes.
//!
//! Recognition (whisper-rs) and translation (llama-cpp-2) each run in their own process: the two
//! libraries each bundle ggml and clash in one binary, a native crash on bad audio must not take
//! the server down, and inference at lower priority must not starve it (design §4). This crate is
//! the part both sides share, and it links neither library:
//!
//! - [`frame`]: length-prefixed frames (magic, JSON header, raw payload) with resynchronisation;
//! - [`message`]: requests, replies, the audio format and the input rules;
//! - [`locate`]: where the worker binaries are found;
//! - `worker` (feature `worker`): the blocking request loop both binaries run;
//! - `client` (feature `client`): the tokio client the server uses: one job at a time, `Busy`
//!   instead of a queue, crashes and timeouts as their own errors, restart on the next call.
//!
//! The channel is the child's **stdin/stdout**: the child is ours alone, there is no socket path
//! to choose, secure or clean up after a crash, the pipes close when either side dies (the
//! worker exits on EOF, the client sees EOF as a crash), and `kill_on_drop` ties the worker's
//! life to its client. The worker moves native code's stdout writes to stderr before it
//! answers anything (`worker::claim_stdout`). See docs/MODELS.md, "Worker processes".

pub mod frame;
pub mod locate;
pub mod message;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "worker")]
pub mod worker;

#[cfg(feature = "client")]
pub use client::{WorkerClient, WorkerConfig, WorkerError};
pub use locate::{locate_worker_binary, WorkerNotFound, ASR_WORKER, MT_WORKER};
pub use message::{
    decoding_fingerprint, encode_samples, AsrTask, Info, JobError, Language, Segment, StopReason, Transcript, TranslateRequest,
    Translation, WorkerKind,
};
