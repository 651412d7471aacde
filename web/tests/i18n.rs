//! The six catalogues are complete and really translated: every key of the English source is
//! in each, with the same variables; every error code has a message; no non-English value is
//! the English one (proper nouns and formats allow-listed); every catalogue parses.

use std::collections::{BTreeMap, BTreeSet};

use prepazka_models::locale::Locale;
use prepazka_models::ErrorCode;
use prepazka_web::i18n::Catalog;

/// Values allowed to equal the English text in another language.
const SAME_AS_ENGLISH: &[&str] = &[];

fn entries(locale: Locale) -> BTreeMap<String, String> {
    Catalog::source(locale)
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(" = "))
        .filter_map(|l| l.split_once(" = ").map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect()
}

fn variables(value: &str) -> BTreeSet<String> {
    value.split("{ $").skip(1).filter_map(|rest| rest.split_once(" }").map(|(name, _)| name.to_owned())).collect()
}

#[test]
fn catalogues_parse() {
    assert!(Catalog::load().is_ok(), "{:?}", Catalog::load().err());
}

#[test]
fn every_catalogue_has_every_key_with_the_same_variables() {
    let english = entries(Locale::En);
    assert!(english.len() > 100);
    for locale in Locale::ALL {
        let other = entries(locale);
        let missing: Vec<_> = english.keys().filter(|k| !other.contains_key(*k)).collect();
        let unknown: Vec<_> = other.keys().filter(|k| !english.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{locale}: untranslated keys {missing:?}");
        assert!(unknown.is_empty(), "{locale}: keys the source lacks {unknown:?}");
        for (key, value) in &english {
            assert_eq!(variables(&other[key]), variables(value), "{locale}: {key} has other variables");
        }
    }
}

#[test]
fn translations_differ_from_english() {
    let english = entries(Locale::En);
    for locale in Locale::ALL.into_iter().filter(|l| *l != Locale::En) {
        for (key, value) in entries(locale) {
            if english.get(&key) == Some(&value) && !SAME_AS_ENGLISH.contains(&key.as_str()) {
                panic!("{locale}: {key} is the English text {value:?}");
            }
        }
    }
}

#[test]
fn every_error_code_has_a_message_in_every_language() {
    let catalog = Catalog::load().unwrap_or_else(|e| panic!("{e}"));
    for locale in Locale::ALL {
        let keys = entries(locale);
        for code in ErrorCode::ALL {
            let key = format!("error-{}", code.as_str());
            assert!(keys.contains_key(&key), "{locale}: {key}");
            assert_ne!(catalog.t(locale, &key), key);
        }
    }
}

#[test]
fn ukrainian_is_not_russian() {
    for (key, value) in entries(Locale::Uk) {
        assert!(!value.chars().any(|c| "ыэъё".contains(c)), "uk {key}: Russian letters in {value:?}");
    }
}
