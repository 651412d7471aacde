//! Voice-activity segmentation: cuts a stream of 16 kHz mono samples into utterances, or takes
//! push-to-talk boundaries instead.
//!
//! Method: 20 ms frames; a frame is speech when its RMS level is above both an absolute floor
//! (−45 dBFS) and 9 dB over an adaptive noise estimate (which follows quiet frames quickly and
//! loud ones slowly). An utterance starts after 3 speech frames in a row (60 ms, so a click does
//! not start one) and ends after 700 ms of non-speech (a counter conversation pauses briefly
//! between phrases). 250 ms before the start are kept, so the first syllable is not clipped.
//! Utterances shorter than 300 ms of speech are dropped (coughs, doors); longer than 20 s are cut
//! (whisper's window is 30 s, and latency grows with length).

/// Samples per second the whole pipeline uses.
pub const SAMPLE_RATE: usize = 16_000;
const FRAME: usize = SAMPLE_RATE / 50;
const START_FRAMES: usize = 3;
const END_SILENCE_FRAMES: usize = 35;
const PRE_ROLL_FRAMES: usize = 12;
const MIN_SPEECH_FRAMES: usize = 15;
/// Longest utterance before a forced cut.
pub const MAX_UTTERANCE_SAMPLES: usize = 20 * SAMPLE_RATE;
const FLOOR_DBFS: f32 = -45.0;
const OVER_NOISE_DB: f32 = 9.0;

#[derive(Debug, Clone)]
pub struct Segmenter {
    pending: Vec<f32>,
    pre_roll: std::collections::VecDeque<Vec<f32>>,
    noise_db: f32,
    speech_run: usize,
    silence_run: usize,
    speech_frames: usize,
    current: Option<Vec<f32>>,
    push_to_talk: Option<Vec<f32>>,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self {
            pending: Vec::new(),
            pre_roll: std::collections::VecDeque::new(),
            noise_db: -60.0,
            speech_run: 0,
            silence_run: 0,
            speech_frames: 0,
            current: None,
            push_to_talk: None,
        }
    }
}

fn level_db(frame: &[f32]) -> f32 {
    let energy = frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32;
    10.0 * (energy.max(1e-12)).log10()
}

impl Segmenter {
    /// Feeds samples in [−1, 1]; returns the utterances completed by them.
    pub fn push(&mut self, samples: &[f32]) -> Vec<Vec<f32>> {
        if let Some(buffer) = &mut self.push_to_talk {
            buffer.extend_from_slice(samples);
            if buffer.len() >= MAX_UTTERANCE_SAMPLES {
                return vec![std::mem::take(buffer)];
            }
            return Vec::new();
        }
        self.pending.extend_from_slice(samples);
        let mut done = Vec::new();
        let whole = self.pending.len() / FRAME * FRAME;
        let frames: Vec<f32> = self.pending.drain(..whole).collect();
        for frame in frames.chunks(FRAME) {
            if let Some(utterance) = self.frame(frame) {
                done.push(utterance);
            }
        }
        done
    }

    fn frame(&mut self, frame: &[f32]) -> Option<Vec<f32>> {
        let db = level_db(frame);
        let speech = db > FLOOR_DBFS && db > self.noise_db + OVER_NOISE_DB;
        // Quiet frames pull the noise estimate down fast, loud ones push it up slowly, so
        // speech itself does not become "noise".
        let rate = if db < self.noise_db {
            0.3
        } else if speech {
            0.002
        } else {
            0.05
        };
        self.noise_db += rate * (db - self.noise_db);
        match &mut self.current {
            None => {
                self.pre_roll.push_back(frame.to_vec());
                if self.pre_roll.len() > PRE_ROLL_FRAMES {
                    self.pre_roll.pop_front();
                }
                self.speech_run = if speech { self.speech_run + 1 } else { 0 };
                if self.speech_run >= START_FRAMES {
                    self.current = Some(self.pre_roll.drain(..).flatten().collect());
                    self.speech_frames = self.speech_run;
                    self.silence_run = 0;
                }
                None
            }
            Some(current) => {
                current.extend_from_slice(frame);
                if speech {
                    self.speech_frames += 1;
                    self.silence_run = 0;
                } else {
                    self.silence_run += 1;
                }
                if self.silence_run >= END_SILENCE_FRAMES || current.len() >= MAX_UTTERANCE_SAMPLES {
                    self.speech_run = 0;
                    let utterance = self.current.take().unwrap_or_default();
                    let enough = self.speech_frames >= MIN_SPEECH_FRAMES;
                    self.speech_frames = 0;
                    return enough.then_some(utterance);
                }
                None
            }
        }
    }

