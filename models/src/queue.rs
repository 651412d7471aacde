//! The office queue on the day: tickets, their life, and the call-next policy.
//!
//! Everything here is pure: [`OfficeQueue`] is the state an office owns (its actor keeps one
//! and persists each transition before showing it), and [`pick_next`] is the documented
//! call-next policy:
//!
//! 1. **Starving walk-ins first.** A walk-in ticket (priority or not) that has waited at least
//!    `walk_in_max_wait` is called before anything else, longest wait first: appointments may
//!    not hold a walk-in back past that bound.
//! 2. **Due appointments.** Checked-in appointment tickets whose slot starts within
//!    `due_before` from now (or has started), earliest slot first, then by arrival.
//! 3. **Priority tickets** (flagged by staff: disability, pregnancy, the elderly), by arrival.
//! 4. **Walk-ins and early appointments**, by arrival.
//!
//! A counter only gets tickets of services assigned to it. A transferred ticket keeps its
//! original arrival time. Ticket numbers are a service prefix and a number, unique per office
//! and Prague day (`B042`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::service::ServiceKind;
use crate::ErrorCode;

/// Tickets one service can issue in one office and day (the busiest office serves far fewer).
pub const MAX_TICKETS_PER_SERVICE: u16 = 9_999;

/// A ticket number as shown on displays: the service's prefix and a number of at least three
/// digits, `B042`, `B1042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct TicketNumber {
    prefix: char,
    number: u16,
}

impl TicketNumber {
    pub fn new(service: ServiceKind, number: u16) -> Self {
        Self { prefix: service.ticket_prefix(), number }
    }

    /// Parses `B042` (case-insensitive, 1–9999).
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let raw = raw.trim();
        let mut chars = raw.chars();
        let prefix = chars.next().map(|c| c.to_ascii_uppercase()).ok_or(ErrorCode::InvalidInput)?;
        if !ServiceKind::ALL.iter().any(|s| s.ticket_prefix() == prefix) {
            return Err(ErrorCode::InvalidInput);
        }
        let digits = chars.as_str();
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ErrorCode::InvalidInput);
        }
        let number: u16 = digits.parse().map_err(|_| ErrorCode::InvalidInput)?;
        if number == 0 {
            return Err(ErrorCode::InvalidInput);
        }
        Ok(Self { prefix, number })
    }

    pub fn number(self) -> u16 {
        self.number
    }
}

impl From<TicketNumber> for String {
    fn from(number: TicketNumber) -> Self {
        number.to_string()
    }
}

impl TryFrom<String> for TicketNumber {
    type Error = ErrorCode;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        TicketNumber::parse(&raw)
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.prefix, self.number)
    }
}

/// Why a ticket is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// Checked in for booking `booking`, whose slot starts at `slot`.
    Appointment {
        slot: DateTime<Utc>,
        booking: i64,
    },
    WalkIn,
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TicketState {
    Waiting,
    Called { counter: u16, recalls: u8 },
    Serving { counter: u16 },
    Done,
    NoShow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub number: TicketNumber,
    pub service: ServiceKind,
    pub origin: Origin,
    pub priority: bool,
    /// When the person first arrived; kept across transfers.
    pub arrived_at: DateTime<Utc>,
    pub state: TicketState,
    /// When a counter first called it (the end of the wait).
    pub called_at: Option<DateTime<Utc>>,
    /// When service began at the counter.
    pub started_at: Option<DateTime<Utc>>,
    /// When it was completed, transferred away or marked a no-show.
    pub finished_at: Option<DateTime<Utc>>,
    /// The counter that last called it.
    pub counter: Option<u16>,
}

impl Ticket {
    /// How long the person waited before a counter called them (`None` while waiting).
    pub fn waited(&self) -> Option<Duration> {
        self.called_at.map(|called| called - self.arrived_at)
    }

    /// How long the counter served them, from start (or call) to completion.
    pub fn service_time(&self) -> Option<Duration> {
        let began = self.started_at.or(self.called_at)?;
        matches!(self.state, TicketState::Done).then_some(())?;
        self.finished_at.map(|end| end - began)
    }
}

