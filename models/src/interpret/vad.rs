//! Voice-activity detection, the rule alone: frame by frame, where an utterance starts and ends.
//! The server's segmenter (`actors/src/interpreter/vad.rs`) keeps the samples around it; the
//! interpreting benchmark runs the same rule over the audio it sends, to know exactly when the
//! server cuts each utterance.
//!
//! Method: 20 ms frames; a frame is speech when its RMS level is above both an absolute floor
//! (−45 dBFS) and 9 dB over an adaptive noise estimate (which follows quiet frames quickly and
//! loud ones slowly). An utterance starts after 3 speech frames in a row (60 ms, so a click does
//! not start one) and ends after 700 ms of non-speech (a counter conversation pauses briefly
//! between phrases). Up to 240 ms before the start are kept, so the first syllable is not
//! clipped. Utterances with less than 300 ms of speech are dropped (coughs, doors); longer than
//! 20 s are cut (whisper's window is 30 s, and latency grows with length).

/// Samples per second the whole pipeline uses.
pub const SAMPLE_RATE: usize = 16_000;
/// Samples in one 20 ms frame.
pub const FRAME: usize = SAMPLE_RATE / 50;
const START_FRAMES: usize = 3;
/// Non-speech frames that end an utterance (700 ms).
pub const END_SILENCE_FRAMES: usize = 35;
/// Frames before the start that belong to the utterance.
pub const PRE_ROLL_FRAMES: usize = 12;
/// Speech frames an utterance needs to count.
pub const MIN_SPEECH_FRAMES: usize = 15;
/// Longest utterance before a forced cut.
pub const MAX_UTTERANCE_SAMPLES: usize = 20 * SAMPLE_RATE;
const FLOOR_DBFS: f32 = -45.0;
const OVER_NOISE_DB: f32 = 9.0;

/// A frame's RMS level in dBFS, samples in [−1, 1].
pub fn level_db(frame: &[f32]) -> f32 {
    let energy = frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32;
    10.0 * (energy.max(1e-12)).log10()
}

/// The same for 16-bit PCM.
pub fn level_db_pcm16(frame: &[i16]) -> f32 {
    let energy = frame.iter().map(|&s| (f32::from(s) / 32768.0).powi(2)).sum::<f32>() / frame.len().max(1) as f32;
    10.0 * energy.max(1e-12).log10()
}

/// What one frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameEvent {
    /// No utterance open, none started.
    Quiet,
    /// An utterance starts: it takes the last `pre_roll` frames (this one included), of which
    /// the last `speech_run` are speech.
    Started { pre_roll: usize, speech_run: usize },
    /// This frame belongs to the open utterance.
    Continues { speech: bool },
    /// This frame (part of it) ends the utterance; it counts only with `enough_speech`.
    Ended { enough_speech: bool },
}

/// The detector's state between frames.
#[derive(Debug, Clone)]
pub struct Detector {
    noise_db: f32,
    speech_run: usize,
    silence_run: usize,
    speech_frames: usize,
    /// Frames available as pre-roll while no utterance is open.
    pre_roll: usize,
    /// Frames of the open utterance (pre-roll included), if one is open.
    open: Option<usize>,
}

impl Default for Detector {
    fn default() -> Self {
        Self { noise_db: -60.0, speech_run: 0, silence_run: 0, speech_frames: 0, pre_roll: 0, open: None }
    }
}