    /// Push-to-talk pressed: from now on everything is one utterance until release.
    pub fn press(&mut self) {
        self.current = None;
        self.pre_roll.clear();
        self.push_to_talk = Some(Vec::new());
    }

    /// Push-to-talk released: the utterance, if it holds at least 300 ms.
    pub fn release(&mut self) -> Option<Vec<f32>> {
        let utterance = self.push_to_talk.take()?;
        (utterance.len() >= MIN_SPEECH_FRAMES * FRAME).then_some(utterance)
    }

    pub fn push_to_talk_held(&self) -> bool {
        self.push_to_talk.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A voiced sound with syllables: a tone whose loudness rises and falls three times a second.
    fn tone(seconds: f32, amplitude: f32) -> Vec<f32> {
        (0..(seconds * SAMPLE_RATE as f32) as usize)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                amplitude * (0.15 + (t * 3.0 * std::f32::consts::PI).sin().abs()) * (i as f32 * 0.07).sin()
            })
            .collect()
    }

    fn noise(seconds: f32, amplitude: f32) -> Vec<f32> {
        let mut x: u32 = 12345;
        (0..(seconds * SAMPLE_RATE as f32) as usize)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                amplitude * ((x >> 16) as f32 / 32768.0 - 1.0)
            })
            .collect()
    }

    #[test]
    fn two_phrases_separated_by_a_pause_are_two_utterances() {
        let mut vad = Segmenter::default();
        let mut stream = noise(1.0, 0.001);
        stream.extend(tone(1.5, 0.3));
        stream.extend(noise(1.0, 0.001));
        stream.extend(tone(2.0, 0.3));
        stream.extend(noise(1.0, 0.001));
        let mut out = Vec::new();
        for chunk in stream.chunks(1234) {
            out.extend(vad.push(chunk));
        }
        assert_eq!(out.len(), 2, "two phrases");
        let first = out[0].len() as f32 / SAMPLE_RATE as f32;
        assert!((1.5..2.6).contains(&first), "first utterance {first} s holds the phrase, pre-roll and the tail");
    }

    #[test]
    fn a_click_and_steady_noise_are_not_speech() {
        let mut vad = Segmenter::default();
        let mut stream = noise(2.0, 0.02);
        stream.extend(tone(0.1, 0.5));
        stream.extend(noise(2.0, 0.02));
        assert!(vad.push(&stream).is_empty());
    }

    #[test]
    fn a_long_monologue_is_cut_at_the_limit() {
        let mut vad = Segmenter::default();
        // Words of 400 ms with 200 ms pauses: too short a pause to end the utterance.
        let mut talk = Vec::new();
        while talk.len() < 45 * SAMPLE_RATE {
            talk.extend(tone(0.4, 0.3));
            talk.extend(noise(0.2, 0.001));
        }
        let out = vad.push(&talk);
        assert_eq!(out.len(), 2, "{:?}", out.iter().map(Vec::len).collect::<Vec<_>>());
        assert!(out.iter().all(|u| u.len() <= MAX_UTTERANCE_SAMPLES));
    }

    #[test]
    fn push_to_talk_takes_everything_between_press_and_release() {
        let mut vad = Segmenter::default();
        vad.press();
        assert!(vad.push(&noise(1.0, 0.0001)).is_empty());
        assert!(vad.push(&tone(1.0, 0.3)).is_empty());
        let utterance = vad.release().expect("held long enough");
        assert_eq!(utterance.len(), 2 * SAMPLE_RATE);
        vad.press();
        assert!(vad.release().is_none(), "a tap is not an utterance");
    }
}
