//! Expected waiting time per service, from the office's recent service times.
//!
//! **Method** (documented in ARCHITECTURE.md, measured in BENCHMARKS.md):
//!
//! 1. *Service time* `S` of a service: the mean of its last [`RECENT_SERVICES`] completed
//!    services today; while fewer than [`MIN_SAMPLES`] exist, the office's planned slot length
//!    fills the missing samples (a prior that fades as the day produces evidence).
//! 2. *Who serves it*: the open counters assigned to the service. None open → no estimate
//!    (the kiosk says so rather than inventing a number).
//! 3. *Who goes first*: the waiting tickets of the service that the call-next policy ranks
//!    before the ticket now (due appointments, priority, arrival).
//! 4. *List scheduling*: each counter is free after its expected remaining time (a busy counter:
//!    `S` minus what has elapsed, at least a quarter of `S`; a free counter: now); the tickets
//!    ahead are handed one by one to the counter free soonest, each taking `S`; the ticket's wait
//!    is when the soonest counter is then free.
//!
//! The simulation in [`simulate`] draws arrivals and service times from distributions the
//! estimator does not know (Poisson arrivals with a morning peak, log-normal service times whose
//! mean differs from the planned slot length) and reports the mean absolute error.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use crate::queue::{rank, Counter, PolicyParams, Ticket, TicketNumber, TicketState};
use crate::service::ServiceKind;

/// Completed services the mean is taken over.
pub const RECENT_SERVICES: usize = 12;
/// Samples below which the planned slot length fills in.
pub const MIN_SAMPLES: usize = 4;

/// The mean service time of `service` from today's tickets, with `planned` as the prior.
pub fn service_time(tickets: &[Ticket], service: ServiceKind, planned: Duration) -> Duration {
    let mut done: Vec<(DateTime<Utc>, Duration)> = tickets
        .iter()
        .filter(|t| t.service == service)
        .filter_map(|t| Some((t.finished_at?, t.service_time()?)))
        .filter(|(_, took)| *took >= Duration::zero())
        .collect();
    done.sort_by_key(|(finished, _)| std::cmp::Reverse(*finished));
    done.truncate(RECENT_SERVICES);
    let fill = MIN_SAMPLES.saturating_sub(done.len());
    let total: i64 = done.iter().map(|(_, took)| took.num_milliseconds()).sum::<i64>() + planned.num_milliseconds() * fill as i64;
    let count = (done.len() + fill).max(1) as i64;
    Duration::milliseconds(total / count)
}

/// The expected wait of waiting ticket `number` at `now`, or `None` when no open counter
/// serves its service (or it is not waiting).
pub fn expected_wait(
    tickets: &[Ticket],
    counters: &[Counter],
    number: TicketNumber,
    planned: Duration,
    params: &PolicyParams,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let target = tickets.iter().find(|t| t.number == number && t.state == TicketState::Waiting)?;
    let serving: BTreeSet<u16> = counters.iter().filter(|c| c.calling_for().contains(&target.service)).map(|c| c.number).collect();
    if serving.is_empty() {
        return None;
    }
    let mean = service_time(tickets, target.service, planned);
    let target_rank = (rank(target, now, params), target.number);
    let ahead = tickets
        .iter()
        .filter(|t| t.service == target.service && t.state == TicketState::Waiting && t.number != number)
        .filter(|t| (rank(t, now, params), t.number) < target_rank)
        .count();
    let mut free_at: Vec<Duration> = serving
        .iter()
        .map(|counter| {
            let at_counter = tickets
                .iter()
                .find(|t| matches!(t.state, TicketState::Called { counter: c, .. } | TicketState::Serving { counter: c } if c == *counter));
            match at_counter.and_then(|t| t.started_at.or(t.called_at)) {
                Some(began) => (mean - (now - began)).max(mean / 4),
                None => Duration::zero(),
            }
        })
        .collect();
    for _ in 0..ahead {
        if let Some(soonest) = free_at.iter_mut().min() {
            *soonest += mean;
        }
    }
    free_at.into_iter().min()
}

/// One service's figures for the day so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSummary {
    pub service: ServiceKind,
    pub waiting: usize,
    pub served: usize,
    pub no_shows: usize,
    /// Mean wait of the tickets called so far.
    pub mean_wait: Option<Duration>,
    /// The longest anyone now waiting has waited.
    pub longest_waiting: Option<Duration>,
    pub mean_service: Option<Duration>,
}

fn mean(durations: impl Iterator<Item = Duration>) -> Option<Duration> {
    let (total, count) = durations.fold((0i64, 0i64), |(t, n), d| (t + d.num_milliseconds(), n + 1));
    (count > 0).then(|| Duration::milliseconds(total / count))
}

