//! One office's booking decisions: the `OfficeActor` and its handle.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};
use prepazka_models::booking::{check_slot_rules, Applicant, Seats, SlotBoard, SlotKey};
use prepazka_models::calendar::{prague_date, slot_starts, BookingWindow, PRAGUE};
use prepazka_models::clock::Clock;
use prepazka_models::ids::OfficeId;
use prepazka_models::office::Office;
use prepazka_models::queue::{Counter, CounterStatus, DisplayEvent, OfficeQueue, Origin, PolicyParams, QueueCommand, Ticket};
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

/// A committed queue transition as displays and phones are told it: the event, and its
/// Server-Sent Events frame rendered once here for every subscriber (not once per stream).
#[derive(Debug)]
pub struct Published {
    pub event: DisplayEvent,
    pub frame: Box<[u8]>,
}

/// One Server-Sent Events frame: `id: {day}:{seq}`, `event: queue`, the event as JSON.
pub fn sse_frame(event: &DisplayEvent) -> Vec<u8> {
    let data = serde_json::to_string(event).unwrap_or_default();
    format!("id: {}:{}\nevent: queue\ndata: {data}\n\n", event.day, event.seq).into_bytes()
}

/// Published events an office keeps for streams that start or come back, so that a display's
/// first frames need no store read (which would read the whole day).
pub const RECENT: usize = 64;

/// An office's display feed: the live channel, and the last [`RECENT`] events published on it.
struct Feed {
    live: broadcast::Sender<Arc<Published>>,
    recent: std::sync::Mutex<std::collections::VecDeque<Arc<Published>>>,
}

impl Feed {
    /// Keeps and sends under one lock, so a subscriber finds each event either among the recent
    /// ones or on its receiver.
    fn publish(&self, published: Published) {
        let published = Arc::new(published);
        let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(published.clone());
        // No display listening is not an error.
        let _ = self.live.send(published);
    }
}

/// What an office needs to decide.
pub struct OfficeDeps {
    pub store: SharedStore,
    pub writer: Writer,
    pub clock: Arc<dyn Clock>,
    pub window: BookingWindow,
    /// Walk-in tickets stop this long before closing.
    pub walk_in_cutoff: chrono::Duration,
}

/// An office's seat counts: changed only by its actor, read by its handles under a read lock.
/// A day's free slots is the question asked most, and this way it needs no trip through the
/// actor's mailbox (and no wake-up of the actor's thread).
#[derive(Clone, Default)]
struct Board {
    seats: Arc<RwLock<SlotBoard>>,
    /// Set once the first read from the store is in; before, readers ask the actor, which
    /// answers only after that read.
    loaded: Arc<AtomicBool>,
}

impl Board {
    fn read(&self) -> RwLockReadGuard<'_, SlotBoard> {
        // A panic under the lock left counts as they were; the next re-read repairs any doubt.
        self.seats.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, SlotBoard> {
        self.seats.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn replace(&self, board: SlotBoard) {
        *self.write() = board;
    }

    /// Called once the actor's start (read, release what the horizon adds, read again) is done.
    fn mark_loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }

    fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// The day's slots with their seat counts, those starting before `earliest` left out.
    fn free_on(&self, service: ServiceKind, day: NaiveDate, earliest: DateTime<Utc>) -> Vec<(DateTime<Utc>, Seats)> {
        let mut slots = self.read().free_on(service, day);
        slots.retain(|(start, _)| *start >= earliest);
        slots
    }
}

/// The earliest start a booking made at `now` may have.
fn earliest_bookable(now: DateTime<Utc>, window: BookingWindow) -> DateTime<Utc> {
    now + chrono::Duration::minutes(i64::from(window.min_lead_minutes))
}

pub struct OfficeActor {
    office: Arc<Office>,
    board: Board,
    /// Today's queue (Prague day); replaced when the day changes, rebuilt from the store on start.
    queue: OfficeQueue,
    displays: Arc<Feed>,
    counters: BTreeMap<u16, Counter>,
    /// Committed events waiting for their predecessors: commits of one batch may be answered
    /// in any order, but displays are told in sequence order.
    unpublished: BTreeMap<u64, DisplayEvent>,
    /// The day and sequence number of the last event published.
    published: (NaiveDate, u64),
    /// Days closed outside the regular hours (from the store).
    closures: BTreeSet<NaiveDate>,
    deps: Arc<OfficeDeps>,
}

