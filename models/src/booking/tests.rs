use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::calendar::WeeklyHours;
use crate::office::{Office, OfficeService, Region};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap_or_default()
}

fn office(id: &str, biometrics: bool) -> Office {
    Office {
        id: OfficeId::parse(id).unwrap_or_else(|_| panic!("{id}")),
        name: "Test".into(),
        region: Region::Praha,
        city: "Praha".into(),
        address: "Test 1".into(),
        has_biometrics: biometrics,
        services: ServiceKind::ALL.iter().map(|&service| OfficeService { service, slot_minutes: 30, capacity: 2 }).collect(),
        hours: WeeklyHours::typical_office(),
    }
}

#[test]
fn slot_rules_table() {
    let prague = office("praha-1", true);
    let branch = office("kladno", false);
    let other = OfficeId::parse("brno").unwrap_or_else(|_| panic!());
    let now = utc(2026, 11, 23, 12, 0); // Monday 13:00 in Prague
    let window = BookingWindow::default();
    let tuesday_9 = utc(2026, 11, 24, 8, 0);
    let none = Applicant { biometrics_office: None };
    let captured_here = Applicant { biometrics_office: Some(&prague.id) };
    let captured_elsewhere = Applicant { biometrics_office: Some(&other) };
    use ErrorCode::*;
    use ServiceKind::*;
    type Case<'a> = (&'a Office, ServiceKind, DateTime<Utc>, Applicant<'a>, Result<(), ErrorCode>);
    let cases: Vec<Case> = vec![
        (&prague, VisaSticker, tuesday_9, none, Ok(())),
        (&branch, VisaSticker, tuesday_9, none, Ok(())),
        (&branch, BiometricCapture, tuesday_9, none, Err(NeedsBiometricOffice)),
        (&prague, CardPickup, tuesday_9, none, Err(NoCardToPickUp)),
        (&prague, CardPickup, tuesday_9, captured_elsewhere, Err(PickupOnlyAtCaptureOffice)),
        (&prague, CardPickup, tuesday_9, captured_here, Ok(())),
        (&prague, VisaSticker, utc(2026, 11, 23, 12, 0), none, Err(SlotInPast)),
        (&prague, VisaSticker, utc(2026, 11, 20, 8, 0), none, Err(SlotInPast)),
        (&prague, VisaSticker, utc(2027, 3, 1, 8, 0), none, Err(BeyondHorizon)),
        (&prague, VisaSticker, utc(2026, 11, 24, 8, 10), none, Err(NotASlot)),
        (&prague, VisaSticker, utc(2026, 11, 24, 15, 0), none, Err(NotASlot)),
        (&prague, VisaSticker, utc(2026, 11, 28, 8, 0), none, Err(OfficeClosed)),
        (&prague, VisaSticker, utc(2026, 12, 24, 8, 0), none, Err(OfficeClosed)),
    ];
    for (office, service, start, applicant, expected) in cases {
        let got = check_slot_rules(office, service, start, applicant, now, window).map(|_| ());
        assert_eq!(got, expected, "{} {service} {start}", office.id);
    }
    let mut narrow = office("usti", true);
    narrow.services.retain(|s| s.service != Interview);
    assert_eq!(check_slot_rules(&narrow, Interview, tuesday_9, none, now, window).map(|_| ()), Err(ServiceNotOffered));
}

#[test]
fn household_arrangements() {
    let day: Vec<_> = (0..4).map(|i| utc(2026, 11, 24, 8, 0) + Duration::minutes(30 * i)).collect();
    assert_eq!(household_starts(HouseholdArrangement::Parallel, &day, day[1], 3), Ok(vec![day[1]; 3]));
    assert_eq!(household_starts(HouseholdArrangement::Consecutive, &day, day[1], 3), Ok(day[1..4].to_vec()));
    assert_eq!(household_starts(HouseholdArrangement::Consecutive, &day, day[2], 3), Err(ErrorCode::HouseholdSlotsUnavailable));
    assert_eq!(household_starts(HouseholdArrangement::Parallel, &day, day[0] + Duration::minutes(5), 2), Err(ErrorCode::NotASlot));
}

#[test]
fn board_takes_all_or_nothing() {
    let mut board = SlotBoard::default();
    let a = SlotKey { service: ServiceKind::Interview, start: utc(2026, 11, 24, 8, 0) };
    let b = SlotKey { service: ServiceKind::Interview, start: utc(2026, 11, 24, 8, 30) };
    board.insert(a, Seats { capacity: 2, taken: 0 });
    board.insert(b, Seats { capacity: 1, taken: 0 });
    assert_eq!(board.take_all(&[a, b, b]), Err(ErrorCode::SlotTaken));
    assert_eq!(board.seats(&a).map(|s| s.taken), Some(0));
    assert_eq!(board.take_all(&[a, a, b]), Ok(()));
    assert_eq!(board.take(&a, 1), Err(ErrorCode::SlotTaken));
}

