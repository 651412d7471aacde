//! The speech-recognition worker through `WorkerClient`: transcripts, bad input, busy, crash and
//! timeout.

use std::sync::Arc;
use std::time::Duration;

use prepazka_worker_protocol::message::sha256_hex;
use prepazka_worker_protocol::{AsrTask, Language, WorkerClient, WorkerConfig, WorkerError, WorkerKind, ASR_WORKER};

use crate::common::{jfk_wav, model, normalise, read_wav, testset_wav, worker_config, WHISPER_MODEL};

fn config() -> Option<WorkerConfig> {
    Some(worker_config(ASR_WORKER, model(WHISPER_MODEL)?))
}

fn one_second_of_quiet() -> Vec<f32> {
    (0..16_000).map(|i| 0.001 * (i as f32 * 0.05).sin()).collect()
}

#[tokio::test]
async fn jfk_is_transcribed_with_segment_confidences() {
    let (Some(config), Some(jfk)) = (config(), jfk_wav()) else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");

    let info = client.info().await.expect("info");
    assert_eq!(info.kind, WorkerKind::Asr);
    assert_eq!(info.model, WHISPER_MODEL);
    assert_eq!(info.model_sha256.len(), 64);
    assert_eq!(info.decoding_sha256, sha256_hex(info.decoding.as_bytes()));
    assert!(info.engine.contains("whisper.cpp 1.8.3"), "{}", info.engine);

    let samples = read_wav(&jfk);
    let t = client.transcribe(Some(Language::En), AsrTask::Transcribe, &samples).await.expect("transcript");
    assert!(normalise(&t.text).contains("ask not what your country can do for you"), "{:?}", t.text);
    assert_eq!(t.language, "en");
    assert_eq!(t.audio_ms, 11_000);
    assert!(!t.segments.is_empty());
    for s in &t.segments {
        assert!(s.avg_logprob.is_finite() && s.avg_logprob <= 0.0, "{s:?}");
        assert!((0.0..=1.0).contains(&s.no_speech_prob), "{s:?}");
        assert!(s.t0_ms < s.t1_ms && s.t1_ms <= 11_000, "{s:?}");
    }
    eprintln!("jfk.wav: {} ms compute for 11 s of audio, rss {:?}", t.compute_ms, client.resident_memory_bytes());
}

#[tokio::test]
async fn czech_espeak_sentence_round_trip() {
    let (Some(config), Some(wav)) = (config(), testset_wav("cs-officer-01")) else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let samples = read_wav(&wav);
    let t = client.transcribe(Some(Language::Cs), AsrTask::Transcribe, &samples).await.expect("transcript");
    assert!(!t.text.trim().is_empty());
    assert_eq!(t.language, "cs");
    assert!(t.segments.iter().all(|s| s.avg_logprob.is_finite()), "{t:?}");
    // "Dobrý den, posaďte se prosím." Whisper base on synthetic Czech gets the greeting at least.
    assert!(normalise(&t.text).contains("dobr"), "{:?}", t.text);

    // The same audio through Whisper's own English translation (the second opinion).
    let en = client.transcribe(Some(Language::Cs), AsrTask::TranslateToEnglish, &samples).await.expect("translation");
    assert_eq!(en.task, AsrTask::TranslateToEnglish);
    assert!(!en.text.trim().is_empty());
}

#[tokio::test]
async fn bad_audio_is_refused_and_the_worker_carries_on() {
    let Some(config) = config() else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let pid = client.pid();

    let mut nan = one_second_of_quiet();
    nan[123] = f32::NAN;
    let forty_seconds = vec![0.0f32; 40 * 16_000];
    let as_i16 = vec![1200.0f32; 16_000];
    for (what, samples) in [("NaN", nan), ("no samples", vec![]), ("40 s", forty_seconds), ("not normalised", as_i16)] {
        match client.transcribe(Some(Language::Cs), AsrTask::Transcribe, &samples).await {
            Err(WorkerError::BadInput { reason }) => eprintln!("{what}: {reason}"),
            other => panic!("{what}: expected BadInput, got {other:?}"),
        }
    }
    client.transcribe(None, AsrTask::Transcribe, &one_second_of_quiet()).await.expect("a good request after the bad ones");
    assert_eq!(client.pid(), pid, "bad input must not cost a worker");
}

