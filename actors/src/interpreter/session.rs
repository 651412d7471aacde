//! One interpreting session at a counter: the `InterpreterActor`, sole owner of the session's
//! phase, its audio segmenters, its queue of utterances and the segments shown so far.
//!
//! The order of things, per utterance: recognise → log the transcription → prepared phrase or
//! machine translation → checks → log the translation → (actor) log the presentation → show on
//! both screens. Nothing reaches a screen before the record that describes it is committed; if
//! the log cannot be written the session halts and shows no further AI output.
//!
//! Stop: the actor flips its phase inside the `Stop` handler (so it takes effect before any
//! later message) and raises the pipeline's cancel flag. A pipeline still running finishes its
//! model call, sees the flag and records what it drops (`output.discarded`); a result that was
//! being logged as presented when the stop came is discarded too, never shown. Model calls are
//! not cancelled mid-job on purpose: the worker answers one job at a time, and a dropped call
//! would leave its answer for the next caller.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use prepazka_ailog::{
    Actor as LogActor, Body, BodyValue, DataKey, FieldName, ModelIdentity, ModelName, PersonRole, RecordDraft, RecordKind, SegmentId,
    SessionId, Texts,
};
use serde::Serialize;
use tokio::sync::broadcast;

use super::ai_log::{AiLog, AiLogError};
use super::engine::{EngineError, ModelInfo, Recogniser, Translator};
use super::rules::{self, Lang};
use super::vad::Segmenter;

/// Who speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Officer,
    Client,
}

impl Side {
    pub fn parse(raw: &str) -> Option<Side> {
        match raw {
            "officer" => Some(Side::Officer),
            "client" => Some(Side::Client),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Officer => "officer",
            Side::Client => "client",
        }
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for the client to acknowledge the AI notice: no audio is processed.
    AwaitingNotice,
    Active,
    /// The officer asked for a human interpreter: AI output is paused for good.
    HumanInterpreter,
    /// The officer stopped the AI.
    Stopped,
    Ended,
    /// Something made showing output unsafe (the log could not be written, bad audio): halted.
    Halted,
}

impl Phase {
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Stopped | Phase::Ended | Phase::Halted | Phase::HumanInterpreter)
    }
}

/// How a translation came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Machine translation (label shown on both screens).
    Machine,
    /// A prepared translation from the phrasebook, reviewed state shown.
    Prepared,
    /// No translation (not served, or withheld): the transcript only.
    None,
}

/// The officer's verdict on a segment so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    Pending,
    Accepted,
    Corrected,
    Rejected,
}

/// Per-stage time of one segment, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub recognition: u64,
    pub translation: u64,
    pub checks: u64,
    pub log: u64,
    /// From the end of the utterance to the moment it was handed to the screens.
    pub total: u64,
}

/// One utterance and its translation as the screens show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentView {
    pub id: u32,
    pub side: Side,
    pub from: &'static str,
    pub to: &'static str,
    pub transcript: String,
    pub translation: Option<String>,
    pub label: Label,
    /// Low confidence or a failed check: marked on both screens.
    pub uncertain: bool,
    /// Reason codes (localised by the pages).
    pub reasons: Vec<String>,
    /// The machine translation translated back: for the officer only.
    pub back_translation: Option<String>,
    /// chrF of the back-translation against the transcript, 0–100.
    pub back_chrf: Option<f32>,
    /// Whisper's own speech → English translation, where the target is English: for the officer.
    pub second_opinion: Option<String>,
    /// Why a translation is not shown (wrong language or script, direction not served).
    pub withheld: Option<String>,
    pub phrase: Option<String>,
    pub review: Review,
    pub correction: Option<String>,
    pub timings: Timings,
}

impl SegmentView {
    /// What the client's screen may see: no back-translation, no internal scores.
    pub fn for_client(&self) -> SegmentView {
        SegmentView { back_translation: None, back_chrf: None, second_opinion: None, ..self.clone() }
    }
}

/// What both screens receive, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScreenEvent {
    Phase {
        phase: Phase,
        reason: Option<String>,
    },
    Segment {
        segment: Box<SegmentView>,
    },
    /// A stage started or a worker is busy: shown as a spinner with the stage's name.
    Working {
        side: Side,
        stage: &'static str,
    },
    /// An utterance produced nothing usable ("please repeat").
    Notice {
        side: Side,
        code: String,
    },
}

/// What a (re)connecting screen needs to draw itself.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub session: String,
    pub office: String,
    pub client_language: &'static str,
    pub phase: Phase,
    pub reason: Option<String>,
    pub segments: Vec<SegmentView>,
}

