-- Second factors, recovery codes and SMS challenges. `secret` holds what a factor needs to
-- verify (TOTP secret bytes, a phone number, a serialised WebAuthn credential); nothing here
-- is ever shown back to the user.
CREATE TABLE factors (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    label           TEXT NOT NULL,
    secret          BLOB NOT NULL,
    -- WebAuthn credential id: unique across users, the look-up key of passkey sign-in.
    credential_id   BLOB UNIQUE,
    device_bound    INTEGER NOT NULL DEFAULT 0,
    -- TOTP: the last accepted time step; that step and earlier ones are never accepted again.
    totp_used_up_to INTEGER,
    created_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,
    last_used_at    INTEGER
) STRICT;
CREATE INDEX factors_by_user ON factors (user_id);

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, digest)
) STRICT;

CREATE TABLE sms_challenges (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    factor_id  TEXT NOT NULL REFERENCES factors (id) ON DELETE CASCADE,
    digest     BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_at    INTEGER
) STRICT;
CREATE INDEX sms_challenges_by_user ON sms_challenges (user_id, created_at);

-- The stable, random WebAuthn user handle (never the user id: it leaves the server).
ALTER TABLE users ADD COLUMN webauthn_handle TEXT;
-- A sign-in in progress: who passed the first factor, what was decided, ceremony state.
ALTER TABLE pending_authorizations ADD COLUMN progress TEXT;
