//! Word and character error rates of a transcript against a reference, and the edit distance
//! they rest on.
//!
//! Both sides are brought to [`normalise`]'s form first (lowercase, punctuation stripped,
//! thousands separators joined, letters composed), because whisper's punctuation and casing are
//! not what the benchmark measures: WER per language in BENCHMARKS.md is about the words.
//! CER is taken over the normalised text *with* its single spaces, so a wrongly split or joined
//! word costs one edit, as in the usual definition (jiwer's `cer`).

use std::ops::{Add, AddAssign};

use super::text::normalise;

/// Levenshtein distance (insertions, deletions, substitutions, each costing 1) between two
/// sequences, in O(|a|·|b|) time and O(|b|) memory.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Errors (edits) over reference length; summing two adds both, which is how a corpus WER is
/// taken (total edits over total reference words), not as a mean of sentence rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorRate {
    pub errors: usize,
    pub reference_len: usize,
}

impl ErrorRate {
    /// `errors / reference_len`. An empty reference gives 0 when the hypothesis is empty too and
    /// 1 otherwise (everything said was inserted), so a rate is always a number.
    pub fn rate(self) -> f64 {
        match (self.errors, self.reference_len) {
            (0, _) => 0.0,
            (_, 0) => 1.0,
            (errors, len) => errors as f64 / len as f64,
        }
    }
}

impl Add for ErrorRate {
    type Output = ErrorRate;

    fn add(mut self, other: ErrorRate) -> ErrorRate {
        self += other;
        self
    }
}

impl AddAssign for ErrorRate {
    fn add_assign(&mut self, other: ErrorRate) {
        self.errors += other.errors;
        self.reference_len += other.reference_len;
    }
}

impl std::iter::Sum for ErrorRate {
    fn sum<I: Iterator<Item = ErrorRate>>(iter: I) -> ErrorRate {
        iter.fold(ErrorRate::default(), Add::add)
    }
}

/// Word error rate: edits between the normalised words of `hypothesis` and `reference`.
pub fn word_error_rate(hypothesis: &str, reference: &str) -> ErrorRate {
    let (h, r) = (normalise(hypothesis), normalise(reference));
    let hyp: Vec<&str> = h.split_whitespace().collect();
    let reference: Vec<&str> = r.split_whitespace().collect();
    ErrorRate { errors: edit_distance(&hyp, &reference), reference_len: reference.len() }
}

/// Character error rate: edits between the characters of the normalised texts, spaces included.
pub fn char_error_rate(hypothesis: &str, reference: &str) -> ErrorRate {
    let hyp: Vec<char> = normalise(hypothesis).chars().collect();
    let reference: Vec<char> = normalise(reference).chars().collect();
    ErrorRate { errors: edit_distance(&hyp, &reference), reference_len: reference.len() }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance(b"", b"abc"), 3);
        assert_eq!(edit_distance(b"abc", b""), 3);
        assert_eq!(edit_distance(b"flaw", b"lawn"), 2);
        assert_eq!(edit_distance::<u8>(&[], &[]), 0);
    }

    #[test]
    fn word_error_rate_ignores_case_and_punctuation() {
        let r = word_error_rate("podívejte se prosím do kamery", "Podívejte se, prosím, do kamery.");
        assert_eq!(r, ErrorRate { errors: 0, reference_len: 5 });
        // One substitution (sedněte/posaďte) and one missing word (prosím) over five reference words.
        let r = word_error_rate("Dobrý den sedněte se", "Dobrý den, posaďte se prosím.");
        assert_eq!(r, ErrorRate { errors: 2, reference_len: 5 });
        assert!((r.rate() - 0.4).abs() < 1e-12);
        // Thousands separators and decomposed letters do not count.
        assert_eq!(word_error_rate("2500 Kc\u{30C}", "2 500 Kč").errors, 0);
    }

    #[test]
    fn char_error_rate_counts_spaces() {
        assert_eq!(char_error_rate("dobry den", "dobrý den"), ErrorRate { errors: 1, reference_len: 9 });
        assert_eq!(char_error_rate("dobryden", "dobrý den").errors, 2);
    }

    #[test]
    fn empty_references() {
        assert_eq!(word_error_rate("", "").rate(), 0.0);
        assert_eq!(word_error_rate("něco", "").rate(), 1.0);
        assert_eq!(word_error_rate("", "něco navíc").rate(), 1.0);
    }

    #[test]
    fn corpus_rates_sum_edits() {
        let total: ErrorRate = [word_error_rate("a b", "a c"), word_error_rate("x y z w", "x y z w")].into_iter().sum();
        assert_eq!(total, ErrorRate { errors: 1, reference_len: 6 });
    }

    proptest! {
        #[test]
        fn identical_texts_have_no_errors(t in "\\PC{0,60}") {
            prop_assert_eq!(word_error_rate(&t, &t).rate(), 0.0);
            prop_assert_eq!(char_error_rate(&t, &t).rate(), 0.0);
        }

        #[test]
        fn distance_is_a_metric(a in "\\PC{0,12}", b in "\\PC{0,12}", c in "\\PC{0,12}") {
            let (a, b, c): (Vec<char>, Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect(), c.chars().collect());
            prop_assert_eq!(edit_distance(&a, &b), edit_distance(&b, &a));
            prop_assert!(edit_distance(&a, &c) <= edit_distance(&a, &b) + edit_distance(&b, &c));
            prop_assert!(edit_distance(&a, &b) <= a.len().max(b.len()));
        }
    }
}
