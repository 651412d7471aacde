//! Offices, the region they are in, and what they are equipped for.

use serde::{Deserialize, Serialize};

use crate::calendar::WeeklyHours;
use crate::ids::OfficeId;
use crate::service::ServiceKind;
use crate::ErrorCode;

/// The fourteen regions of Czechia (Prague counts as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    Praha,
    Stredocesky,
    Jihocesky,
    Plzensky,
    Karlovarsky,
    Ustecky,
    Liberecky,
    Kralovehradecky,
    Pardubicky,
    Vysocina,
    Jihomoravsky,
    Olomoucky,
    Zlinsky,
    Moravskoslezsky,
}

impl Region {
    pub const ALL: [Region; 14] = [
        Region::Praha,
        Region::Stredocesky,
        Region::Jihocesky,
        Region::Plzensky,
        Region::Karlovarsky,
        Region::Ustecky,
        Region::Liberecky,
        Region::Kralovehradecky,
        Region::Pardubicky,
        Region::Vysocina,
        Region::Jihomoravsky,
        Region::Olomoucky,
        Region::Zlinsky,
        Region::Moravskoslezsky,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Region::Praha => "praha",
            Region::Stredocesky => "stredocesky",
            Region::Jihocesky => "jihocesky",
            Region::Plzensky => "plzensky",
            Region::Karlovarsky => "karlovarsky",
            Region::Ustecky => "ustecky",
            Region::Liberecky => "liberecky",
            Region::Kralovehradecky => "kralovehradecky",
            Region::Pardubicky => "pardubicky",
            Region::Vysocina => "vysocina",
            Region::Jihomoravsky => "jihomoravsky",
            Region::Olomoucky => "olomoucky",
            Region::Zlinsky => "zlinsky",
            Region::Moravskoslezsky => "moravskoslezsky",
        }
    }

    /// The region's official name; a proper noun, the same in every language's list.
    pub fn name_cs(self) -> &'static str {
        match self {
            Region::Praha => "Hlavní město Praha",
            Region::Stredocesky => "Středočeský kraj",
            Region::Jihocesky => "Jihočeský kraj",
            Region::Plzensky => "Plzeňský kraj",
            Region::Karlovarsky => "Karlovarský kraj",
            Region::Ustecky => "Ústecký kraj",
            Region::Liberecky => "Liberecký kraj",
            Region::Kralovehradecky => "Královéhradecký kraj",
            Region::Pardubicky => "Pardubický kraj",
            Region::Vysocina => "Kraj Vysočina",
            Region::Jihomoravsky => "Jihomoravský kraj",
            Region::Olomoucky => "Olomoucký kraj",
            Region::Zlinsky => "Zlínský kraj",
            Region::Moravskoslezsky => "Moravskoslezský kraj",
        }
    }

    pub fn parse(slug: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.slug() == slug)
    }
}

/// One service as an office offers it: how long a slot lasts and how many clients the office
/// serves in parallel (the counters assigned to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficeService {
    pub service: ServiceKind,
    pub slot_minutes: u32,
    pub capacity: u32,
}

/// An office with its equipment, services and opening hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Office {
    pub id: OfficeId,
    pub name: String,
    pub region: Region,
    pub city: String,
    pub address: String,
    pub has_biometrics: bool,
    pub services: Vec<OfficeService>,
    pub hours: WeeklyHours,
}

impl Office {
    pub fn service(&self, kind: ServiceKind) -> Option<&OfficeService> {
        self.services.iter().find(|s| s.service == kind)
    }

    /// How many counters the office has: one per client it serves in parallel, per service.
    pub fn counter_count(&self) -> u16 {
        let total: u32 = self.available_services().map(|s| s.capacity).sum();
        total.clamp(1, u32::from(crate::queue::MAX_COUNTER)) as u16
    }

    /// The services people can book or take a ticket for here: those needing biometric
    /// equipment only where it is.
    pub fn available_services(&self) -> impl Iterator<Item = &OfficeService> {
        self.services.iter().filter(|s| self.has_biometrics || !s.service.needs_biometric_office())
    }

    /// The service as offered here, or why it is not: the missing equipment is named before a
    /// plain "not offered", as it tells the person where to go instead.
    pub fn offers(&self, kind: ServiceKind) -> Result<&OfficeService, ErrorCode> {
        if kind.needs_biometric_office() && !self.has_biometrics {
            return Err(ErrorCode::NeedsBiometricOffice);
        }
        self.service(kind).ok_or(ErrorCode::ServiceNotOffered)
    }
}

/// A device bound to one office by an enrolment token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// The tablet at the entrance: walk-in tickets and check-in.
    Kiosk,
    /// The hall TV: called tickets, ticket numbers only.
    Display,
}

impl DeviceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Kiosk => "kiosk",
            DeviceKind::Display => "display",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [DeviceKind::Kiosk, DeviceKind::Display].into_iter().find(|k| k.as_str() == raw)
    }
}

/// What a member of staff may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Officer,
    Supervisor,
    InterpretingOverseer,
    Administrator,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Officer => "officer",
            StaffRole::Supervisor => "supervisor",
            StaffRole::InterpretingOverseer => "interpreting_overseer",
            StaffRole::Administrator => "administrator",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [StaffRole::Officer, StaffRole::Supervisor, StaffRole::InterpretingOverseer, StaffRole::Administrator]
            .into_iter()
            .find(|r| r.as_str() == raw)
    }

    /// Whether this role may work a counter (call, serve, transfer).
    pub fn works_counters(self) -> bool {
        matches!(self, StaffRole::Officer | StaffRole::Supervisor | StaffRole::InterpretingOverseer)
    }

    /// Whether this role runs an office: counters, calendar, closures, the day's figures.
    pub fn supervises(self) -> bool {
        matches!(self, StaffRole::Supervisor | StaffRole::Administrator)
    }
}

/// A signed-in member of staff, as a session finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub username: String,
    pub office: Option<OfficeId>,
    pub role: StaffRole,
}
