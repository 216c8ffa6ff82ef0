-- SAML replay cache: each assertion a provider issued is accepted once. A row lives until the
-- assertion could no longer be presented (its NotOnOrAfter plus skew); the insert that finds
-- the row already there is the replay, refused by the primary key in one statement, on every
-- node that shares the store.
CREATE TABLE saml_assertions_seen (
    provider TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (provider, assertion_id)
);
CREATE INDEX saml_assertions_seen_expiry ON saml_assertions_seen (expires_at);
