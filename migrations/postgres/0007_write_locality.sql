-- Fewer index pages written per booking (BENCHMARKS.md, "Booking surge"): every index a booking
-- enters at a random place costs a whole page in the next commit.
-- No query looks bookings up by slot; the seat triggers go through the slot's own key.
DROP INDEX bookings_slot;
-- Held bookings by expiry alone: new holds expire last, so they go in at the index's end; the
-- sweep of one office reads the few expired holds of all and keeps its own.
DROP INDEX bookings_held_expiry;
CREATE INDEX bookings_held_expiry ON bookings (hold_expires_at) WHERE status = 'held';
