//! The AI log's single writer: the one [`Appender`] of the deployment, its keys, its witness file
//! and its checkpoints (design in `docs/AI_LOG.md`, record format in `prepazka-ailog`).
//!
//! Concurrency model: one task owns the appender. Callers send drafts and wait; the task appends
//! them to a *copy* of the appender, commits the rows through the store's writer, and only then
//! keeps the copy and answers. A failed commit leaves the appender as it was (no gap, no fork)
//! and the caller gets [`AiLogError::Unavailable`]: the interpreting session then shows nothing
//! and halts. Checkpoints are signed on a timer while the log grows and on request (session end),
//! written to the witness file outside the database first, then to the database.
//!
//! Deliberately absent: clear text. Callers seal texts with their session's [`DataKey`] before
//! they draft a record; this task only wraps the data key for storage.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prepazka_ailog::{
    Appender, DataKey, Digest, KeyEncryptionKey, KeyName, LogSigner, Origin, PseudonymKey, RecordDraft, SessionId, SignedCheckpoint,
    StoredRecord, Timestamp, TrustedKeys, VerifyReport,
};
use prepazka_models::clock::Clock;
use prepazka_store::writer::Writer;
use prepazka_store::{AiDataKeyRow, AiLogCheckpointRow, AiLogRow, SharedStore, Write};
use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

/// The log's name in every record and checkpoint.
pub const DEFAULT_ORIGIN: &str = "oamp.mv.cz/prepazka/ai-log/v1";

/// Checkpoints are signed at least this often while the log grows (the anchors ask for ≤ 60 s).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AiLogError {
    /// The record could not be committed: nothing may be shown.
    #[error("the AI log could not be written")]
    Unavailable,
    /// A draft broke the record format (a missing field): a bug, not an outage.
    #[error("AI-log record refused: {0}")]
    Record(#[from] prepazka_ailog::Error),
    #[error("AI-log key files: {0}")]
    Keys(String),
    #[error("the AI log does not verify: {0}")]
    Verify(String),
    #[error("store: {0}")]
    Store(#[from] prepazka_store::StoreError),
    /// Another process (a running server) holds the appender lock: a second appender would
    /// take sequence numbers the first one is about to use.
    #[error("another process is appending to the AI log ({0} is locked): stop it, or use the server's logged export")]
    InUse(String),
}

/// Where records go. The store's writer in production; a test can put a failing sink in front
/// of it to show that nothing is shown when the log cannot be written.
#[async_trait]
pub trait AiLogSink: Send + Sync + 'static {
    async fn append(&self, rows: Vec<AiLogRow>, data_key: Option<AiDataKeyRow>) -> Result<(), AiLogError>;
    async fn checkpoint(&self, row: AiLogCheckpointRow) -> Result<(), AiLogError>;
}

#[async_trait]
impl AiLogSink for Writer {
    async fn append(&self, rows: Vec<AiLogRow>, data_key: Option<AiDataKeyRow>) -> Result<(), AiLogError> {
        self.submit(Write::AppendAiLog { rows, data_key }).await.map(|_| ()).map_err(|code| {
            tracing::error!(%code, "AI-log append not committed");
            AiLogError::Unavailable
        })
    }

    async fn checkpoint(&self, row: AiLogCheckpointRow) -> Result<(), AiLogError> {
        self.submit(Write::AiLogCheckpoint(row)).await.map(|_| ()).map_err(|_| AiLogError::Unavailable)
    }
}

/// The secrets of the log, kept as files outside the database (mode 0600): the checkpoint
/// signing key, the key-encryption key for session data keys, the pseudonym key; and the public
/// files: the trusted verifier keys and the witness file.
pub struct AiLogKeys {
    pub origin: Origin,
    pub signer: LogSigner,
    pub kek: KeyEncryptionKey,
    pub pseudonyms: PseudonymKey,
    pub trusted: TrustedKeys,
    pub witness: PathBuf,
    pub appender_lock: PathBuf,
}

impl std::fmt::Debug for AiLogKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiLogKeys").field("origin", &self.origin).field("witness", &self.witness).finish_non_exhaustive()
    }
}

/// File names inside the key directory.
pub mod files {
    pub const SIGNING_KEY: &str = "ai-log-signing.key";
    pub const KEK: &str = "ai-log-kek.key";
    pub const PSEUDONYM_KEY: &str = "ai-log-pseudonym.key";
    pub const TRUSTED_KEYS: &str = "ai-log-trusted.pub";
    pub const WITNESS: &str = "ai-log-witness.txt";
    /// Held (an exclusive advisory lock) by the one process that appends: the server, or an
    /// offline `prepazka ai-log export` while the server is down.
    pub const APPENDER_LOCK: &str = "ai-log-appender.lock";
}

