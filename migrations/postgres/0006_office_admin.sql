-- Running an office, PostgreSQL dialect (same logical schema as ../sqlite/0006_office_admin.sql).
-- Counters: the services a supervisor assigned to each, whether it takes clients, and which
-- member of staff works it (a username, never a client's name).
CREATE TABLE counters (
    office_id   TEXT NOT NULL REFERENCES offices(id),
    number      BIGINT NOT NULL CONSTRAINT counters_number_check CHECK (number BETWEEN 1 AND 99),
    services    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'paused', 'closed')),
    officer     TEXT,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT counters_pkey PRIMARY KEY (office_id, number)
);

-- Days an office does not open although its hours say it would (illness, an outage). The
-- bookings of the day are cancelled in the same transaction, with a notice for each person.
CREATE TABLE office_closures (
    office_id   TEXT NOT NULL REFERENCES offices(id),
    day         TEXT NOT NULL,
    reason      TEXT NOT NULL,
    closed_by   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT office_closures_pkey PRIMARY KEY (office_id, day)
);
