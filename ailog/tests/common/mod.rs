//! A realistic log for the tests: interpreting sessions (start, notice, segments transcribed,
//! translated, presented and accepted or corrected, end), checkpointed like the store will
//! (every 64 records while it grows, standing in for "every 60 s", and at every session end),
//! each checkpoint written to the database's lines and to the witness file.

#![allow(dead_code)]

use std::collections::BTreeMap;

use prepazka_ailog::{
    witness_line, Actor, Appender, BodyValue, Component, DataKey, Digest, FieldName, KeyName, LogSigner, ModelIdentity, ModelName, Origin,
    PersonRole, PseudonymKey, RecordDraft, RecordKind, SegmentId, SessionId, StoredRecord, Timestamp, TrustedKeys, VerifyFailure,
    VerifyReport,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

pub const CHECKPOINT_EVERY: u64 = 64;

pub struct Fixture {
    pub origin: Origin,
    pub signer: LogSigner,
    pub keys: TrustedKeys,
    pub appender: Appender,
    pub rows: Vec<StoredRecord>,
    pub db_checkpoints: Vec<String>,
    pub witness: Vec<u8>,
    pub checkpoint_sizes: Vec<u64>,
    pub data_keys: BTreeMap<SessionId, DataKey>,
    pub rng: StdRng,
    last_checkpoint: u64,
    clock_ms: i64,
}

pub fn name(s: &str) -> FieldName {
    FieldName::parse(s).expect("field name")
}

fn model(name: &str) -> ModelIdentity {
    ModelIdentity {
        name: ModelName::parse(name).expect("model name"),
        weights: Digest::sha256(name.as_bytes()),
        decoding: Digest::sha256(b"beam_size=5 temperature=0 no_speech_threshold=0.6"),
    }
}

impl Fixture {
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let origin = Origin::parse("test.prepazka.example/ai-log/v1").expect("origin");
        let signer = LogSigner::generate(KeyName::parse("prepazka-test-2026a").expect("key name"), &mut rng);
        let keys = TrustedKeys::new(vec![signer.verifier()]);
        Self {
            appender: Appender::new(origin.clone()),
            origin,
            signer,
            keys,
            rows: Vec::new(),
            db_checkpoints: Vec::new(),
            witness: Vec::new(),
            checkpoint_sizes: Vec::new(),
            data_keys: BTreeMap::new(),
            rng,
            last_checkpoint: 0,
            clock_ms: 1_795_420_800_000, // 2026-11-23T08:00:00Z
        }
    }

    /// A log of about `records` records (whole sessions, so a little more).
    pub fn with_records(seed: u64, records: usize) -> Self {
        let mut f = Self::new(seed);
        let mut s = 0;
        while f.rows.len() < records {
            f.session(s, 3 + s % 5);
            s += 1;
        }
        f
    }

    pub fn now(&mut self) -> Timestamp {
        self.clock_ms += 250;
        Timestamp::from_millis(self.clock_ms).expect("time")
    }

    pub fn append(&mut self, draft: RecordDraft) {
        let appended = self.appender.append(draft).expect("append");
        self.rows.push(appended.to_stored());
        if self.appender.size() - self.last_checkpoint >= CHECKPOINT_EVERY {
            self.checkpoint();
        }
    }

    pub fn checkpoint(&mut self) {
        if self.appender.size() == self.last_checkpoint && !self.checkpoint_sizes.is_empty() {
            return;
        }
        let at = self.now();
        let cp = self.appender.checkpoint(at, &self.signer);
        self.db_checkpoints.push(cp.to_line());
        self.witness.extend_from_slice(witness_line(&cp).as_bytes());
        self.last_checkpoint = self.appender.size();
        self.checkpoint_sizes.push(self.last_checkpoint);
    }

    /// One interpreting session of `segments` segments, checkpointed at its end.
    pub fn session(&mut self, index: usize, segments: usize) -> SessionId {
        let session = SessionId::parse(&format!("s-{index:05}")).expect("session id");
        let key = DataKey::generate(&mut self.rng);
        self.data_keys.insert(session.clone(), key.clone());
        let pseudonyms = PseudonymKey::from_bytes([7; 32]);
        let officer = Actor::Person { role: PersonRole::Officer, id: pseudonyms.pseudonym(&format!("officer-{}", index % 7)) };
        let client = Actor::Person { role: PersonRole::Client, id: pseudonyms.pseudonym(&format!("client-{index}")) };
        let asr = Actor::System { component: Component::parse("asr-worker-1").expect("component") };

        let mut start = RecordDraft::new(RecordKind::SessionStart, self.now());
        start.session = Some(session.clone());
        start.actor = Some(officer.clone());
        start.body.insert(name("source_lang"), BodyValue::str("uk").expect("value"));
        start.body.insert(name("target_lang"), BodyValue::str("cs").expect("value"));
        start.body.insert(name("human_interpreter_offered"), BodyValue::Bool(true));
        self.append(start);

        let mut notice = RecordDraft::new(RecordKind::NoticeAcknowledged, self.now());
        notice.session = Some(session.clone());
        notice.actor = Some(client);
        notice.body.insert(name("notice_id"), BodyValue::str("ai-notice").expect("value"));
        notice.body.insert(name("notice_version"), BodyValue::int(3).expect("value"));
        notice.body.insert(name("notice_lang"), BodyValue::str("uk").expect("value"));
        self.append(notice);

        for n in 0..segments {
            let segment = SegmentId::parse(&format!("{session}-{n:04}")).expect("segment id");
            let said = format!("Segment {n}: Добрий день, я прийшов продовжити дозвіл на проживання.");
            let mut asr_record = RecordDraft::new(RecordKind::AsrSegment, self.now());
            asr_record.session = Some(session.clone());
            asr_record.segment = Some(segment.clone());
            asr_record.actor = Some(asr.clone());
            asr_record.model = Some(model("whisper-large-v3-turbo@ggml-q5_0"));
            asr_record.body.insert(name("audio_t0_ms"), BodyValue::int(n as i64 * 4000).expect("value"));
            asr_record.body.insert(name("audio_t1_ms"), BodyValue::int(n as i64 * 4000 + 3500).expect("value"));
            asr_record.body.insert(name("lang_prob_ppm"), BodyValue::int(981_000).expect("value"));
            asr_record.body.insert(name("avg_logprob_micro"), BodyValue::int(-231_000).expect("value"));
            asr_record.texts.insert(name("text"), key.seal(&session, &name("text"), &said, &mut self.rng));
            self.append(asr_record);

            let translated = format!("Segment {n}: Dobrý den, přišel jsem si prodloužit povolení k pobytu.");
            let mut mt = RecordDraft::new(RecordKind::MtSegment, self.now());
            mt.session = Some(session.clone());
            mt.segment = Some(segment.clone());
            mt.model = Some(model("opus-mt-uk-cs@ct2"));
            mt.texts.insert(name("text"), key.seal(&session, &name("text"), &translated, &mut self.rng));
            self.append(mt);

            let mut shown = RecordDraft::new(RecordKind::OutputPresented, self.now());
            shown.session = Some(session.clone());
            shown.segment = Some(segment.clone());
            shown.body.insert(name("channel"), BodyValue::str("officer_screen").expect("value"));
            shown.body.insert(name("ai_label_shown"), BodyValue::Bool(true));
            self.append(shown);

            let mut action = RecordDraft::new(RecordKind::OversightAction, self.now());
            action.session = Some(session.clone());
            action.segment = Some(segment);
            action.actor = Some(officer.clone());
            if n % 3 == 2 {
                action.body.insert(name("action"), BodyValue::str("edit").expect("value"));
                let edited = format!("Segment {n}: Dobrý den, jdu si prodloužit povolení k pobytu.");
                action.texts.insert(name("edited_text"), key.seal(&session, &name("edited_text"), &edited, &mut self.rng));
            } else {
                action.body.insert(name("action"), BodyValue::str("accept").expect("value"));
            }
            self.append(action);
        }

        let mut end = RecordDraft::new(RecordKind::SessionEnd, self.now());
        end.session = Some(session.clone());
        end.body.insert(name("segments"), BodyValue::int(segments as i64).expect("value"));
        self.append(end);
        self.checkpoint();
        session
    }

    pub fn verify(&self) -> Result<VerifyReport, VerifyFailure> {
        prepazka_ailog::verify(&self.origin, &self.keys, &self.rows, &self.db_checkpoints, Some(&self.witness))
    }

    pub fn verify_rows(&self, rows: &[StoredRecord]) -> Result<VerifyReport, VerifyFailure> {
        prepazka_ailog::verify(&self.origin, &self.keys, rows, &self.db_checkpoints, Some(&self.witness))
    }

    pub fn leaves(&self) -> Vec<Digest> {
        self.rows.iter().map(|r| Digest::from_slice(&r.leaf_hash).expect("intact leaf")).collect()
    }
}
