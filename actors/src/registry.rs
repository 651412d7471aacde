//! A fake of the foreigners' registry with the real adapter's shape: it answers after a
//! network-like delay, can be made to fail, and does not tell "no such person" from "wrong PIN".
//!
//! It knows a few named demo people, and a synthetic population for demos and load tests:
//! registration numbers `POP-00000001` … with the PIN given by [`population_pin`]. A real
//! adapter is one new type implementing [`ForeignersRegistry`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use prepazka_models::identity::{Credentials, DateOfBirth, PassportNumber, PersonName, Pin, RegistrationNumber};
use prepazka_models::ids::OfficeId;
use prepazka_models::registry::{ForeignersRegistry, Permit, RegistryError, RegistryFuture, RegistryPerson, RegistryPersonId};
use prepazka_models::service::PermitKind;

/// A person the fake knows, with how they can prove it.
#[derive(Debug, Clone)]
pub struct FakeRecord {
    pub person: RegistryPerson,
    pub registration: Option<(RegistrationNumber, Pin)>,
    pub passport: Option<PassportNumber>,
}

pub struct FakeRegistry {
    records: HashMap<RegistryPersonId, FakeRecord>,
    population: u32,
    latency: Duration,
    offline: AtomicBool,
}

const POPULATION_PREFIX: &str = "POP-";

/// The PIN of synthetic person `n` (demo and load tests only).
pub fn population_pin(n: u32) -> String {
    format!("{:04}", (u64::from(n) * 7919 + 1234) % 10_000)
}

/// The date of birth of synthetic person `n`.
pub fn population_birth_date(n: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1960 + (n % 40) as i32, 1 + n % 12, 1 + n % 28)
}

/// The registration number of synthetic person `n`.
pub fn population_number(n: u32) -> String {
    format!("{POPULATION_PREFIX}{n:08}")
}

impl FakeRegistry {
    pub fn new(records: Vec<FakeRecord>, population: u32, latency: Duration) -> Self {
        let records = records.into_iter().map(|r| (r.person.id.clone(), r)).collect();
        Self { records, population, latency, offline: AtomicBool::new(false) }
    }

    /// Makes every call fail as an unreachable registry would (for tests and drills).
    pub fn set_offline(&self, offline: bool) {
        self.offline.store(offline, Ordering::SeqCst);
    }

    fn synthetic(&self, id: &RegistryPersonId) -> Option<RegistryPerson> {
        let n: u32 = id.0.strip_prefix(POPULATION_PREFIX)?.parse().ok()?;
        if n == 0 || n > self.population {
            return None;
        }
        let today = NaiveDate::from_ymd_opt(2026, 1, 1)?;
        let born = population_birth_date(n)?;
        Some(RegistryPerson {
            id: id.clone(),
            name: PersonName::parse("Demo Person").ok()?,
            date_of_birth: DateOfBirth::new(born, today).ok()?,
            permit: Some(Permit { kind: PermitKind::LongTermResidence, expires_on: NaiveDate::from_ymd_opt(2027, 6, 30)? }),
            biometrics_office: None,
            household: Vec::new(),
        })
    }

    fn lookup(&self, id: &RegistryPersonId) -> Option<RegistryPerson> {
        self.records.get(id).map(|r| r.person.clone()).or_else(|| self.synthetic(id))
    }

    fn check(&self, credentials: &Credentials) -> Result<RegistryPerson, RegistryError> {
        match credentials {
            Credentials::Registration { number, pin } => {
                if let Some(n) = number.as_str().strip_prefix(POPULATION_PREFIX).and_then(|n| n.parse::<u32>().ok()) {
                    let person = self.synthetic(&RegistryPersonId(population_number(n))).ok_or(RegistryError::NotVerified)?;
                    let expected = Pin::parse(&population_pin(n)).map_err(|_| RegistryError::NotVerified)?;
                    return if expected.matches(pin) { Ok(person) } else { Err(RegistryError::NotVerified) };
                }
                self.records
                    .values()
                    .find(|r| r.registration.as_ref().is_some_and(|(n, p)| n == number && p.matches(pin)))
                    .map(|r| r.person.clone())
                    .ok_or(RegistryError::NotVerified)
            }
            Credentials::TravelDocument { number, date_of_birth, name } => self
                .records
                .values()
                .find(|r| {
                    r.passport.as_ref() == Some(number)
                        && r.person.date_of_birth == *date_of_birth
                        && r.person.name.matching_key() == name.matching_key()
                })
                .map(|r| r.person.clone())
                .ok_or(RegistryError::NotVerified),
        }
    }

    async fn answer<T>(&self, result: Result<T, RegistryError>) -> Result<T, RegistryError> {
        // A zero-length sleep would still wait for the timer's next tick (~1 ms).
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.offline.load(Ordering::SeqCst) {
            return Err(RegistryError::Unavailable);
        }
        result
    }
}

impl ForeignersRegistry for FakeRegistry {
    fn verify<'a>(&'a self, credentials: &'a Credentials) -> RegistryFuture<'a, RegistryPerson> {
        Box::pin(async move { self.answer(self.check(credentials)).await })
    }

    fn person<'a>(&'a self, id: &'a RegistryPersonId) -> RegistryFuture<'a, RegistryPerson> {
        Box::pin(async move { self.answer(self.lookup(id).ok_or(RegistryError::NotVerified)).await })
    }
}

/// Builds a record; used by the demo data and tests.
pub fn record(
    id: &str,
    name: &str,
    born: NaiveDate,
    permit: Option<(PermitKind, NaiveDate)>,
    biometrics_office: Option<OfficeId>,
    registration: Option<(&str, &str)>,
    passport: Option<&str>,
) -> Option<FakeRecord> {
    let far_future = NaiveDate::from_ymd_opt(2100, 1, 1)?;
    Some(FakeRecord {
        person: RegistryPerson {
            id: RegistryPersonId(id.to_owned()),
            name: PersonName::parse(name).ok()?,
            date_of_birth: DateOfBirth::new(born, far_future).ok()?,
            permit: permit.map(|(kind, expires_on)| Permit { kind, expires_on }),
            biometrics_office,
            household: Vec::new(),
        },
        registration: match registration {
            Some((number, pin)) => Some((RegistrationNumber::parse(number).ok()?, Pin::parse(pin).ok()?)),
            None => None,
        },
        passport: match passport {
            Some(p) => Some(PassportNumber::parse(p).ok()?),
            None => None,
        },
    })
}
