-- Third-party sign-in (issue 17): a tenant's own identity providers, the external identities
-- linked to accounts, and which provider vouched for a session, a grant and a sign-in.

-- A provider's settings as JSON (`gatehouse_core::federation::IdentityProvider`, no secret);
-- its client secret sealed under the tenant's data key (`identity_providers.client_secret`
-- with `TENANT_ID/PROVIDER_ID` as associated data).
CREATE TABLE identity_providers (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL,
    config TEXT NOT NULL,
    client_secret BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, provider_id)
);

-- An external identity is (provider, upstream issuer, upstream subject), never an email.
CREATE TABLE external_identities (
    provider TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (provider, issuer, subject)
);
CREATE INDEX external_identities_by_user ON external_identities (user_id);

ALTER TABLE sessions ADD COLUMN idp TEXT;
ALTER TABLE grants ADD COLUMN idp TEXT;
ALTER TABLE sign_in_events ADD COLUMN idp TEXT;

-- The completion view and trigger of migration 0012, with the provider of the session, the
-- grant and the history entry.
DROP TRIGGER sign_in_completion;
DROP VIEW sign_in_completions;
CREATE VIEW sign_in_completions AS SELECT
    NULL AS pending_id,
    NULL AS renew_session,
    NULL AS session_id, NULL AS session_secret_digest, NULL AS session_user_id, NULL AS session_created_at,
    NULL AS session_last_seen_at, NULL AS session_auth_time, NULL AS session_acr, NULL AS session_amr, NULL AS session_idp,
    NULL AS grant_id, NULL AS grant_client_id, NULL AS grant_user_id, NULL AS grant_session_id, NULL AS grant_scope,
    NULL AS grant_nonce, NULL AS grant_auth_time, NULL AS grant_acr, NULL AS grant_amr, NULL AS grant_requested_acr,
    NULL AS grant_created_at, NULL AS grant_revoked_at, NULL AS grant_idp,
    NULL AS code_digest, NULL AS code_client_id, NULL AS code_redirect_uri, NULL AS code_challenge, NULL AS code_expires_at,
    NULL AS device_id, NULL AS device_user_id, NULL AS device_created_at, NULL AS device_last_seen_at,
    NULL AS device_second_factor_at, NULL AS device_user_agent,
    NULL AS event_id, NULL AS event_at, NULL AS event_user_id, NULL AS event_tenant_id, NULL AS event_client_id,
    NULL AS event_address, NULL AS event_user_agent, NULL AS event_device_id, NULL AS event_result, NULL AS event_amr,
    NULL AS event_acr, NULL AS event_decision, NULL AS event_risky, NULL AS event_staged_decision, NULL AS event_reported_at, NULL AS event_idp
WHERE 0;

CREATE TRIGGER sign_in_completion INSTEAD OF INSERT ON sign_in_completions
BEGIN
    -- The parked request is answered once: a double submit finds it gone and writes nothing.
    SELECT RAISE(ABORT, 'gatehouse: the sign-in request was already answered')
        WHERE NOT EXISTS (SELECT 1 FROM pending_authorizations WHERE id = NEW.pending_id);
    -- A logout in another tab ended the session between the check and this write: a code
    -- under an ended session would give tokens nobody can revoke by logging out.
    SELECT RAISE(ABORT, 'gatehouse: the session ended while signing in')
        WHERE NEW.renew_session = 1 AND NOT EXISTS (SELECT 1 FROM sessions WHERE id = NEW.session_id AND ended_at IS NULL);
    DELETE FROM pending_authorizations WHERE id = NEW.pending_id;
    INSERT INTO sessions (id, secret_digest, user_id, created_at, last_seen_at, auth_time, acr, amr, ended_at, idp)
        SELECT NEW.session_id, NEW.session_secret_digest, NEW.session_user_id, NEW.session_created_at, NEW.session_last_seen_at,
               NEW.session_auth_time, NEW.session_acr, NEW.session_amr, NULL, NEW.session_idp
        WHERE NEW.renew_session = 0;
    UPDATE sessions SET secret_digest = NEW.session_secret_digest, auth_time = NEW.session_auth_time,
            last_seen_at = NEW.session_auth_time, acr = NEW.session_acr, amr = NEW.session_amr, idp = NEW.session_idp
        WHERE NEW.renew_session = 1 AND id = NEW.session_id AND ended_at IS NULL;
    INSERT INTO grants (id, client_id, user_id, session_id, scope, nonce, auth_time, acr, amr, requested_acr, created_at, revoked_at, idp)
        VALUES (NEW.grant_id, NEW.grant_client_id, NEW.grant_user_id, NEW.grant_session_id, NEW.grant_scope, NEW.grant_nonce,
                NEW.grant_auth_time, NEW.grant_acr, NEW.grant_amr, NEW.grant_requested_acr, NEW.grant_created_at, NEW.grant_revoked_at, NEW.grant_idp);
    INSERT INTO authorization_codes (digest, grant_id, client_id, redirect_uri, code_challenge, expires_at, used_at)
        VALUES (NEW.code_digest, NEW.grant_id, NEW.code_client_id, NEW.code_redirect_uri, NEW.code_challenge, NEW.code_expires_at, NULL);
    INSERT INTO devices (id, user_id, created_at, last_seen_at, second_factor_at, user_agent)
        SELECT NEW.device_id, NEW.device_user_id, NEW.device_created_at, NEW.device_last_seen_at, NEW.device_second_factor_at, NEW.device_user_agent
        WHERE NEW.device_id IS NOT NULL
        ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at, user_agent = excluded.user_agent,
            second_factor_at = COALESCE(excluded.second_factor_at, devices.second_factor_at);
    INSERT INTO sign_in_events (id, at, user_id, tenant_id, client_id, address, user_agent, device_id, result, amr, acr, decision, risky,
                                staged_decision, reported_at, idp)
        SELECT NEW.event_id, NEW.event_at, NEW.event_user_id, NEW.event_tenant_id, NEW.event_client_id, NEW.event_address,
               NEW.event_user_agent, NEW.event_device_id, NEW.event_result, NEW.event_amr, NEW.event_acr, NEW.event_decision,
               NEW.event_risky, NEW.event_staged_decision, NEW.event_reported_at, NEW.event_idp
        WHERE NEW.event_id IS NOT NULL;
END;
