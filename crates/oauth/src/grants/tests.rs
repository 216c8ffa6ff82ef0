//! The grants' rejections, over an in-memory store seeded with the store suite's directory
//! (tenant `t-acme`, user `u-alice`, client `payroll`).

use super::*;
use crate::fixture::{Fixture, SECRET};
use gatehouse_core::ids::{GrantId, UserId};
use gatehouse_core::pkce::CodeChallenge;
use gatehouse_core::token_request::ClientAuthentication;
use gatehouse_core::{ClientId, OAuthErrorCode};
use gatehouse_store::CodeRecord;
use gatehouse_store::suite::NOW;

const REDIRECT: &str = "http://127.0.0.1:9999/cb";
const VERIFIER: &str = "a-verifier-that-is-long-enough-for-rfc-7636-pkce-0123456789";

impl Fixture {
    /// A grant for alice with a code `code` (PKCE S256 of [`VERIFIER`] when `pkce`).
    async fn code(&self, grant: &str, code: &str, pkce: bool) {
        let record = GrantRecord {
            idp: None,
            id: GrantId::new(grant),
            client_id: "payroll".into(),
            user_id: UserId::new("u-alice"),
            session_id: None,
            scope: "openid email".into(),
            nonce: Some("n-1".into()),
            auth_time: NOW,
            acr: "urn:gatehouse:acr:mfa".into(),
            amr: vec!["pwd".into(), "otp".into()],
            requested_acr: vec![],
            created_at: NOW,
            revoked_at: None,
        };
        let code = CodeRecord {
            digest: self.digester.digest(code),
            grant_id: record.id.clone(),
            client_id: "payroll".into(),
            redirect_uri: REDIRECT.into(),
            code_challenge: pkce.then(|| CodeChallenge::s256_of(VERIFIER).as_str().to_owned()),
            expires_at: NOW + self.lifetimes.authorization_code,
        };
        self.store.create_grant_with_code(&record, &code).await.unwrap();
    }

    async fn exchange(&self, client: &Client, form: &str) -> Result<Issued, ServiceError> {
        exchange(&self.ctx(), client, &Params::parse(form.as_bytes()).unwrap(), NOW).await
    }
}

fn code_form(code: &str, redirect_uri: &str, verifier: Option<&str>) -> String {
    let mut form = format!("grant_type=authorization_code&code={code}&redirect_uri={redirect_uri}");
    if let Some(verifier) = verifier {
        form.push_str(&format!("&code_verifier={verifier}"));
    }
    form
}

#[track_caller]
fn assert_rejected<T: std::fmt::Debug>(result: Result<T, ServiceError>, code: OAuthErrorCode, description: &str) {
    match result {
        Err(ServiceError::Rejected(error)) => {
            assert_eq!(error.code, code, "{error:?}");
            assert_eq!(error.description, description);
        }
        other => panic!("expected {code:?} ({description}), got {other:?}"),
    }
}

#[tokio::test]
async fn code_exchange_issues_tokens_and_a_refresh_token() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", true).await;
    let issued = fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await.unwrap();
    assert_eq!(issued.grant_type, GrantType::AuthorizationCode);
    assert_eq!(issued.response.scope, "openid email");
    assert!(issued.response.id_token.is_some() && issued.response.refresh_token.is_some());
    let claims = tokens::validate_access_token(&fx.ctx(), &issued.response.access_token, NOW).unwrap();
    assert_eq!((claims.sub.as_str(), claims.gid.as_deref()), ("u-alice", Some("g-1")));
}

#[tokio::test]
async fn rfc6749_wrong_redirect_uri_is_refused_before_the_code_is_spent() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", true).await;
    let wrong = fx.exchange(&fx.payroll(), &code_form("code-1", "http://127.0.0.1:9999/other", Some(VERIFIER))).await;
    assert_rejected(wrong, OAuthErrorCode::InvalidGrant, "redirect_uri does not match the authorization request");
    let missing = fx.exchange(&fx.payroll(), "grant_type=authorization_code&code=code-1").await;
    assert_rejected(missing, OAuthErrorCode::InvalidRequest, "redirect_uri is required: it was part of the authorization request");
    assert!(fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await.is_ok(), "the code was not consumed");
}

