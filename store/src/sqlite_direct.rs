//! SQLite's connections for writes and reads, straight on the C library (rusqlite).
//!
//! Why not sqlx here: sqlx runs each SQLite connection on a worker thread and hands it every
//! command over a channel, so a batch of 60 items cost 60 round trips between threads and a
//! read two thread switches, and on a small virtual machine each wake-up costs more than the
//! SQL (BENCHMARKS.md, "Booking surge").
//!
//! - Writes: one connection on a thread of its own ([`DirectWriter`]) runs a whole batch,
//!   prepared statements cached; the only hand-overs are the batch in and the answers out.
//! - Reads ([`Readers`]) run inline on the caller's thread on a connection taken from a small
//!   idle list: our reads are index lookups that SQLite answers in microseconds, less than a
//!   thread switch costs. WAL lets them run beside the writer.
//!
//! Migrations, the durability check and backups stay on sqlx; these connections open after
//! the migrations ran.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::idempotency_filter::KeyFilter;
use crate::items::{BatchResult, WriteConn};
use crate::ops::{Arg, ItemError, ReadConn, Row, Stmt, Value};
use crate::{StoreError, Write};

struct Job {
    writes: Vec<Write>,
    reply: oneshot::Sender<BatchResult>,
}

/// The handle to the writer thread.
pub(crate) struct DirectWriter {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl DirectWriter {
    /// Opens the database at `path` on a new thread, with the durability settings checked.
    /// `keys` is loaded from the database here and follows every commit.
    pub(crate) async fn open(path: &Path, keys: Arc<KeyFilter>) -> Result<Self, StoreError> {
        let (opened, ready) = oneshot::channel();
        let (jobs, queue) = mpsc::channel::<Job>();
        let path: PathBuf = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let connection = match connect(&path).and_then(|connection| load_keys(&connection, &keys).map(|()| connection)) {
                    Ok(connection) => {
                        let _ = opened.send(Ok(()));
                        connection
                    }
                    Err(err) => {
                        let _ = opened.send(Err(err));
                        return;
                    }
                };
                let mut direct = Direct(&connection);
                while let Ok(job) = queue.recv() {
                    // Nothing in `Direct` waits: the future is ready at its first poll.
                    let result = futures_executor::block_on(crate::items::apply_batch(&mut direct, "BEGIN IMMEDIATE", &job.writes));
                    if let Ok(outcomes) = &result {
                        note_keys(&keys, &job.writes, outcomes);
                    }
                    let _ = job.reply.send(result);
                }
            })
            .map_err(|err| StoreError::Config(format!("cannot start the SQLite writer thread: {err}")))?;
        ready.await.map_err(|_| StoreError::WriterStopped)??;
        Ok(Self { jobs: Mutex::new(Some(jobs)), thread: Mutex::new(Some(thread)) })
    }

    /// Applies a batch on the writer thread; answers after its commit.
    pub(crate) async fn apply(&self, writes: Vec<Write>) -> BatchResult {
        let (reply, answer) = oneshot::channel();
        let jobs = self.jobs.lock().map_err(|_| StoreError::WriterStopped)?.clone().ok_or(StoreError::WriterStopped)?;
        jobs.send(Job { writes, reply }).map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Lets the thread finish what it was given, then closes the connection.
    pub(crate) async fn close(&self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Every idempotency key in the database, into `keys`.
fn load_keys(connection: &rusqlite::Connection, keys: &KeyFilter) -> Result<(), StoreError> {
    let mut stmt = connection.prepare("SELECT scope, idem_key, created_at FROM idempotency_keys")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (scope, key): (String, String) = (row.get(0)?, row.get(1)?);
        keys.insert(&scope, &key, row.get(2)?);
    }
    Ok(())
}

/// What a committed batch changed among the idempotency records: the keys of the writes that
/// committed, less what a purge deleted. Runs before any of the batch is answered, so a replay
/// after an answer finds its key.
fn note_keys(keys: &KeyFilter, writes: &[Write], outcomes: &[Result<crate::Outcome, prepazka_models::ErrorCode>]) {
    for (write, outcome) in writes.iter().zip(outcomes) {
        if outcome.is_err() {
            continue;
        }
        if let Some((record, created_at)) = write.idempotency_record() {
            keys.insert(&record.scope, &record.key, crate::ops::ms(created_at));
        }
        if let Write::PurgeIdempotency { before } = write {
            keys.purge(crate::ops::ms(*before));
        }
    }
}

fn connect(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let connection = rusqlite::Connection::open(path)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    let journal: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    // The writer's page cache stays valid between transactions (no one else writes), so it
    // spares re-reads of index pages from the OS cache; but not too large: a commit whose B-tree
    // balancing renumbered pages (through the pending-byte page) makes SQLite walk the cache's
    // whole page hash, so its cost grows with the cache (16 MiB against 64 MiB: writer CPU -9 %,
    // BENCHMARKS.md). A checkpoint every 32,768 WAL pages (128 MiB) copies a hot index page once
    // where 1,000 would copy it many times, and runs less often inside a commit (1,000 → 8,192 →
    // 32,768 each measurably faster, 131,072 no longer). Each write of a batch that runs per item
    // is in a savepoint, which copies every page it first touches into a statement journal: in
    // memory that is a copy, in a temporary file (the default) a system call per page.
    connection.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 32768; PRAGMA temp_store = MEMORY;",
    )?;
    connection.set_prepared_statement_cache_capacity(256);
    let synchronous: i64 = connection.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
    // 2 = FULL, 3 = EXTRA; NORMAL in WAL mode can lose the last commits on power loss.
    if synchronous < 2 {
        return Err(StoreError::NotDurable(format!("writer: PRAGMA synchronous = {synchronous}, need FULL")));
    }
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NotDurable(format!("writer: journal_mode = {journal}, need wal")));
    }
    Ok(connection)
}

