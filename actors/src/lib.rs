//! The live state of prepazka, as actix actors behind handles.
//!
//! Concurrency model: each office is an [`office::OfficeActor`], the single owner of its seat
//! board and its booking decisions. An actor decides in memory (synchronously, inside one
//! message handler, so decisions never interleave), hands its writes to the batching
//! [`prepazka_store::writer::Writer`], and replies only after they are committed. While a
//! commit is in flight the actor goes on deciding other requests, which is what lets the writer
//! batch them. The rest of the system sees only handle types ([`office::OfficeHandle`]); a
//! closed mailbox becomes `ErrorCode::Unavailable`, never a panic.
//!
//! Panic policy: the binary installs a hook that aborts the process on any panic, and the
//! service manager restarts it. Nothing acknowledged is lost because nothing is acknowledged
//! before its commit, and actors rebuild their state from the store when they start.
//!
//! Deliberately absent: SQL (that is `store`), HTTP (that is `web`), and reading the clock
//! directly (an injected `Clock` is used).

pub mod directory;
pub mod interpreter;
pub mod office;
pub mod registry;

pub use directory::Directory;
pub use office::OfficeHandle;
