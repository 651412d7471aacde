//! One office's booking decisions: the `OfficeActor` and its handle.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};
use prepazka_models::booking::{check_slot_rules, Applicant, Seats, SlotBoard, SlotKey};
use prepazka_models::calendar::{prague_date, slot_starts, BookingWindow, PRAGUE};
use prepazka_models::clock::Clock;
use prepazka_models::ids::OfficeId;
use prepazka_models::office::Office;
use prepazka_models::queue::{DisplayEvent, OfficeQueue, PolicyParams, QueueCommand, Ticket};
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use prepazka_store::writer::Writer;
use prepazka_store::{NewHold, Outcome, QueueRecord, SharedStore, Write};
use tokio::sync::broadcast;

/// Messages an office may have waiting before senders wait.
pub const MAILBOX: usize = 16_384;

/// Committed display events kept for subscribers that fall behind; a display further behind
/// re-reads from the store.
pub const DISPLAY_BUFFER: usize = 1024;

/// How often an office expires stale holds and re-reads its seat counts from the store.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// What an office needs to decide.
pub struct OfficeDeps {
    pub store: SharedStore,
    pub writer: Writer,
    pub clock: Arc<dyn Clock>,
    pub window: BookingWindow,
}

pub struct OfficeActor {
    office: Arc<Office>,
    board: SlotBoard,
    /// Today's queue (Prague day); replaced when the day changes, rebuilt from the store on start.
    queue: OfficeQueue,
    displays: broadcast::Sender<DisplayEvent>,
    deps: Arc<OfficeDeps>,
}

impl OfficeActor {
    fn now(&self) -> DateTime<Utc> {
        self.deps.clock.now()
    }

    /// Rebuilds the queue of `day` from its persisted events. Run under `ctx.wait`.
    fn read_queue(&mut self, day: NaiveDate) -> impl ActorFuture<Self, Output = ()> {
        let deps = self.deps.clone();
        let office = self.office.id.clone();
        async move { deps.store.queue_events(&office, day, 0).await }.into_actor(self).map(move |records, act, _| match records {
            Ok(records) => {
                let mut queue = OfficeQueue::new(day, act.queue.params);
                for record in &records {
                    queue.apply_at(record.seq, &record.event, record.at);
                }
                act.queue = queue;
            }
            Err(err) => tracing::error!(office.id = %act.office.id, error = %err, "reading the queue failed"),
        })
    }

    /// The slots of the booking horizon, as the calendar and the office's services define them.
    fn planned_slots(&self) -> Vec<(ServiceKind, DateTime<Utc>, u32)> {
        let today = self.now().with_timezone(&PRAGUE).date_naive();
        let mut slots = Vec::new();
        for day in today.iter_days().take(self.deps.window.horizon_days as usize + 1) {
            for offered in &self.office.services {
                for start in slot_starts(&self.office.hours, offered.slot_minutes, day) {
                    slots.push((offered.service, start, offered.capacity));
                }
            }
        }
        slots
    }

    /// Re-reads the seat counts from the store. Run under `ctx.wait`, so no decision is made
    /// against a half-loaded board.
    fn read_board(&mut self) -> impl ActorFuture<Self, Output = ()> {
        let deps = self.deps.clone();
        let office = self.office.id.clone();
        let from = self.now();
        async move { deps.store.slot_seats(&office, from).await }.into_actor(self).map(|seats, act, _| match seats {
            Ok(seats) => {
                let mut board = SlotBoard::default();
                for (key, seats) in seats {
                    board.insert(key, seats);
                }
                act.board = board;
            }
            Err(err) => tracing::error!(office.id = %act.office.id, error = %err, "reading seat counts failed"),
        })
    }
}

impl Actor for OfficeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Read what is on sale, release what the horizon adds, read again if anything was
        // added. One waiting future, so no message is handled before the board is whole
        // (and actix runs several queued `wait` futures last-in first).
        let today = prague_date(self.now());
        ctx.wait(self.read_queue(today));
        ctx.wait(self.read_board().then(|(), act, _| {
            let missing: Vec<_> = act
                .planned_slots()
                .into_iter()
                .filter(|(service, start, _)| act.board.seats(&SlotKey { service: *service, start: *start }).is_none())
                .collect();
            let writer = act.deps.writer.clone();
            let office = act.office.id.clone();
            let added = !missing.is_empty();
            async move {
                if added {
                    if let Err(code) = writer.submit(Write::ReleaseSlots { office: office.clone(), slots: missing }).await {
                        tracing::error!(office.id = %office, %code, "releasing slots failed");
                    }
                }
            }
            .into_actor(act)
            .then(move |(), act, _| {
                let reread: Pin<Box<dyn ActorFuture<Self, Output = ()>>> =
                    if added { Box::pin(act.read_board()) } else { Box::pin(fut::ready(())) };
                reread
            })
        }));
        ctx.run_interval(SWEEP_EVERY, |_, ctx| ctx.notify(Sweep));
    }
}

