-- Indexes that a check does not touch. A check changes a verification's status; with `status`
-- in an index key or predicate every approval also rewrote two index pages besides the row's
-- own, pages a busy server has long since evicted (the check benchmark: 5 336 -> 8 215 /s).
-- Pending lookups filter `status` on the row; the sweeper walks expiry order with a cursor.

-- Where the sweeper's expiry walk has got: the last (expires_at, rowid) it looked at. Kept in
-- the database so a restart does not walk the whole retention window again.
CREATE TABLE sweep_cursor (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    expires_at  INTEGER NOT NULL,
    row_id      INTEGER NOT NULL
);
-- Everything expiring before the first pending verification has been written down already.
INSERT INTO sweep_cursor (id, expires_at, row_id)
    SELECT 1, COALESCE(MIN(expires_at), 0), -9223372036854775808
    FROM verifications WHERE status = 'pending';

DROP INDEX verifications_pending;
DROP INDEX verifications_status_expiry;
CREATE INDEX verifications_destination ON verifications(service_id, destination, channel, created_at);
CREATE INDEX verifications_expiry ON verifications(expires_at);