/// Whether a counter takes clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterStatus {
    /// Staffed and calling.
    Open,
    /// Staffed, but calling nobody for now (a break, paperwork).
    Paused,
    Closed,
}

impl CounterStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CounterStatus::Open => "open",
            CounterStatus::Paused => "paused",
            CounterStatus::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [CounterStatus::Open, CounterStatus::Paused, CounterStatus::Closed].into_iter().find(|s| s.as_str() == raw)
    }
}

/// The highest counter number an office may have.
pub const MAX_COUNTER: u16 = 99;

/// One counter of an office: the services assigned to it, whether it takes clients, and who
/// works it (a staff username, never a client's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub number: u16,
    pub services: BTreeSet<ServiceKind>,
    pub status: CounterStatus,
    pub officer: Option<String>,
}

impl Counter {
    /// A counter nobody has opened yet, assigned every service in `services`.
    pub fn closed(number: u16, services: impl IntoIterator<Item = ServiceKind>) -> Self {
        Self { number, services: services.into_iter().collect(), status: CounterStatus::Closed, officer: None }
    }

    /// The services it calls for now; empty unless it is open.
    pub fn calling_for(&self) -> BTreeSet<ServiceKind> {
        if self.status == CounterStatus::Open {
            self.services.clone()
        } else {
            BTreeSet::new()
        }
    }
}

/// An office's tuning of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyParams {
    /// An appointment is due this long before its slot starts.
    pub due_before: Duration,
    /// No walk-in waits longer than this because of appointments.
    pub walk_in_max_wait: Duration,
    /// Recalls before a called ticket may be marked a no-show.
    pub max_recalls: u8,
}

impl Default for PolicyParams {
    fn default() -> Self {
        Self { due_before: Duration::minutes(5), walk_in_max_wait: Duration::minutes(45), max_recalls: 2 }
    }
}

/// The policy's rank of a waiting ticket at `now`: lower is called first.
pub(crate) fn rank(ticket: &Ticket, now: DateTime<Utc>, params: &PolicyParams) -> (u8, DateTime<Utc>, DateTime<Utc>) {
    let waited = now - ticket.arrived_at;
    match ticket.origin {
        Origin::Appointment { slot, .. } if slot - params.due_before <= now => (1, slot, ticket.arrived_at),
        Origin::WalkIn if waited >= params.walk_in_max_wait => (0, ticket.arrived_at, ticket.arrived_at),
        _ if ticket.priority => (2, ticket.arrived_at, ticket.arrived_at),
        _ => (3, ticket.arrived_at, ticket.arrived_at),
    }
}

/// The ticket a counter serving `services` calls next, by the policy above.
pub fn pick_next<'t>(
    waiting: impl IntoIterator<Item = &'t Ticket>,
    services: &BTreeSet<ServiceKind>,
    now: DateTime<Utc>,
    params: &PolicyParams,
) -> Option<&'t Ticket> {
    waiting
        .into_iter()
        .filter(|t| t.state == TicketState::Waiting && services.contains(&t.service))
        .min_by_key(|t| (rank(t, now, params), t.number))
}

/// When an appointment may be checked in: from `early` before its slot to `grace` after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckInWindow {
    pub early: Duration,
    pub grace: Duration,
}

impl Default for CheckInWindow {
    fn default() -> Self {
        Self { early: Duration::minutes(60), grace: Duration::minutes(15) }
    }
}

/// Whether a booking for `booked_at` starting at `slot` can be checked in at office `here` now.
/// (Checking in twice is refused by the queue itself.)
pub fn check_in_rules(
    booked_at: &crate::ids::OfficeId,
    here: &crate::ids::OfficeId,
    slot: DateTime<Utc>,
    now: DateTime<Utc>,
    window: CheckInWindow,
) -> Result<(), ErrorCode> {
    if booked_at != here {
        return Err(ErrorCode::WrongOffice);
    }
    if now < slot - window.early {
        return Err(ErrorCode::TooEarly);
    }
    if now > slot + window.grace {
        return Err(ErrorCode::TooLate);
    }
    Ok(())
}

