//! The messages in the frames' JSON headers, the audio payload, and the input rules both workers
//! enforce.
//!
//! A request is `{"id": N, "request": {"op": …}}`, a reply `{"id": N, "reply": {"reply": …}}`
//! with the request's id, or `"id": null` when the worker could not tell which request a broken
//! frame was. The id lets the client drop a late reply to a job it has given up on.
//!
//! **Audio** travels in the frame's payload, not in JSON: 16 kHz mono PCM as **f32
//! little-endian**, normalised to [-1, 1]. f32 because that is what whisper.cpp takes and what a
//! browser's Web Audio produces, so nobody converts twice; the pipe is local, so i16's halved size
//! buys nothing.
//!
//! Validation lives here, next to the types, so that the rules are written once. The worker
//! applies them to every request; a broken request is answered with [`JobError::BadInput`],
//! never a panic.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bumped when a message changes incompatibly; reported in [`Info`].
pub const PROTOCOL_VERSION: u32 = 1;
/// The only sample rate the workers accept.
pub const SAMPLE_RATE_HZ: u32 = 16_000;
/// Whisper's window: longer audio would be cut into windows whose seams fall mid-word.
pub const MAX_AUDIO_SAMPLES: usize = 30 * SAMPLE_RATE_HZ as usize;
/// whisper.cpp returns no segments at all below 100 ms, so such input is refused with a reason.
pub const MIN_AUDIO_SAMPLES: usize = SAMPLE_RATE_HZ as usize / 10;
/// Samples further from zero than this are not normalised audio (i16 values sent as floats, say).
pub const MAX_ABS_SAMPLE: f32 = 2.0;
/// A sentence or a few; the translation worker's context is 2,048 tokens.
pub const MAX_TEXT_CHARS: usize = 2_000;
pub const MAX_GLOSSARY_ENTRIES: usize = 100;
pub const MAX_VERBATIM_ITEMS: usize = 100;
pub const MAX_TERM_CHARS: usize = 200;

/// The languages of the interpreting feature: Czech and the five the offices see most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Cs,
    En,
    Uk,
    Ru,
    Vi,
    Mn,
}

impl Language {
    pub const ALL: [Language; 6] = [Language::Cs, Language::En, Language::Uk, Language::Ru, Language::Vi, Language::Mn];

    /// ISO 639-1, which is also Whisper's language code.
    pub fn code(self) -> &'static str {
        match self {
            Language::Cs => "cs",
            Language::En => "en",
            Language::Uk => "uk",
            Language::Ru => "ru",
            Language::Vi => "vi",
            Language::Mn => "mn",
        }
    }

    /// The English name, as the translation prompt uses it.
    pub fn english_name(self) -> &'static str {
        match self {
            Language::Cs => "Czech",
            Language::En => "English",
            Language::Uk => "Ukrainian",
            Language::Ru => "Russian",
            Language::Vi => "Vietnamese",
            Language::Mn => "Mongolian",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?} (expected one of cs, en, uk, ru, vi, mn)")]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Language::ALL.into_iter().find(|l| l.code() == s).ok_or_else(|| UnknownLanguage(s.to_owned()))
    }
}

/// What Whisper is asked to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AsrTask {
    /// Text in the spoken language.
    Transcribe,
    /// English text, Whisper's own translation: the second opinion beside the translation model.
    TranslateToEnglish,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    Asr,
    Mt,
}

/// A request as it travels (the samples of a transcription ride in the payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Info,
    Transcribe {
        /// Forced language; `None` lets Whisper detect it.
        language: Option<Language>,
        task: AsrTask,
    },
    Translate(TranslateRequest),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    pub id: u64,
    pub request: Request,
}

/// A transcription job once its payload has been decoded and checked.
#[derive(Clone, PartialEq)]
pub struct TranscribeJob {
    pub language: Option<Language>,
    pub task: AsrTask,
    pub samples: Vec<f32>,
}

impl fmt::Debug for TranscribeJob {
    // Audio is personal data and large; the length says what a log needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TranscribeJob")
            .field("language", &self.language)
            .field("task", &self.task)
            .field("samples", &self.samples.len())
            .finish()
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TranslateRequest {
    pub from: Language,
    pub to: Language,
    pub text: String,
    /// `(source term, target term)` pairs the translation must use.
    #[serde(default)]
    pub glossary: Vec<(String, String)>,
    /// Items to copy unchanged: names, numbers, codes.
    #[serde(default)]
    pub keep_verbatim: Vec<String>,
}

impl fmt::Debug for TranslateRequest {
    // The text is what a person said: never in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TranslateRequest")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("text_chars", &self.text.chars().count())
            .field("glossary", &self.glossary.len())
            .field("keep_verbatim", &self.keep_verbatim.len())
            .finish()
    }
}

