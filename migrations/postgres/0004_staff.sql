-- Staff and their sessions, PostgreSQL dialect (same logical schema as ../sqlite/0004_staff.sql).
-- Passwords are argon2id hashes; sessions are server-side, found by the SHA-256 of the cookie.
CREATE TABLE staff (
    username       TEXT PRIMARY KEY,
    office_id      TEXT REFERENCES offices(id),
    role           TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'interpreting_overseer', 'administrator')),
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash  TEXT PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES staff(username),
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