/// Fixed facts of a session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: SessionId,
    pub office: String,
    pub officer: String,
    pub client_language: Lang,
}

/// What the pipeline needs, shared with its futures.
pub struct Engines {
    pub log: AiLog,
    pub recogniser: Arc<dyn Recogniser>,
    pub translator: Arc<dyn Translator>,
}

struct Utterance {
    side: Side,
    samples: Vec<f32>,
    ended: Instant,
}

pub struct InterpreterActor {
    info: SessionInfo,
    engines: Arc<Engines>,
    key: Arc<DataKey>,
    phase: Phase,
    reason: Option<String>,
    segmenters: [Segmenter; 2],
    queue: VecDeque<Utterance>,
    working: bool,
    cancel: Arc<AtomicBool>,
    next_segment: u32,
    segments: Vec<SegmentView>,
    events: broadcast::Sender<Arc<ScreenEvent>>,
}

/// Most utterances waiting for the models; beyond it the oldest is dropped ("please repeat").
const MAX_QUEUED: usize = 4;
/// How long to keep retrying a busy worker before giving up on the utterance.
const BUSY_PATIENCE: Duration = Duration::from_secs(20);

impl InterpreterActor {
    pub fn new(info: SessionInfo, engines: Arc<Engines>, key: DataKey, events: broadcast::Sender<Arc<ScreenEvent>>) -> Self {
        Self {
            info,
            engines,
            key: Arc::new(key),
            phase: Phase::AwaitingNotice,
            reason: None,
            segmenters: [Segmenter::default(), Segmenter::default()],
            queue: VecDeque::new(),
            working: false,
            cancel: Arc::new(AtomicBool::new(false)),
            next_segment: 1,
            segments: Vec::new(),
            events,
        }
    }

    fn publish(&self, event: ScreenEvent) {
        let _ = self.events.send(Arc::new(event));
    }

    fn set_phase(&mut self, phase: Phase, reason: Option<&str>) {
        self.phase = phase;
        self.reason = reason.map(str::to_owned);
        if phase.is_final() {
            self.cancel.store(true, Ordering::SeqCst);
            self.queue.clear();
        }
        self.publish(ScreenEvent::Phase { phase, reason: self.reason.clone() });
    }

    fn halt(&mut self, reason: &str) {
        tracing::error!(session = %self.info.id.as_str(), reason, "interpreting session halted");
        self.set_phase(Phase::Halted, Some(reason));
    }

    fn segmenter(&mut self, side: Side) -> &mut Segmenter {
        &mut self.segmenters[side as usize]
    }

