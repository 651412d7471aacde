//! Measures the waiting-time estimator on simulated office days (numbers for BENCHMARKS.md):
//! `cargo run -p prepazka-models --release --example wait_mae`.
//!
//! Arrivals (Poisson, morning peak) and service times (log-normal) come from distributions the
//! estimator does not know; the planned slot length it starts from differs from the true mean.

use prepazka_models::wait::simulate::{day, DaySetting};

fn main() {
    let days = 200;
    let settings = [
        ("4 counters, busy (22/h peak), service 11 min, plan 15", DaySetting::default()),
        ("4 counters, calm (12/h peak)", DaySetting { peak_arrivals_per_hour: 12.0, ..DaySetting::default() }),
        ("2 counters, overloaded (14/h peak)", DaySetting { counters: 2, peak_arrivals_per_hour: 14.0, ..DaySetting::default() }),
        (
            "6 counters, spread σ=1.0, plan 8 min",
            DaySetting { counters: 6, service_sigma: 1.0, planned_minutes: 8, peak_arrivals_per_hour: 30.0, ..DaySetting::default() },
        ),
    ];
    println!("| setting | tickets | mean wait (min) | estimator MAE (min) | naive MAE (min) |");
    println!("|---|---|---|---|---|");
    for (name, setting) in settings {
        let (mut tickets, mut wait, mut ours, mut naive) = (0usize, 0.0, 0.0, 0.0);
        for seed in 0..days {
            let outcome = day(&setting, 1_000 + seed);
            let n = outcome.predictions.len();
            tickets += n;
            wait += outcome.mean_wait_minutes() * n as f64;
            ours += outcome.mae_minutes() * n as f64;
            naive += outcome.naive_mae_minutes() * n as f64;
        }
        let per = |x: f64| x / tickets.max(1) as f64;
        println!("| {name} | {tickets} | {:.1} | {:.1} | {:.1} |", per(wait), per(ours), per(naive));
    }
}
