use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, m, 0).single().unwrap_or_default()
}

fn queue() -> OfficeQueue {
    OfficeQueue::new(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(), PolicyParams::default())
}

fn all() -> BTreeSet<ServiceKind> {
    ServiceKind::ALL.into_iter().collect()
}

fn issue(q: &mut OfficeQueue, service: ServiceKind, origin: Origin, priority: bool, now: DateTime<Utc>) -> TicketNumber {
    match q.execute(&QueueCommand::Issue { service, origin, priority }, now) {
        Ok(QueueEvent::Issued { number, .. }) => number,
        other => panic!("{other:?}"),
    }
}

fn call(q: &mut OfficeQueue, counter: u16, services: &BTreeSet<ServiceKind>, now: DateTime<Utc>) -> Option<String> {
    match q.execute(&QueueCommand::CallNext { counter, services: services.clone() }, now) {
        Ok(QueueEvent::Called { number, .. }) => Some(number.to_string()),
        Err(ErrorCode::QueueEmpty) => None,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ticket_numbers() {
    let mut q = queue();
    let a = issue(&mut q, ServiceKind::BiometricCapture, Origin::WalkIn, false, at(8, 0));
    let b = issue(&mut q, ServiceKind::BiometricCapture, Origin::WalkIn, false, at(8, 1));
    let c = issue(&mut q, ServiceKind::VisaSticker, Origin::WalkIn, false, at(8, 2));
    assert_eq!([a.to_string(), b.to_string(), c.to_string()], ["B001", "B002", "V001"]);
    assert_eq!(TicketNumber::parse("b042").map(|n| n.to_string()), Ok("B042".into()));
    assert_eq!(TicketNumber::parse("B1042").map(|n| n.to_string()), Ok("B1042".into()));
    for bad in ["", "B", "X042", "B00000", "B-1", "B000", "42", "B12345"] {
        assert!(TicketNumber::parse(bad).is_err(), "{bad}");
    }
}

/// (description, tickets: (service, origin, priority, arrived), now, counter services, expected).
#[test]
fn call_next_policy_table() {
    use ServiceKind::*;
    let walk = Origin::WalkIn;
    let appt = |h, m| Origin::Appointment { slot: at(h, m), booking: i64::from(h * 100 + m) };
    type Row = (&'static str, Vec<(ServiceKind, Origin, bool, DateTime<Utc>)>, DateTime<Utc>, Vec<ServiceKind>, Option<&'static str>);
    let cases: Vec<Row> = vec![
        (
            "walk-ins by arrival",
            vec![(Interview, walk, false, at(8, 5)), (Interview, walk, false, at(8, 0))],
            at(8, 10),
            vec![Interview],
            Some("I002"),
        ),
        (
            "due appointment before earlier walk-in",
            vec![(Interview, walk, false, at(8, 30)), (Interview, appt(9, 0), false, at(8, 50))],
            at(8, 56),
            vec![Interview],
            Some("I002"),
        ),
        (
            "appointment not yet due waits its turn",
            vec![(Interview, walk, false, at(8, 30)), (Interview, appt(9, 30), false, at(8, 50))],
            at(8, 56),
            vec![Interview],
            Some("I001"),
        ),
        (
            "priority before walk-ins",
            vec![(Interview, walk, false, at(8, 0)), (Interview, walk, true, at(8, 20))],
            at(8, 25),
            vec![Interview],
            Some("I002"),
        ),
        (
            "due appointment before priority",
            vec![(Interview, walk, true, at(8, 0)), (Interview, appt(8, 30), false, at(8, 20))],
            at(8, 30),
            vec![Interview],
            Some("I002"),
        ),
        (
            "starving walk-in before due appointment",
            vec![(Interview, walk, false, at(8, 0)), (Interview, appt(8, 45), false, at(8, 40))],
            at(8, 45),
            vec![Interview],
            Some("I001"),
        ),
        (
            "earliest slot among due appointments",
            vec![(Interview, appt(9, 0), false, at(8, 40)), (Interview, appt(8, 45), false, at(8, 50))],
            at(9, 0),
            vec![Interview],
            Some("I002"),
        ),
        (
            "only the counter's services",
            vec![(Interview, walk, false, at(8, 0)), (VisaSticker, walk, false, at(8, 5))],
            at(8, 10),
            vec![VisaSticker],
            Some("V001"),
        ),
        ("nothing for this counter", vec![(Interview, walk, false, at(8, 0))], at(8, 10), vec![CardPickup], None),
    ];
    for (name, tickets, now, services, expected) in cases {
        let mut q = queue();
        for (service, origin, priority, arrived) in tickets {
            issue(&mut q, service, origin, priority, arrived);
        }
        let services: BTreeSet<_> = services.into_iter().collect();
        assert_eq!(call(&mut q, 1, &services, now).as_deref(), expected, "{name}");
    }
}

#[test]
fn recall_no_show_and_transfer() {
    let mut q = queue();
    let first = issue(&mut q, ServiceKind::ApplicationSubmission, Origin::WalkIn, false, at(8, 0));
    issue(&mut q, ServiceKind::Interview, Origin::WalkIn, false, at(8, 10));
    assert_eq!(call(&mut q, 3, &all(), at(8, 20)).as_deref(), Some("A001"));
    let run = |q: &mut OfficeQueue, command: QueueCommand| q.execute(&command, at(8, 25));
    assert_eq!(run(&mut q, QueueCommand::NoShow { number: first, counter: 3 }), Err(ErrorCode::TicketNotAtCounter), "recalls first");
    assert_eq!(
        run(&mut q, QueueCommand::Recall { number: first, counter: 4 }),
        Err(ErrorCode::TicketNotAtCounter),
        "only the calling counter recalls"
    );
    assert!(run(&mut q, QueueCommand::Recall { number: first, counter: 3 }).is_ok());
    assert!(run(&mut q, QueueCommand::Recall { number: first, counter: 3 }).is_ok());
    assert_eq!(run(&mut q, QueueCommand::Recall { number: first, counter: 3 }), Err(ErrorCode::RecallLimitReached), "bounded");
    assert_eq!(run(&mut q, QueueCommand::NoShow { number: first, counter: 3 }), Ok(QueueEvent::NoShow { number: first }));
    assert_eq!(call(&mut q, 3, &all(), at(8, 30)).as_deref(), Some("I001"));
    assert_eq!(
        q.execute(&QueueCommand::CallNext { counter: 3, services: all() }, at(8, 31)),
        Err(ErrorCode::CounterBusy),
        "a counter finishes its client before calling the next"
    );
    let interview = TicketNumber::parse("I001").unwrap_or_else(|_| unreachable!());
    assert!(run(&mut q, QueueCommand::Start { number: interview, counter: 3 }).is_ok());
    let moved = run(&mut q, QueueCommand::Transfer { number: interview, counter: 3, to: ServiceKind::BiometricCapture });
    let Ok(QueueEvent::Transferred { to, .. }) = moved else { panic!("{moved:?}") };
    assert_eq!(q.ticket(to).map(|t| t.arrived_at), Some(at(8, 10)), "keeps the original arrival");
    issue(&mut q, ServiceKind::BiometricCapture, Origin::WalkIn, false, at(8, 15));
    assert_eq!(call(&mut q, 5, &all(), at(8, 40)).as_deref(), Some("B001"), "the transferred person is ahead of later arrivals");
    assert_eq!(
        q.execute(
            &QueueCommand::Complete { number: TicketNumber::parse("V999").unwrap_or_else(|_| unreachable!()), counter: 5 },
            at(8, 41)
        ),
        Err(ErrorCode::TicketNotFound)
    );
}

/// Replaying the applied events rebuilds the same queue (what an office does after a restart).
#[test]
fn replay_rebuilds_the_queue() {
    let mut q = queue();
    let mut log = Vec::new();
    let mut record = |q: &mut OfficeQueue, command: QueueCommand, now| {
        if let Ok(event) = q.execute(&command, now) {
            log.push((event, now));
        }
    };
    record(&mut q, QueueCommand::Issue { service: ServiceKind::Interview, origin: Origin::WalkIn, priority: true }, at(8, 0));
    record(
        &mut q,
        QueueCommand::Issue {
            service: ServiceKind::VisaSticker,
            origin: Origin::Appointment { slot: at(8, 30), booking: 7 },
            priority: false,
        },
        at(8, 5),
    );
    record(&mut q, QueueCommand::CallNext { counter: 2, services: all() }, at(8, 10));
    let number = TicketNumber::parse("I001").unwrap_or_else(|_| unreachable!());
    record(&mut q, QueueCommand::Transfer { number, counter: 2, to: ServiceKind::BiometricCapture }, at(8, 12));
    let mut replayed = queue();
    for (event, at) in &log {
        replayed.apply(event, *at);
    }
    assert_eq!(replayed.tickets().cloned().collect::<Vec<_>>(), q.tickets().cloned().collect::<Vec<_>>());
    assert_eq!(replayed.seq, 4);
    assert_eq!(
        replayed
            .decide(&QueueCommand::Issue { service: ServiceKind::Interview, origin: Origin::WalkIn, priority: false }, at(9, 0))
            .map(|e| e.ticket().to_string()),
        Ok("I002".to_owned()),
        "numbering continues after a replay"
    );
}

#[derive(Debug, Clone)]
enum Step {
    Arrive { service: usize, appointment_in: Option<i64>, priority: bool },
    Call { counter: u16, services: u8 },
    Finish { counter: u16 },
    Wait { minutes: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..3, proptest::option::of(-10i64..60), proptest::bool::weighted(0.1)).prop_map(|(service, appointment_in, priority)| Step::Arrive { service, appointment_in, priority }),
        4 => (1u16..4, 1u8..8).prop_map(|(counter, services)| Step::Call { counter, services }),
        2 => (1u16..4).prop_map(|counter| Step::Finish { counter }),
        2 => (1i64..20).prop_map(|minutes| Step::Wait { minutes }),
    ]
}

proptest! {
    /// Whatever happens: no ticket is called twice, none is lost (every ticket is waiting,
    /// called, served, done or a no-show), numbers are unique and increase per service, due
    /// appointments go before non-starving walk-ins, and no walk-in that waited past the bound
    /// is passed over by a counter that serves it.
    #[test]
    fn policy_invariants(steps in proptest::collection::vec(step(), 1..150)) {
        let services = [ServiceKind::Interview, ServiceKind::VisaSticker, ServiceKind::BiometricCapture];
        let mut q = queue();
        let params = q.params;
        let mut now = at(8, 0);
        let mut issued_count = 0usize;
        let mut ever_called: BTreeSet<TicketNumber> = BTreeSet::new();
        let mut at_counter: BTreeMap<u16, TicketNumber> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Arrive { service, appointment_in, priority } => {
                    let origin = appointment_in.map_or(Origin::WalkIn, |m| Origin::Appointment { slot: now + Duration::minutes(m), booking: issued_count as i64 });
                    let event = q.execute(&QueueCommand::Issue { service: services[service], origin, priority }, now);
                    let was_issued = matches!(event, Ok(QueueEvent::Issued { .. }));
                    prop_assert!(was_issued);
                    issued_count += 1;
                }
                Step::Call { counter, services: mask } => {
                    if at_counter.contains_key(&counter) { continue; }
                    let served: BTreeSet<_> = services.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, s)| *s).collect();
                    let waiting: Vec<Ticket> = q.tickets().filter(|t| t.state == TicketState::Waiting && served.contains(&t.service)).cloned().collect();
                    if let Ok(QueueEvent::Called { number, .. }) = q.execute(&QueueCommand::CallNext { counter, services: served.clone() }, now) {
                        prop_assert!(ever_called.insert(number), "called twice: {}", number);
                        at_counter.insert(counter, number);
                        let chosen = waiting.iter().find(|t| t.number == number).cloned();
                        prop_assert!(chosen.is_some(), "called a ticket that was not waiting for this counter");
                        let chosen = chosen.unwrap_or_else(|| unreachable!());
                        let starving = |t: &Ticket| t.origin == Origin::WalkIn && now - t.arrived_at >= params.walk_in_max_wait;
                        let due = |t: &Ticket| matches!(t.origin, Origin::Appointment { slot, .. } if slot - params.due_before <= now);
                        if waiting.iter().any(starving) {
                            prop_assert!(starving(&chosen), "a starving walk-in was passed over");
                            prop_assert!(waiting.iter().filter(|t| starving(t)).all(|t| t.arrived_at >= chosen.arrived_at));
                        } else if waiting.iter().any(due) {
                            prop_assert!(due(&chosen), "a due appointment was passed over");
                        }
                    } else {
                        prop_assert!(waiting.is_empty(), "a waiting ticket for this counter was not called");
                    }
                }
                Step::Finish { counter } => {
                    if let Some(number) = at_counter.remove(&counter) {
                        let completed = q.execute(&QueueCommand::Complete { number, counter }, now);
                        prop_assert!(completed.is_ok());
                    }
                }
                Step::Wait { minutes } => now += Duration::minutes(minutes),
            }
            prop_assert_eq!(q.tickets().count(), issued_count, "no ticket lost");
        }
        for service in services {
            let numbers: Vec<u16> = q.tickets().filter(|t| t.service == service).map(|t| t.number.number()).collect();
            let expected: Vec<u16> = (1..=numbers.len() as u16).collect();
            prop_assert_eq!(numbers, expected, "numbers unique and increasing from 1");
        }
    }
}

