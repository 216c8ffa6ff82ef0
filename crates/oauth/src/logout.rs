//! RP-Initiated Logout 1.0: what the application sent, checked before anything is ended. An
//! `id_token_hint` must be an ID token this provider issued (an expired one is fine: that is
//! the usual case), a `client_id` must be the hint's audience, and a `post_logout_redirect_uri`
//! must be registered for that client, compared exactly. A logout that fails any of these is
//! shown as an error by the edge and never redirected.

use gatehouse_core::ClientId;
use gatehouse_core::claims::IdTokenClaims;

use crate::OAuthContext;
use crate::tokens::verify_id_token_hint;

/// Why a logout request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogoutRefusal {
    #[error("the id_token_hint is not an ID token of this provider")]
    BadHint,
    #[error("client_id is not the audience of the id_token_hint")]
    ClientMismatch,
    #[error("post_logout_redirect_uri needs a client_id or an id_token_hint")]
    RedirectNeedsClient,
    #[error("post_logout_redirect_uri is not registered for the client")]
    RedirectUnregistered,
}

/// A logout request that passed the checks.
#[derive(Debug)]
pub struct CheckedLogout {
    /// The verified hint: the session it names by `sid` (or the user by `sub`) may be ended
    /// without asking.
    pub hint: Option<IdTokenClaims>,
    /// Where to send the browser afterwards, exactly as registered.
    pub redirect: Option<String>,
}

/// Checks the parameters of a logout request.
pub fn check(
    ctx: &OAuthContext<'_>,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
) -> Result<CheckedLogout, LogoutRefusal> {
    let hint = match id_token_hint {
        Some(token) => Some(verify_id_token_hint(ctx, token).ok_or(LogoutRefusal::BadHint)?),
        None => None,
    };
    let client_id = match (client_id, hint.as_ref().map(|h| h.aud.as_str())) {
        (Some(sent), Some(audience)) if sent != audience => return Err(LogoutRefusal::ClientMismatch),
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    let redirect = match post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let client = client_id.and_then(|id| ClientId::parse(id).ok()).and_then(|id| ctx.directory.client(&id));
            let client = client.ok_or(LogoutRefusal::RedirectNeedsClient)?;
            Some(client.registered_post_logout_redirect(uri).ok_or(LogoutRefusal::RedirectUnregistered)?.as_str().to_owned())
        }
    };
    Ok(CheckedLogout { hint, redirect })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::Fixture;

    #[tokio::test]
    async fn a_hint_that_is_not_our_id_token_is_refused() {
        let fixture = Fixture::new().await;
        let refused = check(&fixture.ctx(), Some("not.a.token"), None, None).unwrap_err();
        assert_eq!(refused, LogoutRefusal::BadHint);
    }

    #[tokio::test]
    async fn a_redirect_without_a_client_is_refused() {
        let fixture = Fixture::new().await;
        let refused = check(&fixture.ctx(), None, None, Some("http://127.0.0.1:9999/bye")).unwrap_err();
        assert_eq!(refused, LogoutRefusal::RedirectNeedsClient);
        let unknown = check(&fixture.ctx(), None, Some("nobody"), Some("http://127.0.0.1:9999/bye")).unwrap_err();
        assert_eq!(unknown, LogoutRefusal::RedirectNeedsClient);
    }

    #[tokio::test]
    async fn a_redirect_the_client_did_not_register_is_refused() {
        let fixture = Fixture::new().await;
        let refused = check(&fixture.ctx(), None, Some("payroll"), Some("http://127.0.0.1:9999/bye")).unwrap_err();
        assert_eq!(refused, LogoutRefusal::RedirectUnregistered);
    }

    #[tokio::test]
    async fn a_logout_without_parameters_passes_with_nothing_to_redirect_to() {
        let fixture = Fixture::new().await;
        let checked = check(&fixture.ctx(), None, None, None).unwrap();
        assert!(checked.hint.is_none() && checked.redirect.is_none());
    }
}
