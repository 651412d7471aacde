//! Protection of names, places, numbers and codes: what a translation must carry over unchanged.
//!
//! Machine translation likes to translate what must not be translated: a known failure in an
//! asylum case rendered the city "Belo Horizonte" as "beautiful horizon". Before translation,
//! [`find_protected`] marks the spans of the source that must survive; after it,
//! [`check_protected`] names those the output lost, which marks the segment uncertain (and the
//! officer sees which).
//!
//! **What is protected** (in the source):
//! - *numbers*: every digit group of the normalised text (`2 500`, `2,500` and `2.500` are one
//!   number, `12. 5. 2024` three), because amounts, dates, days and times are what a client acts on;
//! - *codes*: tokens mixing letters and digits (booking codes, permit numbers, `B042`);
//! - *places*: the glossary's places, in any form and case (`v praze`, `Prahou`);
//! - *names*: capitalised words that do not start a sentence, and runs of two or more capitalised
//!   words anywhere (`Belo Horizonte`, `Maria da Silva`, connectors such as `da`, `van`, `nad`
//!   allowed inside), and acronyms of two or more capitals; minus titles (`pan`, `Mr`), polite
//!   capitals (`Vy`, `Вы`), English words capitalised by rule (`I`, weekdays, months, languages),
//!   and anything inside a glossary term ("Ministry of the Interior" is translated, not kept).
//!   When most of a text's letters are capitals (shouting, some ASR), capitals mean nothing and
//!   only numbers, codes and places are protected.
//!
//! **What counts as kept** (in the output):
//! - a number: the same digit group among the output's (spelled-out numbers do not count);
//! - a code: the same letters and digits in order, separators ignored, Cyrillic letters that
//!   look like Latin ones read as those (`В042` keeps `B042`; it reads the same on a screen);
//! - a place: any of its glossary forms in the target language, or its source form;
//! - a name: each of its words matches a word of the output, compared on a Latin skeleton
//!   (diacritics folded, Cyrillic transliterated, `kh`/`x` read as `h`): equal, or sharing a
//!   prefix of at least [`NAME_PREFIX_MIN`] letters and [`NAME_PREFIX_SHARE`] of the shorter word
//!   (Czech declension: `Novákem` keeps `Novák`), or at least [`NAME_SIMILARITY_SAME_SCRIPT`]
//!   similar (character Levenshtein) in the same script and [`NAME_SIMILARITY_CROSS_SCRIPT`]
//!   across scripts, where transliteration conventions differ ("Belo Horizonte" →
//!   "Белу-Оризонти" is kept; "beautiful horizon" is not).
//!
//! Deliberately absent: a named-entity recogniser. A name that starts a sentence on its own
//! ("Petr přijde zítra.") is not found; a lowercase name from ASR is not found unless it is a
//! known place.

use std::ops::Range;

use super::glossary::{Glossary, TermKind};
use super::language::{InterpretLanguage, Script};
use super::text::{digit_runs, fold_diacritics, normalise};
use super::wer::edit_distance;

/// Shortest shared prefix that counts as the same (declined) name.
pub const NAME_PREFIX_MIN: usize = 4;
/// ... and the share of the shorter word it must cover.
pub const NAME_PREFIX_SHARE: f64 = 0.6;
/// Similarity (1 − Levenshtein / longer length) of a name word kept in the same script.
pub const NAME_SIMILARITY_SAME_SCRIPT: f64 = 0.75;
/// ... and across scripts, where transliterations differ more.
pub const NAME_SIMILARITY_CROSS_SCRIPT: f64 = 0.6;

/// What a protected span is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanKind {
    Number,
    Code,
    /// A place of the glossary, by id.
    Place(String),
    Name,
}

impl SpanKind {
    /// A stable code for the UI's "not carried over: …" reason.
    pub fn code(&self) -> &'static str {
        match self {
            SpanKind::Number => "number",
            SpanKind::Code => "code",
            SpanKind::Place(_) => "place",
            SpanKind::Name => "name",
        }
    }
}

/// A part of the source that the translation must keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedSpan {
    /// As written in the source (for a number: its digits).
    pub text: String,
    pub kind: SpanKind,
    /// Byte range in the source, for highlighting; for a number, of its first occurrence.
    pub range: Range<usize>,
}

