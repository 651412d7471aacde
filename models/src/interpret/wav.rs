//! The audio files of the test set and the benchmarks: RIFF WAVE, PCM, mono, 16 kHz, 16-bit
//! (what the browser's worklet sends, and what espeak-ng is asked to write). Anything else is
//! refused with the reason rather than resampled.

use super::vad::SAMPLE_RATE;

/// The samples of a 16 kHz mono 16-bit PCM WAV file's bytes.
pub fn parse_pcm16(bytes: &[u8]) -> Result<Vec<i16>, String> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF WAVE file".into());
    }
    let mut at = 12;
    let mut format_ok = false;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]) as usize;
        let body = &bytes[at + 8..(at + 8).saturating_add(size).min(bytes.len())];
        if id == b"fmt " && body.len() >= 16 {
            let word = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
            let rate = u32::from_le_bytes([body[4], body[5], body[6], body[7]]);
            let (format, channels, bits) = (word(0), word(2), word(14));
            if (format, channels, rate, bits) != (1, 1, SAMPLE_RATE as u32, 16) {
                return Err(format!("format {format}, {channels} channels, {rate} Hz, {bits} bits; want PCM mono 16 kHz 16-bit"));
            }
            format_ok = true;
        } else if id == b"data" {
            if !format_ok {
                return Err("data before fmt".into());
            }
            return Ok(body.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect());
        }
        at = at.saturating_add(8 + size + size % 2);
    }
    Err("no data chunk".into())
}

/// The same samples scaled to [−1, 1].
pub fn parse_pcm16_as_f32(bytes: &[u8]) -> Result<Vec<f32>, String> {
    Ok(parse_pcm16(bytes)?.into_iter().map(|s| f32::from(s) / 32768.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut out = b"RIFF".to_vec();
        out.extend((36 + data.len() as u32).to_le_bytes());
        out.extend(b"WAVEfmt ");
        out.extend(16u32.to_le_bytes());
        out.extend(1u16.to_le_bytes());
        out.extend(channels.to_le_bytes());
        out.extend(rate.to_le_bytes());
        out.extend((rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend((2 * channels).to_le_bytes());
        out.extend(16u16.to_le_bytes());
        out.extend(b"data");
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn reads_the_samples_and_refuses_other_formats() {
        assert_eq!(parse_pcm16(&wav(16_000, 1, &[1, -2, 32767])), Ok(vec![1, -2, 32767]));
        assert_eq!(parse_pcm16_as_f32(&wav(16_000, 1, &[-32768])), Ok(vec![-1.0]));
        assert!(parse_pcm16(&wav(44_100, 1, &[0])).expect_err("44.1 kHz").contains("44100 Hz"));
        assert!(parse_pcm16(&wav(16_000, 2, &[0, 0])).expect_err("stereo").contains("2 channels"));
        assert_eq!(parse_pcm16(b"garbage"), Err("not a RIFF WAVE file".into()));
        let truncated = wav(16_000, 1, &[1, 2, 3]);
        assert!(parse_pcm16(&truncated[..40]).is_err());
    }
}
