-- The two policy layers (JSON in the policy crate's own serialisation; NULL means defaults),
-- a domain policy staged in report-only mode, remembered devices, and the sign-in history
-- that risk assessment and login history read.
ALTER TABLE tenants ADD COLUMN policy TEXT;
ALTER TABLE tenants ADD COLUMN staged_policy TEXT;
ALTER TABLE clients ADD COLUMN policy TEXT;

CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at       INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    -- When this browser last completed a second factor (remember-device window).
    second_factor_at INTEGER,
    user_agent       TEXT NOT NULL,
    -- "This wasn't me": the device is treated as risky from then on.
    reported_at      INTEGER
) STRICT;
CREATE INDEX devices_by_user ON devices (user_id);

CREATE TABLE sign_in_events (
    id              TEXT PRIMARY KEY,
    at              INTEGER NOT NULL,
    -- NULL when the account named does not exist (failures still count per address).
    user_id         TEXT REFERENCES users (id) ON DELETE CASCADE,
    tenant_id       TEXT,
    client_id       TEXT,
    address         TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    device_id       TEXT,
    -- success, failure (first factor), second_factor_failure, denied
    result          TEXT NOT NULL,
    amr             TEXT NOT NULL,
    acr             TEXT,
    -- The policy decision (rule and reasons) and, in report-only mode, the staged one.
    decision        TEXT,
    staged_decision TEXT,
    risky           INTEGER NOT NULL DEFAULT 0,
    reported_at     INTEGER
) STRICT;
CREATE INDEX sign_in_events_by_user ON sign_in_events (user_id, at);
CREATE INDEX sign_in_events_by_address ON sign_in_events (address, at);