impl TranslateRequest {
    /// The rules a translation request must meet before a model sees it.
    pub fn validate(&self) -> Result<(), JobError> {
        if self.from == self.to {
            return Err(JobError::bad_input(format!("source and target language are both {}", self.from)));
        }
        check_text("text", &self.text, MAX_TEXT_CHARS)?;
        if self.glossary.len() > MAX_GLOSSARY_ENTRIES {
            return Err(JobError::bad_input(format!("glossary has {} entries, at most {MAX_GLOSSARY_ENTRIES}", self.glossary.len())));
        }
        for (source, target) in &self.glossary {
            check_text("glossary term", source, MAX_TERM_CHARS)?;
            check_text("glossary term", target, MAX_TERM_CHARS)?;
        }
        if self.keep_verbatim.len() > MAX_VERBATIM_ITEMS {
            return Err(JobError::bad_input(format!("{} verbatim items, at most {MAX_VERBATIM_ITEMS}", self.keep_verbatim.len())));
        }
        for item in &self.keep_verbatim {
            check_text("verbatim item", item, MAX_TERM_CHARS)?;
        }
        Ok(())
    }
}

fn check_text(what: &str, text: &str, max_chars: usize) -> Result<(), JobError> {
    if text.trim().is_empty() {
        return Err(JobError::bad_input(format!("{what} is empty")));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(JobError::bad_input(format!("{what} has {chars} characters, at most {max_chars}")));
    }
    // NUL would end the string early on its way into C.
    if text.contains('\0') {
        return Err(JobError::bad_input(format!("{what} contains a NUL character")));
    }
    Ok(())
}

/// Encodes samples as the payload of a transcription request.
pub fn encode_samples(samples: &[f32]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// Decodes and checks the payload of a transcription request.
pub fn decode_samples(payload: &[u8]) -> Result<Vec<f32>, JobError> {
    if !payload.len().is_multiple_of(4) {
        return Err(JobError::bad_input(format!("audio payload of {} bytes is not a whole number of f32 samples", payload.len())));
    }
    let samples: Vec<f32> = payload.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    check_samples(&samples)?;
    Ok(samples)
}

/// The audio rules: 16 kHz mono between 0.1 s and 30 s, finite, normalised.
pub fn check_samples(samples: &[f32]) -> Result<(), JobError> {
    if samples.is_empty() {
        return Err(JobError::bad_input("no audio samples"));
    }
    if samples.len() < MIN_AUDIO_SAMPLES {
        return Err(JobError::bad_input(format!("{} samples is shorter than 0.1 s at 16 kHz", samples.len())));
    }
    if samples.len() > MAX_AUDIO_SAMPLES {
        return Err(JobError::bad_input(format!(
            "{} samples is {:.1} s at 16 kHz, longer than 30 s",
            samples.len(),
            samples.len() as f64 / f64::from(SAMPLE_RATE_HZ)
        )));
    }
    if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
        return Err(JobError::bad_input(format!("sample {i} is not a finite number")));
    }
    if let Some(i) = samples.iter().position(|s| s.abs() > MAX_ABS_SAMPLE) {
        return Err(JobError::bad_input(format!(
            "sample {i} is outside [-{MAX_ABS_SAMPLE}, {MAX_ABS_SAMPLE}]: audio must be normalised floats"
        )));
    }
    Ok(())
}

