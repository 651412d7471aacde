//! The services an office offers, and what each needs: biometric equipment, documents to bring,
//! a fee, a ticket prefix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// A kind of visit a foreigner can book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    VisaSticker,
    BiometricCapture,
    CardPickup,
    ApplicationSubmission,
    Interview,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 5] = [
        ServiceKind::VisaSticker,
        ServiceKind::BiometricCapture,
        ServiceKind::CardPickup,
        ServiceKind::ApplicationSubmission,
        ServiceKind::Interview,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ServiceKind::VisaSticker => "visa_sticker",
            ServiceKind::BiometricCapture => "biometric_capture",
            ServiceKind::CardPickup => "card_pickup",
            ServiceKind::ApplicationSubmission => "application_submission",
            ServiceKind::Interview => "interview",
        }
    }

    /// The letter that starts this service's ticket numbers (`B042`).
    pub fn ticket_prefix(self) -> char {
        match self {
            ServiceKind::VisaSticker => 'V',
            ServiceKind::BiometricCapture => 'B',
            ServiceKind::CardPickup => 'P',
            ServiceKind::ApplicationSubmission => 'A',
            ServiceKind::Interview => 'I',
        }
    }

    /// Biometric capture and card pickup need the capture equipment; the card is picked up
    /// where the biometrics were taken.
    pub fn needs_biometric_office(self) -> bool {
        matches!(self, ServiceKind::BiometricCapture | ServiceKind::CardPickup)
    }

    /// Catalogue keys of the documents to bring, in the order a leaflet lists them.
    pub fn documents_to_bring(self) -> &'static [&'static str] {
        match self {
            ServiceKind::VisaSticker => &["doc-travel-document", "doc-decision-letter"],
            ServiceKind::BiometricCapture => &["doc-travel-document", "doc-summons", "doc-fee-stamp"],
            ServiceKind::CardPickup => &["doc-travel-document", "doc-pickup-receipt", "doc-old-card"],
            ServiceKind::ApplicationSubmission => {
                &["doc-travel-document", "doc-application-form", "doc-photo", "doc-accommodation", "doc-purpose"]
            }
            ServiceKind::Interview => &["doc-travel-document", "doc-summons"],
        }
    }
}

impl FromStr for ServiceKind {
    type Err = ErrorCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ServiceKind::ALL.into_iter().find(|k| k.slug() == s).ok_or(ErrorCode::InvalidService)
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// Kinds of residence permit, as the registry knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermitKind {
    PermanentResidence,
    LongTermResidence,
    EmployeeCard,
    EuBlueCard,
    Asylum,
    SubsidiaryProtection,
}

impl PermitKind {
    pub fn label_cs(self) -> &'static str {
        match self {
            PermitKind::PermanentResidence => "trvalý pobyt",
            PermitKind::LongTermResidence => "dlouhodobý pobyt",
            PermitKind::EmployeeCard => "zaměstnanecká karta",
            PermitKind::EuBlueCard => "modrá karta EU",
            PermitKind::Asylum => "azyl",
            PermitKind::SubsidiaryProtection => "doplňková ochrana",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            PermitKind::PermanentResidence => "permanent residence",
            PermitKind::LongTermResidence => "long-term residence",
            PermitKind::EmployeeCard => "employee card",
            PermitKind::EuBlueCard => "EU Blue Card",
            PermitKind::Asylum => "asylum",
            PermitKind::SubsidiaryProtection => "subsidiary protection",
        }
    }

    fn is_long_term(self) -> bool {
        !matches!(self, PermitKind::PermanentResidence)
    }
}

/// The residence-card fee in CZK, paid when the biometrics are captured: 2,500 CZK, or 1,000 CZK
/// for a child under 15 with a long-term permit (permanent residence: 2,500 regardless of age).
/// Services without a fee return `None`.
pub fn card_fee_czk(service: ServiceKind, permit: Option<PermitKind>, age_years: u32) -> Option<u32> {
    if service != ServiceKind::BiometricCapture {
        return None;
    }
    match permit {
        Some(kind) if kind.is_long_term() && age_years < 15 => Some(1_000),
        _ => Some(2_500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees() {
        use PermitKind::*;
        assert_eq!(card_fee_czk(ServiceKind::BiometricCapture, Some(LongTermResidence), 14), Some(1_000));
        assert_eq!(card_fee_czk(ServiceKind::BiometricCapture, Some(LongTermResidence), 15), Some(2_500));
        assert_eq!(card_fee_czk(ServiceKind::BiometricCapture, Some(PermanentResidence), 5), Some(2_500));
        assert_eq!(card_fee_czk(ServiceKind::BiometricCapture, None, 30), Some(2_500));
        assert_eq!(card_fee_czk(ServiceKind::VisaSticker, Some(EmployeeCard), 30), None);
    }

    #[test]
    fn slugs_round_trip() {
        for kind in ServiceKind::ALL {
            assert_eq!(kind.slug().parse::<ServiceKind>(), Ok(kind));
        }
        assert_eq!("biometrics".parse::<ServiceKind>(), Err(ErrorCode::InvalidService));
    }
}
