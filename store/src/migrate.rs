//! A small migration runner: the SQL files under `migrations/` are compiled in and applied in
//! order, each in its own transaction, recorded in `schema_migrations`. (sqlx's `migrate!`
//! macro would tie this crate to compile-time database features for both drivers.)

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub(crate) const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "booking", sql: include_str!("../../migrations/sqlite/0001_booking.sql") },
    Migration { version: 2, name: "queue", sql: include_str!("../../migrations/sqlite/0002_queue.sql") },
    Migration { version: 3, name: "devices", sql: include_str!("../../migrations/sqlite/0003_devices.sql") },
    Migration { version: 4, name: "staff", sql: include_str!("../../migrations/sqlite/0004_staff.sql") },
    Migration { version: 5, name: "ai_log", sql: include_str!("../../migrations/sqlite/0005_ai_log.sql") },
    Migration { version: 6, name: "office_admin", sql: include_str!("../../migrations/sqlite/0006_office_admin.sql") },
    Migration { version: 7, name: "write_locality", sql: include_str!("../../migrations/sqlite/0007_write_locality.sql") },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "booking", sql: include_str!("../../migrations/postgres/0001_booking.sql") },
    Migration { version: 2, name: "queue", sql: include_str!("../../migrations/postgres/0002_queue.sql") },
    Migration { version: 3, name: "devices", sql: include_str!("../../migrations/postgres/0003_devices.sql") },
    Migration { version: 4, name: "staff", sql: include_str!("../../migrations/postgres/0004_staff.sql") },
    Migration { version: 5, name: "ai_log", sql: include_str!("../../migrations/postgres/0005_ai_log.sql") },
    Migration { version: 6, name: "office_admin", sql: include_str!("../../migrations/postgres/0006_office_admin.sql") },
    Migration { version: 7, name: "write_locality", sql: include_str!("../../migrations/postgres/0007_write_locality.sql") },
];

pub(crate) const CREATE_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/// Splits a migration file into statements on `;` at line ends (the files keep one statement
/// per `;`-terminated block and no `;` inside literals).
pub(crate) fn statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(";\n")
        .map(|s| s.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n"))
        .filter(|s| !s.trim().is_empty())
}
