//! The worker processes end to end: the real binaries, the real models, real speech, driven
//! through the client the server uses (and, for broken frames, through the raw pipe).
//!
//! See `common.rs` for what these tests need and how they skip.

mod asr;
mod common;
mod mt;
mod raw;
