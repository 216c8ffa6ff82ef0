-- A rotated-in signing key is published first and signs only from `activates_at`, so relying
-- parties holding a cached JWKS already know it when the first token signed with it arrives.
-- The key it replaces retires at that same instant.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
