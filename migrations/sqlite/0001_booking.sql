-- prepazka schema, SQLite dialect. Same logical schema as ../postgres/0001_booking.sql.
-- Instants are unix milliseconds (UTC); days and hours are computed in Europe/Prague by the code.

CREATE TABLE offices (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    region          TEXT NOT NULL,
    city            TEXT NOT NULL,
    address         TEXT NOT NULL,
    has_biometrics  BOOLEAN NOT NULL,
    services        TEXT NOT NULL,   -- JSON: [{service, slot_minutes, capacity}]
    hours           TEXT NOT NULL    -- JSON: weekly opening hours
);

CREATE TABLE slots (
    id          INTEGER PRIMARY KEY,
    office_id   TEXT NOT NULL REFERENCES offices(id),
    service     TEXT NOT NULL,
    starts_at   BIGINT NOT NULL,
    capacity    BIGINT NOT NULL,
    taken       BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT slots_within_capacity CHECK (taken >= 0 AND taken <= capacity),
    CONSTRAINT slots_unique_start UNIQUE (office_id, service, starts_at)
);

CREATE TABLE bookings (
    id               INTEGER PRIMARY KEY,
    code             TEXT NOT NULL,
    hold_ref         TEXT NOT NULL,
    office_id        TEXT NOT NULL REFERENCES offices(id),
    service          TEXT NOT NULL,
    slot_id          BIGINT NOT NULL REFERENCES slots(id),
    starts_at        BIGINT NOT NULL,
    person_key       TEXT NOT NULL,
    booked_by        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired')),
    hold_expires_at  BIGINT NOT NULL,
    dob_check        TEXT NOT NULL,
    fee_czk          BIGINT,
    email            TEXT,
    locale           TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CONSTRAINT bookings_code_unique UNIQUE (code)
);
CREATE UNIQUE INDEX bookings_one_active_per_person_service ON bookings (person_key, service)
    WHERE status IN ('held', 'confirmed');
CREATE INDEX bookings_hold_ref ON bookings (hold_ref);
CREATE INDEX bookings_slot ON bookings (slot_id);

-- The database keeps each slot's seat count itself: a booking that becomes active takes a seat,
-- one that stops being active (or moves) gives it back, new seat first. With the CHECK on
-- slots, an insert or move into a full slot fails: no layer above can overbook.
CREATE TRIGGER bookings_take_seat AFTER INSERT ON bookings WHEN NEW.status IN ('held', 'confirmed') BEGIN UPDATE slots SET taken = taken + 1 WHERE id = NEW.slot_id; END;
CREATE TRIGGER bookings_move_seat AFTER UPDATE OF status, slot_id ON bookings BEGIN UPDATE slots SET taken = taken + 1 WHERE id = NEW.slot_id AND NEW.status IN ('held', 'confirmed') AND (OLD.status NOT IN ('held', 'confirmed') OR OLD.slot_id <> NEW.slot_id); UPDATE slots SET taken = taken - 1 WHERE id = OLD.slot_id AND OLD.status IN ('held', 'confirmed') AND (NEW.status NOT IN ('held', 'confirmed') OR OLD.slot_id <> NEW.slot_id); END;
CREATE INDEX bookings_held_expiry ON bookings (office_id, hold_expires_at) WHERE status = 'held';

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,
    booking_id       BIGINT REFERENCES bookings(id),
    locale           TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

-- Who did what, without personal data: actors are pseudonymous keys or staff ids.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       BIGINT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    detail   TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    body_hash    TEXT NOT NULL,
    status_code  BIGINT NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
