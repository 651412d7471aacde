//! The pure rules of interpreting at the counter: languages and served directions, text
//! normalisation, and the measures the checks and the benchmark use (chrF, WER/CER). The
//! checks themselves follow in this module tree.

pub mod chrf;
pub mod confidence;
pub mod glossary;
pub mod language;
pub mod phrasebook;
pub mod protect;
pub mod script_check;
pub mod text;
pub mod wer;
