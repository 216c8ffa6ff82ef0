-- Data protection: envelope encryption at rest and the tenant lifecycle.
--
-- Data keys: the instance's and each tenant's are wrapped by a master key (`wrapped_by` names
-- it), each user's by their tenant's data key. Destroying a row here makes everything sealed
-- under that key unreadable, in this file and in every earlier backup (crypto-shredding).
CREATE TABLE data_keys (
    id         TEXT PRIMARY KEY,
    -- 'instance', 'tenant:<id>' or 'user:<id>'
    owner      TEXT NOT NULL UNIQUE,
    wrapped_by TEXT NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX data_keys_by_wrapper ON data_keys (wrapped_by);

-- users.email and users.name, factors.label hold sealed values (base64); factors.secret holds
-- sealed bytes; users.email_key is the keyed blind index of the normalised email. A NULL
-- key_id marks a row written before encryption, sealed when the store opens.
ALTER TABLE users ADD COLUMN key_id TEXT;
ALTER TABLE tenants ADD COLUMN key_id TEXT;

-- Termination disables sign-in at once; the daily retention job deletes the tenant's data at
-- `delete_after` unless it is reinstated first.
ALTER TABLE tenants ADD COLUMN terminated_at INTEGER;
ALTER TABLE tenants ADD COLUMN delete_after INTEGER;

-- People erased (by id only): a restore leaves out exactly these when their keys are missing
-- from a backup target's key vault, and refuses a vault that lacks anyone else's.
CREATE TABLE erased_users (
    user_id   TEXT PRIMARY KEY,
    erased_at INTEGER NOT NULL
) STRICT;

-- Which installation a key vault belongs to.
INSERT INTO meta (key, value) VALUES ('instance_id', lower(hex(randomblob(16))));