/// What a worker is: sent in answer to [`Request::Info`], and what an AI-log record cites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub kind: WorkerKind,
    pub protocol: u32,
    /// The inference library and its version, e.g. `whisper.cpp 1.8.3`.
    pub engine: String,
    /// The model file's name (no directory: paths are the machine's business).
    pub model: String,
    /// SHA-256 of the weights file, hex.
    pub model_sha256: String,
    /// The decoding parameters as canonical JSON (sorted keys, no spaces) ...
    pub decoding: String,
    /// ... and its SHA-256, hex: two runs with the same model and decoding hash decode alike.
    pub decoding_sha256: String,
    pub threads: u32,
    /// From process start until the model was ready, including hashing the weights.
    pub load_ms: u64,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub text: String,
    pub t0_ms: u64,
    pub t1_ms: u64,
    /// Mean natural-log probability of the segment's text tokens (timestamps and special tokens
    /// left out); closer to 0 is more confident.
    pub avg_logprob: f32,
    /// Whisper's probability that the window holds no speech.
    pub no_speech_prob: f32,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("text_chars", &self.text.chars().count())
            .field("t0_ms", &self.t0_ms)
            .field("t1_ms", &self.t1_ms)
            .field("avg_logprob", &self.avg_logprob)
            .field("no_speech_prob", &self.no_speech_prob)
            .finish()
    }
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The segments' texts joined, trimmed.
    pub text: String,
    pub segments: Vec<Segment>,
    /// The language decoded in: the forced one, or Whisper's detection (any Whisper code, so
    /// possibly one outside [`Language`], such as `sk` for Czech speech).
    pub language: String,
    pub task: AsrTask,
    pub audio_ms: u64,
    pub compute_ms: u64,
}

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcript")
            .field("text_chars", &self.text.chars().count())
            .field("segments", &self.segments)
            .field("language", &self.language)
            .field("task", &self.task)
            .field("audio_ms", &self.audio_ms)
            .field("compute_ms", &self.compute_ms)
            .finish()
    }
}

/// Why the translation model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// End of turn: the normal end.
    EndOfTurn,
    /// The token budget for this input ran out: the text may be cut short.
    MaxTokens,
    /// The output started repeating itself and was cut after the first repetition.
    Repetition,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    pub text: String,
    pub prompt_tokens: u32,
    pub generated_tokens: u32,
    pub stop: StopReason,
    pub compute_ms: u64,
}

impl fmt::Debug for Translation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Translation")
            .field("text_chars", &self.text.chars().count())
            .field("prompt_tokens", &self.prompt_tokens)
            .field("generated_tokens", &self.generated_tokens)
            .field("stop", &self.stop)
            .field("compute_ms", &self.compute_ms)
            .finish()
    }
}

/// A job that did not produce a result, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobError {
    /// The request breaks a rule; sending it again will not help.
    #[error("bad input: {reason}")]
    BadInput { reason: String },
    /// The worker is running another job.
    #[error("worker busy")]
    Busy,
    /// The worker failed on a valid request (a model error, a caught panic).
    #[error("worker internal error: {reason}")]
    Internal { reason: String },
}

