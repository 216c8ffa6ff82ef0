-- "This wasn't me" marks an address risky for the reporting person's tenant only, and only for
-- a while (security review: one person's report used to mark it for every tenant, for ever).
-- Reports whose person is gone (erased) no longer name a tenant and are dropped.
CREATE TABLE reported_addresses_by_tenant (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    address     TEXT NOT NULL,
    reported_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    user_id     TEXT,
    PRIMARY KEY (tenant_id, address)
) STRICT;

INSERT INTO reported_addresses_by_tenant (tenant_id, address, reported_at, expires_at, user_id)
SELECT u.tenant_id, r.address, r.reported_at, r.reported_at + 30 * 86400, r.user_id
FROM reported_addresses r JOIN users u ON u.id = r.user_id;

DROP TABLE reported_addresses;
ALTER TABLE reported_addresses_by_tenant RENAME TO reported_addresses;
CREATE INDEX reported_addresses_by_expiry ON reported_addresses (expires_at);
