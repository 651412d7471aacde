//! The glue between a session and the pure interpreting rules of `prepazka_models::interpret`:
//! the phrasebook, the directions the translation model serves, the language and script check,
//! the glossary and protected names, the back-translation score, and whisper's confidence.
//! Thresholds and their reasons are in `docs/INTERPRETING_RULES.md`; this file only decides how
//! a session uses them.

use prepazka_models::interpret::chrf::chrf;
use prepazka_models::interpret::confidence::{
    judge_segment, transcript_confidence, BackTranslation, Origin, SegmentEvidence, SegmentVerdict,
};
use prepazka_models::interpret::glossary::Glossary;
use prepazka_models::interpret::language::{Direction, InterpretLanguage, ServedDirections};
use prepazka_models::interpret::phrasebook::Phrasebook;
use prepazka_models::interpret::protect::{check_protected, find_protected};
use prepazka_models::interpret::script_check::{check_script, SourceText};
pub use prepazka_models::locale::Locale as Lang;
use sha2::{Digest as _, Sha256};

use super::engine::{ModelInfo, TranslationHints};

/// Whisper's own English translation scoring below this chrF against the machine translation
/// marks the segment uncertain. Two correct translations of one sentence differ in wording, so
/// this is lower than the back-translation bound.
pub const SECOND_OPINION_CHRF_MIN: f64 = 30.0;

/// chrF of the machine translation against whisper's own English (symmetric enough for a flag:
/// the mean of both directions).
pub fn second_opinion_chrf(machine: &str, whisper: &str) -> f64 {
    (chrf(machine, whisper) + chrf(whisper, machine)) / 2.0
}

pub use prepazka_models::interpret::confidence::Confidence;

/// How far a transcription can be trusted, from whisper's numbers and known hallucinations
/// (`prepazka_models::interpret::confidence`).
pub fn confidence(text: &str, avg_logprob: f32, no_speech_prob: f32) -> Confidence {
    transcript_confidence(text, f64::from(avg_logprob), f64::from(no_speech_prob))
}

fn lang(locale: Lang) -> InterpretLanguage {
    InterpretLanguage::from(locale)
}

/// A prepared translation found for a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseHit {
    pub id: String,
    pub translation: String,
    /// `drafted` or `reviewed` (of the target-language text).
    pub review: String,
    /// Match score, 0–100.
    pub score: f64,
}

pub fn phrase(transcript: &str, from: Lang, to: Lang) -> Option<PhraseHit> {
    let found = Phrasebook::embedded().lookup(transcript, lang(from))?;
    Some(PhraseHit {
        id: found.entry.id().to_owned(),
        translation: found.entry.text(lang(to)).to_owned(),
        review: found.entry.review(lang(to)).code().to_owned(),
        score: found.score * 100.0,
    })
}

/// The phrasebook as a "model" for the log: its bytes are the weights, the match threshold the
/// decoding configuration, so an edited phrasebook shows in every later record.
pub fn phrasebook_model() -> ModelInfo {
    let hex = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    ModelInfo {
        name: "prepazka-phrasebook@v1".into(),
        weights_sha256: hex(include_bytes!("../../../models/data/phrasebook.toml")),
        decoding_sha256: hex(format!("threshold={}", prepazka_models::interpret::phrasebook::MATCH_THRESHOLD).as_bytes()),
    }
}

/// Whether the translation model is let loose on this direction (default: never into Mongolian,
/// where it produces repetition, not language).
pub fn served(from: Lang, to: Lang) -> bool {
    let Ok(direction) = Direction::new(lang(from), lang(to)) else { return false };
    ServedDirections::parse(&ServedDirections::DEFAULT_RULES).map(|rules| rules.serves(direction)).unwrap_or(false)
}

/// What the translator is told besides the text: the glossary's prescribed terms found in it,
/// and the names, places, numbers and codes to keep as they are.
pub fn hints(text: &str, from: Lang, to: Lang) -> TranslationHints {
    let glossary = Glossary::embedded();
    TranslationHints {
        glossary: glossary.terms_for(lang(from), lang(to), text).iter().map(|p| (p.source.to_owned(), p.target.to_owned())).collect(),
        keep_verbatim: find_protected(text, lang(from), glossary).into_iter().map(|span| span.text).collect(),
    }
}

/// The checks' verdict on one machine translation.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Not shown as a translation, with the reason code.
    pub withheld: Option<String>,
    pub uncertain: bool,
    pub reasons: Vec<String>,
    pub back_chrf: Option<f32>,
}