    fn enqueue(&mut self, side: Side, samples: Vec<f32>, ctx: &mut Context<Self>) {
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
            self.publish(ScreenEvent::Notice { side, code: "interpret-dropped".into() });
        }
        self.queue.push_back(Utterance { side, samples, ended: Instant::now() });
        self.start_next(ctx);
    }

    fn start_next(&mut self, ctx: &mut Context<Self>) {
        if self.working || self.phase != Phase::Active {
            return;
        }
        let Some(utterance) = self.queue.pop_front() else { return };
        self.working = true;
        let id = self.next_segment;
        self.next_segment += 1;
        let job = Job {
            engines: self.engines.clone(),
            key: self.key.clone(),
            info: self.info.clone(),
            cancel: self.cancel.clone(),
            events: self.events.clone(),
            id,
        };
        ctx.spawn(job.run(utterance).into_actor(self).map(|outcome, act, ctx| act.pipeline_done(outcome, ctx)));
    }

    fn pipeline_done(&mut self, outcome: Outcome, ctx: &mut Context<Self>) {
        match outcome {
            Outcome::Ready(view) => {
                if self.phase != Phase::Active {
                    self.discard(view.id, ctx);
                    self.working = false;
                    return;
                }
                let presented = self.presentation_draft(&view, "shown");
                let log = self.engines.log.clone();
                let started = Instant::now();
                ctx.spawn(async move { log.append(vec![presented?], None).await.map(|_| ()) }.into_actor(self).map(
                    move |result: Result<(), AiLogError>, act, ctx| {
                        act.working = false;
                        match result {
                            Ok(()) if act.phase == Phase::Active => {
                                let mut view = view;
                                view.timings.log += started.elapsed().as_millis() as u64;
                                view.timings.total += started.elapsed().as_millis() as u64;
                                act.segments.push((*view).clone());
                                act.publish(ScreenEvent::Segment { segment: view });
                                act.start_next(ctx);
                            }
                            // Stopped while the presentation was being committed: not shown.
                            Ok(()) => act.discard(view.id, ctx),
                            Err(_) => act.halt("log_unavailable"),
                        }
                    },
                ));
            }
            Outcome::Nothing { side, code } => {
                self.working = false;
                if self.phase == Phase::Active {
                    self.publish(ScreenEvent::Notice { side, code });
                }
                self.start_next(ctx);
            }
            Outcome::Discarded => {
                self.working = false;
            }
            Outcome::LogFailed => {
                self.working = false;
                self.halt("log_unavailable");
            }
        }
    }

    fn discard(&mut self, segment: u32, ctx: &mut Context<Self>) {
        let draft = self.segment_draft(RecordKind::OutputDiscarded, segment, None);
        let log = self.engines.log.clone();
        ctx.spawn(async move { log.append(vec![draft?], None).await.map(|_| ()) }.into_actor(self).map(|result, act, _| {
            if result.is_err() && act.phase != Phase::Halted {
                act.halt("log_unavailable");
            }
        }));
    }

    fn segment_draft(&self, kind: RecordKind, segment: u32, actor: Option<LogActor>) -> Result<RecordDraft, AiLogError> {
        let mut draft = RecordDraft::new(kind, self.engines.log.now());
        draft.session = Some(self.info.id.clone());
        draft.segment = Some(SegmentId::parse(&format!("s{segment}"))?);
        draft.actor = actor;
        Ok(draft)
    }

    fn presentation_draft(&self, view: &SegmentView, what: &str) -> Result<RecordDraft, AiLogError> {
        let mut draft = self.segment_draft(RecordKind::OutputPresented, view.id, None)?;
        put(&mut draft.body, "screens", "officer,client")?;
        put(&mut draft.body, "what", what)?;
        put(&mut draft.body, "label", label_code(view.label))?;
        draft.body.insert(field("uncertain")?, BodyValue::Bool(view.uncertain));
        draft.body.insert(field("translation_shown")?, BodyValue::Bool(view.translation.is_some()));
        Ok(draft)
    }

    fn officer_actor(&self, username: &str) -> LogActor {
        LogActor::Person { role: PersonRole::Officer, id: self.engines.log.pseudonym(username) }
    }

    fn client_actor(&self) -> LogActor {
        LogActor::Person { role: PersonRole::Client, id: self.engines.log.pseudonym(&format!("{}:client", self.info.id.as_str())) }
    }

    fn snapshot(&self, side: Side) -> Snapshot {
        Snapshot {
            session: self.info.id.as_str().to_owned(),
            office: self.info.office.clone(),
            client_language: self.info.client_language.code(),
            phase: self.phase,
            reason: self.reason.clone(),
            segments: match side {
                Side::Officer => self.segments.clone(),
                Side::Client => self.segments.iter().map(SegmentView::for_client).collect(),
            },
        }
    }
}

fn field(name: &str) -> Result<FieldName, AiLogError> {
    Ok(FieldName::parse(name)?)
}

fn put(body: &mut Body, name: &str, value: &str) -> Result<(), AiLogError> {
    body.insert(field(name)?, BodyValue::str(value)?);
    Ok(())
}

fn put_int(body: &mut Body, name: &str, value: i64) -> Result<(), AiLogError> {
    body.insert(field(name)?, BodyValue::int(value)?);
    Ok(())
}

fn label_code(label: Label) -> &'static str {
    match label {
        Label::Machine => "machine",
        Label::Prepared => "prepared",
        Label::None => "none",
    }
}

pub(crate) fn identity(info: &ModelInfo) -> Result<ModelIdentity, AiLogError> {
    Ok(ModelIdentity {
        name: ModelName::parse(&info.name)?,
        weights: prepazka_ailog::Digest::parse_hex(&info.weights_sha256)?,
        decoding: prepazka_ailog::Digest::parse_hex(&info.decoding_sha256)?,
    })
}

impl Actor for InterpreterActor {
    type Context = Context<Self>;
}

enum Outcome {
    Ready(Box<SegmentView>),
    Nothing { side: Side, code: String },
    Discarded,
    LogFailed,
}

/// One utterance's way through the models, run outside the actor so that the actor keeps
/// answering (stop, oversight) while a model works.
struct Job {
    engines: Arc<Engines>,
    key: Arc<DataKey>,
    info: SessionInfo,
    cancel: Arc<AtomicBool>,
    events: broadcast::Sender<Arc<ScreenEvent>>,
    id: u32,
}

impl Job {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn working(&self, side: Side, stage: &'static str) {
        if !self.cancelled() {
            let _ = self.events.send(Arc::new(ScreenEvent::Working { side, stage }));
        }
    }

