//! Interpreting by device at the counter (issue 5; design §4 "Interpreting").
//!
//! - `ai_log`: the AI log's one writer (appender, keys, witness file, checkpoints).
//! - `engine`: the recogniser and translator traits; `workers`: their embedded defaults, which
//!   reach whisper-rs and llama-cpp-2 in separate worker processes.
//! - `rules`: the glue to the pure interpreting rules in `prepazka_models::interpret`
//!   (phrasebook, language/script check, glossary, protected names, back-translation chrF).
//! - `vad`: voice-activity segmentation and push-to-talk.
//! - `session`: the `InterpreterActor`, one per session.
//! - this file: [`Interpreting`], the registry of live sessions, office suspension, and the
//!   recovery of sessions a crash left open.
//!
//! Concurrency: each session is its own actor; the registry's maps are behind short mutexes
//! that are never held across an await.

pub mod ai_log;
pub mod engine;
pub mod rules;
pub mod session;
pub mod vad;
pub mod workers;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use prepazka_ailog::{Actor as LogActor, BodyValue, Component, DataKey, FieldName, PersonRole, Record, RecordDraft, RecordKind, SessionId};
use prepazka_store::AiLogRow;
use rand::RngCore;
use tokio::sync::broadcast;

pub use ai_log::{AiLog, AiLogError, AiLogKeys};
pub use rules::Lang;
pub use session::{Ending, Oversight, Phase, ScreenEvent, SegmentView, SessionError, Side, Snapshot};

use session::{Engines, InterpreterActor, SessionInfo};

/// Most sessions open at once on one server (each holds a few MB of audio at most).
pub const MAX_SESSIONS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpretError {
    #[error("AI interpreting is suspended for this office")]
    Suspended,
    #[error("too many interpreting sessions are open")]
    TooMany,
    #[error("no such interpreting session")]
    NotFound,
    #[error("the AI log could not be written")]
    LogUnavailable,
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// A live session, as the web layer holds it.
#[derive(Clone)]
pub struct SessionHandle {
    addr: Addr<InterpreterActor>,
    events: broadcast::Sender<Arc<ScreenEvent>>,
    pub id: String,
    pub office: String,
    pub officer: String,
    pub client_language: Lang,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle").field("id", &self.id).field("office", &self.office).finish_non_exhaustive()
    }
}

fn mailbox<T>(result: Result<Result<T, SessionError>, MailboxError>) -> Result<T, InterpretError> {
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(SessionError::LogUnavailable)) => Err(InterpretError::LogUnavailable),
        Ok(Err(err)) => Err(err.into()),
        Err(_) => Err(InterpretError::NotFound),
    }
}

impl SessionHandle {
    /// Events from now on; call [`SessionHandle::snapshot`] after subscribing to draw the past.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ScreenEvent>> {
        self.events.subscribe()
    }

    pub async fn snapshot(&self, side: Side) -> Result<Snapshot, InterpretError> {
        self.addr.send(session::GetSnapshot(side)).await.map_err(|_| InterpretError::NotFound)
    }

    pub async fn acknowledge_notice(&self) -> Result<Phase, InterpretError> {
        mailbox(self.addr.send(session::AcknowledgeNotice).await)
    }

    pub async fn audio(&self, side: Side, samples: Vec<f32>) -> Result<(), InterpretError> {
        mailbox(self.addr.send(session::Audio { side, samples }).await)
    }

    pub async fn push_to_talk(&self, side: Side, pressed: bool) -> Result<(), InterpretError> {
        mailbox(self.addr.send(session::PushToTalk { side, pressed }).await)
    }

    pub async fn oversee(&self, segment: u32, action: Oversight, officer: &str) -> Result<(), InterpretError> {
        mailbox(self.addr.send(session::Oversee { segment, action, officer: officer.to_owned() }).await)
    }

    pub async fn finish(&self, how: Ending, by: Option<&str>) -> Result<(), InterpretError> {
        mailbox(self.addr.send(session::Finish { how, by: by.map(str::to_owned) }).await)
    }
}

