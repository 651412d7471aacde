//! The pure rules of interpreting at the counter (issue 5; design §4 "Interpreting"): what a
//! transcript and a machine translation may become on the officer's and the client's screens.
//! No I/O, no async, no model, no clock: the workers produce text and numbers, these rules judge
//! them, so every rule is tested here without a model (docs/INTERPRETING_RULES.md is the
//! one-page summary).
//!
//! The oversight is designed around a weak translation model (Qwen2.5-Coder-1.5B: client →
//! English mostly right, Czech → Ukrainian/Russian/Vietnamese mostly wrong, Mongolian
//! degenerates). One utterance, and the piece that rules each step:
//!
//! 1. whisper transcribes: [`confidence::transcript_confidence`] says ok, low, or no speech;
//! 2. [`phrasebook::Phrasebook::lookup`]: a prepared sentence? Its prepared text is shown,
//!    labelled as prepared with its review state, and the model is not asked;
//! 3. otherwise [`language::ServedDirections`] says whether the model may serve the direction
//!    (not into Mongolian by default: then phrasebook and a human interpreter only); the prompt
//!    carries [`glossary::Glossary::terms_for`] and the spans of [`protect::find_protected`];
//! 4. the output is checked: [`script_check::check_script`] (language and script),
//!    [`glossary::Glossary::violations`], [`protect::check_protected`], and the back-translation
//!    [`confidence::BackTranslation::assess`] (chrF, numbers, negation);
//! 5. [`confidence::judge_segment`] decides: show, show marked uncertain (with reason codes),
//!    or withhold (wrong language or script, no speech).
//!
//! Shared underneath: [`text`] (normalisation: composed letters, case, punctuation, digit
//! groups, diacritic folding), [`chrf`] and [`wer`] (also the quality benchmark's measures).
//!
//! Concurrency: none. The embedded phrasebook and glossary (`models/data/*.toml`, compiled in)
//! are parsed once on first use behind a `OnceLock` and only read afterwards.
//!
//! Deliberately absent: calling a model, logging (the AI log records what is shown, elsewhere),
//! statistical language identification and named-entity recognition (each check says what it
//! cannot see), and any English text meant for a person: reasons are codes the UI localises.

pub mod chrf;
pub mod confidence;
pub mod glossary;
pub mod language;
pub mod phrasebook;
pub mod protect;
pub mod script_check;
pub mod text;
pub mod wer;
pub mod vad;
pub mod wav;

pub use confidence::{judge_segment, Confidence, SegmentEvidence, SegmentVerdict};
pub use glossary::Glossary;
pub use language::{Direction, InterpretLanguage, ServedDirections};
pub use phrasebook::{PhraseMatch, Phrasebook};
pub use script_check::{check_script, ScriptVerdict};
