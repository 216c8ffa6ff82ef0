-- Gatehouse's own key as a SAML service provider: providers encrypt assertions to the
-- certificate the SP metadata publishes, and Gatehouse decrypts them with this key. At most one
-- key is active (the expression index): two nodes starting on an empty database create one.
CREATE TABLE saml_sp_keys (
    kid TEXT PRIMARY KEY,
    pkcs8 BLOB NOT NULL,
    certificate BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
) STRICT;
CREATE UNIQUE INDEX saml_sp_keys_one_active ON saml_sp_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