struct Inner {
    engines: Arc<Engines>,
    sessions: Mutex<HashMap<String, SessionHandle>>,
    suspended: Mutex<HashSet<String>>,
    arbiter: ArbiterHandle,
}

/// The registry of interpreting sessions; cheap to clone.
#[derive(Clone)]
pub struct Interpreting {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Interpreting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interpreting")
    }
}

/// Sessions whose last record is not an ending, and offices whose last suspend/resume record
/// is a suspension, read from the verified log at start.
fn left_open(rows: &[AiLogRow]) -> (Vec<String>, HashSet<String>) {
    let mut open: BTreeMap<String, bool> = BTreeMap::new();
    let mut suspended = HashSet::new();
    for row in rows {
        match row.kind.as_str() {
            "session.start" => {
                if let Some(session) = &row.session {
                    open.insert(session.clone(), true);
                }
            }
            "session.end" | "session.stop" | "session.crash_recovered" => {
                if let Some(session) = &row.session {
                    open.insert(session.clone(), false);
                }
            }
            "system.suspend" | "system.resume" => {
                if let Ok(record) = Record::decode(&row.record) {
                    let office = record.body.iter().find(|(k, _)| k.as_str() == "office").and_then(|(_, v)| match v {
                        BodyValue::Str(office) => Some(office.clone()),
                        _ => None,
                    });
                    if let Some(office) = office {
                        if row.kind == "system.suspend" {
                            suspended.insert(office);
                        } else {
                            suspended.remove(&office);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (open.into_iter().filter(|(_, is_open)| *is_open).map(|(s, _)| s).collect(), suspended)
}

impl Interpreting {
    /// Starts the registry. Sessions a crash left open get a `session.crash_recovered` record
    /// (and a checkpoint) before anything else is interpreted.
    pub async fn start(
        log: AiLog,
        rows: &[AiLogRow],
        recogniser: Arc<dyn engine::Recogniser>,
        translator: Arc<dyn engine::Translator>,
        arbiter: ArbiterHandle,
    ) -> Result<Interpreting, AiLogError> {
        let (open, suspended) = left_open(rows);
        if !open.is_empty() {
            let mut drafts = Vec::with_capacity(open.len());
            for session in &open {
                let mut draft = RecordDraft::new(RecordKind::SessionCrashRecovered, log.now());
                draft.session = Some(SessionId::parse(session)?);
                draft.actor = Some(LogActor::System { component: Component::parse("recovery")? });
                draft.body.insert(FieldName::parse("safe_state")?, BodyValue::Bool(true));
                drafts.push(draft);
            }
            log.append(drafts, None).await?;
            log.checkpoint().await?;
            tracing::warn!(sessions = open.len(), "interpreting sessions left open by a crash were closed with a recovery record");
        }
        let engines = Arc::new(Engines { log, recogniser, translator });
        Ok(Interpreting {
            inner: Arc::new(Inner { engines, sessions: Mutex::new(HashMap::new()), suspended: Mutex::new(suspended), arbiter }),
        })
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionHandle>> {
        self.inner.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn suspended_offices(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner.suspended.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn is_suspended(&self, office: &str) -> bool {
        self.suspended_offices().contains(office)
    }

    pub fn log(&self) -> &AiLog {
        &self.inner.engines.log
    }

    /// The models in use (for the interpreter page and the log).
    pub fn models(&self) -> (engine::ModelInfo, engine::ModelInfo) {
        (self.inner.engines.recogniser.model(), self.inner.engines.translator.model())
    }

    /// Opens a session: its first record (with the wrapped data key) is committed before the
    /// handle is returned. The client must acknowledge the notice before any audio counts.
    pub async fn open(&self, office: &str, officer: &str, client_language: Lang) -> Result<SessionHandle, InterpretError> {
        if self.is_suspended(office) {
            return Err(InterpretError::Suspended);
        }
        {
            let mut sessions = self.sessions();
            sessions.retain(|_, handle| handle.addr.connected());
            if sessions.len() >= MAX_SESSIONS {
                return Err(InterpretError::TooMany);
            }
        }
        let mut raw = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let id = format!("is-{}", hex::encode(raw));
        let session_id = SessionId::parse(&id).map_err(|_| InterpretError::NotFound)?;
        let info = SessionInfo { id: session_id, office: office.to_owned(), officer: officer.to_owned(), client_language };
        let (events, _) = broadcast::channel(256);
        let key = DataKey::generate(&mut rand::rngs::OsRng);
        let engines = self.inner.engines.clone();
        let actor_events = events.clone();
        let addr =
            InterpreterActor::start_in_arbiter(&self.inner.arbiter, move |_| InterpreterActor::new(info, engines, key, actor_events));
        addr.send(session::Open).await.map_err(|_| InterpretError::NotFound)?.map_err(|_| InterpretError::LogUnavailable)?;
        // The models load while the client reads the notice.
        let warm = self.inner.engines.clone();
        tokio::spawn(async move {
            warm.recogniser.warm_up().await;
            warm.translator.warm_up().await;
        });
        let handle =
            SessionHandle { addr, events, id: id.clone(), office: office.to_owned(), officer: officer.to_owned(), client_language };
        self.sessions().insert(id, handle.clone());
        Ok(handle)
    }

    pub fn get(&self, id: &str) -> Option<SessionHandle> {
        self.sessions().get(id).filter(|h| h.addr.connected()).cloned()
    }

    /// The office a logged session (live or long over) belonged to.
    pub async fn session_office(&self, id: &str) -> Result<Option<String>, InterpretError> {
        self.inner.engines.log.session_office(id).await.map_err(|_| InterpretError::LogUnavailable)
    }

    /// Exports one session's records with inclusion proofs; the export is logged under the
    /// member's pseudonym first (AI-L18). `supervisor` picks the role the record names.
    pub async fn export_session(&self, id: &str, username: &str, supervisor: bool) -> Result<String, InterpretError> {
        let log = &self.inner.engines.log;
        log.export(id, Self::reader(log, username, supervisor), "case_file_export").await.map_err(|err| {
            tracing::error!(error = %err, "AI-log export failed");
            InterpretError::LogUnavailable
        })
    }

    /// Logs (`log.access`, AI-L18) that a member reads a session's output outside the live
    /// screens, e.g. the transcript for the case file; the reading waits for the commit.
    pub async fn record_access(&self, id: &str, username: &str, supervisor: bool, purpose: &str) -> Result<(), InterpretError> {
        let log = &self.inner.engines.log;
        log.record_access(id, Self::reader(log, username, supervisor), purpose).await.map_err(|err| {
            tracing::error!(error = %err, "AI-log access record failed");
            InterpretError::LogUnavailable
        })
    }

    fn reader(log: &AiLog, username: &str, supervisor: bool) -> LogActor {
        let role = if supervisor { PersonRole::Supervisor } else { PersonRole::Overseer };
        LogActor::Person { role, id: log.pseudonym(username) }
    }

    /// Suspends AI interpreting for an office (AI-L10): logged, every open session of the office
    /// stopped, no new one opened until resumed. Survives restarts (read back from the log).
    pub async fn suspend(&self, office: &str, supervisor: &str, suspend: bool) -> Result<usize, InterpretError> {
        let log = &self.inner.engines.log;
        let kind = if suspend { RecordKind::SystemSuspend } else { RecordKind::SystemResume };
        let mut draft = RecordDraft::new(kind, log.now());
        draft.actor = Some(LogActor::Person { role: PersonRole::Supervisor, id: log.pseudonym(supervisor) });
        draft.body.insert(
            FieldName::parse("office").map_err(|_| InterpretError::LogUnavailable)?,
            BodyValue::str(office).map_err(|_| InterpretError::NotFound)?,
        );
        log.append(vec![draft], None).await.map_err(|_| InterpretError::LogUnavailable)?;
        if !suspend {
            self.suspended_offices().remove(office);
            return Ok(0);
        }
        self.suspended_offices().insert(office.to_owned());
        let affected: Vec<SessionHandle> = self.sessions().values().filter(|h| h.office == office).cloned().collect();
        let mut stopped = 0;
        for handle in affected {
            if handle.finish(Ending::Suspended, Some(supervisor)).await.is_ok() {
                stopped += 1;
            }
        }
        Ok(stopped)
    }
}