impl AiLogKeys {
    /// Reads the keys from `dir`, creating any that are missing (first start). The trusted keys
    /// file gains the signer's public key if it lacks it.
    pub fn load_or_create(dir: &Path, origin: &str) -> Result<Self, AiLogError> {
        let keys_err = |what: &str, e: &dyn std::fmt::Display| AiLogError::Keys(format!("{what}: {e}"));
        std::fs::create_dir_all(dir).map_err(|e| keys_err("creating the key directory", &e))?;
        let origin = Origin::parse(origin).map_err(|e| keys_err("origin", &e))?;
        let signing_path = dir.join(files::SIGNING_KEY);
        let signer = if signing_path.exists() {
            let text = std::fs::read_to_string(&signing_path).map_err(|e| keys_err("reading the signing key", &e))?;
            LogSigner::parse_key_file(&text).map_err(|e| keys_err("signing key", &e))?
        } else {
            let name = KeyName::parse("prepazka-ai-log").map_err(|e| keys_err("key name", &e))?;
            let signer = LogSigner::generate(name, &mut rand::rngs::OsRng);
            write_secret(&signing_path, signer.to_key_file().as_bytes()).map_err(|e| keys_err("writing the signing key", &e))?;
            signer
        };
        let kek = KeyEncryptionKey::from_bytes(secret_bytes(&dir.join(files::KEK)).map_err(|e| keys_err("key-encryption key", &e))?);
        let pseudonyms =
            PseudonymKey::from_bytes(secret_bytes(&dir.join(files::PSEUDONYM_KEY)).map_err(|e| keys_err("pseudonym key", &e))?);
        let trusted_path = dir.join(files::TRUSTED_KEYS);
        let own = signer.verifier().to_string();
        let mut trusted_text = std::fs::read_to_string(&trusted_path).unwrap_or_default();
        if !trusted_text.lines().any(|line| line.trim() == own) {
            trusted_text.push_str(&own);
            trusted_text.push('\n');
            std::fs::write(&trusted_path, &trusted_text).map_err(|e| keys_err("writing the trusted keys", &e))?;
        }
        let trusted = TrustedKeys::parse(&trusted_text).map_err(|e| keys_err("trusted keys", &e))?;
        Ok(Self { origin, signer, kek, pseudonyms, trusted, witness: dir.join(files::WITNESS), appender_lock: dir.join(files::APPENDER_LOCK) })
    }
}

fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// 32 random bytes kept hex-encoded in `path`, created on first use.
fn secret_bytes(path: &Path) -> std::io::Result<[u8; 32]> {
    if !path.exists() {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let hex = hex::encode(key);
        write_secret(path, hex.as_bytes())?;
    }
    let text = std::fs::read_to_string(path)?;
    let text = text.trim();
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "expected 64 hex digits");
    if text.len() != 64 {
        return Err(bad());
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(key)
}

/// Reads every record and checkpoint and verifies them against the trusted keys and the witness
/// file. The report carries the leaves to resume from.
pub async fn verify_store(store: &SharedStore, keys: &AiLogKeys) -> Result<(VerifyReport, Vec<AiLogRow>), AiLogError> {
    verify_against(store, &keys.origin, &keys.trusted, &keys.witness).await
}

async fn verify_against(
    store: &SharedStore,
    origin: &Origin,
    trusted: &TrustedKeys,
    witness: &Path,
) -> Result<(VerifyReport, Vec<AiLogRow>), AiLogError> {
    let rows = all_rows(store).await?;
    let stored: Vec<StoredRecord> = rows.iter().map(to_stored).collect();
    let checkpoints: Vec<String> = store.ai_log_checkpoints().await?.into_iter().map(|c| c.line).collect();
    let witness = match std::fs::read(witness) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(AiLogError::Keys(format!("reading the witness file: {e}"))),
    };
    let report = prepazka_ailog::verify(origin, trusted, &stored, &checkpoints, witness.as_deref())
        .map_err(|failure| AiLogError::Verify(failure.to_string()))?;
    Ok((report, rows))
}

/// Every record, in seq order, read in pages.
pub async fn all_rows(store: &SharedStore) -> Result<Vec<AiLogRow>, AiLogError> {
    const PAGE: i64 = 5_000;
    let mut rows = Vec::new();
    loop {
        let page = store.ai_log_rows(rows.len() as i64, PAGE).await?;
        let done = (page.len() as i64) < PAGE;
        rows.extend(page);
        if done {
            return Ok(rows);
        }
    }
}

pub fn to_stored(row: &AiLogRow) -> StoredRecord {
    StoredRecord {
        seq: row.seq,
        bytes: row.record.clone(),
        leaf_hash: row.leaf_hash.clone(),
        session: row.session.clone(),
        kind: row.kind.clone(),
        created_at_ms: row.created_at_ms,
    }
}