/// Checks a machine translation `output` of `source` (and its back-translation, when there is
/// one) before anything is shown: language and script, glossary terms, protected names and
/// numbers, back-translation (chrF, numbers, negation), combined by `judge_segment`. The
/// transcript's own confidence is the session's to mark.
pub fn check(source: &str, output: &str, from: Lang, to: Lang, back: Option<&str>) -> Verdict {
    let glossary = Glossary::embedded();
    let script = check_script(output, lang(to), Some(SourceText { text: source, language: lang(from) }));
    let violations = glossary.violations(source, output, lang(from), lang(to));
    let spans = find_protected(source, lang(from), glossary);
    let lost = check_protected(&spans, lang(from), output, lang(to), glossary);
    let back = back.map(|back| BackTranslation::assess(source, back, lang(from)));
    let evidence = SegmentEvidence {
        transcript: Confidence::Ok,
        origin: Origin::Machine,
        script: &script,
        glossary: &violations,
        protected_missing: &lost,
        back_translation: back,
    };
    let mut verdict = Verdict { withheld: None, uncertain: false, reasons: Vec::new(), back_chrf: back.map(|b| b.chrf as f32) };
    match judge_segment(&evidence) {
        SegmentVerdict::Show => {}
        SegmentVerdict::ShowUncertain(reasons) => {
            verdict.uncertain = true;
            for reason in reasons {
                let code = reason.code().to_owned();
                if !verdict.reasons.contains(&code) {
                    verdict.reasons.push(code);
                }
            }
        }
        SegmentVerdict::Withhold(why) => verdict.withheld = Some(why.finding().map_or(why.code(), |f| f.code()).to_owned()),
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whisper_confidence_uses_the_models_rules() {
        assert_eq!(confidence("Dobrý den.", -0.3, 0.01), Confidence::Ok);
        assert_eq!(confidence("Dobrý den.", -1.4, 0.1), Confidence::Low);
        assert_eq!(confidence("Dobrý den.", -1.4, 0.9), Confidence::NoSpeech);
        assert_eq!(confidence("Dobrý den.", f32::NAN, 0.0), Confidence::Low);
    }

    #[test]
    fn nothing_is_machine_translated_into_mongolian() {
        assert!(!served(Lang::Cs, Lang::Mn));
        assert!(served(Lang::Mn, Lang::Cs));
        assert!(served(Lang::Cs, Lang::Uk));
    }

    #[test]
    fn a_prepared_sentence_is_found_in_another_language() {
        let entry = &Phrasebook::embedded().entries()[0];
        let hit = phrase(entry.text(InterpretLanguage::Cs), Lang::Cs, Lang::Uk).expect("its own text matches");
        assert_eq!(hit.translation, entry.text(InterpretLanguage::Uk));
        assert_eq!(hit.review, "drafted");
    }

    #[test]
    fn an_echo_or_an_empty_output_is_withheld_and_a_bad_back_translation_is_uncertain() {
        assert!(check("Dobrý den, posaďte se prosím", "Dobrý den, posaďte se prosím", Lang::Cs, Lang::En, None).withheld.is_some());
        assert_eq!(check("Dobrý den", "  ", Lang::Cs, Lang::En, None).withheld.as_deref(), Some("empty"));
        let russian_for_ukrainian =
            check("Kde zaplatím poplatek?", "Вы можете оплатить сбор в кассе, это быстро.", Lang::Cs, Lang::Uk, None);
        assert!(russian_for_ukrainian.withheld.is_some(), "{russian_for_ukrainian:?}");
        let lost_city = check("Narodil jsem se v Belo Horizonte.", "I was born in a beautiful horizon.", Lang::Cs, Lang::En, None);
        assert!(lost_city.uncertain && lost_city.reasons.iter().any(|r| r == "protected_missing"), "{lost_city:?}");
        let v = check("Podívejte se do kamery", "Look into the camera", Lang::Cs, Lang::En, Some("Podívejte se do kamery"));
        assert!(!v.uncertain && v.back_chrf == Some(100.0));
        let v = check("Podívejte se do kamery", "Look into the camera", Lang::Cs, Lang::En, Some("Zaplaťte poplatek"));
        assert!(v.uncertain && v.reasons.iter().any(|r| r.starts_with("back_translation")), "{v:?}");
    }
}