#[tokio::test]
async fn rfc7636_wrong_or_missing_verifier_is_invalid_grant() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", true).await;
    let wrong = fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some("another-verifier-that-is-long-enough-0123456789abcdef"))).await;
    assert!(matches!(wrong, Err(ServiceError::Rejected(ref e)) if e.code == OAuthErrorCode::InvalidGrant), "{wrong:?}");
    assert_rejected(fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, None)).await, OAuthErrorCode::InvalidGrant, "code_verifier is required");
    assert!(fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await.is_ok(), "the code was not consumed");
}

#[tokio::test]
async fn rfc9700_pkce_downgrade_rejected() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", false).await;
    let downgrade = fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await;
    assert_rejected(downgrade, OAuthErrorCode::InvalidGrant, "code_verifier sent but the request had no code_challenge");
}

#[tokio::test]
async fn code_reuse_revokes_issued_tokens() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", true).await;
    let first = fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await.unwrap();
    let again = fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await;
    assert!(matches!(again, Err(ServiceError::Replayed { replay: Replay::Code, revoking: None })), "{again:?}");
    assert!(fx.store.grant(&GrantId::new("g-1")).await.unwrap().unwrap().revoked_at.is_some());
    let revoked = tokens::validate_access_token(&fx.ctx(), &first.response.access_token, NOW);
    assert_eq!(revoked.unwrap_err().description, "the access token has been revoked");
}

#[tokio::test]
async fn a_code_of_another_client_is_not_valid_and_not_spent() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", true).await;
    let other = Client { client_id: ClientId::parse("someone-else").unwrap(), ..(*fx.payroll()).clone() };
    assert_rejected(
        fx.exchange(&other, &code_form("code-1", REDIRECT, Some(VERIFIER))).await,
        OAuthErrorCode::InvalidGrant,
        "the authorization code is not valid",
    );
    assert_rejected(
        fx.exchange(&fx.payroll(), &code_form("unknown", REDIRECT, Some(VERIFIER))).await,
        OAuthErrorCode::InvalidGrant,
        "the authorization code is not valid",
    );
    assert!(fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await.is_ok());
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", true).await;
    let first = fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await.unwrap().response;
    let old = first.refresh_token.unwrap();
    let rotated = fx.exchange(&fx.payroll(), &format!("grant_type=refresh_token&refresh_token={old}")).await.unwrap();
    assert_eq!(rotated.grant_type, GrantType::RefreshToken);
    let new = rotated.response.refresh_token.unwrap();
    assert_ne!(new, old);
    let reused = fx.exchange(&fx.payroll(), &format!("grant_type=refresh_token&refresh_token={old}")).await;
    assert!(matches!(reused, Err(ServiceError::Replayed { replay: Replay::RefreshToken, revoking: None })), "{reused:?}");
    let successor = fx.exchange(&fx.payroll(), &format!("grant_type=refresh_token&refresh_token={new}")).await;
    assert!(successor.is_err(), "the successor went with the family");
    assert!(tokens::validate_access_token(&fx.ctx(), &rotated.response.access_token, NOW).is_err());
}