enum Command {
    Append { drafts: Vec<RecordDraft>, data_key: Option<(SessionId, DataKey)>, reply: oneshot::Sender<Result<Vec<u64>, AiLogError>> },
    Checkpoint { reply: oneshot::Sender<Result<Option<u64>, AiLogError>> },
}

/// A handle to the log's writer task; cheap to clone.
#[derive(Clone)]
pub struct AiLog {
    commands: mpsc::Sender<Command>,
    pseudonyms: Arc<PseudonymKey>,
    clock: Arc<dyn Clock>,
    /// What exports are verified against: the store, the log's name, the trusted keys and the
    /// witness file.
    anchors: Arc<(SharedStore, Origin, TrustedKeys, PathBuf)>,
}

impl std::fmt::Debug for AiLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AiLog")
    }
}

struct Owner {
    appender: Appender,
    checkpointed: u64,
    signer: LogSigner,
    kek: KeyEncryptionKey,
    witness: PathBuf,
    sink: Arc<dyn AiLogSink>,
    clock: Arc<dyn Clock>,
    /// Held for the task's life; the lock goes with the file.
    _appender_lock: std::fs::File,
}

/// Takes the appender lock without waiting.
fn lock_appender(path: &Path) -> Result<std::fs::File, AiLogError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| AiLogError::Keys(format!("opening {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(AiLogError::InUse(path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(AiLogError::Keys(format!("locking {}: {e}", path.display()))),
    }
}

impl AiLog {
    /// Verifies the stored log, resumes its appender and starts the writer task (with its
    /// checkpoint timer). Refuses to start on a log that does not verify: appending to a broken
    /// log would bury the evidence.
    pub async fn start(
        store: &SharedStore,
        sink: Arc<dyn AiLogSink>,
        keys: AiLogKeys,
        clock: Arc<dyn Clock>,
    ) -> Result<(AiLog, Vec<AiLogRow>), AiLogError> {
        let lock = lock_appender(&keys.appender_lock)?;
        let (report, rows) = verify_store(store, &keys).await?;
        let checkpointed = report.latest_checkpoint.map(|(size, _)| size).unwrap_or(0);
        let appender = Appender::resume(keys.origin.clone(), report.leaves());
        let (commands, queue) = mpsc::channel(1024);
        let anchors = Arc::new((store.clone(), keys.origin.clone(), keys.trusted.clone(), keys.witness.clone()));
        let owner = Owner { appender, checkpointed, signer: keys.signer, kek: keys.kek, witness: keys.witness, sink, clock: clock.clone(), _appender_lock: lock };
        tokio::spawn(owner.run(queue));
        Ok((AiLog { commands, pseudonyms: Arc::new(keys.pseudonyms), clock, anchors }, rows))
    }

    /// Commits the drafts (in order, gap-free) and returns their seqs; only then may what they
    /// record be shown. `data_key` is stored (wrapped) in the same transaction: a session's
    /// first append carries it.
    pub async fn append(&self, drafts: Vec<RecordDraft>, data_key: Option<(SessionId, DataKey)>) -> Result<Vec<u64>, AiLogError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Append { drafts, data_key, reply }).await.map_err(|_| AiLogError::Unavailable)?;
        answer.await.unwrap_or(Err(AiLogError::Unavailable))
    }

    /// Signs a checkpoint now if the log grew since the last one; returns its size.
    pub async fn checkpoint(&self) -> Result<Option<u64>, AiLogError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Checkpoint { reply }).await.map_err(|_| AiLogError::Unavailable)?;
        answer.await.unwrap_or(Err(AiLogError::Unavailable))
    }

    /// The office a logged session belonged to (from its `session.start`), if the log has it.
    pub async fn session_office(&self, session: &str) -> Result<Option<String>, AiLogError> {
        let rows = self.anchors.0.ai_log_session_rows(session).await?;
        let Some(start) = rows.iter().find(|r| r.kind == "session.start") else { return Ok(None) };
        let record = prepazka_ailog::Record::decode(&start.record)?;
        Ok(record.body.iter().find(|(k, _)| k.as_str() == "office").and_then(|(_, v)| match v {
            prepazka_ailog::BodyValue::Str(office) => Some(office.clone()),
            _ => None,
        }))
    }

    /// One session's records with inclusion proofs (an export bundle, JSON), for an appeal or a
    /// case file. The export itself is logged first (`log.export`, AI-L18) and anchored by a
    /// checkpoint, then the whole log is verified: a log that does not verify is not exported.
    pub async fn export(&self, session: &str, by: prepazka_ailog::Actor, purpose: &str) -> Result<String, AiLogError> {
        let (store, origin, trusted, witness) = &*self.anchors;
        let mut draft = RecordDraft::new(prepazka_ailog::RecordKind::LogExport, self.now());
        draft.actor = Some(by);
        draft.body.insert(prepazka_ailog::FieldName::parse("session")?, prepazka_ailog::BodyValue::str(session)?);
        draft.body.insert(prepazka_ailog::FieldName::parse("purpose")?, prepazka_ailog::BodyValue::str(purpose)?);
        self.append(vec![draft], None).await?;
        self.checkpoint().await?;
        let (report, _) = verify_against(store, origin, trusted, witness).await?;
        let rows: Vec<StoredRecord> = store.ai_log_session_rows(session).await?.iter().map(to_stored).collect();
        let newest = store.ai_log_checkpoints().await?.pop().ok_or(AiLogError::Unavailable)?;
        let checkpoint = SignedCheckpoint::parse_line(&newest.line)?;
        let tree = prepazka_ailog::MerkleTree::from_leaves(report.into_leaves());
        Ok(prepazka_ailog::ExportBundle::build(&tree, checkpoint, &rows)?.to_json()?)
    }

    /// Records that someone reads a session's AI output outside the live session (AI-L18,
    /// `log.access`: who, which session, why), before the reading is handed out.
    pub async fn record_access(&self, session: &str, by: prepazka_ailog::Actor, purpose: &str) -> Result<(), AiLogError> {
        let mut draft = RecordDraft::new(prepazka_ailog::RecordKind::LogAccess, self.now());
        draft.actor = Some(by);
        draft.body.insert(prepazka_ailog::FieldName::parse("session")?, prepazka_ailog::BodyValue::str(session)?);
        draft.body.insert(prepazka_ailog::FieldName::parse("purpose")?, prepazka_ailog::BodyValue::str(purpose)?);
        self.append(vec![draft], None).await.map(drop)
    }

    /// The pseudonym of a person (a staff username, a session's client), never the name itself.
    pub fn pseudonym(&self, real_id: &str) -> prepazka_ailog::Pseudonym {
        self.pseudonyms.pseudonym(real_id)
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_datetime(self.clock.now()).unwrap_or_else(|_| Timestamp::from_millis(0).expect("zero is a valid timestamp"))
    }
}

