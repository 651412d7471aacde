-- Kiosks and waiting-room displays, PostgreSQL dialect (same logical schema as ../sqlite/0003_devices.sql).
-- A device is bound to one office by an enrolment token; only the token's SHA-256 is stored.
CREATE TABLE devices (
    token_hash  TEXT PRIMARY KEY,
    office_id   TEXT NOT NULL REFERENCES offices(id),
    kind        TEXT NOT NULL CHECK (kind IN ('kiosk', 'display')),
    label       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