impl OfficeActor {
    /// The counters as saved, and the office's other counters closed with every service.
    fn default_counters(office: &Office) -> BTreeMap<u16, Counter> {
        let services: Vec<ServiceKind> = office.available_services().map(|s| s.service).collect();
        (1..=office.counter_count()).map(|n| (n, Counter::closed(n, services.iter().copied()))).collect()
    }

    /// Reads the counters and closures. Run under `ctx.wait`.
    fn read_counters(&mut self) -> impl ActorFuture<Self, Output = ()> {
        let deps = self.deps.clone();
        let office = self.office.id.clone();
        async move { (deps.store.counters(&office).await, deps.store.closures(&office).await) }.into_actor(self).map(
            |(counters, closures), act, _| {
                match counters {
                    Ok(saved) => {
                        let mut counters = Self::default_counters(&act.office);
                        counters.extend(saved.into_iter().map(|c| (c.number, c)));
                        act.counters = counters;
                    }
                    Err(err) => tracing::error!(office.id = %act.office.id, error = %err, "reading counters failed"),
                }
                match closures {
                    Ok(days) => act.closures = days.into_iter().map(|(day, _)| day).collect(),
                    Err(err) => tracing::error!(office.id = %act.office.id, error = %err, "reading closures failed"),
                }
            },
        )
    }

