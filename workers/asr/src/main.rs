//! `prepazka-asr-worker`: speech recognition with whisper-rs 0.16 (whisper.cpp 1.8.3, CPU), in a
//! process of its own.
//!
//! It loads one ggml Whisper model (`--model`, default the model cache's
//! `whisper-base.ggml.bin`), then answers requests on stdin/stdout with the protocol of
//! `prepazka-worker-protocol` until stdin closes; logs go to stderr. One job at a time (one
//! `WhisperState`, reused); a request during a job is answered `Busy` by the shared loop.
//!
//! Why a process: whisper.cpp is native code handed audio from outside; if it crashes, only this
//! process dies, and the server's client reports `Crashed` and starts another. For the same
//! reason nothing here links llama.cpp (both bundle ggml).
//!
//! The decoding parameters are fixed in [`DECODING`] and reported, with their hash, in `Info`,
//! so that an AI-log record can say exactly how a transcript was made. They are whisper.cpp's
//! defaults (which the CLI measurements in docs/MODELS.md used) except `no_context`: every
//! utterance is decoded on its own, so one speaker's words never prime the next transcript, and
//! `audio_ctx`: whisper.cpp encodes a full 30-second window (1,500 encoder frames) however short
//! the audio; an utterance at the counter is a few seconds, so the encoder is given the frames
//! the audio fills (50 per second) plus a margin ([`AudioCtx::Fit`]), which makes recognition of a
//! 5-second utterance about three times faster (docs/MODELS.md, BENCHMARKS.md).
//! `PREPAZKA_ASR_AUDIO_CTX=full` restores the full window (for comparison; it is in the fingerprint).

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use prepazka_worker_protocol::message::{JobError, Segment, TranscribeJob, Transcript, PROTOCOL_VERSION};
use prepazka_worker_protocol::worker::{self, Engine, WorkerArgs};
use prepazka_worker_protocol::{decoding_fingerprint, AsrTask, Info, Language, WorkerKind};
use serde_json::json;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState};

const DEFAULT_MODEL: &str = "whisper-base.ggml.bin";

/// The decoding parameters, one place for both the code and the fingerprint.
struct Decoding {
    best_of: i32,
    temperature: f32,
    temperature_inc: f32,
    entropy_thold: f32,
    logprob_thold: f32,
    no_speech_thold: f32,
    no_context: bool,
    suppress_blank: bool,
    suppress_nst: bool,
    audio_ctx: AudioCtx,
}

/// How many encoder frames whisper.cpp computes for an utterance.
#[derive(Clone, Copy)]
enum AudioCtx {
    /// The model's whole 30-second window, whatever the length of the audio.
    Full,
    /// The frames the audio fills (one per 20 ms) plus `margin` frames, at most the whole window.
    Fit { margin: i32 },
}

impl AudioCtx {
    /// Encoder frames per second of 16 kHz audio (mel hop 10 ms, then a stride-2 convolution).
    const FRAMES_PER_SECOND: usize = 50;

    fn from_env() -> AudioCtx {
        match std::env::var("PREPAZKA_ASR_AUDIO_CTX").as_deref() {
            Ok("full") => AudioCtx::Full,
            _ => DECODING.audio_ctx,
        }
    }

    /// 0 means "the model's default" (the whole window) to whisper.cpp.
    fn frames_for(self, samples: usize, window: i32) -> i32 {
        match self {
            AudioCtx::Full => 0,
            AudioCtx::Fit { margin } => {
                let filled = i32::try_from(samples.div_ceil(16_000 / Self::FRAMES_PER_SECOND)).unwrap_or(i32::MAX);
                filled.saturating_add(margin).min(window)
            }
        }
    }

    fn to_json(self) -> serde_json::Value {
        match self {
            AudioCtx::Full => json!("full window"),
            AudioCtx::Fit { margin } => json!(format!("fit: 50 frames per second of audio + {margin}")),
        }
    }
}