/// Per service: waiting now, served, no-shows, mean wait and service time, longest current wait.
pub fn summarise(tickets: &[Ticket], services: &[ServiceKind], now: DateTime<Utc>) -> Vec<ServiceSummary> {
    services
        .iter()
        .map(|&service| {
            let of = || tickets.iter().filter(move |t| t.service == service);
            ServiceSummary {
                service,
                waiting: of().filter(|t| t.state == TicketState::Waiting).count(),
                served: of().filter(|t| t.service_time().is_some()).count(),
                no_shows: of().filter(|t| t.state == TicketState::NoShow).count(),
                mean_wait: mean(of().filter_map(Ticket::waited)),
                longest_waiting: of().filter(|t| t.state == TicketState::Waiting).map(|t| now - t.arrived_at).max(),
                mean_service: mean(of().filter_map(Ticket::service_time)),
            }
        })
        .collect()
}

/// How many tickets were waiting at each `step` from `from` to `to`.
pub fn waiting_over_time(tickets: &[Ticket], from: DateTime<Utc>, to: DateTime<Utc>, step: Duration) -> Vec<(DateTime<Utc>, usize)> {
    let mut points = Vec::new();
    let mut at = from;
    while at <= to && step > Duration::zero() {
        let waiting = tickets.iter().filter(|t| t.arrived_at <= at && t.called_at.or(t.finished_at).is_none_or(|left| left > at)).count();
        points.push((at, waiting));
        at += step;
    }
    points
}

/// Mean wait of the tickets called in each Prague hour of the day, as (hour, mean, count).
pub fn wait_by_hour(tickets: &[Ticket]) -> Vec<(u32, Duration, usize)> {
    use chrono::Timelike;
    let mut hours: std::collections::BTreeMap<u32, Vec<Duration>> = std::collections::BTreeMap::new();
    for ticket in tickets {
        if let (Some(called), Some(waited)) = (ticket.called_at, ticket.waited()) {
            hours.entry(called.with_timezone(&crate::calendar::PRAGUE).hour()).or_default().push(waited);
        }
    }
    hours.into_iter().filter_map(|(hour, waits)| Some((hour, mean(waits.iter().copied())?, waits.len()))).collect()
}

/// Simulated office days for measuring the estimator; pure and seeded.
pub mod simulate {
    use super::*;
    use crate::queue::{OfficeQueue, Origin, QueueCommand, QueueEvent};
    use chrono::{NaiveDate, TimeZone};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// One simulated day's setting.
    #[derive(Debug, Clone, Copy)]
    pub struct DaySetting {
        pub counters: u16,
        /// Mean arrivals per hour at the busiest hour (the morning peak).
        pub peak_arrivals_per_hour: f64,
        pub open_hours: u32,
        /// True mean service time, in minutes (the estimator is not told it).
        pub mean_service_minutes: f64,
        /// Spread of the log-normal service time.
        pub service_sigma: f64,
        /// The office's planned slot length, the estimator's prior.
        pub planned_minutes: i64,
        /// Share of arrivals that staff flag as priority.
        pub priority_share: f64,
    }

    impl Default for DaySetting {
        fn default() -> Self {
            Self {
                counters: 4,
                peak_arrivals_per_hour: 22.0,
                open_hours: 8,
                mean_service_minutes: 11.0,
                service_sigma: 0.6,
                planned_minutes: 15,
                priority_share: 0.08,
            }
        }
    }

    /// What a day produced: per ticket, the estimate shown at issue and the wait that followed.
    #[derive(Debug, Default, Clone)]
    pub struct DayOutcome {
        pub predictions: Vec<(Duration, Duration)>,
        /// A naive estimate (people ahead × planned slot ÷ counters) for comparison.
        pub naive: Vec<(Duration, Duration)>,
    }

    fn mae(pairs: &[(Duration, Duration)]) -> f64 {
        if pairs.is_empty() {
            return 0.0;
        }
        pairs.iter().map(|(est, real)| (est.num_seconds() - real.num_seconds()).abs() as f64).sum::<f64>() / pairs.len() as f64 / 60.0
    }

    impl DayOutcome {
        /// Mean absolute error of the estimator, in minutes.
        pub fn mae_minutes(&self) -> f64 {
            mae(&self.predictions)
        }

        pub fn naive_mae_minutes(&self) -> f64 {
            mae(&self.naive)
        }

        pub fn mean_wait_minutes(&self) -> f64 {
            let n = self.predictions.len().max(1) as f64;
            self.predictions.iter().map(|(_, real)| real.num_seconds() as f64).sum::<f64>() / n / 60.0
        }
    }