    fn seal(&self, texts: &mut Texts, name: &str, text: &str) -> Result<(), AiLogError> {
        let name = field(name)?;
        let sealed = self.key.seal(&self.info.id, &name, text, &mut rand::rngs::OsRng);
        texts.insert(name, sealed);
        Ok(())
    }

    fn draft(&self, kind: RecordKind) -> Result<RecordDraft, AiLogError> {
        let mut draft = RecordDraft::new(kind, self.engines.log.now());
        draft.session = Some(self.info.id.clone());
        draft.segment = Some(SegmentId::parse(&format!("s{}", self.id))?);
        Ok(draft)
    }

    async fn discard(&self) -> Outcome {
        let Ok(draft) = self.draft(RecordKind::OutputDiscarded) else { return Outcome::LogFailed };
        match self.engines.log.append(vec![draft], None).await {
            Ok(_) => Outcome::Discarded,
            Err(_) => Outcome::LogFailed,
        }
    }

    async fn run(self, utterance: Utterance) -> Outcome {
        let side = utterance.side;
        let (from, to) = match side {
            Side::Officer => (Lang::Cs, self.info.client_language),
            Side::Client => (self.info.client_language, Lang::Cs),
        };
        let audio_ms = (utterance.samples.len() * 1000 / super::vad::SAMPLE_RATE) as i64;
        self.working(side, "recognising");
        let recognised = {
            let recogniser = self.engines.recogniser.clone();
            let samples = utterance.samples.clone();
            patiently(|| {
                let recogniser = recogniser.clone();
                let samples = samples.clone();
                async move { recogniser.transcribe(from.code(), samples, false).await }
            })
            .await
        };
        let transcript = match recognised {
            Ok(transcript) => transcript,
            Err(err) => return self.engine_failed(side, "asr", &err).await,
        };
        let text = transcript.text.trim().to_owned();
        let confidence = rules::confidence(&text, transcript.avg_logprob, transcript.no_speech_prob);
        if text.is_empty() || confidence == rules::Confidence::NoSpeech {
            return Outcome::Nothing { side, code: "interpret-no-speech".into() };
        }
        let mut timings = Timings { recognition: transcript.compute_ms, ..Timings::default() };

        let log_started = Instant::now();
        let asr = (|| {
            let mut draft = self.draft(RecordKind::AsrSegment)?;
            draft.model = Some(identity(&self.engines.recogniser.model())?);
            put(&mut draft.body, "side", side.as_str())?;
            put(&mut draft.body, "language", from.code())?;
            put_int(&mut draft.body, "audio_ms", audio_ms)?;
            put_int(&mut draft.body, "avg_logprob_micro", (f64::from(transcript.avg_logprob) * 1e6) as i64)?;
            put_int(&mut draft.body, "no_speech_ppm", (f64::from(transcript.no_speech_prob) * 1e6) as i64)?;
            put_int(&mut draft.body, "compute_ms", transcript.compute_ms as i64)?;
            self.seal(&mut draft.texts, "text", &text)?;
            Ok::<_, AiLogError>(draft)
        })();
        let Ok(asr) = asr else { return Outcome::LogFailed };
        if self.engines.log.append(vec![asr], None).await.is_err() {
            return Outcome::LogFailed;
        }
        timings.log += log_started.elapsed().as_millis() as u64;
        if self.cancelled() {
            return self.discard().await;
        }

        let mut view = SegmentView {
            id: self.id,
            side,
            from: from.code(),
            to: to.code(),
            transcript: text.clone(),
            translation: None,
            label: Label::None,
            uncertain: confidence == rules::Confidence::Low,
            reasons: if confidence == rules::Confidence::Low { vec!["low_confidence".into()] } else { Vec::new() },
            back_translation: None,
            back_chrf: None,
            second_opinion: None,
            withheld: None,
            phrase: None,
            review: Review::Pending,
            correction: None,
            timings,
        };

        // A prepared translation beats the model whenever the sentence is in the phrasebook.
        let translated = if let Some(hit) = rules::phrase(&text, from, to) {
            view.translation = Some(hit.translation.clone());
            view.label = Label::Prepared;
            view.phrase = Some(hit.id.clone());
            let mut draft = match self.draft(RecordKind::MtSegment) {
                Ok(draft) => draft,
                Err(_) => return Outcome::LogFailed,
            };
            let filled = (|| {
                draft.model = Some(identity(&rules::phrasebook_model())?);
                put(&mut draft.body, "source", "phrasebook")?;
                put(&mut draft.body, "phrase", &hit.id)?;
                put(&mut draft.body, "review", &hit.review)?;
                put_int(&mut draft.body, "match_permille", (hit.score * 10.0) as i64)?;
                put(&mut draft.body, "to", to.code())?;
                self.seal(&mut draft.texts, "text", &hit.translation)?;
                Ok::<_, AiLogError>(())
            })();
            if filled.is_err() {
                return Outcome::LogFailed;
            }
            Some(draft)
        } else if !rules::served(from, to) {
            view.withheld = Some("direction_not_served".into());
            None
        } else {
            self.working(side, "translating");
            let hints = rules::hints(&text, from, to);
            let translator = self.engines.translator.clone();
            let started = Instant::now();
            let forward = patiently(|| {
                let translator = translator.clone();
                let (text, hints) = (text.clone(), hints.clone());
                async move { translator.translate(from.code(), to.code(), &text, &hints).await }
            })
            .await;
            let forward = match forward {
                Ok(forward) => forward,
                Err(err) => return self.engine_failed(side, "mt", &err).await,
            };
            view.timings.translation = started.elapsed().as_millis() as u64;
            if self.cancelled() {
                return self.discard().await;
            }
            self.working(side, "checking");
            let checks_started = Instant::now();
            // The back-translation is itself a model call: it only runs when the forward text
            // passed the language check, since a withheld text is never shown anyway.
            let first = rules::check(&text, &forward.text, from, to, None);
            let back = if first.withheld.is_none() {
                let back_hints = rules::hints(&forward.text, to, from);
                patiently(|| {
                    let translator = translator.clone();
                    let (out, hints) = (forward.text.clone(), back_hints.clone());
                    async move { translator.translate(to.code(), from.code(), &out, &hints).await }
                })
                .await
                .ok()
            } else {
                None
            };
            let mut verdict = rules::check(&text, &forward.text, from, to, back.as_ref().map(|b| b.text.as_str()));
            // Where English is the target, whisper's own speech → English translation is a
            // second opinion from a different model: a large disagreement marks the segment.
            let second = if to == Lang::En && verdict.withheld.is_none() {
                let recogniser = self.engines.recogniser.clone();
                let samples = utterance.samples.clone();
                patiently(|| {
                    let recogniser = recogniser.clone();
                    let samples = samples.clone();
                    async move { recogniser.transcribe(from.code(), samples, true).await }
                })
                .await
                .ok()
                .map(|t| t.text.trim().to_owned())
                .filter(|t| !t.is_empty())
            } else {
                None
            };
            let second_chrf = second.as_deref().map(|second| rules::second_opinion_chrf(&forward.text, second));
            if second_chrf.is_some_and(|c| c < rules::SECOND_OPINION_CHRF_MIN) {
                verdict.uncertain = true;
                verdict.reasons.push("second_opinion_differs".into());
            }
            view.second_opinion = second.clone();
            view.timings.checks = checks_started.elapsed().as_millis() as u64;
            view.back_translation = back.as_ref().map(|b| b.text.clone());
            view.back_chrf = verdict.back_chrf;
            view.uncertain |= verdict.uncertain;
            view.reasons.extend(verdict.reasons.iter().cloned());
            if let Some(why) = &verdict.withheld {
                view.withheld = Some(why.clone());
            } else {
                view.translation = Some(forward.text.clone());
                view.label = Label::Machine;
            }
            let drafted = (|| {
                let mut draft = self.draft(RecordKind::MtSegment)?;
                draft.model = Some(identity(&self.engines.translator.model())?);
                put(&mut draft.body, "source", "machine")?;
                put(&mut draft.body, "from", from.code())?;
                put(&mut draft.body, "to", to.code())?;
                put(
                    &mut draft.body,
                    "verdict",
                    if verdict.withheld.is_some() {
                        "withheld"
                    } else if view.uncertain {
                        "uncertain"
                    } else {
                        "ok"
                    },
                )?;
                if let Some(why) = &verdict.withheld {
                    put(&mut draft.body, "withheld", why)?;
                }
                if !view.reasons.is_empty() {
                    put(&mut draft.body, "reasons", &view.reasons.join(","))?;
                }
                if let Some(chrf) = verdict.back_chrf {
                    put_int(&mut draft.body, "back_chrf_permille", (chrf * 10.0) as i64)?;
                }
                put_int(&mut draft.body, "compute_ms", forward.compute_ms as i64)?;
                self.seal(&mut draft.texts, "text", &forward.text)?;
                if let Some(back) = &back {
                    self.seal(&mut draft.texts, "back_translation", &back.text)?;
                }
                if let (Some(second), Some(chrf)) = (&second, second_chrf) {
                    self.seal(&mut draft.texts, "second_opinion", second)?;
                    put_int(&mut draft.body, "second_opinion_chrf_permille", (chrf * 10.0) as i64)?;
                }
                Ok::<_, AiLogError>(draft)
            })();
            match drafted {
                Ok(draft) => Some(draft),
                Err(_) => return Outcome::LogFailed,
            }
        };
        if let Some(draft) = translated {
            let started = Instant::now();
            if self.engines.log.append(vec![draft], None).await.is_err() {
                return Outcome::LogFailed;
            }
            view.timings.log += started.elapsed().as_millis() as u64;
        }
        if self.cancelled() {
            return self.discard().await;
        }
        view.timings.total = utterance.ended.elapsed().as_millis() as u64;
        Outcome::Ready(Box::new(view))
    }