const DECODING: Decoding = Decoding {
    best_of: 1,
    temperature: 0.0,
    // A window whose greedy decode looks like a loop (entropy) or is unlikely (logprob) is decoded
    // again at a higher temperature, as the whisper.cpp CLI does.
    temperature_inc: 0.2,
    entropy_thold: 2.4,
    logprob_thold: -1.0,
    no_speech_thold: 0.6,
    no_context: true,
    suppress_blank: true,
    suppress_nst: false,
    // 64 frames = 1.28 s of slack after the audio: fewer made the base model cut the last word
    // of some test-set utterances.
    audio_ctx: AudioCtx::Fit { margin: 64 },
};

impl Decoding {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "engine": format!("whisper.cpp {}", whisper_rs::WHISPER_CPP_VERSION),
            "sampling": "greedy",
            "best_of": self.best_of,
            "temperature": decimal(self.temperature),
            "temperature_inc": decimal(self.temperature_inc),
            "entropy_thold": decimal(self.entropy_thold),
            "logprob_thold": decimal(self.logprob_thold),
            "no_speech_thold": decimal(self.no_speech_thold),
            "no_context": self.no_context,
            "suppress_blank": self.suppress_blank,
            "suppress_nst": self.suppress_nst,
            "audio_ctx": self.audio_ctx.to_json(),
            "avg_logprob": "mean plog of text tokens (id < eot)",
        })
    }
}

/// An f32 as the decimal it was written as (0.2, not 0.20000000298023224), so that the
/// fingerprint reads like the source.
fn decimal(x: f32) -> serde_json::Value {
    x.to_string().parse::<f64>().map_or(serde_json::Value::Null, serde_json::Value::from)
}

fn main() -> ExitCode {
    // Before anything can print: native code must not write into the reply stream.
    let protocol_out = match worker::claim_stdout() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("prepazka-asr-worker: cannot set up stdout: {e}");
            return ExitCode::from(1);
        }
    };
    init_logging();
    let args = match WorkerArgs::parse(std::env::args().skip(1), DEFAULT_MODEL) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    if args.nice > 0 {
        if let Err(e) = worker::lower_priority(args.nice) {
            tracing::warn!(error = %e, "cannot lower the worker's priority");
        }
    }
    match run(&args, protocol_out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("prepazka-asr-worker: {message}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("PREPAZKA_WORKER_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_writer(io::stderr).with_ansi(false).with_target(false).with_env_filter(filter).init();
    // whisper.cpp and ggml log through these hooks into tracing (stderr), not onto stdout.
    whisper_rs::install_logging_hooks();
}

fn run(args: &WorkerArgs, protocol_out: std::fs::File) -> Result<(), String> {
    let started = Instant::now();
    let model = args.model.as_path();
    if !model.is_file() {
        return Err(format!("model file not found: {} (scripts/setup-models --only whisper makes it)", model.display()));
    }
    // Hashing (about 0.1 s for Whisper base) runs beside the load rather than after it.
    let hashing = {
        let model = model.to_path_buf();
        std::thread::spawn(move || {
            let started = Instant::now();
            (worker::sha256_file(&model), started.elapsed())
        })
    };
    let context = WhisperContext::new_with_params(path_str(model)?, WhisperContextParameters::default())
        .map_err(|e| format!("cannot load {}: {e}", model.display()))?;
    let state = context.create_state().map_err(|e| format!("cannot create a whisper state: {e}"))?;
    let (hashed, hash_time) = hashing.join().map_err(|_| "the hashing thread panicked".to_owned())?;
    let model_sha256 = hashed.map_err(|e| format!("cannot hash {}: {e}", model.display()))?;

    let decoding = Decoding { audio_ctx: AudioCtx::from_env(), ..DECODING };
    let window = context.n_audio_ctx();
    let (decoding_json, decoding_sha256) = decoding_fingerprint(&decoding.to_json());
    let info = Info {
        kind: WorkerKind::Asr,
        protocol: PROTOCOL_VERSION,
        engine: format!("whisper.cpp {} (whisper-rs 0.16)", whisper_rs::WHISPER_CPP_VERSION),
        model: model.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        model_sha256,
        decoding: decoding_json,
        decoding_sha256,
        threads: args.threads,
        load_ms: started.elapsed().as_millis() as u64,
    };
    tracing::info!(load_ms = info.load_ms, hash_ms = hash_time.as_millis() as u64, "model loaded");
    let mut engine = Asr { eot: context.token_eot(), state, params: HashMap::new(), threads: args.threads, audio_ctx: decoding.audio_ctx, window };
    worker::serve(&info, &mut engine, io::stdin(), protocol_out).map_err(|e| format!("serving: {e}"))
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str().ok_or_else(|| format!("model path is not UTF-8: {}", path.display()))
}

struct Asr {
    state: WhisperState,
    /// Parameters per forced language, made once: whisper-rs turns the language into a C string
    /// it never frees, so making them per job would leak a little on every job.
    params: HashMap<Option<Language>, FullParams<'static, 'static>>,
    /// Token ids below end-of-text are text; the rest are special and timestamp tokens.
    eot: i32,
    threads: u32,
    audio_ctx: AudioCtx,
    /// The model's encoder window in frames (1,500 for every Whisper).
    window: i32,
}

impl Asr {
    fn params_for(&mut self, language: Option<Language>) -> FullParams<'static, 'static> {
        let threads = i32::try_from(self.threads).unwrap_or(1);
        self.params
            .entry(language)
            .or_insert_with(|| {
                let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: DECODING.best_of });
                params.set_n_threads(threads);
                params.set_language(Some(language.map_or("auto", |l| l.code())));
                params.set_temperature(DECODING.temperature);
                params.set_temperature_inc(DECODING.temperature_inc);
                params.set_entropy_thold(DECODING.entropy_thold);
                params.set_logprob_thold(DECODING.logprob_thold);
                params.set_no_speech_thold(DECODING.no_speech_thold);
                params.set_no_context(DECODING.no_context);
                params.set_suppress_blank(DECODING.suppress_blank);
                params.set_suppress_nst(DECODING.suppress_nst);
                params.set_print_special(false);
                params.set_print_progress(false);
                params.set_print_realtime(false);
                params.set_print_timestamps(false);
                params
            })
            .clone()
    }
}

