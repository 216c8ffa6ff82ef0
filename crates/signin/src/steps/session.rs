//! The SSO-reuse step at `/authorize`: the browser's live session stands in for the first
//! factor, and the policy decides whether it is enough. The edge reads the session cookie,
//! checks `max_age` and the `id_token_hint`, and turns the outcome into the code redirect, the
//! OIDC error, or a parked request and the redirect to the page the outcome names.

use gatehouse_core::Client;
use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_core::model::{Tenant, User};
use gatehouse_store::{SessionRecord, Store, StoreError};
use time::OffsetDateTime;

use super::password;
use crate::SignInError;
use crate::attempt::Attempt;
use crate::completion::Completer;
use crate::next::{self, FlowPage, Next};
use crate::progress::Progress;
use crate::proof::FirstFactor;

/// What reusing the session leads to.
#[derive(Debug, PartialEq, Eq)]
pub enum Reuse {
    /// The session answers the request: issue the code at once ([`issue_code`]).
    Complete,
    /// No allowed method can meet what the request needs (`next::unmet_requirements`).
    Refuse,
    /// A reported sign-in ended every session; one that raced the report must not stand in
    /// for the fresh second factor and the new password either (`login_required`).
    SignInAgain,
    /// The user's organisation was terminated (`next::account_closed`).
    AccountClosed,
    /// More is owed, but the request forbids asking (`prompt=none`: `interaction_required`).
    InteractionRequired,
    /// More is owed: park the request with this progress and send the browser to this page.
    Ask { progress: Box<Progress>, page: FlowPage },
}

/// Decides whether `session` (of `user`, whose organisation is `tenant`) answers `request`
/// from the browser of `attempt`.
#[allow(clippy::too_many_arguments)]
pub async fn reuse(
    cx: &password::Context<'_>,
    tenant: Option<&Tenant>,
    user: &User,
    client: &Client,
    request: &AuthorizationRequest,
    session: &SessionRecord,
    attempt: &Attempt,
    now: OffsetDateTime,
) -> Result<Reuse, StoreError> {
    if user.credentials_reset_required {
        return Ok(Reuse::SignInAgain);
    }
    if next::tenant_closed(tenant) {
        return Ok(Reuse::AccountClosed);
    }
    let verdict = password::decide(cx, tenant, user, client, request, Some(session), attempt, now).await?;
    Ok(match next::after_first_factor(&verdict, user, &FirstFactor::session(&session.amr), session.auth_time) {
        Next::Refuse => Reuse::Refuse,
        Next::Complete => Reuse::Complete,
        Next::Ask { .. } if request.prompt.none => Reuse::InteractionRequired,
        Next::Ask { progress, page } => Reuse::Ask { progress, page },
    })
}

/// Creates the grant and a single-use code from `session` and marks the session used; returns
/// the code for the redirect to the client.
pub async fn issue_code(
    store: &dyn Store,
    completer: &Completer<'_>,
    request: &AuthorizationRequest,
    session: &SessionRecord,
    now: OffsetDateTime,
) -> Result<String, SignInError> {
    let issued = completer.new_code(request, session, now)?;
    store.create_grant_with_code(&issued.grant, &issued.record).await?;
    store.touch_session(&session.id, now).await?;
    Ok(issued.code)
}
