-- The API scopes an application may obtain for itself with client credentials (a JSON list).
-- Until now any requested scope not starting with `gatehouse:` was granted.
ALTER TABLE clients ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
