//! The glossary: legal and administrative terms, and place names, in all six languages.
//!
//! A small model translating "povolení k pobytu" has many ways to get it almost right; the
//! glossary fixes one. [`Glossary::terms_for`] lists the pairs found in an utterance so the
//! translator's prompt can carry them ("povolení k pobytu = дозвіл на перебування"), and
//! [`Glossary::violations`] names the terms whose source form is in the utterance but none of
//! whose target forms is in the translation, which marks the segment uncertain. Places are in
//! the same file because the prompt should carry them too (Praha = Prague); the name protection
//! checks them ([`super::protect`]), so they are not reported as glossary violations.
//!
//! Data: `models/data/glossary.toml`, compiled in (its header documents the format and the stem
//! rule per language). Matching is case- and diacritic-insensitive and inflection-tolerant
//! without a dictionary; where the stem rule misses a form (`vízum`/`víza`), the data lists it or
//! marks a prefix with `*`.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

use serde::Deserialize;

use super::language::InterpretLanguage;
use super::text::{fold_diacritics, normalise};

const EMBEDDED: &str = include_str!("../../data/glossary.toml");

/// Whether an entry is a term of the procedure or a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    Term,
    Place,
}

/// How one word of a glossary form matches a word of a text (both normalised and folded).
#[derive(Debug, Clone, PartialEq, Eq)]
enum WordPattern {
    Exact(String),
    /// A word starting with `stem`, at most `max_len` characters long.
    Prefix {
        stem: String,
        max_len: usize,
    },
    /// English: the word, or with `s`/`es`.
    Plural(String),
}

impl WordPattern {
    /// The automatic rule for a word of `language` (see the data file's header).
    fn automatic(language: InterpretLanguage, word: &str) -> WordPattern {
        let chars: Vec<char> = word.chars().collect();
        let len = chars.len();
        let stem = |keep: usize| chars[..keep.min(len)].iter().collect::<String>();
        match language {
            InterpretLanguage::En => WordPattern::Plural(word.to_owned()),
            InterpretLanguage::Vi => WordPattern::Exact(word.to_owned()),
            InterpretLanguage::Cs | InterpretLanguage::Uk | InterpretLanguage::Ru => {
                if len <= 4 {
                    WordPattern::Exact(word.to_owned())
                } else {
                    WordPattern::Prefix { stem: stem((len - 2).max(4)), max_len: len + 4 }
                }
            }
            InterpretLanguage::Mn => match len {
                0..=3 => WordPattern::Exact(word.to_owned()),
                4 => WordPattern::Prefix { stem: word.to_owned(), max_len: len + 6 },
                _ => WordPattern::Prefix { stem: stem((len - 2).max(4)), max_len: len + 6 },
            },
        }
    }

    fn matches(&self, word: &str) -> bool {
        match self {
            WordPattern::Exact(w) => w == word,
            WordPattern::Prefix { stem, max_len } => word.starts_with(stem.as_str()) && word.chars().count() <= *max_len,
            WordPattern::Plural(w) => word.strip_prefix(w.as_str()).is_some_and(|rest| matches!(rest, "" | "s" | "es")),
        }
    }
}

/// One form of a term in one language, compiled for matching.
#[derive(Debug, Clone)]
struct Form {
    words: Vec<WordPattern>,
}

impl Form {
    fn compile(language: InterpretLanguage, form: &str) -> Option<Form> {
        let mut words = Vec::new();
        for raw in form.split_whitespace() {
            let (raw, prefix) = match raw.strip_suffix('*') {
                Some(stem) => (stem, true),
                None => (raw, false),
            };
            let normalised = fold_diacritics(&normalise(raw));
            let mut pieces: Vec<&str> = normalised.split(' ').filter(|w| !w.is_empty()).collect();
            let last = pieces.pop()?;
            words.extend(pieces.into_iter().map(|w| WordPattern::automatic(language, w)));
            words.push(if prefix {
                WordPattern::Prefix { stem: last.to_owned(), max_len: usize::MAX }
            } else {
                WordPattern::automatic(language, last)
            });
        }
        (!words.is_empty()).then_some(Form { words })
    }

    /// Word positions in `text_words` where this form starts.
    fn starts<'a>(&'a self, text_words: &'a [&'a str]) -> impl Iterator<Item = usize> + 'a {
        let n = self.words.len();
        (0..(text_words.len() + 1).saturating_sub(n))
            .filter(move |&i| self.words.iter().zip(&text_words[i..i + n]).all(|(p, w)| p.matches(w)))
    }
}