    async fn engine_failed(&self, side: Side, stage: &str, err: &EngineError) -> Outcome {
        tracing::warn!(session = %self.info.id.as_str(), stage, error = %err, "model worker failed; the session goes on");
        // A crash or a timeout is a recovery the log must show (AI-L07); bad input is not.
        let mut draft = RecordDraft::new(RecordKind::Anomaly, self.engines.log.now());
        draft.session = Some(self.info.id.clone());
        let code = match err {
            EngineError::Busy => "worker_busy",
            EngineError::Crashed(_) => "worker_crashed",
            EngineError::Timeout => "worker_timeout",
            EngineError::BadInput(_) => "bad_input",
            EngineError::Unavailable(_) => "model_unavailable",
        };
        if put(&mut draft.body, "anomaly", code).is_err() || put(&mut draft.body, "stage", stage).is_err() {
            return Outcome::LogFailed;
        }
        match field("recovered") {
            Ok(name) => draft.body.insert(name, BodyValue::Bool(true)),
            Err(_) => return Outcome::LogFailed,
        };
        if self.engines.log.append(vec![draft], None).await.is_err() {
            return Outcome::LogFailed;
        }
        Outcome::Nothing { side, code: format!("interpret-failed-{}", code.replace('_', "-")) }
    }
}

