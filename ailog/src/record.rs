//! One log record: its kinds, its envelope fields, and its canonical bytes.
//!
//! A record is written once, as canonical JSON (see `canonical`), and those bytes are what is
//! stored, hashed and exported. Reading goes the other way: bytes → [`Record`] (strict: unknown
//! keys, floats, `null`, duplicate keys and any other spelling than the canonical one are
//! refused) → re-encoded bytes, which must equal the input.
//!
//! The envelope (origin, seq, prev, at, kind, session, segment, actor, model) is typed here. The
//! kind-specific `body` is a flat map of non-personal metadata (codes, counts, fixed-point
//! metrics, hashes, languages) that the interpreting feature defines per kind; anything personal
//! (what was said, what was shown, an officer's correction) goes into `texts`, sealed.
//!
//! `prev` is the leaf hash of the record before (zeros for seq 0). The Merkle tree alone proves
//! a record set against a checkpoint; `prev` additionally lets the verifier point at the record
//! where a local edit happened instead of "somewhere before checkpoint N".

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Deserialize;

use crate::canonical::{Canon, MAX_SAFE_INTEGER};
use crate::hash::Digest;
use crate::ids::{Component, FieldName, ModelName, Origin, Pseudonym, SegmentId, SessionId, Timestamp};
use crate::seal::{DataKeyId, SealedText};
use crate::Error;

/// The format version written in every record (`"v": 1`).
pub const FORMAT_VERSION: i64 = 1;

/// Longest string a `body` value may hold: bodies are metadata, not text.
pub const MAX_BODY_STRING: usize = 256;

macro_rules! record_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal),+ $(,)?) => {
        /// What a record records. The names are part of the log format: add kinds, never
        /// rename one (a verifier refuses kinds it does not know).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RecordKind { $($(#[$doc])* $variant),+ }

        impl RecordKind {
            pub const ALL: &'static [RecordKind] = &[$(RecordKind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(RecordKind::$variant => $name),+ }
            }

            pub fn parse(name: &str) -> Result<Self, Error> {
                match name { $($name => Ok(RecordKind::$variant),)+ _ => Err(Error::Invalid("record kind")) }
            }
        }
    };
}

record_kinds! {
    /// An interpreting session starts (AI-L01, L13: notice, languages, human interpreter offered).
    SessionStart => "session.start",
    /// The client acknowledged the AI-use notice in their language (AI-L13).
    NoticeAcknowledged => "notice.acknowledged",
    /// A transcription of one audio segment (AI-L02).
    AsrSegment => "asr.segment",
    /// A translation of one transcribed segment (AI-L03).
    MtSegment => "mt.segment",
    /// A segment was shown or spoken, committed before it was (AI-L04).
    OutputPresented => "output.presented",
    /// A pending segment was dropped without being shown (on stop; AI-L09).
    OutputDiscarded => "output.discarded",
    /// The officer accepted, corrected, rejected, replayed, marked uncertain… (AI-L08).
    OversightAction => "oversight.action",
    /// An anomaly the system noticed: language mismatch, low confidence, loop, latency (AI-L07).
    Anomaly => "anomaly",
    /// The session ended normally (AI-L01).
    SessionEnd => "session.end",
    /// The stop button: who, why, safe state reached (AI-L09).
    SessionStop => "session.stop",
    /// A session left open by a crash, closed on restart (AI-L01).
    SessionCrashRecovered => "session.crash_recovered",
    /// A model, threshold, glossary or voice changed (AI-L06).
    ConfigChange => "config.change",
    /// Interpreting suspended for an office or everywhere (AI-L10).
    SystemSuspend => "system.suspend",
    /// Interpreting resumed (AI-L10).
    SystemResume => "system.resume",
    /// The overseer role granted (AI-L11).
    RoleGrant => "role.grant",
    /// The overseer role revoked (AI-L11).
    RoleRevoke => "role.revoke",
    /// Someone read the AI log (AI-L18).
    LogAccess => "log.access",
    /// Someone exported part of the AI log (AI-L18).
    LogExport => "log.export",
    /// A session's data key was destroyed: its texts are unreadable from here on (AI-L19, L20).
    DataKeyErased => "data_key.erased",
    /// Records past retention had their data keys purged (AI-L19).
    RetentionPurge => "retention.purge",
    /// A legal hold was placed (AI-L19, Art. 73(6)).
    LegalHoldSet => "legal_hold.set",
    /// A legal hold was lifted.
    LegalHoldRelease => "legal_hold.release",
    /// A possible serious incident was flagged (Art. 73).
    IncidentFlag => "incident.flag",
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which envelope fields a kind must carry. Checked when a record is appended and again when it
/// is read back, so a log cannot hold, say, a transcription without its model identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    pub session: bool,
    pub segment: bool,
    pub actor: bool,
    pub model: bool,
    /// Names of sealed texts that must be present.
    pub texts: &'static [&'static str],
}

