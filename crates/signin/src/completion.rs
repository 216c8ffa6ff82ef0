//! What a finished sign-in writes, in one transaction: the SSO session (created, or its secret
//! renewed with the new authentication), the grant and its single-use code, the browser's
//! device row, the history entry, and the parked request's removal. Built here, written by the
//! caller with `SignInStore::complete_sign_in`.

use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::ids::{GrantId, SessionId};
use gatehouse_core::model::User;
use gatehouse_crypto::SecretDigester;
use gatehouse_policy::AuthLevel;
use gatehouse_store::{CodeRecord, GrantRecord, SessionRecord, SessionWrite, SignInCompletion, SignInResult};
use time::{Duration, OffsetDateTime};

use crate::attempt::{self, Attempt, device_after_sign_in};
use crate::proof::Proof;
use crate::{Randomness, SignInError};

/// What completing needs besides the sign-in itself.
pub struct Completer<'a> {
    pub digester: &'a SecretDigester,
    pub rng: &'a dyn Randomness,
    /// How long an authorization code lives.
    pub code_lifetime: Duration,
}

/// A grant and its code, not yet stored.
pub struct NewCode {
    pub grant: GrantRecord,
    pub record: CodeRecord,
    /// The code itself, for the redirect; only its digest is stored.
    pub code: String,
}

/// A completed sign-in, ready to write and to answer.
pub struct Completion {
    pub write: SignInCompletion,
    pub session: SessionRecord,
    /// The session's new secret, for the browser's cookie.
    pub session_secret: String,
    /// A new device secret, for a browser that had none (it is new to us).
    pub new_device_token: Option<String>,
    pub code: String,
}

/// The sign-in being completed.
pub struct Finished<'a> {
    pub parked_id: &'a str,
    pub request: &'a AuthorizationRequest,
    pub user: &'a User,
    pub proof: Proof,
    /// The browser's live session, if it has one (of this user or another).
    pub existing: Option<SessionRecord>,
    pub attempt: &'a Attempt,
    pub decision: Option<&'a serde_json::Value>,
    /// The user asked to remember this browser's second factor.
    pub remember_device: bool,
    /// The identity provider that vouched for the first factor (`TENANT_ID/PROVIDER_ID`).
    pub idp: Option<String>,
}

impl Completer<'_> {
    /// Everything the finished sign-in writes.
    pub fn complete(&self, done: Finished<'_>, now: OffsetDateTime) -> Result<Completion, SignInError> {
        let acr = done.proof.level.acr().to_owned();
        let second_factor = done.proof.level > AuthLevel::Password;
        let amr = done.proof.amr;
        // Every authentication event gets a new session secret, in the browser's existing
        // session too: a cookie stolen at password level must not gain the level proved now.
        let session_secret = self.rng.token()?;
        let secret_digest = self.digester.digest(&session_secret);
        let (session, write, ended_session) = match done.existing {
            Some(session) if session.user_id == done.user.id => {
                let write = SessionWrite::Reauthenticate {
                    id: session.id.clone(),
                    secret_digest: secret_digest.clone(),
                    auth_time: now,
                    acr: acr.clone(),
                    amr: amr.clone(),
                    idp: done.idp.clone(),
                };
                (SessionRecord { secret_digest, auth_time: now, last_seen_at: now, acr, amr, idp: done.idp, ..session }, write, None)
            }
            other => {
                let session = SessionRecord {
                    id: SessionId::new(self.rng.id()?),
                    secret_digest,
                    user_id: done.user.id.clone(),
                    created_at: now,
                    last_seen_at: now,
                    auth_time: now,
                    acr,
                    amr,
                    ended_at: None,
                    idp: done.idp,
                };
                (session.clone(), SessionWrite::Create(session), other.map(|s| s.id))
            }
        };
        let issued = self.new_code(done.request, &session, now)?;
        let remembered = second_factor && done.remember_device;
        let (device, new_device_token) = device_after_sign_in(self.digester, self.rng, done.attempt, done.user, remembered, now)?;
        let outcome = attempt::Outcome {
            user: Some(done.user),
            client_id: Some(done.request.client_id.as_str()),
            result: SignInResult::Success,
            amr: session.amr.clone(),
            acr: Some(session.acr.clone()),
            decision: done.decision,
            device_id: Some(device.id.clone()),
            idp: session.idp.as_deref(),
        };
        let write = SignInCompletion {
            ended_session,
            session: write,
            pending_id: done.parked_id.to_owned(),
            grant: issued.grant,
            code: issued.record,
            event: Some(attempt::event(self.rng, done.attempt, outcome, now)?),
            device: Some(device),
        };
        Ok(Completion { write, session, session_secret, new_device_token, code: issued.code })
    }

    /// A grant for `request` under `session`, and its single-use code.
    pub fn new_code(&self, request: &AuthorizationRequest, session: &SessionRecord, now: OffsetDateTime) -> Result<NewCode, SignInError> {
        let grant = GrantRecord {
            id: GrantId::new(self.rng.id()?),
            client_id: request.client_id.as_str().to_owned(),
            user_id: session.user_id.clone(),
            session_id: Some(session.id.clone()),
            scope: request.scopes.to_string(),
            nonce: request.nonce.clone(),
            auth_time: session.auth_time,
            acr: session.acr.clone(),
            amr: session.amr.clone(),
            requested_acr: request.acr_values.clone(),
            created_at: now,
            revoked_at: None,
            idp: session.idp.clone(),
        };
        let code = self.rng.token()?;
        let record = CodeRecord {
            digest: self.digester.digest(&code),
            grant_id: grant.id.clone(),
            client_id: grant.client_id.clone(),
            redirect_uri: request.redirect_uri.as_str().to_owned(),
            code_challenge: request.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
            expires_at: now + self.code_lifetime,
        };
        Ok(NewCode { grant, record, code })
    }
}

#[cfg(test)]
mod tests;