/// Readers kept open for reuse; more are opened when all are busy.
const IDLE_READERS: usize = 8;

/// Read-only connections, used inline by whoever reads.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
    /// The idempotency keys the database holds, kept by the writer.
    keys: Arc<KeyFilter>,
}

impl Readers {
    pub(crate) fn new(path: &Path, keys: Arc<KeyFilter>) -> Result<Self, StoreError> {
        // One opened now, so that a database that cannot be read fails at start.
        let first = open_reader(path)?;
        Ok(Self { path: path.to_owned(), idle: Mutex::new(vec![first]), keys })
    }

    /// Closes the idle connections; a read after this opens a fresh one.
    pub(crate) async fn close(&self) {
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        // A reader that panicked left the list as it was: still usable.
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ReadConn for Readers {
    async fn rows(&self, stmt: Stmt) -> Result<Vec<Row>, StoreError> {
        let taken = self.idle().pop();
        let connection = match taken {
            Some(connection) => connection,
            None => open_reader(&self.path)?,
        };
        let rows = query_rows(&connection, &stmt);
        let mut idle = self.idle();
        if idle.len() < IDLE_READERS {
            idle.push(connection);
        }
        Ok(rows?)
    }

    fn may_hold_idempotency_key(&self, scope: &str, key: &str) -> bool {
        self.keys.may_hold(scope, key)
    }
}

fn open_reader(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    let connection = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

/// The cached prepared statement with the values bound: `$n` binds the n-th value (SQLite takes
/// `$1` as a parameter name, numbered by first appearance, so the names are read).
fn prepared<'c>(connection: &'c rusqlite::Connection, stmt: &Stmt) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut prepared = connection.prepare_cached(&stmt.sql)?;
    for index in 1..=prepared.parameter_count() {
        // The number is read before binding (the name borrows the statement); the name itself
        // is copied only for the error.
        let number = prepared.parameter_name(index).and_then(|name| name.strip_prefix('$')).and_then(|number| number.parse::<usize>().ok());
        let Some(arg) = number.and_then(|number| stmt.args.get(number.checked_sub(1)?)) else {
            return Err(rusqlite::Error::InvalidParameterName(prepared.parameter_name(index).unwrap_or_default().to_owned()));
        };
        match arg {
            Arg::Int(v) => prepared.raw_bind_parameter(index, v)?,
            Arg::OptInt(v) => prepared.raw_bind_parameter(index, v)?,
            Arg::Text(v) => prepared.raw_bind_parameter(index, v.as_str())?,
            Arg::OptText(v) => prepared.raw_bind_parameter(index, v.as_deref())?,
            Arg::Bool(v) => prepared.raw_bind_parameter(index, v)?,
            Arg::Bytes(v) => prepared.raw_bind_parameter(index, v.as_slice())?,
        }
    }
    Ok(prepared)
}

fn query_rows(connection: &rusqlite::Connection, stmt: &Stmt) -> rusqlite::Result<Vec<Row>> {
    let mut prepared = prepared(connection, stmt)?;
    let names: Vec<String> = prepared.column_names().into_iter().map(str::to_owned).collect();
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut columns = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            let value = match row.get_ref(index)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                rusqlite::types::ValueRef::Real(v) => Value::Real(v),
                rusqlite::types::ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
                rusqlite::types::ValueRef::Blob(v) => Value::Bytes(v.to_vec()),
            };
            columns.push((name.clone(), value));
        }
        out.push(Row { columns });
    }
    Ok(out)
}

/// The write connection as the write path drives it, synchronously.
struct Direct<'c>(&'c rusqlite::Connection);

impl WriteConn for Direct<'_> {
    async fn control(&mut self, sql: &str) -> Result<(), StoreError> {
        self.0.execute_batch(sql)?;
        Ok(())
    }

    async fn run(&mut self, stmts: Vec<Stmt>) -> Result<Vec<u64>, ItemError> {
        let mut changes = Vec::with_capacity(stmts.len());
        for stmt in &stmts {
            changes.push(prepared(self.0, stmt)?.raw_execute()? as u64);
        }
        Ok(changes)
    }

    async fn rows(&mut self, stmt: Stmt) -> Result<Vec<Row>, ItemError> {
        Ok(query_rows(self.0, &stmt)?)
    }
}
