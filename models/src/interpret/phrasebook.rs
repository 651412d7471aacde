//! The phrasebook: prepared translations of the counter's common sentences, and fuzzy matching
//! of a transcript to them.
//!
//! The packaged translation model is weak exactly where the counter needs it most (Czech into
//! Ukrainian, Russian, Vietnamese; anything into Mongolian), while most of what an officer says is
//! the same few dozen sentences. So a transcript that matches an entry is answered with the
//! entry's prepared text in the listener's language, labelled as prepared (with its review
//! state), and machine translation is not asked at all. The data is `models/data/phrasebook.toml`,
//! compiled in; a deployment can parse its own with [`Phrasebook::parse`].
//!
//! **Matching.** Both sides are normalised ([`normalise`]: case, punctuation, thousands
//! separators, composed letters). The score is a character similarity, `1 − d / max(|a|, |b|)`,
//! where `d` is a Levenshtein distance in which a letter that differs only by its diacritics
//! (`i`/`í`, `e`/`ě`, `a`/`ạ`, `е`/`ё`) costs a quarter of an edit: whisper often drops or misplaces
//! diacritics, and that should not cost a sentence its match. A whole utterance is compared with
//! a whole entry, deliberately: the prepared text replaces the utterance, so a transcript that
//! says more than the entry must not match it (the rest would silently go untranslated).
//! Two gates come before the score, because a single character can turn a sentence around:
//! - the *numbers* must be the same (`30 days` never matches `15 days`; spelled-out numbers are
//!   not converted, an entry lists them as alternatives instead);
//! - the *contrast words* must agree: negations (`Nerozumím` never matches `Rozumím`, `Це не
//!   рішення` never matches a sentence without `не`) and left/right (`levý`/`pravý`).
//!
//! A transcript matches when its best score reaches [`MATCH_THRESHOLD`] (0.80) and no other
//! entry comes within [`AMBIGUITY_MARGIN`] (0.05) of it. Calibration on the embedded phrasebook
//! (`calibration_report` below prints it; the tests keep it true):
//! - different entries: the closest pair of all 48 × 47 in all six languages, alternatives
//!   included, scores 0.70 (Czech "Přineste si prosím cestovní pas." against "Můžete mi prosím
//!   dát cestovní pas?"); left/right index finger scored 0.84–0.91 before the contrast gate and
//!   are now refused, and an alternative "Dejte mi prosím cestovní pas." was taken out at 0.81;
//! - every entry with its diacritics dropped (Latin script) or `ё` written `е`: at least 0.89;
//! - one word wrong (replaced by a same-length word sharing nothing) or missing: at least 0.84 in
//!   sentences of [`LONG_SENTENCE_WORDS`] (9) words or more; 0.70–0.79 in sentences of 5–8 words.
//!   In a short sentence one word is as large a difference as the one between two prepared
//!   sentences, so a short utterance must be heard nearly exactly; otherwise it goes to machine
//!   translation and its checks, which is the safe side.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::Deserialize;

use super::language::InterpretLanguage;
use super::text::{digit_runs, fold_char, fold_diacritics, normalise};

/// The lowest score (0–1) at which a transcript is answered from the phrasebook.
pub const MATCH_THRESHOLD: f64 = 0.80;
/// A match is refused when a second entry scores within this much of the best: a transcript
/// halfway between two prepared sentences is not evidence for either.
pub const AMBIGUITY_MARGIN: f64 = 0.05;
/// From this many words on, the calibration requires one wrong or missing word to still match.
pub const LONG_SENTENCE_WORDS: usize = 9;

const EMBEDDED: &str = include_str!("../../data/phrasebook.toml");

/// Who usually says a sentence (for the officer's quick-pick list; matching ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Officer,
    Client,
    Both,
}

/// Whether a prepared text has been checked by a person who speaks the language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// Written but not checked by a native speaker; `how` says how it was made.
    Drafted { by: String, how: String },
    /// Checked and approved.
    Reviewed { reviewer: String, date: NaiveDate },
}

