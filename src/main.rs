//! The `prepazka` binary (skeleton; grows with the web crate).
fn main() {}