/// A term or place in all six languages.
#[derive(Debug, Clone)]
pub struct Term {
    id: String,
    kind: TermKind,
    forms: [Vec<String>; 6],
    compiled: [Vec<Form>; 6],
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

impl Term {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn kind(&self) -> TermKind {
        self.kind
    }

    /// The canonical form in `language`: what the prompt carries and the UI shows.
    pub fn canonical(&self, language: InterpretLanguage) -> &str {
        // Parse refuses a language without a first form, so the fallback never shows.
        self.forms[slot(language)].first().map_or("", String::as_str)
    }

    /// Whether any form of the term occurs in `text` (in `language`).
    pub fn occurs_in(&self, language: InterpretLanguage, text: &str) -> bool {
        let folded = fold_diacritics(&normalise(text));
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        self.compiled[slot(language)].iter().any(|f| f.starts(&words).next().is_some())
    }
}

/// A term found in a text: which, and which words of the text (indices into the words of
/// [`super::text::words`]).
#[derive(Debug, Clone)]
pub struct TermHit<'a> {
    pub term: &'a Term,
    pub words: Range<usize>,
}

/// A term pair for the translator's prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermPair<'a> {
    pub id: &'a str,
    pub kind: TermKind,
    pub source: &'a str,
    pub target: &'a str,
}

/// A term of the source missing from the translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlossaryViolation<'a> {
    pub id: &'a str,
    /// Canonical form in the source language.
    pub source: &'a str,
    /// Canonical form the translation should have carried.
    pub expected: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum GlossaryError {
    #[error("glossary is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("glossary entry `{id}`: {problem}")]
    Entry { id: String, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlossary {
    #[serde(default)]
    term: Vec<RawTerm>,
    #[serde(default)]
    place: Vec<RawTerm>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerm {
    id: String,
    cs: Vec<String>,
    en: Vec<String>,
    uk: Vec<String>,
    ru: Vec<String>,
    vi: Vec<String>,
    mn: Vec<String>,
}

/// The terms and places, ready for matching.
#[derive(Debug, Clone)]
pub struct Glossary {
    entries: Vec<Term>,
}

impl Glossary {
    /// The glossary compiled into the binary (`models/data/glossary.toml`).
    pub fn embedded() -> &'static Glossary {
        static EMBEDDED_GLOSSARY: OnceLock<Glossary> = OnceLock::new();
        // unwrap: the embedded file is parsed and validated by this module's tests.
        EMBEDDED_GLOSSARY.get_or_init(|| Glossary::parse(EMBEDDED).expect("the embedded glossary is valid"))
    }

    /// Parses and validates: unique ids, at least one form per language, a canonical (first)
    /// form without `*`, every form with at least one word.
    pub fn parse(toml_text: &str) -> Result<Glossary, GlossaryError> {
        let raw: RawGlossary = toml::from_str(toml_text)?;
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        let tagged = raw.term.into_iter().map(|t| (TermKind::Term, t)).chain(raw.place.into_iter().map(|t| (TermKind::Place, t)));
        for (kind, raw) in tagged {
            let id = raw.id.clone();
            let problem = |problem: String| GlossaryError::Entry { id: id.clone(), problem };
            if id.trim().is_empty() || !seen.insert(id.clone()) {
                return Err(problem("the id is empty or not unique".into()));
            }
            let forms = [raw.cs, raw.en, raw.uk, raw.ru, raw.vi, raw.mn];
            let mut compiled: [Vec<Form>; 6] = Default::default();
            for language in InterpretLanguage::ALL {
                let language_forms = &forms[slot(language)];
                match language_forms.first() {
                    None => return Err(problem(format!("no {language} form"))),
                    Some(first) if first.contains('*') => return Err(problem(format!("the canonical {language} form has a `*`"))),
                    Some(_) => {}
                }
                for form in language_forms {
                    compiled[slot(language)]
                        .push(Form::compile(language, form).ok_or_else(|| problem(format!("an empty {language} form")))?);
                }
            }
            entries.push(Term { id, kind, forms, compiled });
        }
        Ok(Glossary { entries })
    }

    pub fn entries(&self) -> &[Term] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&Term> {
        self.entries.iter().find(|t| t.id == id)
    }

    /// The terms and places in `text`, in order of appearance; where matches overlap, the
    /// longest wins ("průkaz o povolení k pobytu" is the residence card, not also the permit).
    pub fn find(&self, language: InterpretLanguage, text: &str) -> Vec<TermHit<'_>> {
        let folded = fold_diacritics(&normalise(text));
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        let mut candidates: Vec<TermHit<'_>> = Vec::new();
        for term in &self.entries {
            for form in &term.compiled[slot(language)] {
                candidates.extend(form.starts(&words).map(|start| TermHit { term, words: start..start + form.words.len() }));
            }
        }
        candidates.sort_by(|a, b| b.words.len().cmp(&a.words.len()).then(a.words.start.cmp(&b.words.start)));
        let mut taken = vec![false; words.len()];
        let mut hits: Vec<TermHit<'_>> = Vec::new();
        for hit in candidates {
            if taken[hit.words.clone()].iter().any(|&t| t) {
                continue;
            }
            taken[hit.words.clone()].iter_mut().for_each(|t| *t = true);
            hits.push(hit);
        }
        hits.sort_by_key(|h| h.words.start);
        hits
    }

    /// The pairs the translator's prompt should carry for `text` (in `from`), each term once.
    pub fn terms_for(&self, from: InterpretLanguage, to: InterpretLanguage, text: &str) -> Vec<TermPair<'_>> {
        let mut seen = HashSet::new();
        self.find(from, text)
            .into_iter()
            .filter(|hit| seen.insert(hit.term.id.as_str()))
            .map(|hit| TermPair { id: &hit.term.id, kind: hit.term.kind, source: hit.term.canonical(from), target: hit.term.canonical(to) })
            .collect()
    }

    /// Terms (not places: the name protection checks those) found in `source` none of whose
    /// forms in `to` occurs in `output`.
    pub fn violations(&self, source: &str, output: &str, from: InterpretLanguage, to: InterpretLanguage) -> Vec<GlossaryViolation<'_>> {
        let mut seen = HashSet::new();
        self.find(from, source)
            .into_iter()
            .filter(|hit| hit.term.kind == TermKind::Term && seen.insert(hit.term.id.as_str()))
            .filter(|hit| !hit.term.occurs_in(to, output))
            .map(|hit| GlossaryViolation { id: &hit.term.id, source: hit.term.canonical(from), expected: hit.term.canonical(to) })
            .collect()
    }
}