impl Review {
    /// A stable code the UI localises next to the "prepared translation" label.
    pub fn code(&self) -> &'static str {
        match self {
            Review::Drafted { .. } => "drafted",
            Review::Reviewed { .. } => "reviewed",
        }
    }

    pub fn is_reviewed(&self) -> bool {
        matches!(self, Review::Reviewed { .. })
    }
}

/// The comparison form of one text of an entry (or of a transcript).
#[derive(Debug, Clone)]
struct MatchKey {
    chars: Vec<char>,
    folded: Vec<char>,
    numbers: Vec<String>,
    contrasts: Vec<Contrast>,
}

impl MatchKey {
    fn new(language: InterpretLanguage, text: &str) -> Option<MatchKey> {
        let normalised = normalise(text);
        if normalised.is_empty() {
            return None;
        }
        let mut numbers = digit_runs(&normalised);
        numbers.sort();
        let chars: Vec<char> = normalised.chars().collect();
        let folded: Vec<char> = chars.iter().map(|&c| fold_char(c)).collect();
        let folded_text: String = folded.iter().collect();
        let mut contrasts: Vec<Contrast> = folded_text.split(' ').filter_map(|w| contrast(language, w)).collect();
        contrasts.sort();
        Some(MatchKey { chars, folded, numbers, contrasts })
    }

    /// The score against another key; `None` when a gate refuses or the lengths alone rule out
    /// reaching `floor` (an upper bound, so long inputs cost nothing).
    fn score(&self, other: &MatchKey, floor: f64) -> Option<f64> {
        if self.numbers != other.numbers || self.contrasts != other.contrasts {
            return None;
        }
        let (short, long) = (self.chars.len().min(other.chars.len()), self.chars.len().max(other.chars.len()));
        if (short as f64) / (long as f64) < floor {
            return None;
        }
        let distance = weighted_edit_distance(self, other);
        Some(1.0 - distance as f64 / (EDIT_COST * long) as f64)
    }
}

/// What a substitution between letters with the same base costs, in quarter edits.
const DIACRITIC_COST: usize = 1;
/// A whole edit, in the same unit.
const EDIT_COST: usize = 4;

/// Levenshtein distance in quarter edits: insertion, deletion and substitution cost a whole
/// edit, a substitution between letters with the same base (`ř`/`r`, `ệ`/`e`) a quarter.
fn weighted_edit_distance(a: &MatchKey, b: &MatchKey) -> usize {
    let mut row: Vec<usize> = (0..=b.chars.len()).map(|j| EDIT_COST * j).collect();
    for i in 0..a.chars.len() {
        let mut diagonal = row[0];
        row[0] = EDIT_COST * (i + 1);
        for j in 0..b.chars.len() {
            let cost = if a.chars[i] == b.chars[j] {
                0
            } else if a.folded[i] == b.folded[j] {
                DIACRITIC_COST
            } else {
                EDIT_COST
            };
            let substitution = diagonal + cost;
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + EDIT_COST).min(diagonal + EDIT_COST);
        }
    }
    row[b.chars.len()]
}

/// Czech words that begin with `ne` without negating anything (the superlative `nej…` is
/// handled apart). Compared folded, like everything in the gate.
const CS_NE_WORDS: &[&str] = &[
    "nebo",
    "neboť",
    "než",
    "nežli",
    "neděle",
    "neděli",
    "nedělní",
    "nemoc",
    "nemoci",
    "nemocnice",
    "nemocnici",
    "nemocný",
    "nemocná",
    "nemocenské",
    "nemovitost",
    "nemovitosti",
    "neteř",
    "nervy",
    "němec",
    "německo",
    "německý",
    "něco",
    "někdo",
    "někde",
    "někdy",
    "některý",
    "některá",
    "některé",
    "nějaký",
    "nějaká",
    "nějaké",
    "nějak",
];

/// A word class whose swap turns a sentence around although it changes only a few letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Contrast {
    Negation,
    Left,
    Right,
}

fn any_folded(word: &str, list: &[&str]) -> bool {
    list.iter().any(|w| fold_diacritics(w) == word)
}