/// What the person behind a hold brings to the rules.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub hold: NewHold,
    pub biometrics_office: Option<OfficeId>,
    pub idempotency: Option<prepazka_store::IdempotencyRecord>,
}

#[derive(Message)]
#[rtype(result = "Result<Outcome, ErrorCode>")]
struct Hold(HoldRequest);

#[derive(Message)]
#[rtype(result = "Result<Outcome, ErrorCode>")]
struct Commit(Write);

#[derive(Message)]
#[rtype(result = "Result<Outcome, ErrorCode>")]
struct Reschedule {
    write: Write,
    service: ServiceKind,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

#[derive(Message)]
#[rtype(result = "Vec<(DateTime<Utc>, Seats)>")]
struct FreeSlots {
    service: ServiceKind,
    day: NaiveDate,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Sweep;

#[derive(Message)]
#[rtype(result = "Result<QueueRecord, ErrorCode>")]
struct Queue(QueueCommand);

#[derive(Message)]
#[rtype(result = "Vec<Ticket>")]
struct QueueSnapshot;

impl Handler<Queue> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<QueueRecord, ErrorCode>>;

    /// Decides in memory, hands the event to the writer in decision order, applies it at once
    /// (so the next decision sees it), and answers and publishes only after the commit. If a
    /// commit fails, the queue is rebuilt from the store, which has the last word.
    fn handle(&mut self, Queue(command): Queue, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let today = prague_date(now);
        if self.queue.day != today {
            self.queue = OfficeQueue::new(today, self.queue.params);
        }
        let event = match self.queue.decide(&command, now) {
            Ok(event) => event,
            Err(code) => return Box::pin(fut::ready(Err(code))),
        };
        let record = QueueRecord { seq: self.queue.seq + 1, at: now, event };
        let write = Write::QueueEvent { office: self.office.id.clone(), day: today, record: record.clone() };
        let committed = match self.deps.writer.enqueue(write) {
            Ok(receiver) => receiver,
            Err(code) => return Box::pin(fut::ready(Err(code))),
        };
        self.queue.apply(&record.event, now);
        Box::pin(async move { committed.await.unwrap_or(Err(ErrorCode::Unavailable)) }.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(_) => {
                    // No display listening is not an error.
                    let _ = act.displays.send(DisplayEvent::of(today, record.seq, record.at, &record.event));
                    Ok(record)
                }
                Err(code) => {
                    tracing::warn!(office.id = %act.office.id, %code, seq = record.seq, "queue event not committed; rebuilding the queue");
                    ctx.wait(act.read_queue(today));
                    Err(code)
                }
            }
        }))
    }
}

impl Handler<QueueSnapshot> for OfficeActor {
    type Result = MessageResult<QueueSnapshot>;

    fn handle(&mut self, _: QueueSnapshot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.queue.tickets().cloned().collect())
    }
}

impl Handler<Hold> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<Outcome, ErrorCode>>;

    fn handle(&mut self, Hold(request): Hold, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let hold = &request.hold;
        let applicant = Applicant { biometrics_office: request.biometrics_office.as_ref() };
        let checked = hold.seats.iter().try_for_each(|seat| {
            check_slot_rules(&self.office, hold.service, seat.starts_at, applicant, now, self.deps.window).map(|_| ())
        });
        let keys: Vec<SlotKey> = hold.seats.iter().map(|s| SlotKey { service: hold.service, start: s.starts_at }).collect();
        let decided = checked.and_then(|()| self.board.take_all(&keys));
        if let Err(code) = decided {
            return Box::pin(fut::ready(Err(code)));
        }
        let write = Write::Hold { hold: request.hold, now, idempotency: request.idempotency };
        let writer = self.deps.writer.clone();
        Box::pin(async move { writer.submit(write).await }.into_actor(self).map(move |result, act, _| {
            if result.is_err() {
                for key in &keys {
                    act.board.release(key);
                }
            }
            result
        }))
    }
}

impl Handler<Commit> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<Outcome, ErrorCode>>;

    fn handle(&mut self, Commit(write): Commit, _: &mut Context<Self>) -> Self::Result {
        let writer = self.deps.writer.clone();
        Box::pin(async move { writer.submit(write).await }.into_actor(self).map(|result, act, _| {
            match &result {
                Ok(Outcome::Cancelled { booking }) => act.board.release(&SlotKey { service: booking.service, start: booking.starts_at }),
                Ok(Outcome::Expired { freed }) => {
                    for (service, start) in freed {
                        act.board.release(&SlotKey { service: *service, start: *start });
                    }
                }
                _ => {}
            }
            result
        }))
    }
}