    fn log_normal(rng: &mut StdRng, mean: f64, sigma: f64) -> f64 {
        // Box–Muller; mu chosen so that the mean is `mean`.
        let (u1, u2): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.gen());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let mu = mean.ln() - sigma * sigma / 2.0;
        (mu + sigma * z).exp()
    }

    /// Arrival rate over the day: a morning peak, a lull at noon, a smaller afternoon rise.
    fn rate(setting: &DaySetting, hour: f64) -> f64 {
        let shape = 0.35 + 0.65 * (-((hour - 1.5) / 1.3).powi(2)).exp() + 0.3 * (-((hour - 6.0) / 1.2).powi(2)).exp();
        setting.peak_arrivals_per_hour * shape.min(1.0)
    }

    /// Runs one office day of walk-ins through the real queue and policy.
    pub fn day(setting: &DaySetting, seed: u64) -> DayOutcome {
        let mut rng = StdRng::seed_from_u64(seed);
        let service = ServiceKind::ApplicationSubmission;
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
        let open = Utc.from_utc_datetime(&day.and_hms_opt(7, 0, 0).unwrap_or_default());
        let close = open + Duration::hours(i64::from(setting.open_hours));
        let planned = Duration::minutes(setting.planned_minutes);
        let params = PolicyParams::default();
        let mut queue = OfficeQueue::new(day, params);
        let counters: Vec<Counter> = (1..=setting.counters)
            .map(|n| Counter { status: crate::queue::CounterStatus::Open, ..Counter::closed(n, [service]) })
            .collect();
        // Next arrival by thinning a Poisson process at the peak rate.
        let mut next_arrival = open;
        let mut busy_until: Vec<Option<(DateTime<Utc>, TicketNumber)>> = vec![None; setting.counters as usize];
        let mut estimates: Vec<(TicketNumber, Duration, Duration)> = Vec::new();
        let mut now = open;
        loop {
            let gap = -rng.gen_range(f64::EPSILON..1.0f64).ln() / setting.peak_arrivals_per_hour * 3600.0;
            next_arrival += Duration::milliseconds((gap * 1000.0) as i64);
            // Serve everything that happens before the next arrival.
            let horizon = if next_arrival < close { next_arrival } else { close + Duration::hours(12) };
            loop {
                // Free counters call; then advance to the earliest completion before the horizon.
                for (index, slot) in busy_until.iter_mut().enumerate() {
                    if slot.is_none() {
                        let command = QueueCommand::CallNext { counter: index as u16 + 1, services: [service].into() };
                        if let Ok(QueueEvent::Called { number, .. }) = queue.execute(&command, now) {
                            let took = log_normal(&mut rng, setting.mean_service_minutes, setting.service_sigma);
                            let _ = queue.execute(&QueueCommand::Start { number, counter: index as u16 + 1 }, now);
                            *slot = Some((now + Duration::milliseconds((took * 60_000.0) as i64), number));
                        }
                    }
                }
                let soonest = busy_until.iter().enumerate().filter_map(|(i, s)| s.map(|(t, n)| (t, i, n))).min();
                match soonest {
                    Some((finish, index, number)) if finish <= horizon => {
                        now = finish;
                        let _ = queue.execute(&QueueCommand::Complete { number, counter: index as u16 + 1 }, now);
                        busy_until[index] = None;
                    }
                    _ => break,
                }
            }
            if next_arrival >= close {
                break;
            }
            now = next_arrival;
            let hour = (now - open).num_seconds() as f64 / 3600.0;
            if rng.gen::<f64>() > rate(setting, hour) / setting.peak_arrivals_per_hour {
                continue;
            }
            let priority = rng.gen::<f64>() < setting.priority_share;
            let issued = queue.execute(&QueueCommand::Issue { service, origin: Origin::WalkIn, priority }, now);
            if let Ok(event) = issued {
                let number = event.ticket();
                let tickets: Vec<Ticket> = queue.tickets().cloned().collect();
                let estimate = expected_wait(&tickets, &counters, number, planned, &params, now).unwrap_or_default();
                let ahead = tickets.iter().filter(|t| t.state == TicketState::Waiting && t.number < number).count() as i32;
                let naive = planned * ahead / i32::from(setting.counters);
                estimates.push((number, estimate, naive));
            }
        }
        let mut outcome = DayOutcome::default();
        for (number, estimate, naive) in estimates {
            if let Some(waited) = queue.ticket(number).and_then(Ticket::waited) {
                outcome.predictions.push((estimate, waited));
                outcome.naive.push((naive, waited));
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::simulate::{day, DaySetting};
    use super::*;
    use crate::queue::{CounterStatus, OfficeQueue, Origin, QueueCommand};
    use chrono::{NaiveDate, TimeZone};

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0).single().unwrap_or_default() + Duration::minutes(minute)
    }

    fn open(number: u16) -> Counter {
        Counter { status: CounterStatus::Open, ..Counter::closed(number, [ServiceKind::ApplicationSubmission]) }
    }

    #[test]
    fn wait_grows_with_people_ahead_and_shrinks_with_counters() {
        let mut queue = OfficeQueue::new(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(), PolicyParams::default());
        let issue = |queue: &mut OfficeQueue| {
            queue.execute(
                &QueueCommand::Issue { service: ServiceKind::ApplicationSubmission, origin: Origin::WalkIn, priority: false },
                at(0),
            )
        };
        let numbers: Vec<TicketNumber> = (0..6).filter_map(|_| issue(&mut queue).ok()).map(|e| e.ticket()).collect();
        let tickets: Vec<Ticket> = queue.tickets().cloned().collect();
        let planned = Duration::minutes(10);
        let params = PolicyParams::default();
        let one = [open(1)];
        let two = [open(1), open(2)];
        let first = expected_wait(&tickets, &one, numbers[0], planned, &params, at(0));
        let last = expected_wait(&tickets, &one, numbers[5], planned, &params, at(0));
        assert_eq!(first, Some(Duration::zero()), "a free counter calls the first ticket at once");
        assert_eq!(last, Some(Duration::minutes(50)));
        assert_eq!(expected_wait(&tickets, &two, numbers[5], planned, &params, at(0)), Some(Duration::minutes(20)));
        assert_eq!(
            expected_wait(&tickets, &[Counter::closed(1, [ServiceKind::ApplicationSubmission])], numbers[0], planned, &params, at(0)),
            None
        );
    }

    #[test]
    fn observed_service_times_replace_the_plan() {
        let mut queue = OfficeQueue::new(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(), PolicyParams::default());
        for i in 0..6 {
            let number = queue
                .execute(
                    &QueueCommand::Issue { service: ServiceKind::ApplicationSubmission, origin: Origin::WalkIn, priority: false },
                    at(i * 4),
                )
                .map(|e| e.ticket())
                .expect("issued");
            queue
                .execute(&QueueCommand::CallNext { counter: 1, services: [ServiceKind::ApplicationSubmission].into() }, at(i * 4))
                .expect("called");
            queue.execute(&QueueCommand::Complete { number, counter: 1 }, at(i * 4 + 4)).expect("completed");
        }
        let tickets: Vec<Ticket> = queue.tickets().cloned().collect();
        assert_eq!(service_time(&tickets, ServiceKind::ApplicationSubmission, Duration::minutes(20)), Duration::minutes(4));
        assert_eq!(service_time(&[], ServiceKind::ApplicationSubmission, Duration::minutes(20)), Duration::minutes(20));
    }

    #[test]
    fn day_figures() {
        let mut queue = OfficeQueue::new(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default(), PolicyParams::default());
        let issue = |queue: &mut OfficeQueue, minute| {
            queue
                .execute(
                    &QueueCommand::Issue { service: ServiceKind::ApplicationSubmission, origin: Origin::WalkIn, priority: false },
                    at(minute),
                )
                .map(|e| e.ticket())
                .expect("issued")
        };
        let first = issue(&mut queue, 0);
        issue(&mut queue, 5);
        let all = [ServiceKind::ApplicationSubmission].into();
        queue.execute(&QueueCommand::CallNext { counter: 1, services: all }, at(10)).expect("call");
        queue.execute(&QueueCommand::Complete { number: first, counter: 1 }, at(16)).expect("complete");
        let tickets: Vec<Ticket> = queue.tickets().cloned().collect();
        let summary = summarise(&tickets, &[ServiceKind::ApplicationSubmission, ServiceKind::Interview], at(20));
        assert_eq!(summary[0].waiting, 1);
        assert_eq!(summary[0].served, 1);
        assert_eq!(summary[0].mean_wait, Some(Duration::minutes(10)));
        assert_eq!(summary[0].mean_service, Some(Duration::minutes(6)));
        assert_eq!(summary[0].longest_waiting, Some(Duration::minutes(15)));
        assert_eq!(summary[1].waiting + summary[1].served, 0);
        let curve: Vec<usize> = waiting_over_time(&tickets, at(0), at(20), Duration::minutes(5)).into_iter().map(|(_, n)| n).collect();
        assert_eq!(curve, vec![1, 2, 1, 1, 1]);
        assert_eq!(wait_by_hour(&tickets), vec![(9, Duration::minutes(10), 1)], "08:10 UTC is 09:10 in Prague");
    }

    #[test]
    fn estimator_beats_the_naive_rule_on_simulated_days() {
        let setting = DaySetting::default();
        let (mut ours, mut naive) = (0.0, 0.0);
        for seed in 0..5 {
            let outcome = day(&setting, seed);
            assert!(outcome.predictions.len() > 50, "a day has many arrivals");
            ours += outcome.mae_minutes();
            naive += outcome.naive_mae_minutes();
        }
        assert!(ours < naive, "estimator MAE {ours:.1} vs naive {naive:.1} (sums over 5 days)");
    }
}
