//! `prepazka-mt-worker`: machine translation with llama-cpp-2 (llama.cpp, CPU), in a process of
//! its own.
//!
//! It loads one GGUF chat model (`--model`, default the model cache's
//! `qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`) into one context of [`N_CTX`] tokens, then answers
//! requests on stdin/stdout with the protocol of `prepazka-worker-protocol` until stdin closes;
//! logs go to stderr. One job at a time. Between jobs the KV cache keeps only the prompt prefix
//! (template, system prompt, glossary, verbatim items), and only while the next job's prefix is
//! the same: no translation sees another's text, and a direction's ~100-token prefix is not
//! recomputed for every sentence (`Mt::prime`).
//!
//! Decoding is greedy (the same input gives the same output), bounded by a budget relative to the
//! input ([`prompt::max_new_tokens`]), stops at end of turn, and is cut when it starts looping
//! ([`repetition`]). These rules and the prompt are fingerprinted in `Info`.
//!
//! Why a process: llama.cpp bundles its own ggml (so does whisper.cpp: they cannot share a
//! binary), and a native failure must end this process only.

mod prompt;
mod repetition;

use std::io;
use std::num::NonZeroU32;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use prepazka_worker_protocol::message::{JobError, PROTOCOL_VERSION};
use prepazka_worker_protocol::worker::{self, Engine, WorkerArgs};
use prepazka_worker_protocol::{decoding_fingerprint, Info, StopReason, TranslateRequest, Translation, WorkerKind};
use serde_json::json;

const DEFAULT_MODEL: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
/// Enough for the system prompt, a full glossary and a 2,000-character text with its answer.
const N_CTX: u32 = 2048;
const LLAMA_CPP_2_VERSION: &str = "0.1.160";

fn main() -> ExitCode {
    // Before anything can print: native code must not write into the reply stream.
    let protocol_out = match worker::claim_stdout() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("prepazka-mt-worker: cannot set up stdout: {e}");
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
            eprintln!("prepazka-mt-worker: {message}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("PREPAZKA_WORKER_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_writer(io::stderr).with_ansi(false).with_target(false).with_env_filter(filter).init();
    // llama.cpp and ggml log through this hook into tracing (stderr), not onto stdout.
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
}

fn decoding_json() -> serde_json::Value {
    json!({
        "engine": format!("llama.cpp (llama-cpp-2 {LLAMA_CPP_2_VERSION})"),
        "template": "chatml",
        "prompt_version": prompt::PROMPT_VERSION,
        "system_prompt": prompt::SYSTEM_PROMPT,
        "glossary_intro": prompt::GLOSSARY_INTRO,
        "verbatim_intro": prompt::VERBATIM_INTRO,
        "sampling": "greedy",
        "n_ctx": N_CTX,
        "max_new_tokens": prompt::MAX_NEW_TOKENS_RULE,
        "stop": "end of generation token",
        "repetition_cut": repetition::RULE,
        // Decoding in two batches changes the last bits of the numbers, so it is part of the
        // fingerprint; keeping the prefix between jobs does not (it is decoded the same way).
        "batches": "prefix (template, system prompt, glossary, verbatim items) then text and answer header; prefix kept between jobs",
    })
}

fn run(args: &WorkerArgs, protocol_out: std::fs::File) -> Result<(), String> {
    let started = Instant::now();
    let model_path = args.model.as_path();
    if !model_path.is_file() {
        return Err(format!("model file not found: {} (scripts/setup-models --only translator makes it)", model_path.display()));
    }
    // The 1.1 GB hash runs beside the load (both mostly read the same pages) rather than after it.
    let hashing = {
        let path = model_path.to_path_buf();
        std::thread::spawn(move || {
            let started = Instant::now();
            (worker::sha256_file(&path), started.elapsed())
        })
    };
    let backend = LlamaBackend::init().map_err(|e| format!("cannot start llama.cpp: {e}"))?;
    let model = LlamaModel::load_from_file(&backend, model_path, &LlamaModelParams::default())
        .map_err(|e| format!("cannot load {}: {e}", model_path.display()))?;
    let threads = i32::try_from(args.threads).unwrap_or(1);
    let context_params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(N_CTX))
        .with_n_batch(N_CTX)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let context = model.new_context(&backend, context_params).map_err(|e| format!("cannot create a llama context: {e}"))?;
    let (hashed, hash_time) = hashing.join().map_err(|_| "the hashing thread panicked".to_owned())?;
    let model_sha256 = hashed.map_err(|e| format!("cannot hash {}: {e}", model_path.display()))?;

    let (decoding, decoding_sha256) = decoding_fingerprint(&decoding_json());
    let info = Info {
        kind: WorkerKind::Mt,
        protocol: PROTOCOL_VERSION,
        engine: format!("llama.cpp (llama-cpp-2 {LLAMA_CPP_2_VERSION})"),
        model: file_name(model_path),
        model_sha256,
        decoding,
        decoding_sha256,
        threads: args.threads,
        load_ms: started.elapsed().as_millis() as u64,
    };
    tracing::info!(load_ms = info.load_ms, hash_ms = hash_time.as_millis() as u64, "model loaded");
    let mut engine = Mt { model: &model, context, cached_prefix: Vec::new() };
    worker::serve(&info, &mut engine, io::stdin(), protocol_out).map_err(|e| format!("serving: {e}"))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

struct Mt<'m> {
    model: &'m LlamaModel,
    context: LlamaContext<'m>,
    /// The prompt prefix (template, system prompt, glossary, verbatim items) whose keys and
    /// values sit at positions `0..len` of the cache, kept from the last job.
    cached_prefix: Vec<LlamaToken>,
}

