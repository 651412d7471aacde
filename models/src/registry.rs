//! The foreigners' registry, which prepazka cannot reach: the trait its adapter implements, and
//! the person record it answers with. A fake adapter with the real one's shape (latency, errors,
//! not-found) lives beside the actors; a real adapter is one new file implementing this trait.

use std::future::Future;
use std::pin::Pin;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::identity::{Credentials, DateOfBirth, PersonName};
use crate::ids::OfficeId;
use crate::service::PermitKind;
use crate::ErrorCode;

/// The registry's own id for a person. Opaque to prepazka; never shown, never logged.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegistryPersonId(pub String);

impl std::fmt::Debug for RegistryPersonId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryPersonId(<redacted>)")
    }
}

/// A residence permit as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    pub kind: PermitKind,
    pub expires_on: NaiveDate,
}

/// How a household member relates to the person who books for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Spouse,
    Child,
    /// A student up to 26 who depends on the applicant.
    AdultDependentChild,
    /// A parent over 65.
    Parent,
    /// A dependant who cannot care for themselves.
    Dependant,
}

/// A person as the registry answers for them.
#[derive(Debug, Clone)]
pub struct RegistryPerson {
    pub id: RegistryPersonId,
    pub name: PersonName,
    pub date_of_birth: DateOfBirth,
    pub permit: Option<Permit>,
    /// Where the biometrics for the current card were captured, if they were.
    pub biometrics_office: Option<OfficeId>,
    pub household: Vec<(RegistryPersonId, Relation)>,
}

/// Why the registry did not confirm a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// No such person, or the credentials do not match: deliberately indistinguishable.
    #[error("identity not verified")]
    NotVerified,
    #[error("registry unavailable")]
    Unavailable,
}

impl From<RegistryError> for ErrorCode {
    fn from(value: RegistryError) -> Self {
        match value {
            RegistryError::NotVerified => ErrorCode::IdentityNotVerified,
            RegistryError::Unavailable => ErrorCode::RegistryUnavailable,
        }
    }
}

pub type RegistryFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, RegistryError>> + Send + 'a>>;

/// The foreigners' registry as prepazka uses it.
pub trait ForeignersRegistry: Send + Sync + 'static {
    /// Checks credentials and returns the person they belong to.
    fn verify<'a>(&'a self, credentials: &'a Credentials) -> RegistryFuture<'a, RegistryPerson>;

    /// Looks a person up by the registry's id (for household members and re-checks).
    fn person<'a>(&'a self, id: &'a RegistryPersonId) -> RegistryFuture<'a, RegistryPerson>;
}

/// Whether `member` may be booked together with `head` under the household rules: spouse and
/// children under 18; students up to 26; parents over 65; dependants who cannot care for
/// themselves.
pub fn may_join_household(relation: Relation, member_birth: DateOfBirth, today: NaiveDate) -> bool {
    let age = member_birth.age_on(today);
    match relation {
        Relation::Spouse | Relation::Dependant => true,
        Relation::Child => age < 18,
        Relation::AdultDependentChild => age <= 26,
        Relation::Parent => age > 65,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn household_ages() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let born = |s: &str| DateOfBirth::parse(s, today).unwrap_or_else(|_| panic!("{s}"));
        assert!(may_join_household(Relation::Child, born("2009-11-24"), today));
        assert!(!may_join_household(Relation::Child, born("2008-11-23"), today));
        assert!(may_join_household(Relation::AdultDependentChild, born("2000-11-24"), today));
        assert!(!may_join_household(Relation::AdultDependentChild, born("1999-11-23"), today));
        assert!(may_join_household(Relation::Parent, born("1960-01-01"), today));
        assert!(!may_join_household(Relation::Parent, born("1970-01-01"), today));
    }
}
