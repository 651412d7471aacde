//! The foreigner's booking flow, shared by the JSON API and the pages: verify identity, list
//! free slots, hold, confirm, and manage (view, reschedule, cancel). Each step parses its input
//! into domain types, asks the office's actor, and returns a view that serialises to the API's
//! JSON and renders as a page.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use prepazka_models::booking::{household_starts, BookingStatus, HouseholdArrangement};
use prepazka_models::calendar::{prague_date, slot_starts};
use prepazka_models::identity::Credentials;
use prepazka_models::ids::{BookingCode, OfficeId};
use prepazka_models::locale::Locale;
use prepazka_models::registry::{may_join_household, Relation};
use prepazka_models::service::{card_fee_czk, ServiceKind};
use prepazka_models::ErrorCode;
use prepazka_store::{BookingRecord, IdempotencyRecord, NewHold, NewOutboxMessage, NewSeat, Outcome, Write};
use rand::Rng as _;
use serde::Serialize;

use crate::secrets::Verified;
use crate::AppState;

#[derive(Debug, Serialize)]
pub struct HouseholdMemberView {
    pub index: usize,
    pub relation: Relation,
    pub eligible: bool,
}

#[derive(Debug, Serialize)]
pub struct VerifiedView {
    pub identity_token: String,
    pub expires_at: DateTime<Utc>,
    pub household: Vec<HouseholdMemberView>,
}

