//! Cutting a repetition loop: small models under greedy decoding sometimes repeat the last
//! phrase until the budget runs out ("Please sit down. Please sit down. Please sit down. …").
//!
//! After each new token the tail is checked for a unit of `period` tokens repeated back to back;
//! when found, generation stops and the output keeps the first occurrence. Short units need more
//! repeats before they count ([`MIN_SPAN`] tokens in all), so that "no, no, no" survives and a
//! run of sixteen identical tokens does not. Pure, on token ids.

/// Longest repeated unit looked for, in tokens (a long sentence).
pub const MAX_PERIOD: usize = 64;
/// A unit must repeat at least this often.
pub const MIN_REPEATS: usize = 3;
/// ... and the repeats must cover at least this many tokens.
pub const MIN_SPAN: usize = 16;

/// Described in words for the decoding fingerprint.
pub const RULE: &str = "stop when the tail is a unit of 1..=64 tokens repeated >= max(3, ceil(16/period)) times; keep one";

/// If `tokens` ends in a loop, the length to cut it back to (the first occurrence kept).
pub fn cut(tokens: &[i32]) -> Option<usize> {
    let n = tokens.len();
    for period in 1..=MAX_PERIOD {
        let repeats = MIN_REPEATS.max(MIN_SPAN.div_ceil(period));
        let span = period * repeats;
        if span > n {
            continue;
        }
        let tail = &tokens[n - span..];
        if (period..span).all(|i| tail[i] == tail[i - period]) {
            return Some(n - span + period);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_repeated_three_times_is_cut_to_one() {
        let sentence = [10, 11, 12, 13, 14, 15, 16];
        let mut tokens = vec![1, 2, 3];
        for _ in 0..3 {
            tokens.extend(sentence);
        }
        assert_eq!(cut(&tokens), Some(3 + sentence.len()));
    }

    #[test]
    fn twice_is_not_a_loop() {
        let mut tokens = vec![1, 2, 3, 4, 5, 6, 7, 8];
        tokens.extend([1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(cut(&tokens), None);
    }

    #[test]
    fn short_units_need_a_longer_run() {
        assert_eq!(cut(&[5, 5, 5, 5]), None);
        assert_eq!(cut(&[7, 8, 7, 8, 7, 8]), None);
        assert_eq!(cut(&[5; 16]), Some(1));
        let mut pairs = vec![1];
        for _ in 0..8 {
            pairs.extend([7, 8]);
        }
        assert_eq!(cut(&pairs), Some(3));
    }

    #[test]
    fn ordinary_text_passes() {
        let tokens: Vec<i32> = (0..200).collect();
        assert_eq!(cut(&tokens), None);
        assert_eq!(cut(&[]), None);
    }
}
