-- The office day, SQLite dialect (same logical schema as ../postgres/0002_queue.sql).
-- Every queue transition, in order per office and Prague day (`seq` from 1, gap-free), written
-- before it is shown. The queue of a day is rebuilt by replaying its events. Append-only.
CREATE TABLE queue_events (
    office_id  TEXT NOT NULL REFERENCES offices(id),
    day        TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    ticket     TEXT NOT NULL,
    counter    BIGINT,
    booking_id BIGINT REFERENCES bookings(id),
    event      TEXT NOT NULL,
    CONSTRAINT queue_events_pkey PRIMARY KEY (office_id, day, seq)
);
-- The database is the arbiter: a ticket is issued once and called once per office and day,
-- whatever the actors believe.
CREATE UNIQUE INDEX queue_events_issued_once ON queue_events (office_id, day, ticket) WHERE kind IN ('issued', 'transferred');
CREATE UNIQUE INDEX queue_events_checked_in_once ON queue_events (office_id, day, booking_id) WHERE kind = 'issued' AND booking_id IS NOT NULL;
CREATE UNIQUE INDEX queue_events_called_once ON queue_events (office_id, day, ticket) WHERE kind = 'called';