#[derive(Debug, Serialize)]
pub struct SlotView {
    pub starts_at: DateTime<Utc>,
    pub prague_time: String,
    pub free: u32,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct HeldSeatView {
    pub starts_at: DateTime<Utc>,
    pub fee_czk: Option<u32>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct HoldView {
    pub hold_id: String,
    pub office_id: String,
    pub service: ServiceKind,
    pub expires_at: DateTime<Utc>,
    pub seats: Vec<HeldSeatView>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct BookingView {
    pub booking_code: String,
    pub status: BookingStatus,
    pub office_id: String,
    pub office_name: String,
    pub office_address: String,
    pub service: ServiceKind,
    pub starts_at: DateTime<Utc>,
    pub prague_time: String,
    pub fee_czk: Option<u32>,
    pub documents: Vec<String>,
    pub check_in_qr: String,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ConfirmedView {
    pub bookings: Vec<BookingView>,
}

/// A request's idempotency key, bound to its caller and route, with the hash of its body.
#[derive(Debug, Clone)]
pub struct IdempotencyContext {
    pub scope: String,
    pub key: String,
    pub body_hash: String,
}

impl IdempotencyContext {
    fn record<T: Serialize>(&self, status_code: u16, body: &T) -> IdempotencyRecord {
        IdempotencyRecord {
            scope: self.scope.clone(),
            key: self.key.clone(),
            body_hash: self.body_hash.clone(),
            status_code,
            response: serde_json::to_string(body).unwrap_or_default(),
        }
    }
}

/// A hold's reference: 32 hex digits, the first 12 the time in milliseconds, the other 20 (80
/// bits) random. Time first makes new holds go in at the end of the database's index instead of
/// at a random page (one page less to write per hold); the random part keeps it unguessable,
/// and a hold is only ever confirmed by the person who made it.
fn hold_ref(now: DateTime<Utc>) -> String {
    let random: [u8; 10] = rand::thread_rng().gen();
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or_default() & 0xffff_ffff_ffff;
    format!("{millis:012x}{}", hex::encode(random))
}

impl AppState {
    pub async fn verify(&self, credentials: &Credentials) -> Result<VerifiedView, ErrorCode> {
        let person = self.registry.verify(credentials).await?;
        let now = self.clock.now();
        let today = prague_date(now);
        let mut household = Vec::new();
        for (index, (member_id, relation)) in person.household.iter().enumerate() {
            let eligible = match self.registry.person(member_id).await {
                Ok(member) => may_join_household(*relation, member.date_of_birth, today),
                Err(_) => false,
            };
            household.push(HouseholdMemberView { index, relation: *relation, eligible });
        }
        Ok(VerifiedView {
            identity_token: self.secrets.identity_token(&person.id, now),
            expires_at: now + Duration::minutes(crate::secrets::IDENTITY_TTL_MINUTES),
            household,
        })
    }

    pub fn verified(&self, token: &str) -> Result<Verified, ErrorCode> {
        self.secrets.verify_token(token, self.clock.now())
    }

    pub async fn free_slots(&self, office: &OfficeId, service: ServiceKind, day: NaiveDate) -> Result<Vec<SlotView>, ErrorCode> {
        let handle = self.directory.get(office).ok_or(ErrorCode::OfficeNotFound)?;
        handle.office().offers(service)?;
        let slots = handle.free_slots(service, day).await?;
        Ok(slots
            .into_iter()
            .filter(|(_, seats)| seats.free() > 0)
            .map(|(start, seats)| SlotView {
                starts_at: start,
                prague_time: prepazka_models::calendar::prague_label(start),
                free: seats.free(),
            })
            .collect())
    }

    /// Holds seats for the verified person and the chosen household members, all or none.
    #[allow(clippy::too_many_arguments)]
    pub async fn hold(
        &self,
        who: &Verified,
        office_id: &OfficeId,
        service: ServiceKind,
        start: DateTime<Utc>,
        members: &[usize],
        arrangement: HouseholdArrangement,
        idempotency: Option<&IdempotencyContext>,
    ) -> Result<HoldView, ErrorCode> {
        self.hold_for(who, office_id, service, start, members, arrangement, idempotency, None).await
    }

    /// [`AppState::hold`], done by a member of staff (`assisted_by`, a username) for the person
    /// at the desk or on the phone: the same rules and caps, audited under the officer.
    #[allow(clippy::too_many_arguments)]
    pub async fn hold_for(
        &self,
        who: &Verified,
        office_id: &OfficeId,
        service: ServiceKind,
        start: DateTime<Utc>,
        members: &[usize],
        arrangement: HouseholdArrangement,
        idempotency: Option<&IdempotencyContext>,
        assisted_by: Option<&str>,
    ) -> Result<HoldView, ErrorCode> {
        let handle = self.directory.get(office_id).ok_or(ErrorCode::OfficeNotFound)?;
        let office = handle.office();
        let now = self.clock.now();
        let head = self.registry.person(&who.person).await?;
        let today = prague_date(now);
        let mut people = vec![head.clone()];
        let mut seen = std::collections::BTreeSet::new();
        for &index in members {
            if !seen.insert(index) || members.len() > 8 {
                return Err(ErrorCode::NotInHousehold);
            }
            let (member_id, relation) = head.household.get(index).ok_or(ErrorCode::NotInHousehold)?;
            let member = self.registry.person(member_id).await?;
            if !may_join_household(*relation, member.date_of_birth, today) {
                return Err(ErrorCode::NotInHousehold);
            }
            people.push(member);
        }
        if service == ServiceKind::CardPickup && people.iter().any(|p| p.biometrics_office.as_ref() != Some(office_id)) {
            let none = people.iter().any(|p| p.biometrics_office.is_none());
            return Err(if none { ErrorCode::NoCardToPickUp } else { ErrorCode::PickupOnlyAtCaptureOffice });
        }
        let starts = if people.len() == 1 {
            vec![start]
        } else {
            let offered = office.service(service).ok_or(ErrorCode::ServiceNotOffered)?;
            let day = slot_starts(&office.hours, offered.slot_minutes, prague_date(start));
            household_starts(arrangement, &day, start, people.len())?
        };
        let expires_at = now + Duration::minutes(self.hold_minutes);
        let mut rng = rand::thread_rng();
        let seats: Vec<NewSeat> = people
            .iter()
            .zip(&starts)
            .map(|(person, starts_at)| {
                let code = BookingCode::generate(&mut rng);
                NewSeat {
                    dob_check: self.secrets.dob_check(&code, person.date_of_birth.date()),
                    code,
                    person: self.secrets.person_key(&person.id),
                    starts_at: *starts_at,
                    fee_czk: card_fee_czk(
                        service,
                        person.permit.as_ref().map(|p| p.kind),
                        person.date_of_birth.age_on(prague_date(*starts_at)),
                    ),
                }
            })
            .collect();
        let view = HoldView {
            hold_id: hold_ref(now),
            office_id: office_id.to_string(),
            service,
            expires_at,
            seats: seats.iter().map(|s| HeldSeatView { starts_at: s.starts_at, fee_czk: s.fee_czk }).collect(),
        };
        let hold = NewHold {
            hold_ref: view.hold_id.clone(),
            office: office_id.clone(),
            service,
            booked_by: who.key.clone(),
            expires_at,
            seats,
            assisted_by: assisted_by.map(str::to_owned),
        };
        let idempotency = idempotency.map(|ctx| ctx.record(201, &view));
        handle.hold(prepazka_actors::office::HoldRequest { hold, biometrics_office: head.biometrics_office.clone(), idempotency }).await?;
        Ok(view)
    }

    pub async fn confirm(
        &self,
        who: &Verified,
        hold_id: &str,
        email: &prepazka_models::identity::Email,
        locale: Locale,
        idempotency: Option<&IdempotencyContext>,
    ) -> Result<ConfirmedView, ErrorCode> {
        self.confirm_for(who, hold_id, Some(email), locale, idempotency, None).await
    }

    /// [`AppState::confirm`], done by a member of staff for the person; the e-mail address is
    /// optional (without one, no message is queued: the person takes a printed confirmation).
    pub async fn confirm_for(
        &self,
        who: &Verified,
        hold_id: &str,
        email: Option<&prepazka_models::identity::Email>,
        locale: Locale,
        idempotency: Option<&IdempotencyContext>,
        assisted_by: Option<&str>,
    ) -> Result<ConfirmedView, ErrorCode> {
        if hold_id.len() != 32 || !hold_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ErrorCode::HoldNotFound);
        }
        let held = self.store.bookings_by_hold(hold_id).await.map_err(|_| ErrorCode::Unavailable)?;
        let first = held.first().ok_or(ErrorCode::HoldNotFound)?;
        if first.booked_by != who.key {
            return Err(ErrorCode::HoldNotFound);
        }
        if self.directory.get(&first.office).is_none() {
            return Err(ErrorCode::OfficeNotFound);
        }
        let now = self.clock.now();
        let confirmed: Vec<BookingRecord> = held
            .iter()
            .map(|b| BookingRecord {
                status: BookingStatus::Confirmed,
                email: email.map(|e| e.as_str().to_owned()),
                locale: Some(locale),
                ..b.clone()
            })
            .collect();
        let view = ConfirmedView { bookings: confirmed.iter().map(|b| self.booking_view(b)).collect() };
        let message = NewOutboxMessage {
            kind: "booking_confirmed".into(),
            locale,
            payload: serde_json::json!({ "hold_ref": hold_id, "bookings": held.iter().map(|b| b.id).collect::<Vec<_>>() }),
        };
        let write = Write::Confirm {
            hold_ref: hold_id.to_owned(),
            booked_by: who.key.clone(),
            seats: held.len(),
            email: email.map(|e| e.as_str().to_owned()),
            locale,
            now,
            message,
            idempotency: idempotency.map(|ctx| ctx.record(201, &view)),
            assisted_by: assisted_by.map(str::to_owned),
        };
        // Held and confirmed seats count alike, so a confirmation changes nothing on the office's
        // board and goes to the writer without the office's mailbox; the database refuses a hold
        // that expired or is not this person's.
        match self.writer.submit(write).await? {
            Outcome::Confirmed { .. } => Ok(view),
            _ => Err(ErrorCode::Internal),
        }
    }

    pub fn booking_view(&self, booking: &BookingRecord) -> BookingView {
        let office = self.directory.get(&booking.office).map(|h| h.office());
        BookingView {
            booking_code: booking.code.display(),
            status: booking.status,
            office_id: booking.office.to_string(),
            office_name: office.map(|o| o.name.clone()).unwrap_or_default(),
            office_address: office.map(|o| format!("{}, {}", o.address, o.city)).unwrap_or_default(),
            service: booking.service,
            starts_at: booking.starts_at,
            prague_time: prepazka_models::calendar::prague_label(booking.starts_at),
            fee_czk: booking.fee_czk,
            documents: booking.service.documents_to_bring().iter().map(|d| (*d).to_owned()).collect(),
            check_in_qr: self.secrets.check_in_payload(&booking.code),
        }
    }

    /// Finds a booking by its code and the date of birth of the person it is for. Failures are
    /// counted per client and per code against guessing.
    pub async fn find_booking(&self, client: &str, code: &BookingCode, born: NaiveDate) -> Result<BookingRecord, ErrorCode> {
        let code_key = format!("code:{}", code.as_str());
        if self.limiter.is_locked(client) || self.limiter.is_locked(&code_key) {
            return Err(ErrorCode::TooManyRequests);
        }
        let booking = self.store.booking_by_code(code).await.map_err(|_| ErrorCode::Unavailable)?;
        match booking {
            Some(b) if crate::secrets::constant_time_eq(b.dob_check.as_bytes(), self.secrets.dob_check(code, born).as_bytes()) => Ok(b),
            _ => {
                self.limiter.failure(client);
                self.limiter.failure(&code_key);
                Err(ErrorCode::BookingNotFound)
            }
        }
    }

    pub async fn cancel(&self, booking: &BookingRecord) -> Result<BookingView, ErrorCode> {
        self.cancel_for(booking, None).await
    }

    /// Cancels a booking; `assisted_by` names the member of staff who does it for the person
    /// (the audit's actor), `None` when the person does it.
    pub async fn cancel_for(&self, booking: &BookingRecord, assisted_by: Option<&str>) -> Result<BookingView, ErrorCode> {
        let handle = self.directory.get(&booking.office).ok_or(ErrorCode::OfficeNotFound)?;
        let locale = booking.locale.unwrap_or(Locale::Cs);
        let write = Write::Cancel {
            code: booking.code.clone(),
            actor: assisted_by.unwrap_or(booking.person.as_str()).to_owned(),
            now: self.clock.now(),
            message: NewOutboxMessage { kind: "booking_cancelled".into(), locale, payload: serde_json::json!({ "booking": booking.id }) },
        };
        match handle.commit(write).await? {
            Outcome::Cancelled { booking } => Ok(self.booking_view(&booking)),
            _ => Err(ErrorCode::Internal),
        }
    }

    pub async fn reschedule(
        &self,
        booking: &BookingRecord,
        to: DateTime<Utc>,
        idempotency: Option<&IdempotencyContext>,
    ) -> Result<BookingView, ErrorCode> {
        self.reschedule_for(booking, to, idempotency, None).await
    }

    /// Moves a booking to another slot of its office and service; `assisted_by` as in
    /// [`AppState::cancel_for`].
    pub async fn reschedule_for(
        &self,
        booking: &BookingRecord,
        to: DateTime<Utc>,
        idempotency: Option<&IdempotencyContext>,
        assisted_by: Option<&str>,
    ) -> Result<BookingView, ErrorCode> {
        if booking.status != BookingStatus::Confirmed {
            return Err(ErrorCode::BookingNotActive);
        }
        let handle = self.directory.get(&booking.office).ok_or(ErrorCode::OfficeNotFound)?;
        let locale = booking.locale.unwrap_or(Locale::Cs);
        let view = self.booking_view(&BookingRecord { starts_at: to, ..booking.clone() });
        let write = Write::Reschedule {
            code: booking.code.clone(),
            to,
            actor: assisted_by.unwrap_or(booking.person.as_str()).to_owned(),
            now: self.clock.now(),
            message: NewOutboxMessage { kind: "booking_rescheduled".into(), locale, payload: serde_json::json!({ "booking": booking.id }) },
            idempotency: idempotency.map(|ctx| ctx.record(200, &view)),
        };
        handle.reschedule(booking.service, booking.starts_at, to, write).await?;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn hold_refs_order_by_time_and_stay_unguessable() {
        let at = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
        let earlier = hold_ref(at(1_795_000_000_000));
        let later = hold_ref(at(1_795_000_000_001));
        for reference in [&earlier, &later] {
            assert_eq!(reference.len(), 32);
            assert!(reference.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert!(earlier < later, "a later hold sorts after an earlier one");
        let same_moment: std::collections::BTreeSet<String> = (0..1000).map(|_| hold_ref(at(1_795_000_000_000))).collect();
        assert_eq!(same_moment.len(), 1000, "80 random bits tell holds of the same millisecond apart");
    }
}