#[tokio::test]
async fn a_second_concurrent_call_is_told_busy() {
    let (Some(config), Some(jfk)) = (config(), jfk_wav()) else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let samples = read_wav(&jfk);
    let (a, b) = tokio::join!(
        client.transcribe(Some(Language::En), AsrTask::Transcribe, &samples),
        client.transcribe(Some(Language::En), AsrTask::Transcribe, &samples)
    );
    let busy = [&a, &b].iter().filter(|r| matches!(r, Err(WorkerError::Busy))).count();
    let ok = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!((ok, busy), (1, 1), "{a:?} / {b:?}");
}

#[tokio::test]
async fn a_worker_killed_mid_job_is_reported_crashed_and_replaced() {
    let (Some(config), Some(jfk)) = (config(), jfk_wav()) else { return };
    let client = Arc::new(WorkerClient::spawn(config).await.expect("worker starts"));
    let pid = client.pid().expect("a running worker");
    let samples = read_wav(&jfk);
    let job = {
        let client = Arc::clone(&client);
        tokio::spawn(async move { client.transcribe(Some(Language::En), AsrTask::Transcribe, &samples).await })
    };
    // jfk.wav takes seconds; a quarter of one in, the job is running.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill runs");
    assert!(killed.success());
    match job.await.expect("task") {
        Err(WorkerError::Crashed { status, .. }) => {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.and_then(|s| s.signal()), Some(9), "{status:?}");
        }
        other => panic!("expected Crashed, got {other:?}"),
    }
    assert_eq!(client.pid(), None);
    let t = client.transcribe(None, AsrTask::Transcribe, &one_second_of_quiet()).await.expect("the next call starts a new worker");
    assert!(t.compute_ms > 0 || t.text.is_empty());
    assert!(client.pid().is_some_and(|p| p != pid));
}

#[tokio::test]
async fn a_worker_that_died_between_jobs_is_replaced_without_an_error() {
    let Some(config) = config() else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let pid = client.pid().expect("a running worker");
    assert!(std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill runs").success());
    // Let it die before the next call looks. The main thread shows as a zombie while the
    // worker's other threads are still being torn down, and until they are, waitpid does not
    // report the exit: wait for the zombie with one thread left, then a little longer.
    let dying = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .is_ok_and(|s| !(s.contains("State:\tZ") && s.lines().any(|l| l.split_whitespace().eq(["Threads:", "1"]))))
    };
    while dying() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    client.transcribe(None, AsrTask::Transcribe, &one_second_of_quiet()).await.expect("no error for this job");
    assert!(client.pid().is_some_and(|p| p != pid));
}

#[tokio::test]
async fn a_job_past_its_timeout_kills_the_worker() {
    let (Some(config), Some(jfk)) = (config(), jfk_wav()) else { return };
    // Far shorter than jfk.wav takes (seconds), far longer than an Info round trip.
    let timeout = Duration::from_millis(1000);
    let client = WorkerClient::spawn(WorkerConfig { job_timeout: timeout, ..config }).await.expect("worker starts");
    let pid = client.pid().expect("a running worker");
    let samples = read_wav(&jfk);
    match client.transcribe(Some(Language::En), AsrTask::Transcribe, &samples).await {
        Err(WorkerError::Timeout { timeout: t }) => assert_eq!(t, timeout),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the timed-out worker is gone");
    // Info is answered without running a job, so it fits in the timeout once the new worker is up.
    let info = client.info().await.expect("a new worker answers");
    assert_eq!(info.kind, WorkerKind::Asr);
    assert!(client.pid().is_some_and(|p| p != pid));
}
