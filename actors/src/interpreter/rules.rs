//! The glue between a session and the pure interpreting rules of `prepazka_models::interpret`:
//! the phrasebook, the directions the translation model serves, the language and script check,
//! the glossary and protected names, the back-translation score, and whisper's confidence.
//! Thresholds and their reasons are in `docs/INTERPRETING_RULES.md`; this file only decides how
//! a session uses them.

use prepazka_models::interpret::chrf::chrf;
use prepazka_models::interpret::glossary::Glossary;
use prepazka_models::interpret::language::{Direction, InterpretLanguage, ServedDirections};
use prepazka_models::interpret::phrasebook::Phrasebook;
use prepazka_models::interpret::protect::{check_protected, find_protected};
use prepazka_models::interpret::script_check::{check_script, ScriptVerdict, SourceText};
pub use prepazka_models::locale::Locale as Lang;
use sha2::{Digest as _, Sha256};

use super::engine::{ModelInfo, TranslationHints};

/// A back-translation scoring below this chrF marks the segment uncertain on both screens.
pub const BACK_TRANSLATION_CHRF_MIN: f64 = 35.0;

/// Whisper's own English translation scoring below this chrF against the machine translation
/// marks the segment uncertain. Two correct translations of one sentence differ in wording, so
/// this is lower than the back-translation bound.
pub const SECOND_OPINION_CHRF_MIN: f64 = 30.0;

/// chrF of the machine translation against whisper's own English (symmetric enough for a flag:
/// the mean of both directions).
pub fn second_opinion_chrf(machine: &str, whisper: &str) -> f64 {
    (chrf(machine, whisper) + chrf(whisper, machine)) / 2.0
}

/// How far a transcription can be trusted, from whisper's own numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    Ok,
    /// Shown, marked uncertain.
    Low,
    /// Not speech: nothing is shown.
    NoSpeech,
}

/// Whisper's defaults: a segment whose mean token log-probability is below −1.0 is suspect, and
/// one whose no-speech probability exceeds 0.6 *and* is suspect is silence. We keep whisper's
/// pair so that a better model calibrated by its authors keeps its meaning.
pub fn confidence(avg_logprob: f32, no_speech_prob: f32) -> Confidence {
    // NaN (no tokens) counts as doubtful.
    let doubtful = avg_logprob.partial_cmp(&-1.0).is_none_or(|o| o == std::cmp::Ordering::Less);
    if no_speech_prob > 0.6 && doubtful {
        Confidence::NoSpeech
    } else if doubtful {
        Confidence::Low
    } else {
        Confidence::Ok
    }
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
    let hex = |bytes: &[u8]| Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>();
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
/// one) before anything is shown.
pub fn check(source: &str, output: &str, from: Lang, to: Lang, back: Option<&str>) -> Verdict {
    let mut verdict = Verdict { withheld: None, uncertain: false, reasons: Vec::new(), back_chrf: None };
    // Wrong language or script, an echo, a loop: not shown as a translation at all.
    match check_script(output, lang(to), Some(SourceText { text: source, language: lang(from) })) {
        ScriptVerdict::Fits => {}
        ScriptVerdict::Doubtful(findings) => {
            verdict.uncertain = true;
            verdict.reasons.extend(findings.iter().map(|f| f.code().to_owned()));
        }
        ScriptVerdict::Wrong(finding) => {
            verdict.withheld = Some(finding.code().to_owned());
            return verdict;
        }
    }
    let glossary = Glossary::embedded();
    if !glossary.violations(source, output, lang(from), lang(to)).is_empty() {
        verdict.uncertain = true;
        verdict.reasons.push("glossary_term_missing".into());
    }
    let spans = find_protected(source, lang(from), glossary);
    let lost = check_protected(&spans, lang(from), output, lang(to), glossary);
    if let Some(span) = lost.first() {
        verdict.uncertain = true;
        verdict.reasons.push(format!("{}_not_kept", span.kind.code()));
    }
    if let Some(back) = back {
        let score = chrf(back, source);
        verdict.back_chrf = Some(score as f32);
        if score < BACK_TRANSLATION_CHRF_MIN {
            verdict.uncertain = true;
            verdict.reasons.push("back_translation_differs".into());
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whisper_confidence_follows_whisper_defaults() {
        assert_eq!(confidence(-0.3, 0.01), Confidence::Ok);
        assert_eq!(confidence(-1.4, 0.1), Confidence::Low);
        assert_eq!(confidence(-1.4, 0.9), Confidence::NoSpeech);
        assert_eq!(confidence(-0.2, 0.9), Confidence::Ok, "confident text over a silent-looking window is speech");
        assert_eq!(confidence(f32::NAN, 0.0), Confidence::Low);
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
        assert!(lost_city.uncertain && lost_city.reasons.iter().any(|r| r.ends_with("_not_kept")), "{lost_city:?}");
        let v = check("Podívejte se do kamery", "Look into the camera", Lang::Cs, Lang::En, Some("Podívejte se do kamery"));
        assert!(!v.uncertain && v.back_chrf == Some(100.0));
        let v = check("Podívejte se do kamery", "Look into the camera", Lang::Cs, Lang::En, Some("Zaplaťte poplatek"));
        assert!(v.uncertain && v.reasons == ["back_translation_differs"]);
    }
}
