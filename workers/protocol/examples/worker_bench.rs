//! Measures the worker processes through the client the server uses: start-up, real-time factor
//! of recognition, time per translated sentence, resident memory. The numbers in
//! docs/MODELS.md ("Worker processes") come from here.
//!
//! ```sh
//! cargo build --release -p prepazka-asr-worker -p prepazka-mt-worker
//! cargo run --release -p prepazka-worker-protocol --example worker_bench -- [--runs 3] [--threads 2] [--jfk PATH]
//! ```
//!
//! Needs the model cache with the test set (`scripts/setup-models --testset`) and jfk.wav
//! (`--jfk`, default `$CACHE/samples/jfk.wav`, where the worker tests put it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prepazka_worker_protocol::worker::{default_model_dir, sha256_file};
use prepazka_worker_protocol::{
    locate_worker_binary, AsrTask, Language, TranslateRequest, WorkerClient, WorkerConfig, ASR_WORKER, MT_WORKER,
};

struct Args {
    runs: usize,
    threads: u32,
    jfk: PathBuf,
}

fn parse_args(cache: &Path) -> Args {
    let mut args = Args { runs: 3, threads: 2, jfk: cache.join("samples/jfk.wav") };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--runs" => args.runs = value.parse().expect("--runs N"),
            "--threads" => args.threads = value.parse().expect("--threads N"),
            "--jfk" => args.jfk = value.into(),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cache = default_model_dir().expect("model dir");
    let args = parse_args(&cache);

    // Hashing alone, in this (release) process: the part of a worker's start that is ours.
    for file in ["whisper-base.ggml.bin", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"] {
        let started = Instant::now();
        sha256_file(&cache.join(file)).expect("hash");
        println!("sha256 {file}: {} ms", started.elapsed().as_millis());
    }

    // Recognition.
    let binary = locate_worker_binary(ASR_WORKER).expect("asr worker built");
    let config = WorkerConfig { threads: args.threads, nice: 0, ..WorkerConfig::new(binary, cache.join("whisper-base.ggml.bin")) };
    let started = Instant::now();
    let asr = WorkerClient::spawn(config).await.expect("asr worker starts");
    let ready = started.elapsed();
    let info = asr.info().await.expect("info");
    println!("\nasr: ready after {} ms (worker's load_ms {}), rss {}", ready.as_millis(), info.load_ms, memory(&asr));
    for (name, path, language) in [
        ("jfk.wav (11.0 s, en)", args.jfk.clone(), Language::En),
        ("cs-officer-06 (5.13 s, espeak cs)", cache.join("testset/cs-officer-06.wav"), Language::Cs),
    ] {
        let samples = read_wav(&path);
        let audio = samples.len() as f64 / 16_000.0;
        let mut times = Vec::new();
        let mut text = String::new();
        for _ in 0..args.runs {
            let t = asr.transcribe(Some(language), AsrTask::Transcribe, &samples).await.expect("transcript");
            times.push(Duration::from_millis(t.compute_ms));
            text = t.text;
        }
        let (min, median) = min_median(&mut times);
        println!(
            "  {name}: compute min {} ms, median {} ms; real-time factor {:.2} (median); \"{text}\"",
            min.as_millis(),
            median.as_millis(),
            median.as_secs_f64() / audio
        );
    }
    println!("  rss after jobs: {}", memory(&asr));
    asr.shutdown().await;

    // Translation.
    let binary = locate_worker_binary(MT_WORKER).expect("mt worker built");
    let config =
        WorkerConfig { threads: args.threads, nice: 0, ..WorkerConfig::new(binary, cache.join("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")) };
    let started = Instant::now();
    let mt = WorkerClient::spawn(config).await.expect("mt worker starts");
    let ready = started.elapsed();
    let info = mt.info().await.expect("info");
    println!("\nmt: ready after {} ms (worker's load_ms {}), rss {}", ready.as_millis(), info.load_ms, memory(&mt));
    let sentences = officer_sentences();
    let mut times = Vec::new();
    let (mut generated, mut compute) = (0u64, 0u64);
    for run in 0..args.runs {
        for text in &sentences {
            let request =
                TranslateRequest { from: Language::Cs, to: Language::En, text: text.clone(), glossary: vec![], keep_verbatim: vec![] };
            let t = mt.translate(&request).await.expect("translation");
            times.push(Duration::from_millis(t.compute_ms));
            generated += u64::from(t.generated_tokens);
            compute += t.compute_ms;
            if run == 0 {
                println!("  {} ms, {} + {} tokens, {:?}: \"{}\"", t.compute_ms, t.prompt_tokens, t.generated_tokens, t.stop, t.text);
            }
        }
    }
    let (min, median) = min_median(&mut times);
    let max = times.iter().max().copied().unwrap_or_default();
    println!(
        "  {} sentences x {} runs, cs->en: per sentence min {} ms, median {} ms, max {} ms; {:.1} generated tokens/s overall",
        sentences.len(),
        args.runs,
        min.as_millis(),
        median.as_millis(),
        max.as_millis(),
        generated as f64 / (compute as f64 / 1000.0)
    );
    println!("  rss after jobs: {}", memory(&mt));
    mt.shutdown().await;
}

/// VmRSS (what `resident_memory_bytes` reports), split into anonymous memory and file pages
/// (mapped weights, shared with the page cache).
fn memory(client: &WorkerClient) -> String {
    let mib = |kb: u64| format!("{:.0} MiB", kb as f64 / 1024.0);
    let Some(pid) = client.pid() else { return "?".into() };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
    };
    let rss = client.resident_memory_bytes().unwrap_or(0) / 1024;
    format!("{} (anonymous {}, file {})", mib(rss), mib(field("RssAnon:")), mib(field("RssFile:")))
}

fn min_median(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2])
}

/// The test set's ten Czech officer sentences.
fn officer_sentences() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interpreter/testset/sentences.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("sentences.json")).expect("json");
    json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["lang"] == "cs")
        .filter_map(|i| i["text"].as_str().map(str::to_owned))
        .collect()
}

/// 16 kHz mono 16-bit PCM WAV → f32 samples in [-1, 1].
fn read_wav(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    prepazka_models::interpret::wav::parse_pcm16_as_f32(&bytes).unwrap_or_else(|why| panic!("{}: {why}", path.display()))
}