/// A transition of the queue. The office decides it, persists it (in order, per office and
/// day), and only then applies it and shows it; replaying the persisted events rebuilds the
/// queue after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum QueueEvent {
    Issued {
        number: TicketNumber,
        service: ServiceKind,
        origin: Origin,
        priority: bool,
    },
    Called {
        number: TicketNumber,
        counter: u16,
    },
    Recalled {
        number: TicketNumber,
        counter: u16,
    },
    Serving {
        number: TicketNumber,
        counter: u16,
    },
    Completed {
        number: TicketNumber,
    },
    NoShow {
        number: TicketNumber,
    },
    /// The person goes on to another service as ticket `to`, keeping their arrival time.
    Transferred {
        from: TicketNumber,
        to: TicketNumber,
        service: ServiceKind,
    },
    /// Staff flagged a waiting ticket as priority (disability, pregnancy, the elderly).
    Prioritised {
        number: TicketNumber,
    },
}

impl QueueEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            QueueEvent::Issued { .. } => "issued",
            QueueEvent::Called { .. } => "called",
            QueueEvent::Recalled { .. } => "recalled",
            QueueEvent::Serving { .. } => "serving",
            QueueEvent::Completed { .. } => "completed",
            QueueEvent::NoShow { .. } => "no_show",
            QueueEvent::Transferred { .. } => "transferred",
            QueueEvent::Prioritised { .. } => "prioritised",
        }
    }

    /// The ticket the event is about (for a transfer, the new one).
    pub fn ticket(&self) -> TicketNumber {
        match self {
            QueueEvent::Issued { number, .. }
            | QueueEvent::Called { number, .. }
            | QueueEvent::Recalled { number, .. }
            | QueueEvent::Serving { number, .. }
            | QueueEvent::Completed { number }
            | QueueEvent::NoShow { number }
            | QueueEvent::Prioritised { number } => *number,
            QueueEvent::Transferred { to, .. } => *to,
        }
    }

    /// The booking an `Issued` appointment ticket was checked in for.
    pub fn booking(&self) -> Option<i64> {
        match self {
            QueueEvent::Issued { origin: Origin::Appointment { booking, .. }, .. } => Some(*booking),
            _ => None,
        }
    }

    pub fn counter(&self) -> Option<u16> {
        match self {
            QueueEvent::Called { counter, .. } | QueueEvent::Recalled { counter, .. } | QueueEvent::Serving { counter, .. } => {
                Some(*counter)
            }
            _ => None,
        }
    }
}

/// What a waiting-room display or a client's phone is told about a transition. It has no
/// field that could hold a name: ticket numbers, services and counters only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayEvent {
    /// The transition's sequence number in the office's day (the SSE event id).
    pub seq: u64,
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub ticket: TicketNumber,
    pub counter: Option<u16>,
}

impl DisplayEvent {
    pub fn of(day: NaiveDate, seq: u64, at: DateTime<Utc>, event: &QueueEvent) -> Self {
        Self { seq, day, at, kind: event.kind(), ticket: event.ticket(), counter: event.counter() }
    }
}

/// What staff or a kiosk asks of the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueCommand {
    Issue { service: ServiceKind, origin: Origin, priority: bool },
    CallNext { counter: u16, services: BTreeSet<ServiceKind> },
    Recall { number: TicketNumber, counter: u16 },
    Start { number: TicketNumber, counter: u16 },
    Complete { number: TicketNumber, counter: u16 },
    NoShow { number: TicketNumber, counter: u16 },
    Transfer { number: TicketNumber, counter: u16, to: ServiceKind },
    Prioritise { number: TicketNumber },
}

/// One office's queue for one Prague day.
#[derive(Debug, Clone)]
pub struct OfficeQueue {
    pub day: NaiveDate,
    pub params: PolicyParams,
    tickets: BTreeMap<TicketNumber, Ticket>,
    last_number: BTreeMap<char, u16>,
    /// Sequence number of the last applied event (gap-free from 1 per office and day).
    pub seq: u64,
}