#[test]
fn check_in_window_and_office() {
    let here = crate::ids::OfficeId::parse("brno").unwrap_or_else(|_| unreachable!());
    let there = crate::ids::OfficeId::parse("olomouc").unwrap_or_else(|_| unreachable!());
    let window = CheckInWindow::default();
    let slot = at(10, 0);
    let cases = [
        (&here, at(8, 59), Err(ErrorCode::TooEarly)),
        (&here, at(9, 0), Ok(())),
        (&here, at(10, 15), Ok(())),
        (&here, at(10, 16), Err(ErrorCode::TooLate)),
        (&there, at(9, 30), Err(ErrorCode::WrongOffice)),
    ];
    for (booked_at, now, expected) in cases {
        assert_eq!(check_in_rules(booked_at, &here, slot, now, window), expected, "{now}");
    }
    let mut q = queue();
    let appointment = Origin::Appointment { slot, booking: 42 };
    issue(&mut q, ServiceKind::Interview, appointment, false, at(9, 30));
    let twice = q.execute(&QueueCommand::Issue { service: ServiceKind::Interview, origin: appointment, priority: false }, at(9, 31));
    assert_eq!(twice, Err(ErrorCode::AlreadyCheckedIn));
}

#[test]
fn staff_flag_priority_and_it_changes_the_order() {
    let mut q = queue();
    let first = issue(&mut q, ServiceKind::ApplicationSubmission, Origin::WalkIn, false, at(9, 0));
    let second = issue(&mut q, ServiceKind::ApplicationSubmission, Origin::WalkIn, false, at(9, 1));
    assert_eq!(q.execute(&QueueCommand::Prioritise { number: second }, at(9, 2)).map(|e| e.kind()), Ok("prioritised"));
    assert_eq!(q.decide(&QueueCommand::Prioritise { number: second }, at(9, 2)), Err(ErrorCode::AlreadyPriority));
    assert_eq!(call(&mut q, 1, &all(), at(9, 3)), Some(second.to_string()), "the flagged ticket goes first");
    assert_eq!(q.decide(&QueueCommand::Prioritise { number: second }, at(9, 4)), Err(ErrorCode::TicketNotWaiting));
    let unknown = TicketNumber::new(ServiceKind::Interview, 77);
    assert_eq!(q.decide(&QueueCommand::Prioritise { number: unknown }, at(9, 4)), Err(ErrorCode::TicketNotFound));
    assert!(q.ticket(first).is_some_and(|t| !t.priority));
}

#[test]
fn tickets_record_when_they_were_called_served_and_finished() {
    let mut q = queue();
    let number = issue(&mut q, ServiceKind::ApplicationSubmission, Origin::WalkIn, false, at(9, 0));
    call(&mut q, 1, &all(), at(9, 10));
    q.execute(&QueueCommand::Start { number, counter: 1 }, at(9, 11)).expect("start");
    q.execute(&QueueCommand::Complete { number, counter: 1 }, at(9, 20)).expect("complete");
    let ticket = q.ticket(number).expect("ticket");
    assert_eq!(ticket.waited(), Some(Duration::minutes(10)));
    assert_eq!(ticket.service_time(), Some(Duration::minutes(9)));
}
