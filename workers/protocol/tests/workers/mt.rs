//! The translation worker through `WorkerClient`.

use prepazka_worker_protocol::message::sha256_hex;
use prepazka_worker_protocol::{Language, StopReason, TranslateRequest, WorkerClient, WorkerConfig, WorkerError, WorkerKind, MT_WORKER};

use crate::common::{model, normalise, worker_config, QWEN_MODEL};

fn config() -> Option<WorkerConfig> {
    Some(worker_config(MT_WORKER, model(QWEN_MODEL)?))
}

fn cs_en(text: &str) -> TranslateRequest {
    TranslateRequest { from: Language::Cs, to: Language::En, text: text.into(), glossary: vec![], keep_verbatim: vec![] }
}

#[tokio::test]
async fn czech_to_english() {
    let Some(config) = config() else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let info = client.info().await.expect("info");
    assert_eq!(info.kind, WorkerKind::Mt);
    assert_eq!(info.model, QWEN_MODEL);
    assert_eq!(info.decoding_sha256, sha256_hex(info.decoding.as_bytes()));
    assert!(info.decoding.contains("professional interpreter"));

    let t = client.translate(&cs_en("Podívejte se prosím do kamery.")).await.expect("translation");
    assert!(normalise(&t.text).contains("camera"), "{:?}", t.text);
    assert_eq!(t.stop, StopReason::EndOfTurn);
    assert!(t.generated_tokens > 0 && t.prompt_tokens > t.generated_tokens);

    let t = client.translate(&cs_en("Dobrý den, posaďte se prosím.")).await.expect("translation");
    let words = normalise(&t.text);
    assert!(words.contains("please") && (words.contains("sit") || words.contains("seat")), "{:?}", t.text);
    eprintln!("translation: {} ms, rss {:?}", t.compute_ms, client.resident_memory_bytes());
}

#[tokio::test]
async fn glossary_and_verbatim_items_reach_the_output() {
    let Some(config) = config() else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let request = TranslateRequest {
        glossary: vec![("povolení k pobytu".into(), "residence permit".into())],
        keep_verbatim: vec!["OAM-12345/2024".into()],
        ..cs_en("Vaše povolení k pobytu má číslo jednací OAM-12345/2024.")
    };
    let t = client.translate(&request).await.expect("translation");
    assert!(t.text.contains("OAM-12345/2024"), "{:?}", t.text);
    assert!(t.text.to_lowercase().contains("residence permit"), "{:?}", t.text);
}

#[tokio::test]
async fn a_translation_does_not_depend_on_the_jobs_before_it() {
    // The worker keeps the prompt prefix of the last direction in its cache; the output must be
    // the same from a cold start, after another sentence, and after another direction.
    let Some(config) = config() else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let sentence = cs_en("Zaplatit můžete kartou nebo v hotovosti.");
    let cold = client.translate(&sentence).await.expect("translation");
    client.translate(&cs_en("Podepište se prosím dole.")).await.expect("translation");
    let warm = client.translate(&sentence).await.expect("translation");
    client.translate(&TranslateRequest { to: Language::Uk, ..cs_en("Děkuji.") }).await.expect("translation");
    let after_other_direction = client.translate(&sentence).await.expect("translation");
    assert_eq!(cold.text, warm.text);
    assert_eq!(cold.text, after_other_direction.text);
    assert_eq!(cold.prompt_tokens, warm.prompt_tokens);
}

#[tokio::test]
async fn bad_text_is_refused_and_the_worker_carries_on() {
    let Some(config) = config() else { return };
    let client = WorkerClient::spawn(config).await.expect("worker starts");
    let pid = client.pid();
    for (what, request) in [
        ("empty", cs_en("   ")),
        ("same language", TranslateRequest { to: Language::Cs, ..cs_en("Dobrý den.") }),
        ("too long", cs_en(&"slovo ".repeat(1_000))),
    ] {
        match client.translate(&request).await {
            Err(WorkerError::BadInput { reason }) => eprintln!("{what}: {reason}"),
            other => panic!("{what}: expected BadInput, got {other:?}"),
        }
    }
    let t = client.translate(&cs_en("Děkuji.")).await.expect("a good request after the bad ones");
    assert!(!t.text.is_empty());
    assert_eq!(client.pid(), pid);
}