/// A whitespace-separated token with its surrounding punctuation trimmed.
#[derive(Debug, Clone)]
struct Token<'a> {
    core: &'a str,
    range: Range<usize>,
    sentence_start: bool,
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    let mut offset = 0;
    for raw in text.split_whitespace() {
        // `raw` is a slice of `text` at or after `offset`, so `find` always succeeds.
        let start = offset + text[offset..].find(raw).unwrap_or(0);
        offset = start + raw.len();
        let core = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if !core.is_empty() {
            let core_start = start + raw.find(core).unwrap_or(0);
            out.push(Token { core, range: core_start..core_start + core.len(), sentence_start });
        }
        // A date's or ordinal's dot ("12. 5.") does not end a sentence.
        let ends = raw.ends_with(['.', '!', '?', '…']) && !core.chars().all(|c| c.is_ascii_digit());
        if ends {
            sentence_start = true;
        } else if !core.is_empty() {
            sentence_start = false;
        }
    }
    out
}

fn is_code(core: &str) -> bool {
    core.chars().any(|c| c.is_ascii_digit()) && core.chars().any(char::is_alphabetic)
}

fn is_capitalised(core: &str) -> bool {
    core.chars().next().is_some_and(char::is_uppercase)
}

fn is_acronym(core: &str) -> bool {
    core.chars().filter(|c| c.is_alphabetic()).count() >= 2 && core.chars().all(|c| c.is_uppercase() || c == '-' || c == '.')
}

/// Capitalised by a language's rules, not because they name someone.
const NOT_NAMES: &[&str] = &[
    // English
    "i",
    "i'm",
    "i've",
    "i'll",
    "i'd",
    "mr",
    "mrs",
    "ms",
    "dr",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "english",
    "czech",
    "ukrainian",
    "russian",
    "vietnamese",
    "mongolian",
    "european",
    "eu",
    "ok",
    "sms",
    "id",
    "pin",
    "qr",
    "pdf",
    "e-mail",
    "email",
    // Currencies
    "kč",
    "czk",
    "eur",
    "usd",
    "€",
    // Czech titles and polite capitals
    "pan",
    "paní",
    "pane",
    "slečna",
    "vy",
    "vás",
    "vám",
    "váš",
    "vaše",
    "vašeho",
    "vaši",
    "vaší",
    "vámi",
    // Ukrainian, Russian
    "пан",
    "пані",
    "ви",
    "вас",
    "вам",
    "ваш",
    "ваша",
    "ваше",
    "господин",
    "госпожа",
    "вы",
    // Vietnamese and Mongolian polite forms
    "quý",
    "vị",
    "ông",
    "bà",
    "anh",
    "chị",
    "та",
    "таны",
    "танд",
];

/// Lowercase words that may stand inside a multi-word name.
const CONNECTORS: &[&str] =
    &["de", "da", "do", "dos", "das", "del", "van", "von", "der", "den", "di", "la", "le", "nad", "pod", "bin", "ibn", "al", "el"];

fn is_not_name(core: &str) -> bool {
    let lower = core.to_lowercase();
    NOT_NAMES.contains(&lower.as_str())
}