/// Retries a model call while its worker is busy with another session's job.
async fn patiently<T, F, Fut>(mut call: F) -> Result<T, EngineError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EngineError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match call().await {
            Err(EngineError::Busy) if started.elapsed() < BUSY_PATIENCE => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

// ---- messages ----

/// The session's first record; answered once it is committed (with the data key).
#[derive(Message)]
#[rtype(result = "Result<(), AiLogError>")]
pub struct Open;

impl Handler<Open> for InterpreterActor {
    type Result = ResponseActFuture<Self, Result<(), AiLogError>>;

    fn handle(&mut self, _: Open, _: &mut Context<Self>) -> Self::Result {
        let drafted = (|| {
            let mut draft = RecordDraft::new(RecordKind::SessionStart, self.engines.log.now());
            draft.session = Some(self.info.id.clone());
            draft.actor = Some(self.officer_actor(&self.info.officer));
            put(&mut draft.body, "office", &self.info.office)?;
            put(&mut draft.body, "officer_language", Lang::Cs.code())?;
            put(&mut draft.body, "client_language", self.info.client_language.code())?;
            put(&mut draft.body, "notice", "ai_interpreting_v1")?;
            draft.body.insert(field("human_interpreter_offered")?, BodyValue::Bool(true));
            Ok::<_, AiLogError>(draft)
        })();
        let log = self.engines.log.clone();
        let key = DataKey::clone(&self.key);
        let session = self.info.id.clone();
        Box::pin(async move { log.append(vec![drafted?], Some((session, key))).await.map(|_| ()) }.into_actor(self))
    }
}

/// The client acknowledged the AI notice on their screen.
#[derive(Message)]
#[rtype(result = "Result<Phase, SessionError>")]
pub struct AcknowledgeNotice;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the session is over")]
    Over,
    #[error("the client has not acknowledged the notice yet")]
    NoticePending,
    #[error("no such segment")]
    NoSegment,
    #[error("the AI log could not be written")]
    LogUnavailable,
    #[error("bad input: {0}")]
    BadInput(&'static str),
}

impl Handler<AcknowledgeNotice> for InterpreterActor {
    type Result = ResponseActFuture<Self, Result<Phase, SessionError>>;

    fn handle(&mut self, _: AcknowledgeNotice, _: &mut Context<Self>) -> Self::Result {
        if self.phase != Phase::AwaitingNotice {
            let phase = self.phase;
            return Box::pin(
                async move {
                    if phase.is_final() {
                        Err(SessionError::Over)
                    } else {
                        Ok(phase)
                    }
                }
                .into_actor(self),
            );
        }
        let mut draft = RecordDraft::new(RecordKind::NoticeAcknowledged, self.engines.log.now());
        draft.session = Some(self.info.id.clone());
        draft.actor = Some(self.client_actor());
        let _ = put(&mut draft.body, "language", self.info.client_language.code());
        let log = self.engines.log.clone();
        Box::pin(async move { log.append(vec![draft], None).await }.into_actor(self).map(|result, act, ctx| match result {
            Ok(_) if act.phase == Phase::AwaitingNotice => {
                act.set_phase(Phase::Active, None);
                act.start_next(ctx);
                Ok(Phase::Active)
            }
            Ok(_) => Ok(act.phase),
            Err(_) => {
                act.halt("log_unavailable");
                Err(SessionError::LogUnavailable)
            }
        }))
    }
}

/// Samples from one side's microphone, already 16 kHz mono in [−1, 1].
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct Audio {
    pub side: Side,
    pub samples: Vec<f32>,
}

impl Handler<Audio> for InterpreterActor {
    type Result = Result<(), SessionError>;

    fn handle(&mut self, audio: Audio, ctx: &mut Context<Self>) -> Self::Result {
        match self.phase {
            // Nothing is processed before the notice is acknowledged: the audio is dropped,
            // not buffered.
            Phase::AwaitingNotice => return Err(SessionError::NoticePending),
            Phase::Active => {}
            _ => return Err(SessionError::Over),
        }
        let utterances = self.segmenter(audio.side).push(&audio.samples);
        for utterance in utterances {
            self.enqueue(audio.side, utterance, ctx);
        }
        Ok(())
    }
}

/// Push-to-talk pressed or released on one side.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct PushToTalk {
    pub side: Side,
    pub pressed: bool,
}