#[tokio::test]
async fn a_refresh_may_not_cross_clients_or_widen_the_scope() {
    let fx = Fixture::new().await;
    fx.code("g-1", "code-1", true).await;
    let token = fx.exchange(&fx.payroll(), &code_form("code-1", REDIRECT, Some(VERIFIER))).await.unwrap().response.refresh_token.unwrap();
    let other = Client { client_id: ClientId::parse("someone-else").unwrap(), ..(*fx.payroll()).clone() };
    let form = format!("grant_type=refresh_token&refresh_token={token}");
    assert_rejected(fx.exchange(&other, &form).await, OAuthErrorCode::InvalidGrant, "the refresh token was issued to another client");
    let wider = fx.exchange(&fx.payroll(), &format!("{form}&scope=openid+email+profile")).await;
    assert_rejected(wider, OAuthErrorCode::InvalidScope, "a refresh may not widen the scope");
    let unknown = fx.exchange(&fx.payroll(), "grant_type=refresh_token&refresh_token=nonsense").await;
    assert_rejected(unknown, OAuthErrorCode::InvalidGrant, "the refresh token is not valid");
    assert!(fx.exchange(&fx.payroll(), &format!("{form}&scope=openid")).await.is_ok(), "narrowing is fine, and nothing above spent the token");
}

#[tokio::test]
async fn client_credentials_need_a_confidential_client_and_registered_scopes() {
    let fx = Fixture::new().await;
    let machine = Client { grant_types: vec![GrantType::ClientCredentials], scopes: vec!["reports:read".into()], ..(*fx.payroll()).clone() };
    let issued = fx.exchange(&machine, "grant_type=client_credentials&scope=reports:read").await.unwrap();
    assert_eq!((issued.grant_type, issued.response.scope.as_str()), (GrantType::ClientCredentials, "reports:read"));
    assert!(issued.response.refresh_token.is_none() && issued.response.id_token.is_none());
    let unregistered = fx.exchange(&machine, "grant_type=client_credentials&scope=payments:write").await;
    assert_rejected(unregistered, OAuthErrorCode::InvalidScope, "scope `payments:write` is not registered for this application");
    assert_rejected(
        fx.exchange(&machine, "grant_type=client_credentials&scope=openid").await,
        OAuthErrorCode::InvalidScope,
        "openid needs a user; use the authorization code grant",
    );
    let admin = fx.exchange(&machine, "grant_type=client_credentials&scope=gatehouse:admin").await;
    assert!(matches!(admin, Err(ServiceError::Rejected(ref e)) if e.code == OAuthErrorCode::InvalidScope), "only operators: {admin:?}");
    let public = Client { secret_digest: None, ..machine.clone() };
    assert_rejected(
        fx.exchange(&public, "grant_type=client_credentials").await,
        OAuthErrorCode::UnauthorizedClient,
        "public clients cannot use client_credentials",
    );
    assert_rejected(
        fx.exchange(&fx.payroll(), "grant_type=client_credentials").await,
        OAuthErrorCode::UnauthorizedClient,
        "this client may not use this grant type",
    );
}

#[tokio::test]
async fn client_secrets_are_checked_and_guessing_locks_out_per_client_and_address() {
    let fx = Fixture::new().await;
    let address = "192.0.2.7".parse().unwrap();
    let secret = |secret: &str| ClientAuthentication::Secret { client_id: ClientId::parse("payroll").unwrap(), secret: secret.into() };
    assert!(crate::authenticate(&fx.ctx(), &secret(SECRET), address, true, NOW).is_ok());
    let public = ClientAuthentication::None { client_id: ClientId::parse("payroll").unwrap() };
    assert_rejected(crate::authenticate(&fx.ctx(), &public, address, false, NOW), OAuthErrorCode::InvalidClient, "client authentication failed");
    for _ in 1..gatehouse_ops::rate_limit::CLIENT_AUTH.max {
        assert_rejected(crate::authenticate(&fx.ctx(), &secret("guess"), address, false, NOW), OAuthErrorCode::InvalidClient, "client authentication failed");
    }
    let locked = crate::authenticate(&fx.ctx(), &secret(SECRET), address, false, NOW);
    assert!(matches!(locked, Err(ServiceError::ClientLockedOut { retry_after }) if retry_after > 0), "{locked:?}");
    assert!(crate::authenticate(&fx.ctx(), &secret(SECRET), "192.0.2.8".parse().unwrap(), false, NOW).is_ok(), "another address is not locked out");
}
