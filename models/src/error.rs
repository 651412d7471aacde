//! Stable error codes. Every error a user can meet has one; the web layer turns a code into a
//! localised message (the catalogue key is `error-<code>`) and an HTTP status. Codes are part of
//! the public API: add new ones, never rename.

use serde::Serialize;

macro_rules! error_codes {
    ($($variant:ident => $code:literal),+ $(,)?) => {
        /// A stable, machine-readable error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($variant),+ }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code),+ }
            }
        }
    };
}

error_codes! {
    InvalidInput => "invalid_input",
    InvalidOfficeId => "invalid_office_id",
    InvalidBookingCode => "invalid_booking_code",
    InvalidDate => "invalid_date",
    InvalidDateTime => "invalid_date_time",
    InvalidName => "invalid_name",
    InvalidEmail => "invalid_email",
    InvalidPassportNumber => "invalid_passport_number",
    InvalidRegistrationNumber => "invalid_registration_number",
    InvalidPin => "invalid_pin",
    InvalidLocale => "invalid_locale",
    InvalidService => "invalid_service",
    PayloadTooLarge => "payload_too_large",
    UnsupportedMediaType => "unsupported_media_type",
    NotFound => "not_found",
    OfficeNotFound => "office_not_found",
    ServiceNotOffered => "service_not_offered",
    NeedsBiometricOffice => "needs_biometric_office",
    PickupOnlyAtCaptureOffice => "pickup_only_at_capture_office",
    NoCardToPickUp => "no_card_to_pick_up",
    NotASlot => "not_a_slot",
    SlotInPast => "slot_in_past",
    BeyondHorizon => "beyond_horizon",
    OfficeClosed => "office_closed",
    SlotTaken => "slot_taken",
    HouseholdSlotsUnavailable => "household_slots_unavailable",
    NotInHousehold => "not_in_household",
    PersonCapReached => "person_cap_reached",
    IdentityNotVerified => "identity_not_verified",
    IdentityExpired => "identity_expired",
    IdentityMismatch => "identity_mismatch",
    RegistryUnavailable => "registry_unavailable",
    HoldNotFound => "hold_not_found",
    HoldExpired => "hold_expired",
    BookingNotFound => "booking_not_found",
    BookingNotActive => "booking_not_active",
    SameSlot => "same_slot",
    IdempotencyKeyMissing => "idempotency_key_missing",
    IdempotencyKeyReused => "idempotency_key_reused",
    IdempotencyKeyInFlight => "idempotency_key_in_flight",
    TicketNotFound => "ticket_not_found",
    TicketNotAtCounter => "ticket_not_at_counter",
    RecallLimitReached => "recall_limit_reached",
    QueueEmpty => "queue_empty",
    CounterBusy => "counter_busy",
    CounterClosed => "counter_closed",
    TicketNotWaiting => "ticket_not_waiting",
    AlreadyPriority => "already_priority",
    WalkInsClosed => "walk_ins_closed",
    JoinCodeExpired => "join_code_expired",
    OfficeClosedOnDay => "office_closed_on_day",
    DeviceNotEnrolled => "device_not_enrolled",
    SignInFailed => "sign_in_failed",
    NotSignedIn => "not_signed_in",
    FormExpired => "form_expired",
    RoleNotAllowed => "role_not_allowed",
    WrongOffice => "wrong_office",
    TooEarly => "too_early",
    TooLate => "too_late",
    AlreadyCheckedIn => "already_checked_in",
    WrongDevice => "wrong_device",
    DeviceRevoked => "device_revoked",
    InterpretingSuspended => "interpreting_suspended",
    InterpretingUnavailable => "interpreting_unavailable",
    InterpretingOver => "interpreting_over",
    NoticeNotAcknowledged => "notice_not_acknowledged",
    TooManyRequests => "too_many_requests",
    Unavailable => "unavailable",
    Internal => "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ErrorCode {}