impl JobError {
    pub fn bad_input(reason: impl Into<String>) -> Self {
        JobError::BadInput { reason: reason.into() }
    }
    pub fn internal(reason: impl Into<String>) -> Self {
        JobError::Internal { reason: reason.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Info(Info),
    Transcript(Transcript),
    Translation(Translation),
    Error { error: JobError },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyEnvelope {
    pub id: Option<u64>,
    pub reply: Reply,
}

/// Parses a request header. A header that is not a valid request is answered with `BadInput`
/// and, where the id can still be read, that id.
pub fn parse_request(header: &[u8]) -> Result<RequestEnvelope, (Option<u64>, JobError)> {
    serde_json::from_slice::<RequestEnvelope>(header).map_err(|e| {
        #[derive(Deserialize)]
        struct IdOnly {
            id: Option<u64>,
        }
        let id = serde_json::from_slice::<IdOnly>(header).ok().and_then(|h| h.id);
        (id, JobError::bad_input(format!("bad request header: {e}")))
    })
}

/// JSON with object keys sorted and no insignificant whitespace, so that equal parameters always
/// give the same bytes and the same hash whatever order they were written in.
pub fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let fields: Vec<String> =
                entries.into_iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Canonical JSON of a parameter set and its SHA-256 (hex), for [`Info::decoding`] and
/// [`Info::decoding_sha256`].
pub fn decoding_fingerprint(params: &serde_json::Value) -> (String, String) {
    let canonical = canonical_json(params);
    let hash = sha256_hex(canonical.as_bytes());
    (canonical, hash)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_json_shape() {
        let env =
            RequestEnvelope { id: 7, request: Request::Transcribe { language: Some(Language::Cs), task: AsrTask::TranslateToEnglish } };
        let text = serde_json::to_string(&env).expect("serialises");
        assert_eq!(text, r#"{"id":7,"request":{"op":"transcribe","language":"cs","task":"translate_to_english"}}"#);
        assert_eq!(parse_request(text.as_bytes()).expect("parses"), env);
    }

    #[test]
    fn bad_json_is_bad_input_with_the_id_when_readable() {
        let (id, err) = parse_request(b"{not json").expect_err("bad json");
        assert_eq!(id, None);
        assert!(matches!(err, JobError::BadInput { .. }));

        let (id, err) =
            parse_request(br#"{"id":5,"request":{"op":"transcribe","language":"de","task":"transcribe"}}"#).expect_err("unknown language");
        assert_eq!(id, Some(5));
        let JobError::BadInput { reason } = err else { panic!("expected BadInput") };
        assert!(reason.contains("unknown variant `de`"), "{reason}");

        let (id, _) = parse_request(br#"{"id":6,"request":{"op":"dance"}}"#).expect_err("unknown op");
        assert_eq!(id, Some(6));
        let (id, _) = parse_request(br#"[1,2,3]"#).expect_err("not an object");
        assert_eq!(id, None);
    }

    #[test]
    fn reply_round_trip() {
        for reply in [
            Reply::Error { error: JobError::Busy },
            Reply::Error { error: JobError::bad_input("x") },
            Reply::Translation(Translation {
                text: "Hi".into(),
                prompt_tokens: 3,
                generated_tokens: 1,
                stop: StopReason::EndOfTurn,
                compute_ms: 9,
            }),
        ] {
            let env = ReplyEnvelope { id: Some(1), reply };
            let text = serde_json::to_vec(&env).expect("serialises");
            assert_eq!(serde_json::from_slice::<ReplyEnvelope>(&text).expect("parses"), env);
        }
    }

    #[test]
    fn languages_parse_and_unknown_ones_do_not() {
        for l in Language::ALL {
            assert_eq!(l.code().parse::<Language>(), Ok(l));
        }
        assert_eq!("de".parse::<Language>(), Err(UnknownLanguage("de".into())));
        assert!("CS".parse::<Language>().is_err());
    }

    #[test]
    fn sample_rules() {
        let ok = vec![0.1f32; SAMPLE_RATE_HZ as usize];
        assert_eq!(decode_samples(&encode_samples(&ok)), Ok(ok.clone()));
        let bad = |samples: &[f32]| matches!(check_samples(samples), Err(JobError::BadInput { .. }));
        assert!(bad(&[]));
        assert!(bad(&vec![0.0; MIN_AUDIO_SAMPLES - 1]));
        assert!(bad(&vec![0.0; MAX_AUDIO_SAMPLES + 1]));
        assert!(!bad(&vec![0.0; MAX_AUDIO_SAMPLES]));
        let mut nan = ok.clone();
        nan[100] = f32::NAN;
        assert!(bad(&nan));
        let mut inf = ok.clone();
        inf[5] = f32::INFINITY;
        assert!(bad(&inf));
        let mut loud = ok;
        loud[0] = 12_000.0;
        assert!(bad(&loud));
        assert!(matches!(decode_samples(&[0, 0, 0]), Err(JobError::BadInput { .. })));
    }

    #[test]
    fn translate_rules() {
        let ok =
            TranslateRequest { from: Language::Cs, to: Language::En, text: "Dobrý den.".into(), glossary: vec![], keep_verbatim: vec![] };
        assert_eq!(ok.validate(), Ok(()));
        let bad = |r: TranslateRequest| matches!(r.validate(), Err(JobError::BadInput { .. }));
        assert!(bad(TranslateRequest { text: "  \n".into(), ..ok.clone() }));
        assert!(bad(TranslateRequest { to: Language::Cs, ..ok.clone() }));
        assert!(bad(TranslateRequest { text: "a".repeat(MAX_TEXT_CHARS + 1), ..ok.clone() }));
        assert!(bad(TranslateRequest { text: "a\0b".into(), ..ok.clone() }));
        assert!(bad(TranslateRequest { glossary: vec![("pas".into(), String::new())], ..ok.clone() }));
        assert!(bad(TranslateRequest { keep_verbatim: vec![String::new()], ..ok.clone() }));
        assert!(bad(TranslateRequest { keep_verbatim: vec!["x".into(); MAX_VERBATIM_ITEMS + 1], ..ok }));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": "s"}});
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,{"c":3,"d":2}]},"b":1}"#);
        let (text, hash) = decoding_fingerprint(&a);
        assert_eq!(text, canonical_json(&a));
        assert_eq!(hash.len(), 64);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn debug_never_shows_text() {
        let r =
            TranslateRequest { from: Language::Cs, to: Language::En, text: "Jan Novák".into(), glossary: vec![], keep_verbatim: vec![] };
        assert!(!format!("{r:?}").contains("Novák"));
        let job = TranscribeJob { language: None, task: AsrTask::Transcribe, samples: vec![0.5; 3] };
        assert!(format!("{job:?}").contains("samples: 3"));
    }
}
