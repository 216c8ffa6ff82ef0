//! A sign-in at the tenant's own identity provider, once the provider's answer verified
//! (`gatehouse-federation` checked the ID token): the account it signs in to (linked before,
//! linked now, or created just in time, by [`crate::federated::resolve`]), the refusals the
//! admin reads in the history, and the policy's verdict with what the provider proved.

use gatehouse_core::audit::AuditEntry;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::federation::IdentityProvider;
use gatehouse_core::ids::UserId;
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, Email};
use gatehouse_policy::{AuthLevel, SessionState};
use gatehouse_store::{ExternalIdentity, NewLinkedUser, SignInResult, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use super::password::Context;
use super::{Origin, StepError};
use crate::attempt::{self, Attempt, Outcome};
use crate::decide::{Ask, Verdict, decide_with};
use crate::federated::{ByEmail, Refusal, Resolution, Vouched, resolve};

/// Who the provider vouched for, with the profile it sent.
pub struct Upstream<'a> {
    pub vouched: Vouched<'a>,
    pub name: Option<&'a str>,
}

/// Why a verified identity signs in to no account, and the account its email named (whose
/// history then shows the refusal, for an admin who may link it by hand).
#[derive(Debug)]
pub struct Refused {
    pub refusal: Refusal,
    pub account: Option<User>,
}

/// The account `upstream` signs in to, written as decided: a new link (audited), a new account
/// (audited), or a profile that followed the upstream. `Err` inside for a refusal.
pub async fn account(
    cx: &Context<'_>,
    provider: &IdentityProvider,
    upstream: &Upstream<'_>,
    origin: &Origin<'_>,
    now: OffsetDateTime,
) -> Result<Result<User, Refused>, StepError> {
    let identity = ExternalIdentity { provider: provider.key(), issuer: upstream.vouched.issuer.to_owned(), subject: upstream.vouched.subject.to_owned() };
    // A first sign-in racing another of the same person loses the insert: read again, once.
    for _ in 0..2 {
        match account_once(cx, provider, upstream, &identity, origin, now).await {
            Err(StepError::Store(StoreError::Conflict(_))) => continue,
            other => return other,
        }
    }
    Err(StepError::Store(StoreError::Conflict("the account changed while signing in".into())))
}

async fn account_once(
    cx: &Context<'_>,
    provider: &IdentityProvider,
    upstream: &Upstream<'_>,
    identity: &ExternalIdentity,
    origin: &Origin<'_>,
    now: OffsetDateTime,
) -> Result<Result<User, Refused>, StepError> {
    let linked = match cx.store.linked_user(identity).await? {
        Some(id) => cx.store.user(&id).await?,
        None => None,
    };
    let by_email = match (&linked, upstream.vouched.email) {
        (None, Some(email)) => cx.store.user_by_email(email).await?,
        _ => None,
    };
    let already_linked = match &by_email {
        Some(user) => cx.store.has_linked_identity(&user.id).await?,
        None => false,
    };
    let key = provider.key();
    let found = by_email.as_ref().map(|user| ByEmail { user, already_linked });
    match resolve(provider, &upstream.vouched, linked.as_ref(), found) {
        Resolution::Refuse(refusal) => Ok(Err(Refused { refusal, account: by_email.filter(|u| u.tenant_id == provider.tenant_id) })),
        Resolution::Linked(_) => {
            let Some(user) = linked else { return Err(StepError::Expired) };
            Ok(Ok(follow_profile(cx, provider, upstream, user, now).await?))
        }
        Resolution::LinkExisting(id) => {
            let Some(user) = by_email else { return Err(StepError::Expired) };
            let audit = origin.audit_by(&user, "user.identity.link", format!("user:{id}"), now).with_after(json!({ "provider": key, "by": "verified_email" }));
            cx.store.link_identity(identity, &id, now, &audit).await?;
            Ok(Ok(follow_profile(cx, provider, upstream, user, now).await?))
        }
        Resolution::Create(email) => {
            let id = UserId::new(cx.rng.id()?);
            let name = upstream.name.map_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_owned(), str::to_owned);
            let new = NewLinkedUser { id: id.clone(), tenant_id: provider.tenant_id.clone(), email, name, email_verified: upstream.vouched.email_verified };
            let audit = AuditEntry::of_request(
                now.unix_timestamp(),
                format!("idp:{key}"),
                "user.create",
                format!("user:{id}"),
                Some(origin.address.to_string()),
                (!origin.user_agent.is_empty()).then(|| origin.user_agent.to_owned()),
            )
            .in_tenant(provider.tenant_id.as_str())
            .with_after(json!({ "provisioning": "jit", "provider": key }));
            cx.store.create_linked_user(&new, identity, now, &audit).await?;
            cx.store.user(&id).await?.map(Ok).ok_or(StepError::Expired)
        }
    }
}

