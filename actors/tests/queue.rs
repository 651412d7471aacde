//! The office queue through its actor, on SQLite and PostgreSQL: 50 counters calling next over
//! 10,000 tickets call each exactly once, numbers are unique and increasing, and after a restart
//! the queue is rebuilt from the store with nothing lost and nothing called again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures_util::future::join_all;
use prepazka_actors::office::{CounterChange, OfficeDeps, OfficeHandle};
use prepazka_models::calendar::{BookingWindow, WeeklyHours};
use prepazka_models::clock::OffsetClock;
use prepazka_models::ids::OfficeId;
use prepazka_models::office::{Office, OfficeService, Region};
use prepazka_models::queue::{Origin, QueueCommand, QueueEvent, TicketState};
use prepazka_models::service::ServiceKind;
use prepazka_models::ErrorCode;
use prepazka_store::testing::TestDatabase;
use prepazka_store::writer::{Writer, WriterConfig};
use prepazka_store::{Backend, Write};

const TICKETS: usize = 10_000;
const COUNTERS: u16 = 50;

fn office() -> Office {
    Office {
        id: OfficeId::parse("brno").unwrap_or_else(|_| unreachable!()),
        name: "Brno".into(),
        region: Region::Jihomoravsky,
        city: "Brno".into(),
        address: "Cejl 62".into(),
        has_biometrics: true,
        services: ServiceKind::ALL.iter().map(|&service| OfficeService { service, slot_minutes: 30, capacity: 2 }).collect(),
        hours: WeeklyHours::typical_office(),
    }
}

async fn start(store: prepazka_store::SharedStore) -> (OfficeHandle, Writer) {
    let (writer, _task) = Writer::spawn(store.clone(), WriterConfig::default());
    let deps = Arc::new(OfficeDeps {
        store,
        writer: writer.clone(),
        // A Tuesday morning, whenever the test runs: walk-in tickets are issued in opening hours.
        clock: Arc::new(OffsetClock::starting_at(prepazka_models::calendar::parse_instant("2027-03-16T09:00:00+01:00").expect("instant"))),
        window: BookingWindow { horizon_days: 1, min_lead_minutes: 30 },
        walk_in_cutoff: chrono::Duration::minutes(30),
    });
    (OfficeHandle::start(office(), deps, &actix::Arbiter::current()), writer)
}