impl OfficeQueue {
    pub fn new(day: NaiveDate, params: PolicyParams) -> Self {
        Self { day, params, tickets: BTreeMap::new(), last_number: BTreeMap::new(), seq: 0 }
    }

    pub fn ticket(&self, number: TicketNumber) -> Option<&Ticket> {
        self.tickets.get(&number)
    }

    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.tickets.values()
    }

    pub fn waiting(&self, service: ServiceKind) -> usize {
        self.tickets.values().filter(|t| t.service == service && t.state == TicketState::Waiting).count()
    }

    fn next_number(&self, service: ServiceKind) -> Result<TicketNumber, ErrorCode> {
        let last = self.last_number.get(&service.ticket_prefix()).copied().unwrap_or(0);
        if last >= MAX_TICKETS_PER_SERVICE {
            return Err(ErrorCode::Unavailable);
        }
        Ok(TicketNumber::new(service, last + 1))
    }

    /// Whether a counter still has a called or served ticket: it finishes (done, did not come,
    /// send to another service) before it calls the next.
    pub fn busy(&self, counter: u16) -> bool {
        self.tickets
            .values()
            .any(|t| matches!(t.state, TicketState::Called { counter: c, .. } | TicketState::Serving { counter: c } if c == counter))
    }

    fn at_counter(&self, number: TicketNumber, counter: u16) -> Result<&Ticket, ErrorCode> {
        let ticket = self.tickets.get(&number).ok_or(ErrorCode::TicketNotFound)?;
        match ticket.state {
            TicketState::Called { counter: c, .. } | TicketState::Serving { counter: c } if c == counter => Ok(ticket),
            _ => Err(ErrorCode::TicketNotAtCounter),
        }
    }

    /// Decides what a command does, without changing anything.
    pub fn decide(&self, command: &QueueCommand, now: DateTime<Utc>) -> Result<QueueEvent, ErrorCode> {
        match command {
            QueueCommand::Issue { service, origin, priority } => {
                if let Origin::Appointment { booking, .. } = origin {
                    let already =
                        self.tickets.values().any(|t| matches!(t.origin, Origin::Appointment { booking: b, .. } if b == *booking));
                    if already {
                        return Err(ErrorCode::AlreadyCheckedIn);
                    }
                }
                Ok(QueueEvent::Issued { number: self.next_number(*service)?, service: *service, origin: *origin, priority: *priority })
            }
            QueueCommand::CallNext { counter, .. } if self.busy(*counter) => Err(ErrorCode::CounterBusy),
            QueueCommand::CallNext { counter, services } => pick_next(self.tickets.values(), services, now, &self.params)
                .map(|t| QueueEvent::Called { number: t.number, counter: *counter })
                .ok_or(ErrorCode::QueueEmpty),
            QueueCommand::Recall { number, counter } => match self.at_counter(*number, *counter)?.state {
                TicketState::Called { recalls, .. } if recalls < self.params.max_recalls => {
                    Ok(QueueEvent::Recalled { number: *number, counter: *counter })
                }
                TicketState::Called { .. } => Err(ErrorCode::RecallLimitReached),
                _ => Err(ErrorCode::TicketNotAtCounter),
            },
            QueueCommand::Start { number, counter } => {
                self.at_counter(*number, *counter)?;
                Ok(QueueEvent::Serving { number: *number, counter: *counter })
            }
            QueueCommand::Complete { number, counter } => {
                self.at_counter(*number, *counter)?;
                Ok(QueueEvent::Completed { number: *number })
            }
            QueueCommand::NoShow { number, counter } => match self.at_counter(*number, *counter)?.state {
                TicketState::Called { recalls, .. } if recalls >= self.params.max_recalls => Ok(QueueEvent::NoShow { number: *number }),
                _ => Err(ErrorCode::TicketNotAtCounter),
            },
            QueueCommand::Transfer { number, counter, to } => {
                self.at_counter(*number, *counter)?;
                Ok(QueueEvent::Transferred { from: *number, to: self.next_number(*to)?, service: *to })
            }
            QueueCommand::Prioritise { number } => match self.tickets.get(number) {
                None => Err(ErrorCode::TicketNotFound),
                Some(ticket) if ticket.state != TicketState::Waiting => Err(ErrorCode::TicketNotWaiting),
                Some(ticket) if ticket.priority => Err(ErrorCode::AlreadyPriority),
                Some(_) => Ok(QueueEvent::Prioritised { number: *number }),
            },
        }
    }

    /// Applies a persisted event with its sequence number (replay after a restart).
    pub fn apply_at(&mut self, seq: u64, event: &QueueEvent, at: DateTime<Utc>) {
        self.apply(event, at);
        self.seq = seq;
    }

    /// Applies a decided (and persisted) event; `at` is when it happened.
    pub fn apply(&mut self, event: &QueueEvent, at: DateTime<Utc>) {
        self.seq += 1;
        match event {
            QueueEvent::Issued { number, service, origin, priority } => {
                self.last_number.insert(number.prefix, number.number);
                self.tickets.insert(
                    *number,
                    Ticket {
                        number: *number,
                        service: *service,
                        origin: *origin,
                        priority: *priority,
                        arrived_at: at,
                        state: TicketState::Waiting,
                        called_at: None,
                        started_at: None,
                        finished_at: None,
                        counter: None,
                    },
                );
            }
            QueueEvent::Called { number, counter } => {
                self.set_state(*number, TicketState::Called { counter: *counter, recalls: 0 });
                self.stamp(*number, |t| {
                    t.called_at = Some(at);
                    t.counter = Some(*counter);
                });
            }
            QueueEvent::Recalled { number, .. } => {
                if let Some(Ticket { state: TicketState::Called { recalls, .. }, .. }) = self.tickets.get_mut(number) {
                    *recalls += 1;
                }
            }
            QueueEvent::Serving { number, counter } => {
                self.set_state(*number, TicketState::Serving { counter: *counter });
                self.stamp(*number, |t| t.started_at = Some(at));
            }
            QueueEvent::Completed { number } => {
                self.set_state(*number, TicketState::Done);
                self.stamp(*number, |t| t.finished_at = Some(at));
            }
            QueueEvent::NoShow { number } => {
                self.set_state(*number, TicketState::NoShow);
                self.stamp(*number, |t| t.finished_at = Some(at));
            }
            QueueEvent::Prioritised { number } => self.stamp(*number, |t| t.priority = true),
            QueueEvent::Transferred { from, to, service } => {
                let Some(old) = self.tickets.get(from).cloned() else { return };
                self.set_state(*from, TicketState::Done);
                self.stamp(*from, |t| t.finished_at = Some(at));
                self.last_number.insert(to.prefix, to.number);
                self.tickets.insert(
                    *to,
                    Ticket {
                        number: *to,
                        service: *service,
                        origin: Origin::WalkIn,
                        priority: old.priority,
                        arrived_at: old.arrived_at,
                        state: TicketState::Waiting,
                        called_at: None,
                        started_at: None,
                        finished_at: None,
                        counter: None,
                    },
                );
            }
        }
    }

    fn stamp(&mut self, number: TicketNumber, change: impl FnOnce(&mut Ticket)) {
        if let Some(ticket) = self.tickets.get_mut(&number) {
            change(ticket);
        }
    }

    fn set_state(&mut self, number: TicketNumber, state: TicketState) {
        if let Some(ticket) = self.tickets.get_mut(&number) {
            ticket.state = state;
        }
    }

    /// Decides and applies at once (for callers that persist nothing, such as simulations).
    pub fn execute(&mut self, command: &QueueCommand, now: DateTime<Utc>) -> Result<QueueEvent, ErrorCode> {
        let event = self.decide(command, now)?;
        self.apply(&event, now);
        Ok(event)
    }
}

#[cfg(test)]
mod tests;
