//! The injected source of time. Rules take `now` as an argument; whoever calls them asks a
//! `Clock`. Tests and simulations use [`FixedClock`], the server uses [`SystemClock`].

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeZone, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock of the machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock shifted by a fixed offset: a training or test environment that lives on
/// another day (a weekday morning) while time passes normally.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    offset: chrono::Duration,
}

impl OffsetClock {
    /// A clock that reads `start` now and runs on from there.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self { offset: start - Utc::now() }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// A clock that stands still until moved; for tests and simulations.
#[derive(Debug)]
pub struct FixedClock {
    millis: AtomicI64,
}

impl FixedClock {
    pub fn at(instant: DateTime<Utc>) -> Self {
        Self { millis: AtomicI64::new(instant.timestamp_millis()) }
    }

    pub fn set(&self, instant: DateTime<Utc>) {
        self.millis.store(instant.timestamp_millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.millis.fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        let millis = self.millis.load(Ordering::SeqCst);
        // unwrap-free: an out-of-range value can only come from a test moving the clock absurdly.
        Utc.timestamp_millis_opt(millis).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}
