//! The one place where errors become HTTP. Every error has a stable code; the body is
//! `{"error": code, "message": <in the request's language>}` for the API and a page for
//! browsers. Unknown failures are an opaque 500 with a reference, logged once with their cause.

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use fluent_bundle::FluentValue;
use prepazka_models::locale::Locale;
use prepazka_models::ErrorCode;
use rand::Rng as _;

use crate::i18n::Catalog;

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// The catalogue used for error bodies (errors are built where no app state is at hand).
pub fn catalog() -> &'static Catalog {
    CATALOG.get_or_init(|| match Catalog::load() {
        Ok(catalog) => catalog,
        // The catalogues are compiled in and checked by tests; failing here is a build defect.
        Err(err) => panic!("message catalogues do not parse: {err}"),
    })
}

/// How an error is shown: as JSON for the API, as a page for browsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Api,
    Page,
}

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub locale: Locale,
    pub surface: Surface,
    reference: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, locale: Locale) -> Self {
        Self { code, locale, surface: Surface::Api, reference: None }
    }

    pub fn page(code: ErrorCode, locale: Locale) -> Self {
        Self { code, locale, surface: Surface::Page, reference: None }
    }

    /// An unexpected failure: logs the cause once under a fresh reference and hides it.
    pub fn internal(cause: &dyn std::fmt::Display, locale: Locale) -> Self {
        let reference = format!("{:08x}", rand::thread_rng().gen::<u32>());
        tracing::error!(reference = %reference, error = %cause, "internal error");
        Self { code: ErrorCode::Internal, locale, surface: Surface::Api, reference: Some(reference) }
    }

    pub fn on(mut self, surface: Surface) -> Self {
        self.surface = surface;
        self
    }

    pub fn message(&self) -> String {
        let reference = self.reference.clone().unwrap_or_default();
        catalog().text(self.locale, &format!("error-{}", self.code.as_str()), &[("reference", FluentValue::from(reference))])
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code.as_str())
    }
}

/// The HTTP status of each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidInput
        | InvalidOfficeId
        | InvalidBookingCode
        | InvalidDate
        | InvalidDateTime
        | InvalidName
        | InvalidEmail
        | InvalidPassportNumber
        | InvalidRegistrationNumber
        | InvalidPin
        | InvalidLocale
        | InvalidService
        | IdempotencyKeyMissing => StatusCode::BAD_REQUEST,
        IdentityNotVerified | IdentityExpired | DeviceNotEnrolled | SignInFailed | NotSignedIn => StatusCode::UNAUTHORIZED,
        IdentityMismatch | WrongDevice | DeviceRevoked | FormExpired | RoleNotAllowed => StatusCode::FORBIDDEN,
        NotFound | OfficeNotFound | HoldNotFound | BookingNotFound | TicketNotFound => StatusCode::NOT_FOUND,
        SlotTaken
        | PersonCapReached
        | HouseholdSlotsUnavailable
        | BookingNotActive
        | SameSlot
        | AlreadyCheckedIn
        | CounterBusy
        | IdempotencyKeyInFlight
        | TicketNotAtCounter
        | RecallLimitReached
        | CounterClosed
        | TicketNotWaiting
        | AlreadyPriority
        | QueueEmpty => StatusCode::CONFLICT,
        HoldExpired => StatusCode::GONE,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ServiceNotOffered
        | NeedsBiometricOffice
        | PickupOnlyAtCaptureOffice
        | NoCardToPickUp
        | NotASlot
        | SlotInPast
        | BeyondHorizon
        | OfficeClosed
        | NotInHousehold
        | IdempotencyKeyReused
        | WrongOffice
        | TooEarly
        | TooLate
        | WalkInsClosed
        | OfficeClosedOnDay
        | NoticeNotAcknowledged => StatusCode::UNPROCESSABLE_ENTITY,
        InterpretingSuspended | InterpretingOver => StatusCode::CONFLICT,
        JoinCodeExpired => StatusCode::GONE,
        TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        Unavailable | RegistryUnavailable | InterpretingUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.code == ErrorCode::TooManyRequests {
            response.insert_header(("Retry-After", "60"));
        }
        match self.surface {
            Surface::Api => response.json(serde_json::json!({ "error": self.code.as_str(), "message": self.message() })),
            Surface::Page => response.content_type("text/html; charset=utf-8").body(crate::html::error_page(self.locale, &self.message())),
        }
    }
}