/// A day's slots are one range of the board: the same as checking every slot's Prague date,
/// on ordinary days and on both 2026 DST days, at the edges of the day and for each service.
#[test]
fn free_on_is_the_prague_day() {
    let mut board = SlotBoard::default();
    let services = [ServiceKind::VisaSticker, ServiceKind::Interview, ServiceKind::CardPickup];
    // Every half hour from 2026-03-27 to 2026-03-31 and 2026-10-23 to 2026-10-27 (UTC).
    for (from, days) in [(utc(2026, 3, 27, 0, 0), 4), (utc(2026, 10, 23, 0, 0), 4)] {
        for step in 0..days * 48 {
            for (i, &service) in services.iter().enumerate() {
                let key = SlotKey { service, start: from + chrono::Duration::minutes(30 * step) };
                board.insert(key, Seats { capacity: 2, taken: u32::from(step % 3 == 0) + i as u32 % 2 });
            }
        }
    }
    for &service in &services {
        for day in (0..12).filter_map(|d| NaiveDate::from_ymd_opt(2026, 3, 25).map(|x| x + chrono::Duration::days(d))).chain(
            (0..8).filter_map(|d| NaiveDate::from_ymd_opt(2026, 10, 22).map(|x| x + chrono::Duration::days(d))),
        ) {
            let expected: Vec<_> =
                board.iter().filter(|(key, _)| key.service == service && prague_date(key.start) == day).map(|(key, seats)| (key.start, *seats)).collect();
            assert_eq!(board.free_on(service, day), expected, "{service:?} on {day}");
        }
    }
    let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap_or_default();
    let autumn = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap_or_default();
    assert_eq!(board.free_on(ServiceKind::Interview, spring).len(), 46, "23 hours");
    assert_eq!(board.free_on(ServiceKind::Interview, autumn).len(), 50, "25 hours");
}

#[derive(Debug, Clone)]
enum Op {
    Hold { person: u32, slot: usize },
    Confirm { booking: u64 },
    Cancel { booking: u64 },
    Reschedule { booking: u64, slot: usize },
    Advance { minutes: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..6, 0usize..4).prop_map(|(person, slot)| Op::Hold { person, slot }),
        3 => (1u64..30).prop_map(|booking| Op::Confirm { booking }),
        1 => (1u64..30).prop_map(|booking| Op::Cancel { booking }),
        1 => (1u64..30, 0usize..4).prop_map(|(booking, slot)| Op::Reschedule { booking, slot }),
        1 => (1i64..8).prop_map(|minutes| Op::Advance { minutes }),
    ]
}

proptest! {
    /// Under any sequence of operations: no slot holds more than its capacity, the board's count
    /// equals the number of active bookings in each slot, and nobody has two active bookings for
    /// one service. Results are compared with a naive model that recounts from scratch.
    #[test]
    fn ledger_keeps_capacity_and_caps(ops in proptest::collection::vec(op(), 1..80), capacities in proptest::collection::vec(1u32..3, 4)) {
        let start = utc(2026, 11, 24, 8, 0);
        let keys: Vec<SlotKey> = (0..4).map(|i| SlotKey {
            service: if i < 3 { ServiceKind::Interview } else { ServiceKind::VisaSticker },
            start: start + Duration::minutes(30 * i as i64),
        }).collect();
        let mut board = SlotBoard::default();
        for (key, capacity) in keys.iter().zip(&capacities) {
            board.insert(*key, Seats { capacity: *capacity, taken: 0 });
        }
        let mut ledger = Ledger::new(board);
        let mut now = utc(2026, 11, 23, 9, 0);
        let hold_for = Duration::minutes(5);
        for op in ops {
            match op {
                Op::Hold { person, slot } => {
                    let key = keys[slot];
                    ledger.expire(now);
                    let active_in_slot = ledger.bookings().filter(|(_, b)| b.slot == key && b.status.is_active()).count() as u32;
                    let person_has = ledger.bookings().any(|(_, b)| b.person == person && b.slot.service == key.service && b.status.is_active());
                    let result = ledger.hold(person, key, now, hold_for);
                    let expected_ok = !person_has && active_in_slot < capacities[slot];
                    prop_assert_eq!(result.is_ok(), expected_ok, "hold {:?}", result);
                }
                Op::Confirm { booking } => { let _ = ledger.confirm(booking, now); }
                Op::Cancel { booking } => { let _ = ledger.cancel(booking); }
                Op::Reschedule { booking, slot } => { let _ = ledger.reschedule(booking, keys[slot]); }
                Op::Advance { minutes } => now += Duration::minutes(minutes),
            }
            for (i, key) in keys.iter().enumerate() {
                let active = ledger.bookings().filter(|(_, b)| b.slot == *key && b.status.is_active()).count() as u32;
                let seats = ledger.board.seats(key).unwrap_or(Seats { capacity: 0, taken: u32::MAX });
                prop_assert_eq!(seats.taken, active);
                prop_assert!(seats.taken <= capacities[i]);
            }
            for person in 0..6 {
                for service in [ServiceKind::Interview, ServiceKind::VisaSticker] {
                    let active = ledger.bookings().filter(|(_, b)| b.person == person && b.slot.service == service && b.status.is_active()).count();
                    prop_assert!(active <= 1);
                }
            }
        }
    }
}
