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

/// A ticket number as shown on displays: the service's prefix and a number, `B042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TicketNumber {
    prefix: char,
    number: u16,
}

impl TicketNumber {
    pub fn new(service: ServiceKind, number: u16) -> Self {
        Self { prefix: service.ticket_prefix(), number }
    }

    /// Parses `B042` (case-insensitive, 1–999).
    pub fn parse(raw: &str) -> Result<Self, ErrorCode> {
        let raw = raw.trim();
        let mut chars = raw.chars();
        let prefix = chars.next().map(|c| c.to_ascii_uppercase()).ok_or(ErrorCode::InvalidInput)?;
        if !ServiceKind::ALL.iter().any(|s| s.ticket_prefix() == prefix) {
            return Err(ErrorCode::InvalidInput);
        }
        let digits = chars.as_str();
        if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
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

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.prefix, self.number)
    }
}

/// Why a ticket is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Origin {
    /// Checked in for a booked slot starting at `slot`.
    Appointment { slot: DateTime<Utc> },
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
fn rank(ticket: &Ticket, now: DateTime<Utc>, params: &PolicyParams) -> (u8, DateTime<Utc>, DateTime<Utc>) {
    let waited = now - ticket.arrived_at;
    match ticket.origin {
        Origin::Appointment { slot } if slot - params.due_before <= now => (1, slot, ticket.arrived_at),
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

/// A transition the office must persist (and then publish) before anyone sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    Issued { number: TicketNumber },
    Called { number: TicketNumber, counter: u16 },
    Recalled { number: TicketNumber, counter: u16 },
    Serving { number: TicketNumber, counter: u16 },
    Completed { number: TicketNumber },
    NoShow { number: TicketNumber },
    Transferred { from: TicketNumber, to: TicketNumber, service: ServiceKind },
}

/// One office's queue for one Prague day.
#[derive(Debug, Clone)]
pub struct OfficeQueue {
    pub day: NaiveDate,
    pub params: PolicyParams,
    tickets: BTreeMap<TicketNumber, Ticket>,
    last_number: BTreeMap<char, u16>,
}

impl OfficeQueue {
    pub fn new(day: NaiveDate, params: PolicyParams) -> Self {
        Self { day, params, tickets: BTreeMap::new(), last_number: BTreeMap::new() }
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

    fn next_number(&mut self, service: ServiceKind) -> Result<TicketNumber, ErrorCode> {
        let last = self.last_number.entry(service.ticket_prefix()).or_insert(0);
        if *last >= 999 {
            return Err(ErrorCode::Unavailable);
        }
        *last += 1;
        Ok(TicketNumber::new(service, *last))
    }

    /// Issues a ticket (a walk-in, or an appointment checked in).
    pub fn issue(&mut self, service: ServiceKind, origin: Origin, priority: bool, now: DateTime<Utc>) -> Result<QueueEvent, ErrorCode> {
        let number = self.next_number(service)?;
        self.tickets.insert(number, Ticket { number, service, origin, priority, arrived_at: now, state: TicketState::Waiting });
        Ok(QueueEvent::Issued { number })
    }

    /// Calls the next ticket for a counter serving `services`; `None` when nobody waits for them.
    pub fn call_next(&mut self, counter: u16, services: &BTreeSet<ServiceKind>, now: DateTime<Utc>) -> Option<QueueEvent> {
        let number = pick_next(self.tickets.values(), services, now, &self.params)?.number;
        let ticket = self.tickets.get_mut(&number)?;
        ticket.state = TicketState::Called { counter, recalls: 0 };
        Some(QueueEvent::Called { number, counter })
    }

    fn called_at(&mut self, number: TicketNumber, counter: u16) -> Result<&mut Ticket, ErrorCode> {
        let ticket = self.tickets.get_mut(&number).ok_or(ErrorCode::NotFound)?;
        match ticket.state {
            TicketState::Called { counter: c, .. } | TicketState::Serving { counter: c } if c == counter => Ok(ticket),
            _ => Err(ErrorCode::BookingNotActive),
        }
    }

    /// Calls the same ticket again, at most `max_recalls` times.
    pub fn recall(&mut self, number: TicketNumber, counter: u16) -> Result<QueueEvent, ErrorCode> {
        let max = self.params.max_recalls;
        let ticket = self.called_at(number, counter)?;
        match &mut ticket.state {
            TicketState::Called { recalls, .. } if *recalls < max => {
                *recalls += 1;
                Ok(QueueEvent::Recalled { number, counter })
            }
            _ => Err(ErrorCode::BookingNotActive),
        }
    }

    pub fn start(&mut self, number: TicketNumber, counter: u16) -> Result<QueueEvent, ErrorCode> {
        let ticket = self.called_at(number, counter)?;
        ticket.state = TicketState::Serving { counter };
        Ok(QueueEvent::Serving { number, counter })
    }

    pub fn complete(&mut self, number: TicketNumber, counter: u16) -> Result<QueueEvent, ErrorCode> {
        let ticket = self.called_at(number, counter)?;
        ticket.state = TicketState::Done;
        Ok(QueueEvent::Completed { number })
    }

    /// A called ticket whose person did not come, after the recalls ran out.
    pub fn no_show(&mut self, number: TicketNumber, counter: u16) -> Result<QueueEvent, ErrorCode> {
        let max = self.params.max_recalls;
        let ticket = self.called_at(number, counter)?;
        match ticket.state {
            TicketState::Called { recalls, .. } if recalls >= max => {
                ticket.state = TicketState::NoShow;
                Ok(QueueEvent::NoShow { number })
            }
            _ => Err(ErrorCode::BookingNotActive),
        }
    }

    /// Sends a called or served person to another service: a new ticket of that service that
    /// keeps the original arrival time (and priority), so they do not queue again from the end.
    pub fn transfer(&mut self, number: TicketNumber, counter: u16, to: ServiceKind) -> Result<QueueEvent, ErrorCode> {
        let ticket = self.called_at(number, counter)?.clone();
        let new_number = self.next_number(to)?;
        if let Some(old) = self.tickets.get_mut(&number) {
            old.state = TicketState::Done;
        }
        self.tickets.insert(
            new_number,
            Ticket { number: new_number, service: to, origin: Origin::WalkIn, priority: ticket.priority, arrived_at: ticket.arrived_at, state: TicketState::Waiting },
        );
        Ok(QueueEvent::Transferred { from: number, to: new_number, service: to })
    }
}

#[cfg(test)]
mod tests;
