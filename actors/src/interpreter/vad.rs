//! Voice-activity segmentation: cuts a stream of 16 kHz mono samples into utterances, or takes
//! push-to-talk boundaries instead. The rule (levels, thresholds, start and end) is
//! [`prepazka_models::interpret::vad`]; this keeps the samples around it.

use prepazka_models::interpret::vad::{level_db, Detector, FrameEvent, FRAME, MAX_UTTERANCE_SAMPLES, MIN_SPEECH_FRAMES, PRE_ROLL_FRAMES};
pub use prepazka_models::interpret::vad::SAMPLE_RATE;

#[derive(Debug, Clone, Default)]
pub struct Segmenter {
    pending: Vec<f32>,
    pre_roll: std::collections::VecDeque<Vec<f32>>,
    detector: Detector,
    current: Option<Vec<f32>>,
    push_to_talk: Option<Vec<f32>>,
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
        match self.detector.frame(level_db(frame)) {
            FrameEvent::Quiet => {
                self.pre_roll.push_back(frame.to_vec());
                if self.pre_roll.len() > PRE_ROLL_FRAMES {
                    self.pre_roll.pop_front();
                }
                None
            }
            FrameEvent::Started { pre_roll, .. } => {
                self.pre_roll.push_back(frame.to_vec());
                let skip = self.pre_roll.len().saturating_sub(pre_roll);
                self.current = Some(self.pre_roll.drain(..).skip(skip).flatten().collect());
                None
            }
            FrameEvent::Continues { .. } => {
                if let Some(current) = &mut self.current {
                    current.extend_from_slice(frame);
                }
                None
            }
            FrameEvent::Ended { enough_speech } => {
                let mut utterance = self.current.take().unwrap_or_default();
                utterance.extend_from_slice(frame);
                enough_speech.then_some(utterance)
            }
        }
    }

    pub fn press(&mut self) {
        self.current = None;
        self.pre_roll.clear();
        self.detector.abandon();
        self.push_to_talk = Some(Vec::new());
    }

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