impl Handler<PushToTalk> for InterpreterActor {
    type Result = Result<(), SessionError>;

    fn handle(&mut self, ptt: PushToTalk, ctx: &mut Context<Self>) -> Self::Result {
        if self.phase != Phase::Active {
            return Err(if self.phase == Phase::AwaitingNotice { SessionError::NoticePending } else { SessionError::Over });
        }
        if ptt.pressed {
            self.segmenter(ptt.side).press();
        } else if let Some(utterance) = self.segmenter(ptt.side).release() {
            self.enqueue(ptt.side, utterance, ctx);
        }
        Ok(())
    }
}

/// What the officer does with a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Oversight {
    Accept,
    Correct(String),
    Reject,
    Replay,
    MarkUncertain,
}

impl Oversight {
    fn code(&self) -> &'static str {
        match self {
            Oversight::Accept => "accept",
            Oversight::Correct(_) => "correct",
            Oversight::Reject => "reject",
            Oversight::Replay => "replay",
            Oversight::MarkUncertain => "mark_uncertain",
        }
    }
}

/// The officer's action on a segment; logged before any screen changes.
#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct Oversee {
    pub segment: u32,
    pub action: Oversight,
    pub officer: String,
}

/// Longest correction accepted (a segment is at most 20 s of speech).
pub const MAX_CORRECTION_CHARS: usize = 2_000;

impl Handler<Oversee> for InterpreterActor {
    type Result = ResponseActFuture<Self, Result<(), SessionError>>;