impl Owner {
    async fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = queue.recv() => match command {
                    Some(Command::Append { drafts, data_key, reply }) => {
                        let _ = reply.send(self.append(drafts, data_key).await);
                    }
                    Some(Command::Checkpoint { reply }) => {
                        let _ = reply.send(self.checkpoint().await);
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if let Err(err) = self.checkpoint().await {
                        tracing::error!(error = %err, "AI-log checkpoint failed");
                    }
                }
            }
        }
        // Whatever was appended since the last checkpoint gets one before the task ends.
        if let Err(err) = self.checkpoint().await {
            tracing::error!(error = %err, "final AI-log checkpoint failed");
        }
    }

    async fn append(&mut self, drafts: Vec<RecordDraft>, data_key: Option<(SessionId, DataKey)>) -> Result<Vec<u64>, AiLogError> {
        let mut next = self.appender.clone();
        let mut rows = Vec::with_capacity(drafts.len());
        let mut seqs = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let appended = next.append(draft)?;
            let stored = appended.to_stored();
            seqs.push(appended.record.seq);
            rows.push(AiLogRow {
                seq: stored.seq,
                record: stored.bytes,
                leaf_hash: stored.leaf_hash,
                session: stored.session,
                kind: stored.kind,
                created_at_ms: stored.created_at_ms,
            });
        }
        let data_key = data_key.map(|(session, key)| AiDataKeyRow {
            session: session.as_str().to_owned(),
            key_id: key.id().to_hex(),
            wrapped: self.kek.wrap(&key, &session, &mut rand::rngs::OsRng),
            created_at_ms: self.clock.now().timestamp_millis(),
        });
        self.sink.append(rows, data_key).await?;
        self.appender = next;
        Ok(seqs)
    }

    async fn checkpoint(&mut self) -> Result<Option<u64>, AiLogError> {
        let size = self.appender.size();
        if size == 0 || size == self.checkpointed {
            return Ok(None);
        }
        let at = Timestamp::from_datetime(self.clock.now())?;
        let signed: SignedCheckpoint = self.appender.checkpoint(at, &self.signer);
        // The witness first: a checkpoint the database has and the witness lacks is reported by
        // the verifier; the other way round would look like a database edited behind its back.
        if let Err(err) = append_witness(&self.witness, &prepazka_ailog::witness_line(&signed)) {
            tracing::error!(error = %err, "writing the AI-log witness file failed");
        }
        let root: Digest = signed.checkpoint().root;
        self.sink
            .checkpoint(AiLogCheckpointRow {
                tree_size: size as i64,
                root_hash: root.as_bytes().to_vec(),
                signed_at_ms: at.as_millis(),
                line: signed.to_line(),
            })
            .await?;
        self.checkpointed = size;
        Ok(Some(size))
    }
}

fn append_witness(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_data()
}