impl Detector {
    /// Takes the next frame's level ([`level_db`]).
    pub fn frame(&mut self, db: f32) -> FrameEvent {
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
        match &mut self.open {
            None => {
                self.pre_roll = (self.pre_roll + 1).min(PRE_ROLL_FRAMES);
                self.speech_run = if speech { self.speech_run + 1 } else { 0 };
                if self.speech_run < START_FRAMES {
                    return FrameEvent::Quiet;
                }
                let pre_roll = std::mem::take(&mut self.pre_roll);
                self.open = Some(pre_roll);
                self.speech_frames = self.speech_run;
                self.silence_run = 0;
                FrameEvent::Started { pre_roll, speech_run: self.speech_run }
            }
            Some(frames) => {
                *frames += 1;
                if speech {
                    self.speech_frames += 1;
                    self.silence_run = 0;
                } else {
                    self.silence_run += 1;
                }
                if self.silence_run < END_SILENCE_FRAMES && *frames * FRAME < MAX_UTTERANCE_SAMPLES {
                    return FrameEvent::Continues { speech };
                }
                self.open = None;
                self.speech_run = 0;
                let enough_speech = self.speech_frames >= MIN_SPEECH_FRAMES;
                self.speech_frames = 0;
                FrameEvent::Ended { enough_speech }
            }
        }
    }

    /// Drops the open utterance and the pre-roll (push-to-talk takes over); the noise estimate
    /// stays.
    pub fn abandon(&mut self) {
        self.open = None;
        self.pre_roll = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: f32 = -70.0;
    const LOUD: f32 = -20.0;

    fn feed(detector: &mut Detector, db: f32, frames: usize) -> Vec<FrameEvent> {
        (0..frames).map(|_| detector.frame(db)).collect()
    }

    #[test]
    fn an_utterance_starts_on_the_third_speech_frame_and_ends_after_700_ms() {
        let mut d = Detector::default();
        assert!(feed(&mut d, QUIET, 20).iter().all(|e| *e == FrameEvent::Quiet));
        let start = feed(&mut d, LOUD, 3);
        assert_eq!(start[..2], [FrameEvent::Quiet, FrameEvent::Quiet]);
        assert_eq!(start[2], FrameEvent::Started { pre_roll: PRE_ROLL_FRAMES, speech_run: 3 });
        assert!(feed(&mut d, LOUD, 20).iter().all(|e| *e == FrameEvent::Continues { speech: true }));
        let tail = feed(&mut d, QUIET, END_SILENCE_FRAMES);
        assert!(tail[..END_SILENCE_FRAMES - 1].iter().all(|e| *e == FrameEvent::Continues { speech: false }));
        assert_eq!(tail[END_SILENCE_FRAMES - 1], FrameEvent::Ended { enough_speech: true });
        assert_eq!(d.frame(QUIET), FrameEvent::Quiet);
    }

    #[test]
    fn a_click_does_not_start_and_a_cough_does_not_count() {
        let mut d = Detector::default();
        feed(&mut d, QUIET, 20);
        assert!(feed(&mut d, LOUD, 2).iter().chain(&feed(&mut d, QUIET, 5)).all(|e| *e == FrameEvent::Quiet));
        // 8 speech frames (160 ms) start an utterance but are under the 300 ms it needs.
        let events = [feed(&mut d, LOUD, 8), feed(&mut d, QUIET, END_SILENCE_FRAMES)].concat();
        assert_eq!(events[2], FrameEvent::Started { pre_roll: PRE_ROLL_FRAMES, speech_run: 3 });
        assert_eq!(events.last(), Some(&FrameEvent::Ended { enough_speech: false }));
    }

    #[test]
    fn the_pre_roll_is_what_came_before_and_push_to_talk_drops_it() {
        let mut d = Detector::default();
        feed(&mut d, QUIET, 4);
        assert_eq!(feed(&mut d, LOUD, 3)[2], FrameEvent::Started { pre_roll: 7, speech_run: 3 });
        d.abandon();
        feed(&mut d, QUIET, 40);
        assert_eq!(feed(&mut d, LOUD, 3)[2], FrameEvent::Started { pre_roll: PRE_ROLL_FRAMES, speech_run: 3 });
    }

    #[test]
    fn levels() {
        assert!((level_db(&[1.0; FRAME]) - 0.0).abs() < 1e-3);
        assert!((level_db_pcm16(&[16_384; FRAME]) - level_db(&[0.5; FRAME])).abs() < 1e-3);
        assert!(level_db(&[0.0; FRAME]) <= -119.0);
    }
}