/// The contrast class of a normalised, diacritic-folded word in its language. Only agreement
/// between the transcript and the entry matters (see the module comment), and both sides go
/// through the same rule, so a word misjudged the same way on both sides does no harm; folding
/// keeps the gate blind to dropped diacritics (`khong` is `không`).
fn contrast(language: InterpretLanguage, word: &str) -> Option<Contrast> {
    let negation = match language {
        InterpretLanguage::Cs => {
            any_folded(word, &["ne", "ani", "nic", "nikdo", "nikdy", "nikde", "žádný", "žádná", "žádné"])
                || (word.starts_with("ne") && !word.starts_with("nej") && !any_folded(word, CS_NE_WORDS))
        }
        InterpretLanguage::En => matches!(
            word,
            "not"
                | "no"
                | "never"
                | "nothing"
                | "nobody"
                | "none"
                | "cannot"
                | "dont"
                | "doesnt"
                | "didnt"
                | "cant"
                | "wont"
                | "isnt"
                | "arent"
                | "wasnt"
                | "werent"
                | "havent"
                | "hasnt"
                | "shouldnt"
                | "couldnt"
                | "wouldnt"
                | "mustnt"
        ),
        InterpretLanguage::Uk => any_folded(word, &["не", "ні", "немає", "ніколи", "ніхто", "нічого", "жоден", "жодного", "жодної"]),
        InterpretLanguage::Ru => any_folded(word, &["не", "нет", "ни", "никогда", "никто", "ничего", "нельзя"]),
        // Folded, `dung` is also `dùng` (to use); counted on both sides alike, it only makes the
        // gate weaker for that word, never wrong.
        InterpretLanguage::Vi => any_folded(word, &["không", "chưa", "chẳng", "đừng", "chả"]),
        InterpretLanguage::Mn => any_folded(word, &["үгүй", "биш", "битгий", "бүү"]) || (word.ends_with("гүи") && word.chars().count() > 3),
    };
    if negation {
        return Some(Contrast::Negation);
    }
    let (left, right): (&[&str], &[&str]) = match language {
        InterpretLanguage::Cs => (
            &["levý", "levá", "levé", "levou", "levého", "levém", "levým", "levej"],
            &["pravý", "pravá", "pravé", "pravou", "pravého", "pravém", "pravým", "pravej"],
        ),
        InterpretLanguage::En => (&["left"], &["right"]),
        InterpretLanguage::Uk => (
            &["лівий", "ліва", "ліве", "ліву", "лівого", "лівої", "лівій", "лівим", "лівою"],
            &["правий", "праве", "праву", "правого", "правої", "правій", "правим", "правою"],
        ),
        InterpretLanguage::Ru => (
            &["левый", "левая", "левое", "левую", "левого", "левой", "левом", "левым"],
            &["правый", "правая", "правое", "правую", "правого", "правой", "правом", "правым"],
        ),
        // `phải` is also "must": only `trái` is counted, which still tells the hands apart.
        InterpretLanguage::Vi => (&["trái"], &[]),
        InterpretLanguage::Mn => (&["зүүн"], &["баруун"]),
    };
    if any_folded(word, left) {
        Some(Contrast::Left)
    } else if any_folded(word, right) {
        Some(Contrast::Right)
    } else {
        None
    }
}

/// The numbers (sorted digit groups) and contrast words (sorted classes) of a text: what the
/// matching gates compare, and what the back-translation check compares between a source and
/// its back-translation.
pub(crate) fn gate_signature(language: InterpretLanguage, text: &str) -> (Vec<String>, Vec<Contrast>) {
    MatchKey::new(language, text).map_or_else(Default::default, |k| (k.numbers, k.contrasts))
}

/// One sentence of the phrasebook in all six languages.
#[derive(Debug, Clone)]
pub struct PhraseEntry {
    id: String,
    speaker: Speaker,
    texts: [String; 6],
    alternatives: [Vec<String>; 6],
    reviews: [Review; 6],
    keys: [Vec<MatchKey>; 6],
}

