//! chrF, the character n-gram F-score (Popović 2015), as sacrebleu computes it by default:
//! character n-grams of orders 1 to 6, whitespace removed, case kept, β = 2 (recall weighs
//! twice precision), precision and recall averaged over the orders both sides have n-grams of,
//! then combined; 0–100.
//!
//! It is the measure of the back-translation check (a translation translated back into the
//! speaker's language is compared with what was said) and of the quality benchmark (chrF per
//! direction in BENCHMARKS.md). Characters rather than words because Czech, Ukrainian, Russian
//! and Mongolian inflect: `pobytu` against `pobyt` is a near miss, not a miss. The unit tests pin
//! values computed with sacrebleu 2.6.0 (`sacrebleu.sentence_chrf`), so a number here means what
//! it means in the literature.

use std::collections::HashMap;
use std::ops::{Add, AddAssign};

use super::text::normalise;

/// Highest character n-gram order (sacrebleu's `char_order`).
pub const CHAR_ORDER: usize = 6;
/// Recall is β times as important as precision (sacrebleu's `beta`).
pub const BETA: f64 = 2.0;

/// Counts of one sentence pair (or, summed, of a corpus): per order, the n-grams of the
/// hypothesis, of the reference, and those they share (clipped counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChrfStats {
    orders: [(u64, u64, u64); CHAR_ORDER],
}

/// Python's `str.split()` whitespace: Unicode White_Space plus the four separators U+001C–U+001F
/// that Python also counts. sacrebleu drops it before counting n-grams.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