/// Finds what `source` (in `language`) asks to keep. See the module comment for the rules.
pub fn find_protected(source: &str, language: InterpretLanguage, glossary: &Glossary) -> Vec<ProtectedSpan> {
    let tokens = tokens(source);
    let mut spans = Vec::new();

    // Glossary terms and places, on normalised words; their words are not names.
    let hits = glossary.find(language, source);
    let glossary_words: Vec<String> = {
        let folded = fold_diacritics(&normalise(source));
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        hits.iter().flat_map(|h| words[h.words.clone()].iter().map(|w| (*w).to_owned())).collect()
    };
    for hit in hits.iter().filter(|h| h.term.kind() == TermKind::Place) {
        let first = tokens.iter().find(|t| glossary_words.contains(&fold_diacritics(&normalise(t.core))));
        spans.push(ProtectedSpan {
            text: hit.term.canonical(language).to_owned(),
            kind: SpanKind::Place(hit.term.id().to_owned()),
            range: first.map_or(0..0, |t| t.range.clone()),
        });
    }
    let in_glossary = |core: &str| {
        let folded = fold_diacritics(&normalise(core));
        !folded.is_empty() && folded.split(' ').all(|w| glossary_words.iter().any(|g| g == w))
    };

    // Codes, then the numbers that are not part of a code.
    let mut number_text = String::new();
    for token in &tokens {
        if is_code(token.core) {
            spans.push(ProtectedSpan { text: token.core.to_owned(), kind: SpanKind::Code, range: token.range.clone() });
        } else {
            number_text.push_str(&source[token.range.clone()]);
            number_text.push(' ');
        }
    }
    for run in digit_runs(&normalise(&number_text)) {
        let first = source.find(run.as_str()).or_else(|| source.find(|c: char| c.is_ascii_digit()));
        let range = first.map_or(0..0, |s| s..s + run.len().min(source.len() - s));
        spans.push(ProtectedSpan { text: run, kind: SpanKind::Number, range });
    }

    // Names, unless capitals carry no information in this text.
    let letters: Vec<char> = source.chars().filter(|c| c.is_alphabetic()).collect();
    let capitals = letters.iter().filter(|c| c.is_uppercase()).count();
    if letters.len() > 10 && capitals * 10 > letters.len() * 6 {
        return spans;
    }
    let candidate =
        |t: &Token<'_>| (is_capitalised(t.core) || is_acronym(t.core)) && !is_code(t.core) && !is_not_name(t.core) && !in_glossary(t.core);
    let mut i = 0;
    while i < tokens.len() {
        if !candidate(&tokens[i]) {
            i += 1;
            continue;
        }
        // Extend over capitalised words and connectors followed by a capitalised word.
        let mut end = i + 1;
        loop {
            if end < tokens.len() && candidate(&tokens[end]) && !tokens[end].sentence_start {
                end += 1;
            } else if end + 1 < tokens.len()
                && CONNECTORS.contains(&tokens[end].core)
                && candidate(&tokens[end + 1])
                && !tokens[end + 1].sentence_start
            {
                end += 2;
            } else {
                break;
            }
        }
        let run = &tokens[i..end];
        let single_at_start = run.len() == 1 && run[0].sentence_start && !is_acronym(run[0].core);
        if !single_at_start {
            let range = run[0].range.start..run[run.len() - 1].range.end;
            spans.push(ProtectedSpan { text: source[range.clone()].to_owned(), kind: SpanKind::Name, range });
        }
        i = end;
    }
    spans.sort_by_key(|s| s.range.start);
    spans
}

/// Cyrillic letters that look like Latin ones, as a code is read on a screen.
fn lookalike(c: char) -> char {
    match c {
        'А' => 'A',
        'В' => 'B',
        'Е' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'У' => 'Y',
        'І' => 'I',
        other => other,
    }
}

fn code_key(text: &str) -> String {
    text.chars().flat_map(char::to_uppercase).map(lookalike).filter(|c| c.is_alphanumeric()).collect()
}

/// A rough Latin rendering of a lowercase Cyrillic letter; `language` picks Ukrainian's `г` = h
/// and `и` = y.
fn transliterate(c: char, language: InterpretLanguage) -> &'static str {
    let ukrainian = language == InterpretLanguage::Uk;
    match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' if ukrainian => "h",
        'г' | 'ґ' => "g",
        'д' => "d",
        'е' | 'є' | 'э' | 'ё' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' if ukrainian => "y",
        'и' | 'і' | 'ї' | 'й' => "i",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' | 'ө' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' | 'ү' => "u",
        'ф' => "f",
        'х' => "h",
        'ц' => "c",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ы' => "y",
        'ю' => "yu",
        'я' => "ya",
        'ъ' | 'ь' => "",
        _ => "",
    }
}

/// The Latin skeleton of a normalised word: diacritics folded, Cyrillic transliterated, `kh`
/// and `x` read as `h` (Харків, Kharkiv and Charkiv meet halfway).
fn skeleton(word: &str, language: InterpretLanguage) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if ('\u{0400}'..='\u{052F}').contains(&c) {
            out.push_str(transliterate(c, language));
        } else {
            out.push(c);
        }
    }
    fold_diacritics(&out).replace("kh", "h").replace('x', "h")
}

fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    1.0 - edit_distance(&a, &b) as f64 / longest as f64
}

fn same_name_word(wanted: &str, candidate: &str, cross_script: bool) -> bool {
    if wanted == candidate {
        return true;
    }
    let shared = wanted.chars().zip(candidate.chars()).take_while(|(a, b)| a == b).count();
    let shorter = wanted.chars().count().min(candidate.chars().count());
    if shared >= NAME_PREFIX_MIN && shared as f64 >= NAME_PREFIX_SHARE * shorter as f64 {
        return true;
    }
    let needed = if cross_script { NAME_SIMILARITY_CROSS_SCRIPT } else { NAME_SIMILARITY_SAME_SCRIPT };
    similarity(wanted, candidate) >= needed
}