fn slot(language: InterpretLanguage) -> usize {
    match language {
        InterpretLanguage::Cs => 0,
        InterpretLanguage::En => 1,
        InterpretLanguage::Uk => 2,
        InterpretLanguage::Ru => 3,
        InterpretLanguage::Vi => 4,
        InterpretLanguage::Mn => 5,
    }
}

impl PhraseEntry {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn speaker(&self) -> Speaker {
        self.speaker
    }

    /// The prepared text shown in `language`.
    pub fn text(&self, language: InterpretLanguage) -> &str {
        &self.texts[slot(language)]
    }

    /// Other ways the sentence is said in `language`: matched, never shown.
    pub fn alternatives(&self, language: InterpretLanguage) -> &[String] {
        &self.alternatives[slot(language)]
    }

    /// The review state of the text in `language`: a reviewer reviews one language.
    pub fn review(&self, language: InterpretLanguage) -> &Review {
        &self.reviews[slot(language)]
    }
}

/// A transcript answered from the phrasebook.
#[derive(Debug, Clone, Copy)]
pub struct PhraseMatch<'a> {
    pub entry: &'a PhraseEntry,
    /// Similarity in 0–1 of the transcript to the entry's closest text (main or alternative).
    pub score: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PhrasebookError {
    #[error("phrasebook is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("phrase `{id}`: {problem}")]
    Entry { id: String, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBook {
    defaults: RawDefaults,
    phrase: Vec<RawPhrase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    review: RawReview,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhrase {
    id: String,
    speaker: Speaker,
    cs: String,
    en: String,
    uk: String,
    ru: String,
    vi: String,
    mn: String,
    #[serde(default)]
    alt: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    review: BTreeMap<String, RawReview>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawReview {
    state: String,
    by: Option<String>,
    how: Option<String>,
    reviewer: Option<String>,
    date: Option<toml::value::Datetime>,
}

impl RawReview {
    fn parse(self) -> Result<Review, String> {
        let present = |field: Option<String>, name: &str| match field {
            Some(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(format!("review needs `{name}`")),
        };
        match self.state.as_str() {
            "drafted" => Ok(Review::Drafted { by: present(self.by, "by")?, how: present(self.how, "how")? }),
            "reviewed" => {
                let date = self.date.ok_or("review needs `date`")?.to_string();
                let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(|_| format!("review date `{date}` is not a day"))?;
                Ok(Review::Reviewed { reviewer: present(self.reviewer, "reviewer")?, date })
            }
            other => Err(format!("review state `{other}` is neither `drafted` nor `reviewed`")),
        }
    }
}

/// The prepared sentences, ready for matching.
#[derive(Debug, Clone)]
pub struct Phrasebook {
    entries: Vec<PhraseEntry>,
}

impl Phrasebook {
    /// The phrasebook compiled into the binary (`models/data/phrasebook.toml`).
    pub fn embedded() -> &'static Phrasebook {
        static EMBEDDED_BOOK: OnceLock<Phrasebook> = OnceLock::new();
        // unwrap: the embedded file is parsed and validated by this module's tests.
        EMBEDDED_BOOK.get_or_init(|| Phrasebook::parse(EMBEDDED).expect("the embedded phrasebook is valid"))
    }

    /// Parses and validates a phrasebook: unique ids, a text in every language, the same numbers
    /// in every language's text (a prepared translation that changes an amount is a defect),
    /// known language codes and complete review states.
    pub fn parse(toml_text: &str) -> Result<Phrasebook, PhrasebookError> {
        let raw: RawBook = toml::from_str(toml_text)?;
        let default_review = raw.defaults.review.parse().map_err(|problem| PhrasebookError::Entry { id: "defaults".into(), problem })?;
        let mut seen = HashSet::new();
        let mut entries = Vec::with_capacity(raw.phrase.len());
        for phrase in raw.phrase {
            let id = phrase.id.clone();
            let entry = Self::entry(phrase, &default_review).map_err(|problem| PhrasebookError::Entry { id: id.clone(), problem })?;
            if id.trim().is_empty() || !seen.insert(id.clone()) {
                return Err(PhrasebookError::Entry { id, problem: "the id is empty or not unique".into() });
            }
            entries.push(entry);
        }
        Ok(Phrasebook { entries })
    }

    fn entry(raw: RawPhrase, default_review: &Review) -> Result<PhraseEntry, String> {
        let texts = [raw.cs, raw.en, raw.uk, raw.ru, raw.vi, raw.mn];
        let mut alternatives: [Vec<String>; 6] = Default::default();
        for (code, forms) in raw.alt {
            let language: InterpretLanguage = code.parse().map_err(|_| format!("unknown language `{code}` in alt"))?;
            alternatives[slot(language)] = forms;
        }
        let mut reviews: [Review; 6] = std::array::from_fn(|_| default_review.clone());
        for (code, review) in raw.review {
            let language: InterpretLanguage = code.parse().map_err(|_| format!("unknown language `{code}` in review"))?;
            reviews[slot(language)] = review.parse()?;
        }
        let mut numbers = None;
        let mut keys: [Vec<MatchKey>; 6] = Default::default();
        for language in InterpretLanguage::ALL {
            let text = &texts[slot(language)];
            let key = MatchKey::new(language, text).ok_or(format!("no {language} text"))?;
            match &numbers {
                None => numbers = Some(key.numbers.clone()),
                Some(expected) if *expected != key.numbers => return Err(format!("the {language} text has other numbers than the Czech")),
                Some(_) => {}
            }
            let mut language_keys = vec![key];
            for alternative in &alternatives[slot(language)] {
                language_keys.push(MatchKey::new(language, alternative).ok_or(format!("an empty {language} alternative"))?);
            }
            keys[slot(language)] = language_keys;
        }
        Ok(PhraseEntry { id: raw.id, speaker: raw.speaker, texts, alternatives, reviews, keys })
    }

    pub fn entries(&self) -> &[PhraseEntry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&PhraseEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The entry a transcript in `language` says, if one matches (see the module comment).
    pub fn lookup(&self, transcript: &str, language: InterpretLanguage) -> Option<PhraseMatch<'_>> {
        let key = MatchKey::new(language, transcript)?;
        let floor = MATCH_THRESHOLD - AMBIGUITY_MARGIN;
        let mut best: Option<PhraseMatch<'_>> = None;
        let mut runner_up = 0.0f64;
        for entry in &self.entries {
            let score = entry.keys[slot(language)]
                .iter()
                .filter_map(|k| key.score(k, floor))
                .fold(None, |acc: Option<f64>, s| Some(acc.map_or(s, |a| a.max(s))));
            let Some(score) = score else { continue };
            match best {
                Some(b) if score <= b.score => runner_up = runner_up.max(score),
                _ => {
                    runner_up = runner_up.max(best.map_or(0.0, |b| b.score));
                    best = Some(PhraseMatch { entry, score });
                }
            }
        }
        best.filter(|b| b.score >= MATCH_THRESHOLD && b.score - runner_up >= AMBIGUITY_MARGIN)
    }

    /// The best score of `transcript` against `entry` in `language`, gates applied, without
    /// the threshold: for calibration and for the officer's "closest prepared sentence" hint.
    pub fn score(&self, entry: &PhraseEntry, transcript: &str, language: InterpretLanguage) -> Option<f64> {
        let key = MatchKey::new(language, transcript)?;
        entry.keys[slot(language)].iter().filter_map(|k| key.score(k, 0.0)).reduce(f64::max)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::interpret::language::Script;

    fn book() -> &'static Phrasebook {
        Phrasebook::embedded()
    }

    fn matched(text: &str, language: InterpretLanguage) -> Option<&'static str> {
        book().lookup(text, language).map(|m| m.entry.id())
    }

    #[test]
    fn the_embedded_phrasebook_is_complete() {
        let book = book();
        assert!(book.entries().len() >= 40, "{} entries", book.entries().len());
        for entry in book.entries() {
            for language in InterpretLanguage::ALL {
                assert!(!entry.text(language).trim().is_empty(), "{} {language}", entry.id());
                assert_eq!(entry.review(language).code(), "drafted", "{} {language}", entry.id());
            }
        }
        assert!(book.entries().iter().any(|e| e.speaker() == Speaker::Officer));
        assert!(book.entries().iter().any(|e| e.speaker() == Speaker::Client));
    }

    #[test]
    fn exact_sentences_match_in_every_language() {
        for entry in book().entries() {
            for language in InterpretLanguage::ALL {
                let found = book().lookup(entry.text(language), language).map(|m| (m.entry.id(), m.score));
                assert_eq!(found, Some((entry.id(), 1.0)), "{language}: {}", entry.text(language));
            }
        }
    }

    #[test]
    fn asr_like_variants_still_match() {
        use InterpretLanguage::*;
        assert_eq!(matched("podivejte se prosim do kamery", Cs), Some("officer.look_into_camera"));
        assert_eq!(matched("Položte prst na snímač", Cs), Some("officer.finger_on_scanner"));
        assert_eq!(matched("Spravni poplatek je 2500 Kc.", Cs), Some("officer.fee_2500"));
        assert_eq!(matched("Správní poplatek je dva tisíce pět set korun", Cs), Some("officer.fee_2500"));
        assert_eq!(matched("Ztratila jsem cestovní pas.", Cs), Some("client.lost_passport"));
        assert_eq!(matched("Я загубила паспорт", Uk), Some("client.lost_passport"));
        assert_eq!(matched("Toi khong hieu", Vi), Some("client.dont_understand"));
        assert_eq!(matched("PLEASE LOOK INTO THE CAMERA", En), Some("officer.look_into_camera"));
        // One wrong word in a long sentence.
        assert_eq!(matched("Počkejte prosím v čekárně, zavoláme vás podle čísla líska.", Cs), Some("officer.wait_in_waiting_room"));
        // Decomposed letters from a browser.
        assert_eq!(matched("Podi\u{301}vejte se pros\u{131}\u{301}m do kamery", Cs), Some("officer.look_into_camera"));
    }

    #[test]
    fn different_sentences_do_not_match() {
        use InterpretLanguage::*;
        assert_eq!(matched("Rozumím.", Cs), None);
        assert_eq!(matched("Teď levý prsteníček.", Cs), None);
        assert_eq!(matched("Správní poplatek je 1 000 Kč.", Cs), None);
        assert_eq!(matched("Průkaz bude hotový do 60 dnů.", Cs), None);
        assert_eq!(matched("Це рішення.", Uk), None);
        assert_eq!(matched("This is a decision.", En), None);
        assert_eq!(matched("Dobrý den, posaďte se prosím.", Cs), None);
        assert_eq!(matched("Podívejte se prosím do kamery a pak položte prst na snímač.", Cs), None);
        assert_eq!(matched("", Cs), None);
        assert_eq!(matched("…", Cs), None);
    }

    /// No entry matches another entry in the same language: the phrasebook never confuses two of
    /// its own sentences, whatever the threshold's neighbourhood.
    #[test]
    fn no_two_entries_match_each_other() {
        let mut closest = (0.0, String::new());
        for language in InterpretLanguage::ALL {
            for a in book().entries() {
                for b in book().entries() {
                    if a.id() == b.id() {
                        continue;
                    }
                    for text in std::iter::once(a.text(language)).chain(a.alternatives(language).iter().map(String::as_str)) {
                        if let Some(score) = book().score(b, text, language) {
                            assert!(score < MATCH_THRESHOLD, "{language}: {} ~ {} ({score:.3})", a.id(), b.id());
                            if score > closest.0 {
                                closest = (score, format!("{language}: {} ~ {}", a.id(), b.id()));
                            }
                        }
                    }
                }
            }
        }
        assert!(closest.0 < MATCH_THRESHOLD - AMBIGUITY_MARGIN / 2.0, "closest pair {closest:?}");
    }

    /// What whisper does to diacritics: drops them in Latin-script languages (Czech without
    /// háčky, Vietnamese without tones), writes `е` for `ё` in Russian; other Cyrillic letters
    /// (`й`, `ї`) are letters of their own, not diacritics it loses.
    fn without_diacritics(text: &str, language: InterpretLanguage) -> String {
        let flat = normalise(text);
        match language.script() {
            Script::Latin => fold_diacritics(&flat),
            Script::Cyrillic => flat.replace('ё', "е"),
        }
    }

    /// The word a perturbation changes: the middle one, or the nearest one that is neither a
    /// number nor a contrast word (those are exactly what the gates refuse to guess).
    fn ordinary_word(words: &[&str], language: InterpretLanguage) -> Option<usize> {
        let ordinary = |i: usize| {
            let w = fold_diacritics(&normalise(words[i]));
            !w.is_empty() && !w.chars().any(|c| c.is_ascii_digit()) && contrast(language, &w).is_none()
        };
        let middle = words.len() / 2;
        (0..words.len())
            .flat_map(|d| [middle.checked_sub(d), Some(middle + d)])
            .flatten()
            .filter(|&i| i < words.len())
            .find(|&i| ordinary(i))
    }

    /// One word replaced by a same-length word sharing nothing with it, and one word missing.
    fn word_perturbations(text: &str, language: InterpretLanguage) -> Vec<String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some(i) = ordinary_word(&words, language) else { return Vec::new() };
        let filler = if language.script() == Script::Latin { 'x' } else { 'ж' };
        let replacement: String = std::iter::repeat_n(filler, words[i].chars().count()).collect();
        let mut wrong = words.clone();
        wrong[i] = &replacement;
        let mut missing = words.clone();
        missing.remove(i);
        vec![wrong.join(" "), missing.join(" ")]
    }

    /// The calibration behind [`MATCH_THRESHOLD`]: ASR-like perturbations of every entry.
    #[test]
    fn perturbations_of_every_entry_match() {
        for entry in book().entries() {
            for language in InterpretLanguage::ALL {
                let text = entry.text(language);
                let id = Some(entry.id());
                let flat = without_diacritics(text, language);
                assert_eq!(matched(&flat, language), id, "{language} no diacritics: {flat}");
                if text.split_whitespace().count() >= LONG_SENTENCE_WORDS {
                    for variant in word_perturbations(text, language) {
                        assert_eq!(matched(&variant, language), id, "{language}: {variant}");
                    }
                }
            }
        }
    }

    #[test]
    fn contrasts_are_seen() {
        use InterpretLanguage::*;
        let class = |language, word: &str| contrast(language, &fold_diacritics(word));
        assert_eq!(class(Cs, "nerozumím"), Some(Contrast::Negation));
        assert_eq!(class(Cs, "nehýbejte"), Some(Contrast::Negation));
        assert_eq!(class(Cs, "nebo"), None);
        assert_eq!(class(Cs, "nejdříve"), None);
        assert_eq!(class(Cs, "někdo"), None);
        assert_eq!(class(Cs, "levý"), Some(Contrast::Left));
        assert_eq!(class(Mn, "ойлгохгүй"), Some(Contrast::Negation));
        assert_eq!(class(Mn, "баруун"), Some(Contrast::Right));
        assert_eq!(class(En, "dont"), Some(Contrast::Negation));
        assert_eq!(class(Vi, "không"), Some(Contrast::Negation));
        assert_eq!(class(Vi, "khong"), Some(Contrast::Negation));
        assert_eq!(class(Vi, "phải"), None);
    }

    #[test]
    fn parses_reviews_and_refuses_bad_books() {
        let book = Phrasebook::parse(
            r#"
            [defaults.review]
            state = "drafted"
            by = "test"
            how = "by hand"
            [[phrase]]
            id = "x"
            speaker = "officer"
            cs = "Ahoj 1." 
            en = "Hi 1."
            uk = "Привіт 1."
            ru = "Привет 1."
            vi = "Chào 1."
            mn = "Сайн уу 1."
            [phrase.review.vi]
            state = "reviewed"
            reviewer = "Nguyễn Thị Lan"
            date = 2027-01-31
            "#,
        )
        .expect("a valid book");
        let entry = book.get("x").expect("entry x");
        assert_eq!(
            entry.review(InterpretLanguage::Vi),
            &Review::Reviewed { reviewer: "Nguyễn Thị Lan".into(), date: NaiveDate::from_ymd_opt(2027, 1, 31).expect("a day") }
        );
        assert!(!entry.review(InterpretLanguage::Cs).is_reviewed());

        let base = "[defaults.review]\nstate = \"drafted\"\nby = \"t\"\nhow = \"h\"\n";
        let phrase = |id: &str, en: &str| {
            format!("[[phrase]]\nid = \"{id}\"\nspeaker = \"client\"\ncs = \"A 1\"\nen = \"{en}\"\nuk = \"Б 1\"\nru = \"В 1\"\nvi = \"D 1\"\nmn = \"Г 1\"\n")
        };
        let duplicate = format!("{base}{}{}", phrase("a", "B 1"), phrase("a", "C 1"));
        assert!(matches!(Phrasebook::parse(&duplicate), Err(PhrasebookError::Entry { .. })));
        let other_number = format!("{base}{}", phrase("a", "B 2"));
        assert!(matches!(Phrasebook::parse(&other_number), Err(PhrasebookError::Entry { .. })));
        let empty_text = format!("{base}{}", phrase("a", " … "));
        assert!(matches!(Phrasebook::parse(&empty_text), Err(PhrasebookError::Entry { .. })));
        let bad_state = base.replace("drafted", "approved") + &phrase("a", "B 1");
        assert!(Phrasebook::parse(&bad_state).is_err());
        assert!(matches!(Phrasebook::parse("not toml ["), Err(PhrasebookError::Toml(_))));
    }

    /// Prints the numbers the threshold was chosen from:
    /// `cargo test -p prepazka-models calibration_report -- --ignored --nocapture`.
    #[test]
    #[ignore = "a report, not a check"]
    fn calibration_report() {
        let mut cross = Vec::new();
        for language in InterpretLanguage::ALL {
            for a in book().entries() {
                for b in book().entries() {
                    if a.id() == b.id() {
                        continue;
                    }
                    for text in std::iter::once(a.text(language)).chain(a.alternatives(language).iter().map(String::as_str)) {
                        if let Some(score) = book().score(b, text, language) {
                            cross.push((score, format!("{language} \"{text}\" ~ {}", b.id())));
                        }
                    }
                }
            }
        }
        cross.sort_by(|x, y| y.0.total_cmp(&x.0));
        println!("closest pairs of different entries (gates applied):");
        for (score, pair) in cross.iter().take(12) {
            println!("  {score:.3} {pair}");
        }
        let mut diacritics: Option<(f64, String)> = None;
        let mut by_length: BTreeMap<usize, (f64, String)> = BTreeMap::new();
        for entry in book().entries() {
            for language in InterpretLanguage::ALL {
                let text = entry.text(language);
                let flat = without_diacritics(text, language);
                let score = book().score(entry, &flat, language).unwrap_or(0.0);
                if diacritics.as_ref().is_none_or(|(s, _)| score < *s) {
                    diacritics = Some((score, format!("{language}: {flat}")));
                }
                let n = text.split_whitespace().count();
                for variant in word_perturbations(text, language) {
                    let score = book().score(entry, &variant, language).unwrap_or(0.0);
                    let slot = by_length.entry(n).or_insert((f64::INFINITY, String::new()));
                    if score < slot.0 {
                        *slot = (score, format!("{language}: {variant}"));
                    }
                }
            }
        }
        println!("weakest, diacritics dropped: {diacritics:?}");
        println!("weakest, one word wrong or missing, by sentence length in words:");
        for (n, (score, what)) in by_length {
            println!("  {n:>2} words: {score:.3} {what}");
        }
    }

    proptest! {
        #[test]
        fn lookup_never_panics(text in "\\PC{0,200}") {
            for language in InterpretLanguage::ALL {
                if let Some(m) = book().lookup(&text, language) {
                    prop_assert!(m.score >= MATCH_THRESHOLD && m.score <= 1.0);
                }
            }
        }
    }
}
