//! Booking rules and the booking state machine.
//!
//! [`check_slot_rules`] says whether a person may book a service at an office at an instant.
//! [`SlotBoard`] counts seats per slot; offices keep one in memory to refuse quickly, while the
//! database keeps the authoritative count. [`Ledger`] is the whole state machine
//! (hold → confirm → cancel/reschedule, holds expiring) over a board; the store's behaviour is
//! checked against it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{is_public_holiday, is_slot_start, prague_date, slot_starts, BookingWindow};
use crate::ids::OfficeId;
use crate::office::{Office, OfficeService};
use crate::service::ServiceKind;
use crate::ErrorCode;

/// Where a booking is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// A seat is kept for a few minutes while the person confirms.
    Held,
    Confirmed,
    Cancelled,
    /// A hold that was not confirmed in time.
    Expired,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Held => "held",
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [BookingStatus::Held, BookingStatus::Confirmed, BookingStatus::Cancelled, BookingStatus::Expired]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// Active bookings take a seat and count against the per-person cap.
    pub fn is_active(self) -> bool {
        matches!(self, BookingStatus::Held | BookingStatus::Confirmed)
    }
}

/// What the rules need to know about the person booking.
#[derive(Debug, Clone, Copy)]
pub struct Applicant<'a> {
    pub biometrics_office: Option<&'a OfficeId>,
}

/// Checks every rule about booking `service` at `office` starting at `start`, other than seat
/// availability and per-person caps (those are counted by the board and the database).
pub fn check_slot_rules<'o>(
    office: &'o Office,
    service: ServiceKind,
    start: DateTime<Utc>,
    applicant: Applicant<'_>,
    now: DateTime<Utc>,
    window: BookingWindow,
) -> Result<&'o OfficeService, ErrorCode> {
    let offered = office.offers(service)?;
    if service == ServiceKind::CardPickup {
        match applicant.biometrics_office {
            None => return Err(ErrorCode::NoCardToPickUp),
            Some(captured_at) if captured_at != &office.id => return Err(ErrorCode::PickupOnlyAtCaptureOffice),
            Some(_) => {}
        }
    }
    if start < now + Duration::minutes(i64::from(window.min_lead_minutes)) {
        return Err(ErrorCode::SlotInPast);
    }
    if start > now + Duration::days(i64::from(window.horizon_days)) {
        return Err(ErrorCode::BeyondHorizon);
    }
    if !is_slot_start(&office.hours, offered.slot_minutes, start) {
        let day = prague_date(start);
        let closed = is_public_holiday(day) || slot_starts(&office.hours, offered.slot_minutes, day).is_empty();
        return Err(if closed { ErrorCode::OfficeClosed } else { ErrorCode::NotASlot });
    }
    Ok(offered)
}

/// How a household is seated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdArrangement {
    /// Everyone in the same slot, at parallel counters.
    Parallel,
    /// One after another in consecutive slots of the same day.
    Consecutive,
}

/// The slot starts for `members` people beginning at `first`, given the day's slot starts.
pub fn household_starts(
    arrangement: HouseholdArrangement,
    day_starts: &[DateTime<Utc>],
    first: DateTime<Utc>,
    members: usize,
) -> Result<Vec<DateTime<Utc>>, ErrorCode> {
    let position = day_starts.iter().position(|s| *s == first).ok_or(ErrorCode::NotASlot)?;
    match arrangement {
        HouseholdArrangement::Parallel => Ok(vec![first; members]),
        HouseholdArrangement::Consecutive => {
            day_starts.get(position..position + members).map(<[_]>::to_vec).ok_or(ErrorCode::HouseholdSlotsUnavailable)
        }
    }
}

/// A slot as the board knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotKey {
    pub service: ServiceKind,
    pub start: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seats {
    pub capacity: u32,
    pub taken: u32,
}

impl Seats {
    pub fn free(self) -> u32 {
        self.capacity.saturating_sub(self.taken)
    }
}

/// Seat counts per slot. Taking a seat never lets `taken` pass `capacity`.
#[derive(Debug, Clone, Default)]
pub struct SlotBoard {
    slots: BTreeMap<SlotKey, Seats>,
}

impl SlotBoard {
    pub fn insert(&mut self, key: SlotKey, seats: Seats) {
        self.slots.insert(key, seats);
    }

    pub fn seats(&self, key: &SlotKey) -> Option<Seats> {
        self.slots.get(key).copied()
    }

    /// Takes `count` seats in one slot, all or none.
    pub fn take(&mut self, key: &SlotKey, count: u32) -> Result<(), ErrorCode> {
        let seats = self.slots.get_mut(key).ok_or(ErrorCode::NotASlot)?;
        if seats.free() < count {
            return Err(ErrorCode::SlotTaken);
        }
        seats.taken += count;
        Ok(())
    }

    /// Takes one seat in each of `keys` (a key may repeat), all or none.
    pub fn take_all(&mut self, keys: &[SlotKey]) -> Result<(), ErrorCode> {
        let mut wanted: BTreeMap<&SlotKey, u32> = BTreeMap::new();
        for key in keys {
            *wanted.entry(key).or_default() += 1;
        }
        for (key, count) in &wanted {
            let seats = self.slots.get(key).ok_or(ErrorCode::NotASlot)?;
            if seats.free() < *count {
                return Err(ErrorCode::SlotTaken);
            }
        }
        for (key, count) in wanted {
            if let Some(seats) = self.slots.get_mut(key) {
                seats.taken += count;
            }
        }
        Ok(())
    }