    /// A queue command as the counter's state allows it: a counter calls only while open, and
    /// only for the services assigned to it (narrowed further if the officer asked); walk-in
    /// tickets only within the day's walk-in hours.
    fn admit(&self, command: QueueCommand, now: DateTime<Utc>) -> Result<QueueCommand, ErrorCode> {
        match command {
            QueueCommand::CallNext { counter, services } => {
                let assigned = self.counters.get(&counter).ok_or(ErrorCode::InvalidInput)?.calling_for();
                if assigned.is_empty() {
                    return Err(ErrorCode::CounterClosed);
                }
                let services = if services.is_empty() { assigned } else { services.intersection(&assigned).copied().collect() };
                Ok(QueueCommand::CallNext { counter, services })
            }
            QueueCommand::Issue { origin: Origin::WalkIn, .. } => {
                if self.closures.contains(&prague_date(now)) {
                    return Err(ErrorCode::WalkInsClosed);
                }
                prepazka_models::calendar::walk_ins_open(&self.office.hours, now, self.deps.walk_in_cutoff)?;
                Ok(command)
            }
            other => Ok(other),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.deps.clock.now()
    }

    /// Publishes a committed event once every event before it in its day is published.
    fn publish_in_order(&mut self, event: DisplayEvent) {
        if event.day != self.published.0 {
            self.published = (event.day, event.seq - 1);
            self.unpublished.clear();
        }
        if event.seq <= self.published.1 {
            // Already in the store when the queue was rebuilt: displays replay it from there.
            return;
        }
        self.unpublished.insert(event.seq, event);
        while let Some(next) = self.unpublished.remove(&(self.published.1 + 1)) {
            self.published.1 = next.seq;
            let frame = sse_frame(&next).into_boxed_slice();
            self.displays.publish(Published { event: next, frame });
        }
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
                // What the store holds was committed: displays replay it from there.
                act.published = (day, queue.seq);
                act.unpublished.retain(|seq, _| *seq > queue.seq);
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
                act.board.replace(board);
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
        ctx.wait(self.read_counters());
        ctx.wait(self.read_queue(today));
        ctx.wait(self.read_board().then(|(), act, _| {
            let missing: Vec<_> = act
                .planned_slots()
                .into_iter()
                .filter(|(service, start, _)| act.board.read().seats(&SlotKey { service: *service, start: *start }).is_none())
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
            .map(|(), act, _| act.board.mark_loaded())
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
#[rtype(result = "DaySnapshot")]
struct DayQuery;

/// Today's queue and counters as the office sees them.
#[derive(Debug, Clone, Default)]
pub struct DaySnapshot {
    pub tickets: Vec<Ticket>,
    pub counters: Vec<Counter>,
    pub params: PolicyParams,
    pub closures: BTreeSet<NaiveDate>,
}

/// What staff change about a counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterChange {
    /// An officer signs in to the counter and opens it.
    Open {
        officer: String,
    },
    Pause,
    /// Closes it; a counter still serving someone finishes first.
    Close,
    /// A supervisor assigns services.
    Assign(BTreeSet<ServiceKind>),
}

#[derive(Message)]
#[rtype(result = "Result<Counter, ErrorCode>")]
struct ChangeCounter {
    number: u16,
    change: CounterChange,
    actor: String,
}

#[derive(Message)]
#[rtype(result = "Result<Outcome, ErrorCode>")]
struct CloseDay {
    day: NaiveDate,
    reason: String,
    rebook_path: String,
    actor: String,
}

#[derive(Message)]
#[rtype(result = "Result<Outcome, ErrorCode>")]
struct SetCapacity {
    service: ServiceKind,
    day: NaiveDate,
    capacity: u32,
    actor: String,
}

impl Handler<DayQuery> for OfficeActor {
    type Result = MessageResult<DayQuery>;

    fn handle(&mut self, _: DayQuery, _: &mut Context<Self>) -> Self::Result {
        MessageResult(DaySnapshot {
            tickets: self.queue.tickets().cloned().collect(),
            counters: self.counters.values().cloned().collect(),
            params: self.queue.params,
            closures: self.closures.clone(),
        })
    }
}

impl Handler<ChangeCounter> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<Counter, ErrorCode>>;

    /// Decides, hands the write over in decision order, applies at once, answers after commit;
    /// a failed commit re-reads the counters from the store.
    fn handle(&mut self, msg: ChangeCounter, _: &mut Context<Self>) -> Self::Result {
        let offered: BTreeSet<ServiceKind> = self.office.available_services().map(|s| s.service).collect();
        let known = self.counters.get(&msg.number).cloned();
        // A counter beyond the usual number (an extra desk opened for a rush) starts closed.
        let fresh =
            || (1..=prepazka_models::queue::MAX_COUNTER).contains(&msg.number).then(|| Counter::closed(msg.number, offered.clone()));
        let Some(current) = known.or_else(fresh) else {
            return Box::pin(fut::ready(Err(ErrorCode::InvalidInput)));
        };
        let changed = match msg.change {
            CounterChange::Open { officer } => Ok(Counter { status: CounterStatus::Open, officer: Some(officer), ..current }),
            CounterChange::Pause if current.status == CounterStatus::Closed => Err(ErrorCode::CounterClosed),
            CounterChange::Pause => Ok(Counter { status: CounterStatus::Paused, ..current }),
            CounterChange::Close if self.queue.busy(msg.number) => Err(ErrorCode::CounterBusy),
            CounterChange::Close => Ok(Counter { status: CounterStatus::Closed, officer: None, ..current }),
            CounterChange::Assign(services) if services.is_empty() || !services.is_subset(&offered) => Err(ErrorCode::ServiceNotOffered),
            CounterChange::Assign(services) => Ok(Counter { services, ..current }),
        };
        let counter = match changed {
            Ok(counter) => counter,
            Err(code) => return Box::pin(fut::ready(Err(code))),
        };
        let write = Write::SaveCounter { office: self.office.id.clone(), counter: counter.clone(), actor: msg.actor, now: self.now() };
        let committed = match self.deps.writer.enqueue(write) {
            Ok(receiver) => receiver,
            Err(code) => return Box::pin(fut::ready(Err(code))),
        };
        self.counters.insert(counter.number, counter.clone());
        Box::pin(async move { committed.await.unwrap_or(Err(ErrorCode::Unavailable)) }.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(_) => Ok(counter),
                Err(code) => {
                    ctx.wait(act.read_counters());
                    Err(code)
                }
            }
        }))
    }
}

impl Handler<CloseDay> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<Outcome, ErrorCode>>;

    fn handle(&mut self, msg: CloseDay, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let bounds = prepazka_models::calendar::prague_day_bounds(msg.day);
        let refused = if msg.day < prague_date(now) {
            Some(ErrorCode::SlotInPast)
        } else if self.closures.contains(&msg.day) {
            Some(ErrorCode::OfficeClosedOnDay)
        } else {
            None
        };
        let (from, to) = match (refused, bounds) {
            (None, Some(bounds)) => bounds,
            (Some(code), _) => return Box::pin(fut::ready(Err(code))),
            (None, None) => return Box::pin(fut::ready(Err(ErrorCode::InvalidDate))),
        };
        let write = Write::CloseOffice {
            office: self.office.id.clone(),
            day: msg.day,
            from,
            to,
            reason: msg.reason,
            rebook_path: msg.rebook_path,
            actor: msg.actor,
            now,
        };
        let writer = self.deps.writer.clone();
        let day = msg.day;
        Box::pin(async move { writer.submit(write).await }.into_actor(self).map(move |result, act, ctx| {
            if result.is_ok() {
                act.closures.insert(day);
            }
            ctx.wait(act.read_board());
            result
        }))
    }
}

