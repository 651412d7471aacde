//! The traffic-light summary an officer sees for the client at the counter.
//!
//! As the ministry's plans for its new agenda system describe it: one light per check
//! (identity, right office, booking within the rules, documents, fee), green when nothing is
//! left to do, amber when the officer has something to check or collect, red when the visit
//! cannot go ahead as booked. Each light that is not green carries the reason, as a message key
//! of the catalogue and its arguments, so the page says why in the officer's language.

use chrono::{DateTime, Utc};

use crate::booking::BookingStatus;
use crate::ids::OfficeId;
use crate::queue::{check_in_rules, CheckInWindow};
use crate::service::ServiceKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Colour {
    Green,
    Amber,
    Red,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Amber => "amber",
            Colour::Red => "red",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Identity,
    Office,
    Rules,
    Documents,
    Fee,
}

impl Check {
    pub fn key(self) -> &'static str {
        match self {
            Check::Identity => "identity",
            Check::Office => "office",
            Check::Rules => "rules",
            Check::Documents => "documents",
            Check::Fee => "fee",
        }
    }
}

/// One light: which check, its colour, and the catalogue key (with arguments) saying why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Light {
    pub check: Check,
    pub colour: Colour,
    pub reason: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Light {
    fn new(check: Check, colour: Colour, reason: &'static str) -> Self {
        Self { check, colour, reason, args: Vec::new() }
    }

    fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }
}

/// What is known of the client at the counter: the booking behind an appointment ticket, or
/// nothing for a walk-in.
#[derive(Debug, Clone)]
pub struct VisitFacts<'a> {
    pub service: ServiceKind,
    pub here: &'a OfficeId,
    pub booking: Option<BookingFacts<'a>>,
}

#[derive(Debug, Clone)]
pub struct BookingFacts<'a> {
    pub office: &'a OfficeId,
    pub service: ServiceKind,
    pub status: BookingStatus,
    pub starts_at: DateTime<Utc>,
    /// When the client checked in at the kiosk.
    pub checked_in_at: DateTime<Utc>,
    pub fee_czk: Option<u32>,
}

/// The five lights for a visit.
pub fn traffic_lights(facts: &VisitFacts<'_>) -> Vec<Light> {
    let documents = facts.service.documents_to_bring().len();
    let Some(booking) = &facts.booking else {
        return vec![
            Light::new(Check::Identity, Colour::Amber, "light-identity-walk-in"),
            Light::new(Check::Office, Colour::Green, "light-office-walk-in"),
            Light::new(Check::Rules, Colour::Green, "light-rules-walk-in"),
            Light::new(Check::Documents, Colour::Amber, "light-documents-check").with("count", documents),
            Light::new(Check::Fee, Colour::Amber, "light-fee-walk-in"),
        ];
    };
    let identity = Light::new(Check::Identity, Colour::Green, "light-identity-verified");
    let office = if booking.office != facts.here {
        Light::new(Check::Office, Colour::Red, "light-office-wrong")
    } else if booking.service.needs_biometric_office() || booking.service == ServiceKind::CardPickup {
        Light::new(Check::Office, Colour::Green, "light-office-biometrics")
    } else {
        Light::new(Check::Office, Colour::Green, "light-office-right")
    };
    let rules = if booking.status != BookingStatus::Confirmed {
        Light::new(Check::Rules, Colour::Red, "light-rules-not-active")
    } else if booking.service != facts.service {
        Light::new(Check::Rules, Colour::Amber, "light-rules-transferred")
    } else {
        match check_in_rules(booking.office, booking.office, booking.starts_at, booking.checked_in_at, CheckInWindow::default()) {
            Ok(()) => Light::new(Check::Rules, Colour::Green, "light-rules-ok"),
            Err(_) => Light::new(Check::Rules, Colour::Amber, "light-rules-outside-window"),
        }
    };
    let documents = Light::new(Check::Documents, Colour::Amber, "light-documents-check").with("count", documents);
    let fee = match booking.fee_czk {
        Some(fee) if fee > 0 => Light::new(Check::Fee, Colour::Amber, "light-fee-due").with("amount", fee),
        _ => Light::new(Check::Fee, Colour::Green, "light-fee-none"),
    };
    vec![identity, office, rules, documents, fee]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn id(raw: &str) -> OfficeId {
        OfficeId::parse(raw).unwrap_or_else(|_| unreachable!())
    }

    fn colours(lights: &[Light]) -> Vec<(&'static str, Colour)> {
        lights.iter().map(|l| (l.check.key(), l.colour)).collect()
    }

    #[test]
    fn lights_say_what_is_left_to_do() {
        let here = id("praha-zizkov");
        let elsewhere = id("brno");
        let slot = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).single().unwrap_or_default();
        let booking = BookingFacts {
            office: &here,
            service: ServiceKind::CardPickup,
            status: BookingStatus::Confirmed,
            starts_at: slot,
            checked_in_at: slot - Duration::minutes(10),
            fee_czk: Some(2_500),
        };
        let on_time = traffic_lights(&VisitFacts { service: ServiceKind::CardPickup, here: &here, booking: Some(booking.clone()) });
        assert_eq!(
            colours(&on_time),
            vec![
                ("identity", Colour::Green),
                ("office", Colour::Green),
                ("rules", Colour::Green),
                ("documents", Colour::Amber),
                ("fee", Colour::Amber)
            ]
        );
        assert_eq!(on_time[4].args, vec![("amount", "2500".to_owned())]);
        let wrong_office = BookingFacts { office: &elsewhere, fee_czk: None, ..booking.clone() };
        let lights = traffic_lights(&VisitFacts { service: ServiceKind::CardPickup, here: &here, booking: Some(wrong_office) });
        assert_eq!((lights[1].colour, lights[1].reason), (Colour::Red, "light-office-wrong"));
        assert_eq!(lights[4].colour, Colour::Green);
        let cancelled = BookingFacts { status: BookingStatus::Cancelled, ..booking.clone() };
        let lights = traffic_lights(&VisitFacts { service: ServiceKind::CardPickup, here: &here, booking: Some(cancelled) });
        assert_eq!(lights[2].colour, Colour::Red);
        let transferred = traffic_lights(&VisitFacts { service: ServiceKind::Interview, here: &here, booking: Some(booking) });
        assert_eq!(transferred[2].reason, "light-rules-transferred");
        let walk_in = traffic_lights(&VisitFacts { service: ServiceKind::VisaSticker, here: &here, booking: None });
        assert_eq!(walk_in[0].colour, Colour::Amber, "a walk-in's identity is checked at the desk");
    }
}