impl Handler<Reschedule> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<Outcome, ErrorCode>>;

    fn handle(&mut self, msg: Reschedule, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let to = SlotKey { service: msg.service, start: msg.to };
        let from = SlotKey { service: msg.service, start: msg.from };
        let checked = check_slot_rules(
            &self.office,
            msg.service,
            msg.to,
            Applicant { biometrics_office: Some(&self.office.id) },
            now,
            self.deps.window,
        )
        .map(|_| ())
        .and_then(|()| if msg.from == msg.to { Err(ErrorCode::SameSlot) } else { Ok(()) })
        .and_then(|()| self.board.take(&to, 1));
        if let Err(code) = checked {
            return Box::pin(fut::ready(Err(code)));
        }
        let writer = self.deps.writer.clone();
        let write = msg.write;
        Box::pin(async move { writer.submit(write).await }.into_actor(self).map(move |result, act, _| {
            match &result {
                Ok(_) => act.board.release(&from),
                Err(_) => act.board.release(&to),
            }
            result
        }))
    }
}

impl Handler<FreeSlots> for OfficeActor {
    type Result = MessageResult<FreeSlots>;

    fn handle(&mut self, msg: FreeSlots, _: &mut Context<Self>) -> Self::Result {
        let earliest = self.now() + chrono::Duration::minutes(i64::from(self.deps.window.min_lead_minutes));
        MessageResult(self.board.free_on(msg.service, msg.day).into_iter().filter(|(start, _)| *start >= earliest).collect())
    }
}

impl Handler<Sweep> for OfficeActor {
    type Result = ();

    fn handle(&mut self, _: Sweep, ctx: &mut Context<Self>) {
        let write = Write::ExpireHolds { office: self.office.id.clone(), now: self.now() };
        let writer = self.deps.writer.clone();
        ctx.wait(async move { writer.submit(write).await }.into_actor(self).then(|result, act, _| {
            match result {
                Ok(Outcome::Expired { freed }) if !freed.is_empty() => {
                    tracing::info!(office.id = %act.office.id, count = freed.len(), "holds expired");
                }
                Ok(_) => {}
                Err(code) => tracing::warn!(office.id = %act.office.id, %code, "sweeping holds failed"),
            }
            // Seats freed outside this actor (a person's own stale hold given way at another
            // office) come back with the re-read.
            act.read_board()
        }));
    }
}

/// The only way the rest of the system talks to an office.
#[derive(Clone)]
pub struct OfficeHandle {
    office: Arc<Office>,
    addr: Addr<OfficeActor>,
    displays: broadcast::Sender<DisplayEvent>,
}

impl OfficeHandle {
    /// Starts the office's actor on `arbiter`; it releases its horizon's slots and loads its board
    /// before it takes any message.
    pub fn start(office: Office, deps: Arc<OfficeDeps>, arbiter: &ArbiterHandle) -> Self {
        let office = Arc::new(office);
        let actor_office = office.clone();
        let (displays, _) = broadcast::channel(DISPLAY_BUFFER);
        let actor_displays = displays.clone();
        let today = prague_date(deps.clock.now());
        let addr = OfficeActor::start_in_arbiter(arbiter, move |ctx| {
            // Before any message arrives: a burst (a kiosk rush, a test) must not meet the
            // default mailbox of 16.
            ctx.set_mailbox_capacity(MAILBOX);
            OfficeActor {
                office: actor_office,
                board: SlotBoard::default(),
                queue: OfficeQueue::new(today, PolicyParams::default()),
                displays: actor_displays,
                deps,
            }
        });
        Self { office, addr, displays }
    }

    pub fn office(&self) -> &Office {
        &self.office
    }

    pub async fn free_slots(&self, service: ServiceKind, day: NaiveDate) -> Result<Vec<(DateTime<Utc>, Seats)>, ErrorCode> {
        self.addr.send(FreeSlots { service, day }).await.map_err(|_| ErrorCode::Unavailable)
    }

    /// Holds seats (one per person of a household) after checking every booking rule.
    pub async fn hold(&self, request: HoldRequest) -> Result<Outcome, ErrorCode> {
        self.addr.send(Hold(request)).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Confirms or cancels through the office, so its board follows.
    pub async fn commit(&self, write: Write) -> Result<Outcome, ErrorCode> {
        self.addr.send(Commit(write)).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Moves a confirmed booking from `from` to `to` (same service), new seat first.
    pub async fn reschedule(
        &self,
        service: ServiceKind,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        write: Write,
    ) -> Result<Outcome, ErrorCode> {
        self.addr.send(Reschedule { write, service, from, to }).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Runs a queue command; answers with the committed event.
    pub async fn queue(&self, command: QueueCommand) -> Result<QueueRecord, ErrorCode> {
        self.addr.send(Queue(command)).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Today's tickets as the office sees them.
    pub async fn tickets(&self) -> Result<Vec<Ticket>, ErrorCode> {
        self.addr.send(QueueSnapshot).await.map_err(|_| ErrorCode::Unavailable)
    }

    /// Committed queue transitions from now on (displays replay older ones from the store).
    pub fn subscribe(&self) -> broadcast::Receiver<DisplayEvent> {
        self.displays.subscribe()
    }

    /// Expires stale holds now instead of at the next sweep (tests, shutdown).
    pub async fn sweep(&self) -> Result<(), ErrorCode> {
        self.addr.send(Sweep).await.map_err(|_| ErrorCode::Unavailable)
    }
}
