//! Property tests of the parsers at the edge: any input at all is either accepted or refused
//! with a code, never a panic; what is accepted is normalised and parses again to itself.

use chrono::NaiveDate;
use prepazka_models::calendar::parse_instant;
use prepazka_models::identity::{parse_iso_date, DateOfBirth, Email, PassportNumber, PersonName, Pin, RegistrationNumber};
use prepazka_models::ids::{BookingCode, OfficeId};
use prepazka_models::locale::Locale;
use prepazka_models::service::ServiceKind;
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default()
}

proptest! {
    #[test]
    fn parsers_never_panic(input in any::<String>()) {
        let _ = OfficeId::parse(&input);
        let _ = BookingCode::parse(&input);
        let _ = PersonName::parse(&input);
        let _ = Email::parse(&input);
        let _ = PassportNumber::parse(&input);
        let _ = RegistrationNumber::parse(&input);
        let _ = Pin::parse(&input);
        let _ = DateOfBirth::parse(&input, today());
        let _ = parse_iso_date(&input);
        let _ = parse_instant(&input);
        let _ = input.parse::<ServiceKind>();
        let _ = input.parse::<Locale>();
        let _ = Locale::negotiate(&input);
    }

    #[test]
    fn accepted_values_are_stable(input in "[ -~]{0,40}|\\PC{0,40}") {
        if let Ok(code) = BookingCode::parse(&input) {
            prop_assert_eq!(BookingCode::parse(&code.display()), Ok(code.clone()));
            prop_assert_eq!(code.as_str().len(), 12);
        }
        if let Ok(name) = PersonName::parse(&input) {
            prop_assert_eq!(PersonName::parse(name.as_str()).map(|n| n.as_str().to_owned()), Ok(name.as_str().to_owned()));
            prop_assert!(name.as_str().chars().count() <= 100);
            prop_assert!(!name.as_str().contains(['<', '>', '"', ';']));
        }
        if let Ok(email) = Email::parse(&input) {
            prop_assert!(email.as_str().len() <= 254 && email.as_str().contains('@'));
        }
        if let Ok(id) = OfficeId::parse(&input) {
            prop_assert_eq!(OfficeId::parse(id.as_str()), Ok(id.clone()));
        }
    }

    #[test]
    fn dates_round_trip(days in 0i64..45_000) {
        let date = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default() + chrono::Duration::days(days);
        let parsed = DateOfBirth::parse(&date.to_string(), today());
        prop_assert_eq!(parsed.is_ok(), date <= today());
        if let Ok(born) = parsed {
            prop_assert_eq!(born.date(), date);
        }
    }
}