impl RecordKind {
    pub fn requirements(self) -> Requirements {
        use RecordKind::*;
        let session = matches!(
            self,
            SessionStart
                | NoticeAcknowledged
                | AsrSegment
                | MtSegment
                | OutputPresented
                | OutputDiscarded
                | OversightAction
                | SessionEnd
                | SessionStop
                | SessionCrashRecovered
                | DataKeyErased
        );
        let segment = matches!(self, AsrSegment | MtSegment | OutputPresented | OutputDiscarded | OversightAction);
        let actor = matches!(
            self,
            SessionStart
                | NoticeAcknowledged
                | OversightAction
                | SessionStop
                | ConfigChange
                | SystemSuspend
                | SystemResume
                | RoleGrant
                | RoleRevoke
                | LogAccess
                | LogExport
                | DataKeyErased
                | RetentionPurge
                | LegalHoldSet
                | LegalHoldRelease
        );
        let model = matches!(self, AsrSegment | MtSegment);
        let texts: &'static [&'static str] = if matches!(self, AsrSegment | MtSegment) { &["text"] } else { &[] };
        Requirements { session, segment, actor, model, texts }
    }
}

/// A person's role when acting in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonRole {
    Officer,
    Overseer,
    Supervisor,
    Administrator,
    Auditor,
    Client,
}

impl PersonRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonRole::Officer => "officer",
            PersonRole::Overseer => "overseer",
            PersonRole::Supervisor => "supervisor",
            PersonRole::Administrator => "administrator",
            PersonRole::Auditor => "auditor",
            PersonRole::Client => "client",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "officer" => PersonRole::Officer,
            "overseer" => PersonRole::Overseer,
            "supervisor" => PersonRole::Supervisor,
            "administrator" => PersonRole::Administrator,
            "auditor" => PersonRole::Auditor,
            "client" => PersonRole::Client,
            _ => return None,
        })
    }
}

/// Who did it: a person, by pseudonym, or a system component, by name.
/// Written `{"role":"officer","id":"<pseudonym>"}` or `{"role":"system","id":"<component>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    Person { role: PersonRole, id: Pseudonym },
    System { component: Component },
}

/// Which model produced an output: name, SHA-256 of the weights file, and SHA-256 of the
/// decoding configuration (beam size, temperatures, thresholds, glossary…: whatever bytes the
/// interpreting feature hashes, documented there). Every output carries it, so a change of either
/// shows in every later record (AI-L06).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelIdentity {
    pub name: ModelName,
    pub weights: Digest,
    pub decoding: Digest,
}

/// A value in a record's `body`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyValue {
    /// At most 256 bytes, no control characters: codes, languages, hashes, not text.
    Str(String),
    /// Within ±(2^53 − 1). Metrics are fixed-point: `lang_prob_ppm`, `avg_logprob_micro`.
    Int(i64),
    Bool(bool),
}

impl BodyValue {
    pub fn str(value: &str) -> Result<Self, Error> {
        if value.len() <= MAX_BODY_STRING && !value.chars().any(char::is_control) {
            Ok(BodyValue::Str(value.to_owned()))
        } else {
            Err(Error::Invalid("body string"))
        }
    }

