-- Applications that act for the instance's operators: only they may obtain the reserved
-- `gatehouse:admin` scope with client credentials.
ALTER TABLE clients ADD COLUMN operator INTEGER NOT NULL DEFAULT 0;
-- When a tenant (its policies) last changed.
ALTER TABLE tenants ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