impl Handler<SetCapacity> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<Outcome, ErrorCode>>;

    fn handle(&mut self, msg: SetCapacity, _: &mut Context<Self>) -> Self::Result {
        let Some((from, to)) = prepazka_models::calendar::prague_day_bounds(msg.day) else {
            return Box::pin(fut::ready(Err(ErrorCode::InvalidDate)));
        };
        if let Err(code) = self.office.offers(msg.service) {
            return Box::pin(fut::ready(Err(code)));
        }
        if msg.day < prague_date(self.now()) {
            return Box::pin(fut::ready(Err(ErrorCode::SlotInPast)));
        }
        let write = Write::SetCapacity {
            office: self.office.id.clone(),
            service: msg.service,
            from,
            to,
            capacity: msg.capacity,
            actor: msg.actor,
            now: self.now(),
        };
        let writer = self.deps.writer.clone();
        Box::pin(async move { writer.submit(write).await }.into_actor(self).map(|result, act, ctx| {
            ctx.wait(act.read_board());
            result
        }))
    }
}

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
        let event = match self.admit(command, now).and_then(|command| self.queue.decide(&command, now)) {
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
                    act.publish_in_order(DisplayEvent::of(today, record.seq, record.at, &record.event));
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

impl Handler<Hold> for OfficeActor {
    type Result = ResponseActFuture<Self, Result<Outcome, ErrorCode>>;

    fn handle(&mut self, Hold(request): Hold, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        let hold = &request.hold;
        let applicant = Applicant { biometrics_office: request.biometrics_office.as_ref() };
        let checked = hold.seats.iter().try_for_each(|seat| {
            if self.closures.contains(&prague_date(seat.starts_at)) {
                return Err(ErrorCode::OfficeClosedOnDay);
            }
            check_slot_rules(&self.office, hold.service, seat.starts_at, applicant, now, self.deps.window).map(|_| ())
        });
        let keys: Vec<SlotKey> = hold.seats.iter().map(|s| SlotKey { service: hold.service, start: s.starts_at }).collect();
        let decided = checked.and_then(|()| self.board.write().take_all(&keys));
        if let Err(code) = decided {
            return Box::pin(fut::ready(Err(code)));
        }
        let write = Write::Hold { hold: request.hold, now, idempotency: request.idempotency };
        let writer = self.deps.writer.clone();
        Box::pin(async move { writer.submit(write).await }.into_actor(self).map(move |result, act, _| {
            if result.is_err() {
                for key in &keys {
                    act.board.write().release(key);
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
                Ok(Outcome::Cancelled { booking }) => act.board.write().release(&SlotKey { service: booking.service, start: booking.starts_at }),
                Ok(Outcome::Expired { freed }) => {
                    for (service, start) in freed {
                        act.board.write().release(&SlotKey { service: *service, start: *start });
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
        .and_then(|()| self.board.write().take(&to, 1));
        if let Err(code) = checked {
            return Box::pin(fut::ready(Err(code)));
        }
        let writer = self.deps.writer.clone();
        let write = msg.write;
        Box::pin(async move { writer.submit(write).await }.into_actor(self).map(move |result, act, _| {
            match &result {
                Ok(_) => act.board.write().release(&from),
                Err(_) => act.board.write().release(&to),
            }
            result
        }))
    }
}

impl Handler<FreeSlots> for OfficeActor {
    type Result = MessageResult<FreeSlots>;

    fn handle(&mut self, msg: FreeSlots, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.board.free_on(msg.service, msg.day, earliest_bookable(self.now(), self.deps.window)))
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
    board: Board,
    deps: Arc<OfficeDeps>,
    displays: Arc<Feed>,
    walk_in_cutoff: chrono::Duration,
}

impl OfficeHandle {
    /// Starts the office's actor on `arbiter`; it releases its horizon's slots and loads its board
    /// before it takes any message.
    pub fn start(office: Office, deps: Arc<OfficeDeps>, arbiter: &ArbiterHandle) -> Self {
        let office = Arc::new(office);
        let actor_office = office.clone();
        let (live, _) = broadcast::channel(DISPLAY_BUFFER);
        let displays = Arc::new(Feed { live, recent: Default::default() });
        let actor_displays = displays.clone();
        let today = prague_date(deps.clock.now());
        let walk_in_cutoff = deps.walk_in_cutoff;
        let board = Board::default();
        let actor_board = board.clone();
        let handle_deps = deps.clone();
        let addr = OfficeActor::start_in_arbiter(arbiter, move |ctx| {
            // Before any message arrives: a burst (a kiosk rush, a test) must not meet the
            // default mailbox of 16.
            ctx.set_mailbox_capacity(MAILBOX);
            OfficeActor {
                office: actor_office,
                board: actor_board,
                queue: OfficeQueue::new(today, PolicyParams::default()),
                displays: actor_displays,
                counters: BTreeMap::new(),
                unpublished: BTreeMap::new(),
                published: (today, 0),
                closures: BTreeSet::new(),
                deps,
            }
        });
        Self { office, addr, board, deps: handle_deps, displays, walk_in_cutoff }
    }

    /// Until when walk-in tickets are issued on the Prague day of `now` (`None`: not that day).
    pub fn walk_ins_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        use chrono::Datelike;
        let date = prague_date(now);
        let (_, close) = self.office.hours.on(date.weekday()).filter(|_| !prepazka_models::calendar::is_public_holiday(date))?;
        prepazka_models::calendar::prague_instant(date, close).map(|close| close - self.walk_in_cutoff)
    }

    pub fn office(&self) -> &Office {
        &self.office
    }

    /// A day's slots of `service` with their seat counts, from the office's board.
    pub async fn free_slots(&self, service: ServiceKind, day: NaiveDate) -> Result<Vec<(DateTime<Utc>, Seats)>, ErrorCode> {
        if self.board.is_loaded() {
            return Ok(self.board.free_on(service, day, earliest_bookable(self.deps.clock.now(), self.deps.window)));
        }
        self.addr.send(FreeSlots { service, day }).await.map_err(|_| ErrorCode::Unavailable)
    }

    /// Holds seats (one per person of a household) after checking every booking rule.
    pub async fn hold(&self, request: HoldRequest) -> Result<Outcome, ErrorCode> {
        self.addr.send(Hold(request)).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Cancels (or any write that frees seats) through the office, so its board follows.
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

    /// Today's tickets and counters, for staff pages and waiting-time estimates.
    pub async fn day(&self) -> Result<DaySnapshot, ErrorCode> {
        self.addr.send(DayQuery).await.map_err(|_| ErrorCode::Unavailable)
    }

    /// Opens, pauses, closes or assigns a counter on behalf of `actor` (a staff username).
    pub async fn change_counter(&self, number: u16, change: CounterChange, actor: &str) -> Result<Counter, ErrorCode> {
        self.addr.send(ChangeCounter { number, change, actor: actor.to_owned() }).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Closes the office on `day` (an unplanned closure): its bookings are cancelled with a
    /// notice each, linking to `rebook_path`.
    pub async fn close_day(&self, day: NaiveDate, reason: &str, rebook_path: &str, actor: &str) -> Result<Outcome, ErrorCode> {
        let msg = CloseDay { day, reason: reason.to_owned(), rebook_path: rebook_path.to_owned(), actor: actor.to_owned() };
        self.addr.send(msg).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Sets how many people a service's slots on `day` take (never below those booked).
    pub async fn set_capacity(&self, service: ServiceKind, day: NaiveDate, capacity: u32, actor: &str) -> Result<Outcome, ErrorCode> {
        self.addr.send(SetCapacity { service, day, capacity, actor: actor.to_owned() }).await.map_err(|_| ErrorCode::Unavailable)?
    }

    /// Committed queue transitions from now on, and the last [`RECENT`] published before
    /// (oldest first; older ones, and those from before a restart, are in the store).
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Published>>, Vec<Arc<Published>>) {
        let recent = self.displays.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (self.displays.live.subscribe(), recent.iter().cloned().collect())
    }

    /// Expires stale holds now instead of at the next sweep (tests, shutdown).
    pub async fn sweep(&self) -> Result<(), ErrorCode> {
        self.addr.send(Sweep).await.map_err(|_| ErrorCode::Unavailable)
    }
}
