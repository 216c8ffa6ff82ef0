-- When a credentials reset is pending ("this wasn't me"), the time of the earliest reported
-- sign-in: factors and recovery codes created since then are suspect (possibly an intruder's)
-- until the reset completes with the mailbox proof, which removes them.
ALTER TABLE users ADD COLUMN credentials_reset_since INTEGER;