fn script_of_text(text: &str) -> Option<Script> {
    let cyrillic = text.chars().filter(|c| ('\u{0400}'..='\u{052F}').contains(c)).count();
    let latin = text.chars().filter(|c| c.is_alphabetic() && !('\u{0400}'..='\u{052F}').contains(c)).count();
    match (latin, cyrillic) {
        (0, 0) => None,
        (l, c) if c > l => Some(Script::Cyrillic),
        _ => Some(Script::Latin),
    }
}

/// The spans of `spans` that `output` (in `to`) does not keep. See the module comment.
pub fn check_protected<'a>(
    spans: &'a [ProtectedSpan],
    source_language: InterpretLanguage,
    output: &str,
    to: InterpretLanguage,
    glossary: &Glossary,
) -> Vec<&'a ProtectedSpan> {
    let normalised = normalise(output);
    let mut numbers = digit_runs(&normalised);
    let codes = code_key(output);
    let output_words: Vec<String> = normalised.split(' ').filter(|w| !w.is_empty()).map(|w| skeleton(w, to)).collect();
    let mut missing = Vec::new();
    for span in spans {
        let kept = match &span.kind {
            SpanKind::Number => match numbers.iter().position(|n| *n == span.text) {
                // Each number in the output keeps one number of the source.
                Some(i) => {
                    numbers.swap_remove(i);
                    true
                }
                None => false,
            },
            SpanKind::Code => codes.contains(&code_key(&span.text)),
            SpanKind::Place(id) => {
                glossary.get(id).is_some_and(|place| place.occurs_in(to, output))
                    || fold_diacritics(&normalised).contains(&fold_diacritics(&normalise(&span.text)))
            }
            SpanKind::Name => {
                let cross_script = script_of_text(&span.text) != Some(to.script());
                normalise(&span.text)
                    .split(' ')
                    .filter(|w| !w.is_empty() && !CONNECTORS.contains(w))
                    .map(|w| skeleton(w, source_language))
                    .all(|wanted| output_words.iter().any(|candidate| same_name_word(&wanted, candidate, cross_script)))
            }
        };
        if !kept {
            missing.push(span);
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use InterpretLanguage::*;

    fn spans(text: &str, language: InterpretLanguage) -> Vec<(String, &'static str)> {
        find_protected(text, language, Glossary::embedded()).into_iter().map(|s| (s.text, s.kind.code())).collect()
    }

    fn owned(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(t, k)| ((*t).to_owned(), *k)).collect()
    }

    fn lost(source: &str, from: InterpretLanguage, output: &str, to: InterpretLanguage) -> Vec<String> {
        let glossary = Glossary::embedded();
        let spans = find_protected(source, from, glossary);
        check_protected(&spans, from, output, to, glossary).into_iter().map(|s| s.text.clone()).collect()
    }

    #[test]
    fn finds_names_numbers_codes_and_places() {
        assert_eq!(spans("I was born in Belo Horizonte.", En), owned(&[("Belo Horizonte", "name")]));
        assert_eq!(spans("Belo Horizonte is my city.", En), owned(&[("Belo Horizonte", "name")]));
        assert_eq!(
            spans("My name is Maria da Silva Santos, I live in Prague.", En),
            owned(&[("Maria da Silva Santos", "name"), ("Prague", "place")])
        );
        assert_eq!(spans("Správní poplatek je 2 500 Kč, průkaz bude do 30 dnů.", Cs), owned(&[("2500", "number"), ("30", "number")]));
        assert_eq!(spans("Váš rezervační kód je XK7-42QP.", Cs), owned(&[("XK7-42QP", "code")]));
        assert_eq!(spans("bydlím v praze", Cs), owned(&[("Praha", "place")]));
        assert_eq!(
            spans("Přijďte 12. 5. 2025 v 10:30 na OAMP.", Cs),
            owned(&[("12", "number"), ("5", "number"), ("2025", "number"), ("10", "number"), ("30", "number"), ("OAMP", "name")])
        );
    }

    #[test]
    fn leaves_ordinary_capitals_alone() {
        assert!(spans("Dobrý den, posaďte se prosím.", Cs).is_empty());
        assert!(spans("I don't understand. Please repeat.", En).is_empty());
        assert!(spans("On Monday I will bring my passport.", En).is_empty());
        assert!(spans("Can I pay by card? Vy to víte.", En).is_empty());
        assert!(spans("The Ministry of the Interior decides.", En).is_empty());
        assert_eq!(spans("Pan Novák přijde zítra.", Cs), owned(&[("Novák", "name")]));
        // Shouting: capitals mean nothing, numbers still count.
        assert_eq!(spans("PLEASE LOOK INTO THE CAMERA FOR 5 SECONDS", En), owned(&[("5", "number")]));
    }

    #[test]
    fn belo_horizonte_must_not_become_a_beautiful_horizon() {
        let source = "I was born in Belo Horizonte.";
        assert_eq!(lost(source, En, "Narodil jsem se v krásném horizontu.", Cs), ["Belo Horizonte"]);
        assert_eq!(lost(source, En, "I was born in a beautiful horizon.", En), ["Belo Horizonte"]);
        assert!(lost(source, En, "Narodil jsem se v Belo Horizonte.", Cs).is_empty());
        assert!(lost(source, En, "Я народився в Белу-Оризонті.", Uk).is_empty());
        assert!(lost(source, En, "Я родился в Белу-Оризонти.", Ru).is_empty());
        assert!(lost(source, En, "Я народився в Бело Горизонте.", Uk).is_empty());
        assert_eq!(lost(source, En, "Я народився в прекрасному горизонті.", Uk), ["Belo Horizonte"]);
    }

    #[test]
    fn declined_and_transliterated_names_are_kept() {
        assert!(lost("Mluvil jsem s panem Novákem.", Cs, "I spoke with Mr Novák.", En).is_empty());
        assert!(lost("Мене звати Олена Шевченко.", Uk, "Jmenuji se Olena Ševčenková.", Cs).is_empty());
        assert!(lost("Мене звати Олена Шевченко.", Uk, "My name is Olena Shevchenko.", En).is_empty());
        assert_eq!(lost("Мене звати Олена Шевченко.", Uk, "Jmenuji se Helena.", Cs), ["Олена Шевченко"]);
    }

    #[test]
    fn numbers_codes_and_places_are_checked() {
        let source = "Správní poplatek je 2 500 Kč, průkaz bude do 30 dnů.";
        assert!(lost(source, Cs, "The administrative fee is CZK 2,500; the card will be ready within 30 days.", En).is_empty());
        assert_eq!(lost(source, Cs, "The administrative fee is CZK 2,500; the card will be ready within thirty days.", En), ["30"]);
        assert_eq!(lost(source, Cs, "Адміністративний збір становить 2 000 крон, картка буде за 30 днів.", Uk), ["2500"]);
        // One 30 in the output cannot keep two in the source.
        assert_eq!(lost("Do 30 dnů, nejpozději 30. června.", Cs, "Within 30 days, by June.", En), ["30"]);
        assert!(lost("Váš kód je XK7-42QP.", Cs, "Your code is XK742QP.", En).is_empty());
        assert!(lost("Váš kód je B042.", Cs, "Ваш код В042.", Uk).is_empty());
        assert_eq!(lost("Váš kód je XK7-42QP.", Cs, "Your code is XK7-42.", En), ["XK7-42QP"]);
        assert!(lost("Bydlím v Praze.", Cs, "I live in Prague.", En).is_empty());
        assert!(lost("Bydlím v Praze.", Cs, "Я живу в Празі.", Uk).is_empty());
        assert_eq!(lost("Bydlím v Praze.", Cs, "I live in Paris.", En), ["Praha"]);
    }

    /// Prepared translations keep everything the protection asks for, in every direction.
    #[test]
    fn the_phrasebook_keeps_what_it_must() {
        let glossary = Glossary::embedded();
        let mut problems = Vec::new();
        for entry in crate::interpret::phrasebook::Phrasebook::embedded().entries() {
            for from in InterpretLanguage::ALL {
                let spans = find_protected(entry.text(from), from, glossary);
                for to in InterpretLanguage::ALL.into_iter().filter(|&to| to != from) {
                    for span in check_protected(&spans, from, entry.text(to), to, glossary) {
                        problems.push(format!("{} {from}>{to}: {}", entry.id(), span.text));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    proptest! {
        #[test]
        fn never_panics(source in "\\PC{0,120}", output in "\\PC{0,120}") {
            for from in InterpretLanguage::ALL {
                let spans = find_protected(&source, from, Glossary::embedded());
                for span in &spans {
                    prop_assert!(span.range.end <= source.len());
                }
                let _ = check_protected(&spans, from, &output, Uk, Glossary::embedded());
            }
        }
    }
}
