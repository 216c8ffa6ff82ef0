-- Security monitoring: the tenant an audit record belongs to (so its admins can query it),
-- signed checkpoints of the chain, alerts, per-account brute-force state, addresses users
-- reported, and the reset a reported sign-in forces.
ALTER TABLE audit_records ADD COLUMN tenant_id TEXT;
CREATE INDEX audit_records_by_tenant ON audit_records (tenant_id, seq);
CREATE INDEX audit_records_by_actor ON audit_records (actor, seq);
CREATE INDEX audit_records_by_target ON audit_records (target, seq);

CREATE TABLE audit_checkpoints (
    seq       INTEGER PRIMARY KEY,
    hash      BLOB NOT NULL,
    at        INTEGER NOT NULL,
    kid       TEXT NOT NULL,
    signature BLOB NOT NULL
) STRICT;

CREATE TABLE alerts (
    -- Time-first, so ids sort in the order alerts were raised.
    id              TEXT PRIMARY KEY,
    at              INTEGER NOT NULL,
    tenant_id       TEXT,
    kind            TEXT NOT NULL,
    severity        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    summary         TEXT NOT NULL,
    details         TEXT NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    -- Delivery to the configured sinks, retried with backoff: the sinks already reached
    -- (JSON list), the next try, and the last error.
    delivered_to    TEXT NOT NULL DEFAULT '[]',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_error      TEXT
) STRICT;
CREATE INDEX alerts_pending_delivery ON alerts (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX alerts_by_tenant ON alerts (tenant_id, id);

CREATE TABLE account_throttles (
    user_id         TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    failures        INTEGER NOT NULL,
    window_start    INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER
) STRICT;

CREATE TABLE reported_addresses (
    address     TEXT PRIMARY KEY,
    reported_at INTEGER NOT NULL,
    user_id     TEXT
) STRICT;

-- Set by "this wasn't me": the next sign-in must present a fresh second factor and choose a
-- new password.
ALTER TABLE users ADD COLUMN credentials_reset_required INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sign_in_events_by_at ON sign_in_events (at);