    pub fn int(value: i64) -> Result<Self, Error> {
        if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&value) {
            Ok(BodyValue::Int(value))
        } else {
            Err(Error::Invalid("body integer"))
        }
    }
}

/// A record's kind-specific fields.
pub type Body = BTreeMap<FieldName, BodyValue>;

/// A record's sealed texts, by role (`text`, `edited_text`, `rendered_text`…).
pub type Texts = BTreeMap<FieldName, SealedText>;

/// One record, as written and as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub origin: Origin,
    /// Position in the log, from 0, gap-free: the RFC 9162 leaf index.
    pub seq: u64,
    /// Leaf hash of record `seq − 1`; zeros for seq 0.
    pub prev: Digest,
    pub at: Timestamp,
    pub kind: RecordKind,
    pub session: Option<SessionId>,
    pub segment: Option<SegmentId>,
    pub actor: Option<Actor>,
    pub model: Option<ModelIdentity>,
    pub body: Body,
    pub texts: Texts,
}

impl Record {
    /// Refuses a record that lacks a field its kind requires.
    pub fn check_requirements(&self) -> Result<(), Error> {
        let req = self.kind.requirements();
        let missing = |field| Err(Error::MissingField { kind: self.kind, field });
        if req.session && self.session.is_none() {
            return missing("session");
        }
        if req.segment && self.segment.is_none() {
            return missing("segment");
        }
        if req.actor && self.actor.is_none() {
            return missing("actor");
        }
        if req.model && self.model.is_none() {
            return missing("model");
        }
        if let Some(text) = req.texts.iter().find(|name| !self.texts.keys().any(|k| k.as_str() == **name)) {
            return missing(text);
        }
        if self.seq > MAX_SAFE_INTEGER as u64 {
            return Err(Error::Invalid("seq"));
        }
        Ok(())
    }

    /// The canonical bytes (see `canonical` for the rules).
    pub fn encode(&self) -> Vec<u8> {
        let s = |v: &str| Canon::Str(v.to_owned());
        let mut map = Canon::obj();
        map.insert("v".into(), Canon::Int(FORMAT_VERSION));
        map.insert("origin".into(), s(self.origin.as_str()));
        // `check_requirements` keeps seq within the safe range; saturate rather than wrap.
        map.insert("seq".into(), Canon::Int(i64::try_from(self.seq).unwrap_or(i64::MAX)));
        map.insert("prev".into(), s(&self.prev.to_hex()));
        map.insert("at".into(), s(&self.at.to_string()));
        map.insert("kind".into(), s(self.kind.as_str()));
        if let Some(session) = &self.session {
            map.insert("session".into(), s(session.as_str()));
        }
        if let Some(segment) = &self.segment {
            map.insert("segment".into(), s(segment.as_str()));
        }
        if let Some(actor) = &self.actor {
            let mut a = Canon::obj();
            let (role, id) = match actor {
                Actor::Person { role, id } => (role.as_str(), id.to_hex()),
                Actor::System { component } => ("system", component.as_str().to_owned()),
            };
            a.insert("role".into(), s(role));
            a.insert("id".into(), Canon::Str(id));
            map.insert("actor".into(), Canon::Obj(a));
        }
        if let Some(model) = &self.model {
            let mut m = Canon::obj();
            m.insert("name".into(), s(model.name.as_str()));
            m.insert("weights".into(), s(&model.weights.to_hex()));
            m.insert("decoding".into(), s(&model.decoding.to_hex()));
            map.insert("model".into(), Canon::Obj(m));
        }
        if !self.body.is_empty() {
            let body = self
                .body
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        BodyValue::Str(text) => s(text),
                        BodyValue::Int(n) => Canon::Int(*n),
                        BodyValue::Bool(b) => Canon::Bool(*b),
                    };
                    (k.as_str().to_owned(), value)
                })
                .collect();
            map.insert("body".into(), Canon::Obj(body));
        }
        if !self.texts.is_empty() {
            let texts = self
                .texts
                .iter()
                .map(|(k, t)| {
                    let mut o = Canon::obj();
                    o.insert("key".into(), s(&t.key.to_hex()));
                    o.insert("nonce".into(), Canon::Str(BASE64.encode(t.nonce)));
                    o.insert("ct".into(), Canon::Str(BASE64.encode(&t.ciphertext)));
                    o.insert("commit".into(), s(&t.commit.to_hex()));
                    (k.as_str().to_owned(), Canon::Obj(o))
                })
                .collect();
            map.insert("texts".into(), Canon::Obj(texts));
        }
        Canon::Obj(map).to_bytes()
    }

    /// Reads record bytes without insisting they are canonical (see [`Record::parse_canonical`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let wire: WireRecord = serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()))?;
        wire.into_record()
    }

    /// Reads record bytes and checks they are the one canonical spelling of that record.
    pub fn parse_canonical(bytes: &[u8]) -> Result<Self, Error> {
        let record = Self::decode(bytes)?;
        if record.encode() == bytes {
            Ok(record)
        } else {
            Err(Error::Decode("not in canonical form".into()))
        }
    }
}