impl Mt<'_> {
    fn tokenize(&self, pieces: &[prompt::Piece]) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        // Qwen adds no BOS; special tokens are recognised in our pieces only.
        pieces.iter().flat_map(|piece| vocab.tokenize(piece.text.as_bytes(), false, piece.ours)).collect()
    }

    /// Puts the prefix's keys and values in the cache and nothing after them.
    ///
    /// A direction's prefix is the same for every sentence (about 100 tokens, most of the
    /// prompt), so it is computed once and kept. It is always decoded as a batch of its own,
    /// and the rest of the prompt as another, whether or not it was cached: the numbers are then
    /// the same either way, and a translation does not depend on which job came before.
    /// Everything after the prefix (the last job's text and answer) is removed first.
    fn prime(&mut self, prefix: &[LlamaToken]) -> Result<(), JobError> {
        if self.cached_prefix == prefix && self.context.kv_cache_seq_rm(0, Some(prefix.len() as u32), None).is_ok() {
            return Ok(());
        }
        self.cached_prefix.clear();
        self.context.clear_kv_cache();
        self.decode_at(prefix, 0)?;
        self.cached_prefix = prefix.to_vec();
        Ok(())
    }

    /// Decodes `tokens` at positions from `start`, with logits for the last one.
    fn decode_at(&mut self, tokens: &[LlamaToken], start: usize) -> Result<(), JobError> {
        let mut batch = LlamaBatch::new(tokens.len().max(1), 1);
        for (i, token) in tokens.iter().enumerate() {
            batch.add(*token, (start + i) as i32, &[0], i + 1 == tokens.len()).map_err(Self::decode_err)?;
        }
        self.context.decode(&mut batch).map_err(Self::decode_err)
    }

    fn generate(&mut self, prefix: &[LlamaToken], suffix: &[LlamaToken], budget: usize) -> Result<(Vec<LlamaToken>, StopReason), JobError> {
        self.prime(prefix)?;
        self.decode_at(suffix, prefix.len())?;
        let mut sampler = LlamaSampler::greedy();
        let mut out: Vec<LlamaToken> = Vec::new();
        let mut ids: Vec<i32> = Vec::new();
        let mut pos = prefix.len() + suffix.len();
        let mut logits_at = suffix.len() as i32 - 1;
        let stop = loop {
            let token = sampler.sample(&self.context, logits_at);
            if self.model.vocab().is_eog(token) {
                break StopReason::EndOfTurn;
            }
            out.push(token);
            ids.push(token.0);
            if let Some(keep) = repetition::cut(&ids) {
                out.truncate(keep);
                break StopReason::Repetition;
            }
            if out.len() >= budget {
                break StopReason::MaxTokens;
            }
            self.decode_at(&[token], pos)?;
            pos += 1;
            logits_at = 0;
        };
        Ok((out, stop))
    }

    fn decode_err(e: impl std::fmt::Display) -> JobError {
        JobError::internal(format!("llama.cpp decode: {e}"))
    }
}

impl Engine for Mt<'_> {
    fn translate(&mut self, request: TranslateRequest) -> Result<Translation, JobError> {
        let started = Instant::now();
        let (pieces, text_index) = prompt::build(request.from, request.to, &request.glossary, &request.keep_verbatim, &request.text);
        let prefix = self.tokenize(&pieces[..text_index]);
        let text_tokens = self.tokenize(&pieces[text_index..=text_index]).len();
        let suffix = self.tokenize(&pieces[text_index..]);
        let prompt_tokens = prefix.len() + suffix.len();
        let budget = prompt::max_new_tokens(text_tokens).min((N_CTX as usize).saturating_sub(prompt_tokens));
        if budget < 16 {
            return Err(JobError::bad_input(format!(
                "the prompt takes {prompt_tokens} of the {N_CTX} tokens of context; shorten the text or the glossary"
            )));
        }

        let (out, stop) = self.generate(&prefix, &suffix, budget).inspect_err(|_| {
            // The cache is in an unknown state: start from nothing next time.
            self.cached_prefix.clear();
            self.context.clear_kv_cache();
        })?;
        let vocab = self.model.vocab();
        let bytes: Vec<u8> = out.iter().flat_map(|token| vocab.token_to_piece(*token, false, None)).collect();
        Ok(Translation {
            text: String::from_utf8_lossy(&bytes).trim().to_owned(),
            prompt_tokens: prompt_tokens as u32,
            generated_tokens: out.len() as u32,
            stop,
            compute_ms: started.elapsed().as_millis() as u64,
        })
    }
}