impl Engine for Asr {
    fn transcribe(&mut self, job: TranscribeJob) -> Result<Transcript, JobError> {
        let started = Instant::now();
        let mut params = self.params_for(job.language);
        params.set_translate(job.task == AsrTask::TranslateToEnglish);
        params.set_audio_ctx(self.audio_ctx.frames_for(job.samples.len(), self.window));
        self.state.full(params, &job.samples).map_err(|e| JobError::internal(format!("whisper: {e}")))?;

        let mut segments = Vec::new();
        for i in 0..self.state.full_n_segments() {
            let Some(segment) = self.state.get_segment(i) else { continue };
            let text = segment.to_str_lossy().map_err(|e| JobError::internal(format!("whisper segment text: {e}")))?.trim().to_owned();
            let (mut sum, mut count) = (0.0f64, 0u32);
            for t in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(t) else { continue };
                if token.token_id() < self.eot {
                    // Clamped so that one impossible token cannot make the mean -inf (not JSON).
                    sum += f64::from(token.token_data().plog.max(-100.0));
                    count += 1;
                }
            }
            if count == 0 || text.is_empty() {
                continue;
            }
            segments.push(Segment {
                text,
                // whisper.cpp counts in centiseconds.
                t0_ms: u64::try_from(segment.start_timestamp()).unwrap_or(0) * 10,
                t1_ms: u64::try_from(segment.end_timestamp()).unwrap_or(0) * 10,
                avg_logprob: (sum / f64::from(count)) as f32,
                no_speech_prob: finite_or_zero(segment.no_speech_probability()),
            });
        }
        let language = match job.language {
            Some(l) => l.code().to_owned(),
            None => whisper_rs::get_lang_str(self.state.full_lang_id_from_state()).unwrap_or("unknown").to_owned(),
        };
        Ok(Transcript {
            text: segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" "),
            segments,
            language,
            task: job.task,
            audio_ms: job.samples.len() as u64 * 1000 / 16_000,
            compute_ms: started.elapsed().as_millis() as u64,
        })
    }
}

fn finite_or_zero(x: f32) -> f32 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}