    pub fn release(&mut self, key: &SlotKey) {
        if let Some(seats) = self.slots.get_mut(key) {
            seats.taken = seats.taken.saturating_sub(1);
        }
    }

    /// Free seats per start for one service on one Prague day.
    pub fn free_on(&self, service: ServiceKind, day: NaiveDate) -> Vec<(DateTime<Utc>, Seats)> {
        // Keys order by service, then start: the day is one range of the map.
        let Some((from, to)) = crate::calendar::prague_day_bounds(day) else { return Vec::new() };
        self.slots.range(SlotKey { service, start: from }..SlotKey { service, start: to }).map(|(key, seats)| (key.start, *seats)).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SlotKey, &Seats)> {
        self.slots.iter()
    }
}

/// A booking as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerBooking {
    pub person: u32,
    pub slot: SlotKey,
    pub status: BookingStatus,
    pub hold_expires: DateTime<Utc>,
}

/// The booking state machine: holds, confirmations, cancellations, reschedules and expiry over
/// a [`SlotBoard`], with one active booking per person and service.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    pub board: SlotBoard,
    bookings: BTreeMap<u64, LedgerBooking>,
    next_id: u64,
}

impl Ledger {
    pub fn new(board: SlotBoard) -> Self {
        Self { board, bookings: BTreeMap::new(), next_id: 1 }
    }

    pub fn booking(&self, id: u64) -> Option<&LedgerBooking> {
        self.bookings.get(&id)
    }

    pub fn bookings(&self) -> impl Iterator<Item = (&u64, &LedgerBooking)> {
        self.bookings.iter()
    }

    fn has_active(&self, person: u32, service: ServiceKind, now: DateTime<Utc>) -> bool {
        self.bookings.values().any(|b| b.person == person && b.slot.service == service && self.counts(b, now))
    }

    /// A hold past its expiry no longer counts, even before the sweeper marks it.
    fn counts(&self, booking: &LedgerBooking, now: DateTime<Utc>) -> bool {
        match booking.status {
            BookingStatus::Held => booking.hold_expires > now,
            other => other.is_active(),
        }
    }

    pub fn hold(&mut self, person: u32, slot: SlotKey, now: DateTime<Utc>, hold_for: Duration) -> Result<u64, ErrorCode> {
        self.expire(now);
        if self.has_active(person, slot.service, now) {
            return Err(ErrorCode::PersonCapReached);
        }
        self.board.take(&slot, 1)?;
        let id = self.next_id;
        self.next_id += 1;
        self.bookings.insert(id, LedgerBooking { person, slot, status: BookingStatus::Held, hold_expires: now + hold_for });
        Ok(id)
    }

    pub fn confirm(&mut self, id: u64, now: DateTime<Utc>) -> Result<(), ErrorCode> {
        self.expire(now);
        let booking = self.bookings.get_mut(&id).ok_or(ErrorCode::HoldNotFound)?;
        match booking.status {
            BookingStatus::Held => {
                booking.status = BookingStatus::Confirmed;
                Ok(())
            }
            BookingStatus::Expired => Err(ErrorCode::HoldExpired),
            BookingStatus::Confirmed | BookingStatus::Cancelled => Err(ErrorCode::BookingNotActive),
        }
    }

    pub fn cancel(&mut self, id: u64) -> Result<(), ErrorCode> {
        let booking = self.bookings.get_mut(&id).ok_or(ErrorCode::BookingNotFound)?;
        if booking.status != BookingStatus::Confirmed {
            return Err(ErrorCode::BookingNotActive);
        }
        booking.status = BookingStatus::Cancelled;
        let slot = booking.slot;
        self.board.release(&slot);
        Ok(())
    }

    /// Moves a confirmed booking: the new seat is taken before the old one is released.
    pub fn reschedule(&mut self, id: u64, to: SlotKey) -> Result<(), ErrorCode> {
        let booking = self.bookings.get(&id).ok_or(ErrorCode::BookingNotFound)?;
        if booking.status != BookingStatus::Confirmed {
            return Err(ErrorCode::BookingNotActive);
        }
        if booking.slot == to {
            return Err(ErrorCode::SameSlot);
        }
        if booking.slot.service != to.service {
            return Err(ErrorCode::ServiceNotOffered);
        }
        let from = booking.slot;
        self.board.take(&to, 1)?;
        self.board.release(&from);
        if let Some(booking) = self.bookings.get_mut(&id) {
            booking.slot = to;
        }
        Ok(())
    }

    /// Marks holds past their expiry as expired and frees their seats; returns how many.
    pub fn expire(&mut self, now: DateTime<Utc>) -> usize {
        let mut freed = Vec::new();
        for booking in self.bookings.values_mut() {
            if booking.status == BookingStatus::Held && booking.hold_expires <= now {
                booking.status = BookingStatus::Expired;
                freed.push(booking.slot);
            }
        }
        for slot in &freed {
            self.board.release(slot);
        }
        freed.len()
    }
}

#[cfg(test)]
mod tests;