/// [`Glossary::violations`] on the embedded glossary.
pub fn glossary_violations(source: &str, output: &str, from: InterpretLanguage, to: InterpretLanguage) -> Vec<GlossaryViolation<'static>> {
    Glossary::embedded().violations(source, output, from, to)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::interpret::phrasebook::Phrasebook;
    use InterpretLanguage::*;

    fn glossary() -> &'static Glossary {
        Glossary::embedded()
    }

    fn ids(language: InterpretLanguage, text: &str) -> Vec<&'static str> {
        glossary().find(language, text).into_iter().map(|h| h.term.id()).collect()
    }

    #[test]
    fn the_embedded_glossary_is_complete() {
        let terms = glossary().entries().iter().filter(|t| t.kind() == TermKind::Term).count();
        let places = glossary().entries().iter().filter(|t| t.kind() == TermKind::Place).count();
        assert!(terms >= 25 && places >= 15, "{terms} terms, {places} places");
        for term in glossary().entries() {
            for language in InterpretLanguage::ALL {
                // Every canonical form finds its own term.
                assert!(term.occurs_in(language, term.canonical(language)), "{} {language}", term.id());
            }
        }
    }

    #[test]
    fn inflected_forms_are_found() {
        assert_eq!(ids(Cs, "Přišel jsem kvůli povolení k pobytu."), ["residence_permit"]);
        assert_eq!(ids(Cs, "S povolením k pobytu je všechno v pořádku."), ["residence_permit"]);
        assert_eq!(ids(Cs, "prodlouzeni pobytu a spravni poplatek"), ["extension_of_stay", "administrative_fee"]);
        assert_eq!(ids(Cs, "Zaplaťte kolkovou známkou."), ["duty_stamp"]);
        assert_eq!(ids(Cs, "Otisky prstů vám sejmeme hned."), ["fingerprints"]);
        assert_eq!(ids(Cs, "Nemám dlouhodobé vízum, mám víza krátkodobá."), ["long_term_visa", "visa"]);
        assert_eq!(ids(Uk, "Я прийшов подовжити дозвіл на перебування."), ["residence_permit"]);
        assert_eq!(ids(Uk, "Бракує підтвердження медичного страхування."), ["health_insurance"]);
        assert_eq!(ids(Ru, "У меня нет вида на жительство."), ["residence_permit"]);
        assert_eq!(ids(Ru, "Решение вы получите по почте."), ["decision"]);
        assert_eq!(ids(Mn, "Би оршин суух зөвшөөрлөө сунгуулах гэж ирлээ."), ["residence_permit"]);
        assert_eq!(ids(Mn, "Тэмдэгтийн маркаар төлнө."), ["duty_stamp"]);
        assert_eq!(ids(En, "Your residence permits and fingerprints."), ["residence_permit", "fingerprints"]);
        assert_eq!(ids(Vi, "Tôi muốn gia hạn cư trú."), ["extension_of_stay"]);
        assert_eq!(ids(Cs, "Bydlím v Praze a pracuji v Brně."), ["prague", "brno"]);
    }

    #[test]
    fn the_longest_match_wins() {
        assert_eq!(ids(Cs, "Průkaz o povolení k pobytu bude hotový."), ["residence_card"]);
        assert_eq!(ids(Cs, "Máte cestovní pas?"), ["passport"]);
        assert_eq!(ids(Cs, "povolení k dlouhodobému pobytu"), ["long_term_residence_permit"]);
    }

    #[test]
    fn nothing_is_found_in_unrelated_text() {
        assert!(ids(Cs, "Dobrý den, posaďte se prosím.").is_empty());
        assert!(ids(Cs, "Pavel pracuje v Paříži.").is_empty());
        assert!(ids(En, "Please sit down.").is_empty());
    }

    #[test]
    fn prompt_pairs() {
        let pairs = glossary().terms_for(Cs, Uk, "Správní poplatek za povolení k pobytu zaplatíte v Praze.");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|p| (p.source, p.target)).collect();
        assert_eq!(
            pairs,
            [("správní poplatek", "адміністративний збір"), ("povolení k pobytu", "дозвіл на перебування"), ("Praha", "Прага")]
        );
    }

    #[test]
    fn violations_name_the_missing_term() {
        let source = "Potřebujete povolení k pobytu.";
        assert!(glossary_violations(source, "Вам потрібен дозвіл на проживання.", Cs, Uk).is_empty());
        let missing = glossary_violations(source, "Вам потрібна віза.", Cs, Uk);
        assert_eq!(
            missing,
            [GlossaryViolation {
                id: "residence_permit", source: "povolení k pobytu", expected: "дозвіл на перебування"
            }]
        );
        // Places are the name protection's business.
        assert!(glossary_violations("Bydlím v Praze.", "I live in Paris.", Cs, En).is_empty());
    }

    /// The two data files agree: every prepared sentence carries the glossary's terms into
    /// every other language, so the phrasebook never contradicts the glossary.
    #[test]
    fn the_phrasebook_follows_the_glossary() {
        let mut problems = Vec::new();
        for entry in Phrasebook::embedded().entries() {
            for from in InterpretLanguage::ALL {
                for to in InterpretLanguage::ALL.into_iter().filter(|&to| to != from) {
                    for v in glossary().violations(entry.text(from), entry.text(to), from, to) {
                        problems.push(format!("{} {from}>{to}: {} (expected {})", entry.id(), v.source, v.expected));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn refuses_bad_glossaries() {
        let entry = |id: &str, cs: &str| {
            format!("[[term]]\nid = \"{id}\"\ncs = [{cs}]\nen = [\"a\"]\nuk = [\"б\"]\nru = [\"в\"]\nvi = [\"d\"]\nmn = [\"г\"]\n")
        };
        assert!(Glossary::parse(&entry("a", "\"x\"")).is_ok());
        assert!(Glossary::parse(&format!("{}{}", entry("a", "\"x\""), entry("a", "\"y\""))).is_err());
        assert!(Glossary::parse(&entry("a", "")).is_err());
        assert!(Glossary::parse(&entry("a", "\"x*\"")).is_err());
        assert!(Glossary::parse(&entry("a", "\"x\", \"…\"")).is_err());
        assert!(Glossary::parse("[[term]]\nid = \"a\"").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,120}") {
            for from in InterpretLanguage::ALL {
                let _ = glossary().terms_for(from, Cs, &text);
                let _ = glossary().violations(&text, &text, from, En);
            }
        }
    }
}