// The wire structs: what serde reads, strictly, before the values are parsed into the types above.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRecord {
    v: i64,
    origin: String,
    seq: u64,
    prev: String,
    at: String,
    kind: String,
    session: Option<String>,
    segment: Option<String>,
    actor: Option<WireActor>,
    model: Option<WireModel>,
    body: Option<BTreeMap<String, serde_json::Value>>,
    texts: Option<BTreeMap<String, WireText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireActor {
    role: String,
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireModel {
    name: String,
    weights: String,
    decoding: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireText {
    key: String,
    nonce: String,
    ct: String,
    commit: String,
}

impl WireRecord {
    fn into_record(self) -> Result<Record, Error> {
        if self.v != FORMAT_VERSION {
            return Err(Error::Decode(format!("format version {}", self.v)));
        }
        let actor = match self.actor {
            None => None,
            Some(WireActor { role, id }) if role == "system" => Some(Actor::System { component: Component::parse(&id)? }),
            Some(WireActor { role, id }) => {
                let role = PersonRole::parse(&role).ok_or(Error::Invalid("actor role"))?;
                Some(Actor::Person { role, id: Pseudonym::parse(&id)? })
            }
        };
        let model = match self.model {
            None => None,
            Some(m) => Some(ModelIdentity {
                name: ModelName::parse(&m.name)?,
                weights: Digest::parse_hex(&m.weights)?,
                decoding: Digest::parse_hex(&m.decoding)?,
            }),
        };
        let mut body = Body::new();
        for (key, value) in self.body.unwrap_or_default() {
            let value = match value {
                serde_json::Value::String(s) => BodyValue::str(&s)?,
                serde_json::Value::Bool(b) => BodyValue::Bool(b),
                serde_json::Value::Number(n) => BodyValue::int(n.as_i64().ok_or(Error::Invalid("body integer"))?)?,
                _ => return Err(Error::Invalid("body value")),
            };
            body.insert(FieldName::parse(&key)?, value);
        }
        let mut texts = Texts::new();
        for (role, t) in self.texts.unwrap_or_default() {
            let nonce = BASE64.decode(&t.nonce).ok().and_then(|n| <[u8; 12]>::try_from(n).ok()).ok_or(Error::Invalid("nonce"))?;
            let sealed = SealedText {
                key: DataKeyId::parse(&t.key)?,
                nonce,
                ciphertext: BASE64.decode(&t.ct).map_err(|_| Error::Invalid("ciphertext"))?,
                commit: Digest::parse_hex(&t.commit)?,
            };
            texts.insert(FieldName::parse(&role)?, sealed);
        }
        let record = Record {
            origin: Origin::parse(&self.origin)?,
            seq: self.seq,
            prev: Digest::parse_hex(&self.prev)?,
            at: Timestamp::parse(&self.at)?,
            kind: RecordKind::parse(&self.kind)?,
            session: self.session.as_deref().map(SessionId::parse).transpose()?,
            segment: self.segment.as_deref().map(SegmentId::parse).transpose()?,
            actor,
            model,
            body,
            texts,
        };
        record.check_requirements()?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut body = Body::new();
        body.insert(FieldName::parse("lang").expect("name"), BodyValue::str("uk").expect("value"));
        body.insert(FieldName::parse("avg_logprob_micro").expect("name"), BodyValue::int(-312_000).expect("value"));
        body.insert(FieldName::parse("low_confidence").expect("name"), BodyValue::Bool(false));
        let mut texts = Texts::new();
        texts.insert(
            FieldName::parse("text").expect("name"),
            SealedText {
                key: DataKeyId::parse("0011223344556677").expect("id"),
                nonce: [7; 12],
                ciphertext: vec![1, 2, 3],
                commit: Digest::sha256(b"c"),
            },
        );
        Record {
            origin: Origin::parse("test.example/ai-log").expect("origin"),
            seq: 5,
            prev: Digest::sha256(b"prev"),
            at: Timestamp::parse("2026-11-23T09:41:07.412Z").expect("time"),
            kind: RecordKind::AsrSegment,
            session: Some(SessionId::parse("s1").expect("session")),
            segment: Some(SegmentId::parse("s1-0001").expect("segment")),
            actor: Some(Actor::System { component: Component::parse("asr-worker-1").expect("component") }),
            model: Some(ModelIdentity {
                name: ModelName::parse("whisper-small@ggml").expect("model"),
                weights: Digest::sha256(b"weights"),
                decoding: Digest::sha256(b"config"),
            }),
            body,
            texts,
        }
    }

    #[test]
    fn round_trips_canonically() {
        let record = sample();
        let bytes = record.encode();
        assert_eq!(Record::parse_canonical(&bytes).as_ref(), Ok(&record));
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(
            text.starts_with(
                r#"{"actor":{"id":"asr-worker-1","role":"system"},"at":"2026-11-23T09:41:07.412Z","body":{"avg_logprob_micro":-312000,"#
            ),
            "{text}"
        );
        assert!(text.ends_with(r#","v":1}"#), "{text}");
    }

    #[test]
    fn other_spellings_are_refused() {
        let text = String::from_utf8(sample().encode()).expect("utf-8");
        let variants = [
            text.replacen("{", "{ ", 1),
            text.replacen(r#""seq":5"#, r#""seq":5.0"#, 1),
            text.replacen(r#""seq":5"#, r#""seq":05"#, 1),
            text.replacen(r#""v":1}"#, r#""v":1,"extra":1}"#, 1),
            text.replacen(r#""kind":"asr.segment""#, r#""kind":"asr.segment","kind":"asr.segment""#, 1),
            text.replacen(r#""lang":"uk""#, r#""lang":"\u0075k""#, 1),
            text.replacen(r#""segment":"s1-0001","#, r#""segment":null,"#, 1),
        ];
        for variant in variants {
            assert_ne!(variant, text);
            assert!(Record::parse_canonical(variant.as_bytes()).is_err(), "{variant}");
        }
    }

    #[test]
    fn requirements_are_enforced_both_ways() {
        let mut record = sample();
        record.model = None;
        assert_eq!(record.check_requirements(), Err(Error::MissingField { kind: RecordKind::AsrSegment, field: "model" }));
        assert!(Record::decode(&record.encode()).is_err());
        let mut record = sample();
        record.texts.clear();
        assert_eq!(record.check_requirements(), Err(Error::MissingField { kind: RecordKind::AsrSegment, field: "text" }));
    }

    #[test]
    fn kinds_round_trip() {
        for kind in RecordKind::ALL {
            assert_eq!(RecordKind::parse(kind.as_str()), Ok(*kind));
        }
        assert!(RecordKind::parse("asr.Segment").is_err());
    }
}