fn char_ngrams(chars: &[char], n: usize) -> HashMap<&[char], u64> {
    let mut counts = HashMap::new();
    for gram in chars.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

impl ChrfStats {
    /// The counts of one hypothesis against one reference.
    pub fn sentence(hypothesis: &str, reference: &str) -> ChrfStats {
        let hyp: Vec<char> = hypothesis.chars().filter(|&c| !is_python_whitespace(c)).collect();
        let reference: Vec<char> = reference.chars().filter(|&c| !is_python_whitespace(c)).collect();
        let mut orders = [(0, 0, 0); CHAR_ORDER];
        for (i, slot) in orders.iter_mut().enumerate() {
            let n = i + 1;
            let hyp_grams = char_ngrams(&hyp, n);
            let ref_grams = char_ngrams(&reference, n);
            let matched = hyp_grams.iter().map(|(gram, &count)| count.min(ref_grams.get(gram).copied().unwrap_or(0))).sum();
            *slot = (hyp.len().saturating_sub(n - 1) as u64, reference.len().saturating_sub(n - 1) as u64, matched);
        }
        ChrfStats { orders }
    }

    /// The F-score in 0–100. Orders where either side has no n-gram (a text shorter than the
    /// order) are left out of the averages, as sacrebleu does; no order at all gives 0.
    pub fn score(&self) -> f64 {
        let (mut precision, mut recall, mut effective) = (0.0, 0.0, 0u32);
        for &(hyp, reference, matched) in &self.orders {
            if hyp > 0 && reference > 0 {
                precision += matched as f64 / hyp as f64;
                recall += matched as f64 / reference as f64;
                effective += 1;
            }
        }
        if effective == 0 {
            return 0.0;
        }
        precision /= f64::from(effective);
        recall /= f64::from(effective);
        if precision + recall == 0.0 {
            return 0.0;
        }
        let factor = BETA * BETA;
        100.0 * (1.0 + factor) * precision * recall / (factor * precision + recall)
    }
}

impl Add for ChrfStats {
    type Output = ChrfStats;

    fn add(mut self, other: ChrfStats) -> ChrfStats {
        self += other;
        self
    }
}

impl AddAssign for ChrfStats {
    fn add_assign(&mut self, other: ChrfStats) {
        for (mine, theirs) in self.orders.iter_mut().zip(other.orders) {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
            mine.2 += theirs.2;
        }
    }
}

impl std::iter::Sum for ChrfStats {
    /// Corpus chrF: the counts of all sentences summed, then one score (sacrebleu's
    /// `corpus_chrf`), which is not the mean of the sentence scores.
    fn sum<I: Iterator<Item = ChrfStats>>(iter: I) -> ChrfStats {
        iter.fold(ChrfStats::default(), Add::add)
    }
}

/// Sentence-level chrF of `hypothesis` against `reference`, exactly as
/// `sacrebleu.sentence_chrf(hypothesis, [reference]).score`.
pub fn chrf(hypothesis: &str, reference: &str) -> f64 {
    ChrfStats::sentence(hypothesis, reference).score()
}

/// chrF after [`normalise`] on both sides (case, punctuation, thousands separators and
/// decomposed letters do not count). The back-translation check uses this form: a back-
/// translation that differs from the speaker's words only in a comma or a capital is not a worse
/// translation.
pub fn chrf_normalised(hypothesis: &str, reference: &str) -> f64 {
    chrf(&normalise(hypothesis), &normalise(reference))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
    }

    /// Reference values from sacrebleu 2.6.0: `sacrebleu.sentence_chrf(h, [r]).score`.
    #[test]
    fn agrees_with_sacrebleu() {
        for (hypothesis, reference, expected) in SACREBLEU {
            close(chrf(hypothesis, reference), *expected);
        }
    }

    /// Checked by hand: "ab" against "abc". Order 1: hypothesis a,b (2), reference a,b,c (3),
    /// 2 shared → P = 1, R = 2/3. Order 2: ab (1) against ab, bc (2), 1 shared → P = 1, R = 1/2.
    /// Orders 3–6: the hypothesis has none, so they are left out. Averages P = 1, R = 7/12;
    /// F₂ = 5 · P · R / (4P + R) = (35/12) / (55/12) = 7/11 = 63.6363…
    #[test]
    fn a_value_by_hand() {
        close(chrf("ab", "abc"), 700.0 / 11.0);
    }

    #[test]
    fn edges() {
        assert_eq!(chrf("", ""), 0.0);
        assert_eq!(chrf("abc", ""), 0.0);
        assert_eq!(chrf("", "abc"), 0.0);
        assert_eq!(chrf("xyz", "abc"), 0.0);
        close(chrf("a b c", "abc"), 100.0);
        close(chrf_normalised("Please, look into the CAMERA!", "please look into the camera"), 100.0);
    }

    #[test]
    fn corpus_sums_counts_not_scores() {
        let corpus: ChrfStats = [ChrfStats::sentence("ab", "abc"), ChrfStats::sentence("xyz", "xyz")].into_iter().sum();
        // Hypothesis "ab" + "xyz" against "abc" + "xyz", summed per order, then one F-score; the
        // value is sacrebleu's corpus_chrf(["ab", "xyz"], [["abc", "xyz"]]).
        close(corpus.score(), CORPUS_AB_XYZ);
    }

    proptest! {
        #[test]
        fn stays_between_0_and_100(h in "\\PC{0,40}", r in "\\PC{0,40}") {
            let score = chrf(&h, &r);
            prop_assert!((0.0..=100.0).contains(&score), "{}", score);
        }

        #[test]
        fn identical_texts_score_100(t in "\\PC{0,40}") {
            let has_text = t.chars().any(|c| !is_python_whitespace(c));
            let score = chrf(&t, &t);
            prop_assert!(if has_text { (score - 100.0).abs() < 1e-9 } else { score == 0.0 }, "{}", score);
        }
    }

    const CORPUS_AB_XYZ: f64 = 73.96449704142013;
    #[rustfmt::skip]
    const SACREBLEU: &[(&str, &str, f64)] = &[
        ("The cat sat on the mat.", "The cat is on the mat.", 67.17273492330233),
        ("Please look into the camera.", "Look into the camera, please.", 71.66112194815453),
        ("Please look into the camera.", "Put your finger on the scanner.", 15.187930697563853),
        ("Podívejte se prosím do kamery.", "Podívejte se do kamery, prosím.", 71.50261529184641),
        ("Podivejte se prosim do kamery", "Podívejte se prosím do kamery.", 67.62466013830344),
        ("Покладіть палець на сканер.", "Положите палец на сканер.", 47.826926452515146),
        ("Xin quý vị nhìn vào camera.", "Xin nhìn vào máy ảnh.", 35.789382562184215),
        ("beautiful horizon", "Belo Horizonte", 33.5239903289073),
        ("ab", "abc", 63.636363636363626),
        ("a", "a", 100.0),
        ("abcdefgh", "abcdefgh", 100.0),
        ("Сайн байна уу", "Сайн байна уу, суугаарай.", 48.68678867199922),
        ("The administrative fee is CZK 2,500.", "The administrative fee is 2,500 crowns.", 71.30121280267603),
    ];
}