    fn handle(&mut self, msg: Oversee, _: &mut Context<Self>) -> Self::Result {
        let fail = |e| -> Self::Result { Box::pin(async move { Err(e) }.into_actor(self)) };
        if !self.segments.iter().any(|s| s.id == msg.segment) {
            return fail(SessionError::NoSegment);
        }
        // Corrections and reviews stay possible after a stop (the record must be right); a
        // replay shows AI output again, so only while the session runs.
        if msg.action == Oversight::Replay && self.phase != Phase::Active {
            return fail(SessionError::Over);
        }
        if let Oversight::Correct(text) = &msg.action {
            if text.trim().is_empty() || text.chars().count() > MAX_CORRECTION_CHARS {
                return fail(SessionError::BadInput("correction"));
            }
        }
        let drafted = (|| {
            let mut draft = self.segment_draft(RecordKind::OversightAction, msg.segment, Some(self.officer_actor(&msg.officer)))?;
            put(&mut draft.body, "action", msg.action.code())?;
            if let Oversight::Correct(text) = &msg.action {
                let name = field("edited_text")?;
                draft.texts.insert(name.clone(), self.key.seal(&self.info.id, &name, text.trim(), &mut rand::rngs::OsRng));
            }
            Ok::<_, AiLogError>(draft)
        })();
        let replay = (msg.action == Oversight::Replay)
            .then(|| self.segments.iter().find(|s| s.id == msg.segment).map(|view| self.presentation_draft(view, "replay")))
            .flatten();
        let log = self.engines.log.clone();
        Box::pin(
            async move {
                let mut drafts = vec![drafted?];
                if let Some(replay) = replay {
                    drafts.push(replay?);
                }
                log.append(drafts, None).await.map(|_| ())
            }
            .into_actor(self)
            .map(move |result, act, _| {
                if result.is_err() {
                    act.halt("log_unavailable");
                    return Err(SessionError::LogUnavailable);
                }
                let Some(view) = act.segments.iter_mut().find(|s| s.id == msg.segment) else { return Err(SessionError::NoSegment) };
                match msg.action {
                    Oversight::Accept => view.review = Review::Accepted,
                    Oversight::Correct(text) => {
                        view.review = Review::Corrected;
                        view.correction = Some(text.trim().to_owned());
                    }
                    Oversight::Reject => view.review = Review::Rejected,
                    Oversight::MarkUncertain => {
                        view.uncertain = true;
                        if !view.reasons.iter().any(|r| r == "officer_marked") {
                            view.reasons.push("officer_marked".into());
                        }
                    }
                    Oversight::Replay => {}
                }
                let segment = view.clone();
                act.publish(ScreenEvent::Segment { segment: Box::new(segment) });
                Ok(())
            }),
        )
    }
}

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The stop button: AI output halts now.
    Stop,
    /// The officer asks for a human interpreter: AI output halts, the reason is recorded.
    HumanInterpreter,
    /// The conversation is over.
    End,
    /// A supervisor suspended interpreting for the office.
    Suspended,
    /// The audio channel sent something unusable.
    BadAudio(&'static str),
}

#[derive(Message)]
#[rtype(result = "Result<(), SessionError>")]
pub struct Finish {
    pub how: Ending,
    pub by: Option<String>,
}

impl Handler<Finish> for InterpreterActor {
    type Result = ResponseActFuture<Self, Result<(), SessionError>>;

    fn handle(&mut self, msg: Finish, _: &mut Context<Self>) -> Self::Result {
        if self.phase.is_final() {
            return Box::pin(async { Err(SessionError::Over) }.into_actor(self));
        }
        // The phase flips now, inside this handler: from here on nothing is shown.
        let (phase, kind, reason) = match msg.how {
            Ending::Stop => (Phase::Stopped, RecordKind::SessionStop, "officer_stop".to_owned()),
            Ending::HumanInterpreter => (Phase::HumanInterpreter, RecordKind::SessionStop, "human_interpreter_requested".to_owned()),
            Ending::End => (Phase::Ended, RecordKind::SessionEnd, "ended".to_owned()),
            Ending::Suspended => (Phase::Stopped, RecordKind::SessionStop, "suspended".to_owned()),
            Ending::BadAudio(why) => (Phase::Halted, RecordKind::SessionEnd, format!("bad_audio_{why}")),
        };
        self.set_phase(phase, Some(&reason));
        let drafted = (|| {
            let mut draft = RecordDraft::new(kind, self.engines.log.now());
            draft.session = Some(self.info.id.clone());
            draft.actor = Some(match &msg.by {
                Some(username) => self.officer_actor(username),
                None => LogActor::System { component: prepazka_ailog::Component::parse("interpreter")? },
            });
            put(&mut draft.body, "reason", &reason)?;
            put_int(&mut draft.body, "segments_shown", self.segments.len() as i64)?;
            draft.body.insert(field("safe_state")?, BodyValue::Bool(true));
            Ok::<_, AiLogError>(draft)
        })();
        let log = self.engines.log.clone();
        Box::pin(
            async move {
                log.append(vec![drafted?], None).await?;
                // Every session end is anchored by a checkpoint.
                log.checkpoint().await.map(|_| ())
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                ctx.run_later(Duration::from_secs(600), |_, ctx| ctx.stop());
                result.map_err(|_| {
                    act.halt("log_unavailable");
                    SessionError::LogUnavailable
                })
            }),
        )
    }
}

#[derive(Message)]
#[rtype(result = "Snapshot")]
pub struct GetSnapshot(pub Side);

impl Handler<GetSnapshot> for InterpreterActor {
    type Result = MessageResult<GetSnapshot>;

    fn handle(&mut self, msg: GetSnapshot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.snapshot(msg.0))
    }
}
