//! Domain types and pure rules of prepazka.
//!
//! Everything here is plain data and functions: no I/O, no async runtime, no clock reads.
//! Values that come from outside (office ids, booking codes, names, e-mail addresses, dates)
//! are parsed once into the types of this crate; inner code takes only those types.
//! The current time is always passed in by the caller, who gets it from an injected `Clock`.
//!
//! Deliberately absent: SQL, HTTP, actors, and any notion of "now".

pub mod booking;
pub mod calendar;
pub mod checks;
pub mod clock;
pub mod error;
pub mod identity;
pub mod ids;
pub mod interpret;
pub mod locale;
pub mod office;
pub mod queue;
pub mod registry;
pub mod service;
pub mod wait;

pub use error::ErrorCode;
