-- An account has at most one identity of each provider: two first sign-ins racing to link
-- different upstream identities to one account by its email (or two admins linking by hand at
-- once) link one; the other meets this index and is refused.
CREATE UNIQUE INDEX external_identities_one_per_provider ON external_identities (user_id, provider);
