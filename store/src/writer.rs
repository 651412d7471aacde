//! Group commit: one batching writer per database.
//!
//! Every write of every actor goes through [`Writer::submit`]. A single task takes what has
//! queued up (up to `max_batch` items), applies it in one transaction with a savepoint per item,
//! and only after the commit answers each caller. While one commit is flushing to disk the
//! next batch gathers, so the number of fsyncs per second stays flat while throughput grows
//! with load. If the commit fails, no item of the batch is acknowledged: each gets
//! `ErrorCode::Unavailable` (a 503 at the edge).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use prepazka_models::ErrorCode;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Outcome, SharedStore, Write};

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Most items in one transaction; 1 turns group commit off (one commit per write).
    pub max_batch: usize,
    /// Submissions that may wait before `submit` itself waits (back-pressure).
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self { max_batch: 512, queue: 16_384 }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub items: AtomicU64,
    pub failed_batches: AtomicU64,
    pub commit_micros: AtomicU64,
}

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<Outcome, ErrorCode>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Starts the writer task on the current tokio runtime. It ends when every handle is dropped,
    /// after committing what was already submitted.
    pub fn spawn(store: SharedStore, config: WriterConfig) -> (Writer, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(WriterStats::default());
        let task = tokio::spawn(run(store, queue, config.max_batch.max(1), stats.clone()));
        (Writer { jobs, stats }, task)
    }

    /// Applies `write` and returns once it is committed, or why it was not.
    pub async fn submit(&self, write: Write) -> Result<Outcome, ErrorCode> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { write, reply }).await.map_err(|_| ErrorCode::Unavailable)?;
        answer.await.unwrap_or(Err(ErrorCode::Unavailable))
    }

    /// Queues `write` now, in the caller's order, without waiting; the receiver answers after
    /// the commit. For owners that must keep their writes in the order they decided them.
    pub fn enqueue(&self, write: Write) -> Result<oneshot::Receiver<Result<Outcome, ErrorCode>>, ErrorCode> {
        let (reply, answer) = oneshot::channel();
        self.jobs.try_send(Job { write, reply }).map_err(|_| ErrorCode::Unavailable)?;
        Ok(answer)
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

async fn run(store: SharedStore, mut queue: mpsc::Receiver<Job>, max_batch: usize, stats: Arc<WriterStats>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut jobs, max_batch).await > 0 {
        let (writes, replies): (Vec<Write>, Vec<_>) = jobs.drain(..).map(|job| (job.write, job.reply)).unzip();
        let items = writes.len();
        let started = Instant::now();
        let result = store.apply_batch(writes).await;
        stats.commit_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.items.fetch_add(items as u64, Ordering::Relaxed);
        match result {
            Ok(results) => {
                for (reply, result) in replies.into_iter().zip(results) {
                    // A caller that went away still had its write committed; nothing to undo.
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %err, items, "batch commit failed; no item acknowledged");
                for reply in replies {
                    let _ = reply.send(Err(ErrorCode::Unavailable));
                }
            }
        }
    }
    tracing::info!("writer stopped: all handles dropped and the queue is drained");
}