/// The upstream's name and email, when they changed: the account follows, its id stays. Only
/// an address the upstream verified, on the provider's domains, is taken (the store refuses
/// one another account holds); the name always follows.
async fn follow_profile(cx: &Context<'_>, provider: &IdentityProvider, upstream: &Upstream<'_>, user: User, now: OffsetDateTime) -> Result<User, StepError> {
    let email = upstream.vouched.email.filter(|e| upstream.vouched.email_verified && provider.domains.contains(&e.domain())).unwrap_or(&user.email);
    let name = upstream.name.unwrap_or(&user.name);
    if *email == user.email && name == user.name {
        return Ok(user);
    }
    cx.store.refresh_linked_profile(&user.id, email, name, now).await?;
    Ok(cx.store.user(&user.id).await?.unwrap_or(user))
}

/// A refused federated sign-in, as the history records it.
pub struct Failure<'a> {
    /// The account the upstream's email named, if any (its history shows the refusal).
    pub user: Option<&'a User>,
    /// `TENANT_ID/PROVIDER_ID`.
    pub idp: &'a str,
    /// The check that failed.
    pub check: &'a str,
    /// The upstream identity (issuer, subject), once verified: what an admin links by hand.
    pub identity: Option<(&'a str, &'a str)>,
}

/// Records a federated sign-in that signed nobody in, naming the check that failed (for the
/// admin: the history and the SIEM export; the browser gets one generic page).
pub async fn record_failure(
    cx: &Context<'_>,
    request: &AuthorizationRequest,
    failure: &Failure<'_>,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<(), StepError> {
    let Failure { user, idp, check, identity } = *failure;
    let why = match identity {
        Some((issuer, subject)) => json!({ "federation": { "provider": idp, "refused": check, "issuer": issuer, "subject": subject } }),
        None => json!({ "federation": { "provider": idp, "refused": check } }),
    };
    let outcome = Outcome {
        user,
        client_id: Some(request.client_id.as_str()),
        result: SignInResult::Failure,
        amr: vec![],
        acr: None,
        decision: Some(&why),
        device_id: user.and_then(|u| attempt.device_id(cx.digester, u)),
        idp: Some(idp),
    };
    cx.store.record_sign_in(&attempt::event(cx.rng, attempt, outcome, now)?).await?;
    Ok(())
}

/// The policy's verdict for a federated sign-in: with `mfa_trusted` the provider's proof
/// counts as a second factor presented just now (as a passkey's does).
#[allow(clippy::too_many_arguments)]
pub async fn decide(
    cx: &Context<'_>,
    tenant: Option<&Tenant>,
    user: &User,
    client: &Client,
    request: &AuthorizationRequest,
    mfa_trusted: bool,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Verdict, StoreError> {
    let session = mfa_trusted.then_some(SessionState { level: AuthLevel::Mfa, second_factor_at: Some(now) });
    let observed = super::password::observed(cx, user, attempt, now).await?;
    decide_with(cx.store, tenant, user, client, &Ask::for_request(request, session), &observed, now).await
}

/// Whether the email's domain requires its provider for this account: password sign-in is
/// refused (the browser is sent to the provider) unless the account is a break-glass account.
pub fn password_refused(provider: &IdentityProvider, email: &Email) -> bool {
    provider.refuses_password_for(email)
}
