-- The tamper-evident audit trail: each record's hash covers its sequence number, its content
-- and the previous record's hash (gatehouse_core::audit). Append-only: nothing updates or
-- deletes these rows except retention, which prunes from the start at a checkpoint.
CREATE TABLE audit_records (
    seq          INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    on_behalf_of TEXT,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    before       TEXT,
    after        TEXT,
    address      TEXT,
    user_agent   TEXT,
    reason       TEXT,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL
) STRICT;