async fn fifty_counters_ten_thousand_tickets(backend: Backend) {
    let db = TestDatabase::new(backend).await.expect("database");
    let store = db.open().await.expect("store");
    store.apply_batch(vec![Write::UpsertOffice(office())]).await.expect("seed").into_iter().for_each(|r| assert!(r.is_ok()));
    let (handle, _writer) = start(store.clone()).await;
    let services = [ServiceKind::VisaSticker, ServiceKind::Interview, ServiceKind::ApplicationSubmission];
    let started = std::time::Instant::now();
    let issued = join_all((0..TICKETS).map(|i| {
        let handle = handle.clone();
        async move {
            let origin = Origin::WalkIn;
            handle.queue(QueueCommand::Issue { service: services[i % services.len()], origin, priority: i % 17 == 0 }).await
        }
    }))
    .await;
    let issuing = started.elapsed();
    let mut per_prefix: HashMap<char, Vec<u16>> = HashMap::new();
    for record in &issued {
        let record = record.as_ref().expect("issued");
        let ticket = record.event.ticket();
        per_prefix.entry(ticket.to_string().chars().next().unwrap_or('?')).or_default().push(ticket.number());
    }
    for numbers in per_prefix.values_mut() {
        let in_order = numbers.clone();
        numbers.sort_unstable();
        assert_eq!(*numbers, in_order, "numbers increase in issue order");
        assert_eq!(*numbers, (1..=numbers.len() as u16).collect::<Vec<_>>(), "unique, from 1, no gaps");
    }
    // Fifty counters, each serving all three services, call until nobody waits.
    let all: BTreeSet<ServiceKind> = services.into_iter().collect();
    for counter in 1..=COUNTERS {
        handle.change_counter(counter, CounterChange::Open { officer: format!("officer-{counter}") }, "supervisor").await.expect("open");
    }
    let started = std::time::Instant::now();
    let calls = join_all((1..=COUNTERS).map(|counter| {
        let (handle, all) = (handle.clone(), all.clone());
        async move {
            let mut mine = Vec::new();
            loop {
                match handle.queue(QueueCommand::CallNext { counter, services: all.clone() }).await {
                    Ok(record) => {
                        let QueueEvent::Called { number, .. } = record.event else { panic!("{record:?}") };
                        mine.push(number);
                        handle.queue(QueueCommand::Complete { number, counter }).await.expect("complete");
                    }
                    Err(ErrorCode::QueueEmpty) => return mine,
                    Err(other) => panic!("counter {counter}: {other}"),
                }
            }
        }
    }))
    .await;
    let calling = started.elapsed();
    // Figures for BENCHMARKS.md (run with --release --nocapture); not asserted.
    eprintln!(
        "{backend:?}: {TICKETS} tickets issued in {:.2} s ({:.0}/s); {COUNTERS} counters called and completed them in {:.2} s ({:.0} calls/s per office)",
        issuing.as_secs_f64(),
        TICKETS as f64 / issuing.as_secs_f64(),
        calling.as_secs_f64(),
        TICKETS as f64 / calling.as_secs_f64()
    );
    let called: Vec<_> = calls.into_iter().flatten().collect();
    let unique: BTreeSet<_> = called.iter().copied().collect();
    assert_eq!(called.len(), TICKETS, "every ticket called");
    assert_eq!(unique.len(), TICKETS, "none called twice");

    // A fresh actor on the same database sees the same day: everything served, numbering goes on.
    let (again, _writer2) = start(store.clone()).await;
    let tickets = again.day().await.expect("snapshot").tickets;
    assert_eq!(tickets.len(), TICKETS);
    assert!(tickets.iter().all(|t| t.state == TicketState::Done));
    let next = again
        .queue(QueueCommand::Issue { service: ServiceKind::VisaSticker, origin: Origin::WalkIn, priority: false })
        .await
        .expect("issue");
    assert_eq!(next.event.ticket().number() as usize, per_prefix[&'V'].len() + 1);
    assert_eq!(next.seq as usize, 2 * TICKETS + TICKETS + 1, "issue + call + complete per ticket, then this one");
    let events = store.queue_events(&office().id, prepazka_models::calendar::prague_date(next.at), 0).await.expect("events");
    assert_eq!(events.len() as u64, next.seq);
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1), "gap-free");
}

#[actix_rt::test]
async fn sqlite_fifty_counters_ten_thousand_tickets() {
    fifty_counters_ten_thousand_tickets(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn postgres_fifty_counters_ten_thousand_tickets() {
    fifty_counters_ten_thousand_tickets(Backend::Postgres).await;
}

/// Commits of one batch may be answered in any order, but displays are told in sequence order:
/// a live display that got event N+1 before N would skip N.
async fn displays_hear_events_in_sequence_order(backend: Backend) {
    let db = TestDatabase::new(backend).await.expect("database");
    let store = db.open().await.expect("store");
    store.apply_batch(vec![Write::UpsertOffice(office())]).await.expect("seed").into_iter().for_each(|r| assert!(r.is_ok()));
    let (handle, _writer) = start(store.clone()).await;
    handle.day().await.expect("started");
    let (mut live, _) = handle.subscribe();
    let issued =
        join_all(
            (0..300).map(|_| {
                let handle = handle.clone();
                async move {
                    handle.queue(QueueCommand::Issue { service: ServiceKind::Interview, origin: Origin::WalkIn, priority: false }).await
                }
            }),
        )
        .await;
    assert!(issued.iter().all(Result::is_ok));
    let mut seqs = Vec::new();
    while seqs.len() < 300 {
        let published = tokio::time::timeout(std::time::Duration::from_secs(5), live.recv()).await.expect("in time").expect("event");
        seqs.push(published.event.seq);
    }
    assert_eq!(seqs, (1..=300).collect::<Vec<u64>>());
}

#[actix_rt::test]
async fn sqlite_displays_hear_events_in_sequence_order() {
    displays_hear_events_in_sequence_order(Backend::Sqlite).await;
}

#[actix_rt::test]
async fn postgres_displays_hear_events_in_sequence_order() {
    displays_hear_events_in_sequence_order(Backend::Postgres).await;
}
