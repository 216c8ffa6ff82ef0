//! A full sign-in driven by a real OIDC client library (`openidconnect`): discovery, PKCE,
//! code exchange, ID-token signature checked against the JWKS, userinfo, refresh, introspection,
//! revocation and logout.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    RedirectUrl, RevocationUrl, Scope, TokenResponse,
};
use std::future::Future;
use std::pin::Pin;

use crate::support::api::self_signed;
use crate::support::app::{SpawnOptions, TempDir, spawn_app, spawn_with};
use crate::support::browser::{Browser, hidden, location, query_param};
use crate::support::fixtures::basic::{ALICE, PAYROLL_SECRET};

type HttpResult = Result<openidconnect::HttpResponse, reqwest::Error>;

/// The HTTP transport for `openidconnect`: reqwest, redirects off (as the library requires).
fn http_client() -> impl Fn(openidconnect::HttpRequest) -> Pin<Box<dyn Future<Output = HttpResult>>> {
    http_client_with(reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap())
}

fn http_client_with(client: reqwest::Client) -> impl Fn(openidconnect::HttpRequest) -> Pin<Box<dyn Future<Output = HttpResult>>> {
    move |request: openidconnect::HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut builder = client.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                builder = builder.header(name, value);
            }
            let response = builder.send().await?;
            let mut out = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                out = out.header(name, value);
            }
            Ok(out.body(response.bytes().await?.to_vec()).unwrap())
        })
    }
}

#[tokio::test]
async fn openid_client_completes_code_flow_with_pkce_and_verifies_everything() {
    let app = spawn_app().await;
    let http = http_client();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http).await.unwrap();
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("payroll".into()), Some(ClientSecret::new(PAYROLL_SECRET.into())))
        .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:9999/cb".into()).unwrap())
        .set_introspection_url(IntrospectionUrl::new(app.url("/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(app.url("/revoke")).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let response = browser.get(auth_url.as_str()).await;
    let login = location(&response);
    let callback = location(&browser.submit_login(&app, &login, ALICE.0, ALICE.1).await);
    assert!(callback.starts_with("http://127.0.0.1:9999/cb?"));
    assert_eq!(query_param(&callback, "state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(query_param(&callback, "iss").as_deref(), Some(app.issuer.as_str()));
    let code = query_param(&callback, "code").unwrap();

    let tokens = client.exchange_code(AuthorizationCode::new(code)).unwrap().set_pkce_verifier(verifier).request_async(&http).await.unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("ID token signature, issuer, audience, nonce and expiry verify");
    assert_eq!(claims.email().map(|e| e.as_str()), Some(ALICE.0));
    assert_eq!(claims.email_verified(), Some(true));
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("urn:gatehouse:acr:pwd"));
    assert_eq!(claims.auth_method_refs().map(|a| a.iter().map(|m| m.as_str().to_owned()).collect::<Vec<_>>()), Some(vec!["pwd".to_owned()]));
    let at_hash = AccessTokenHash::from_token(tokens.access_token(), id_token.signing_alg().unwrap(), id_token.signing_key(&verifier).unwrap()).unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    let subject = claims.subject().clone();

    let userinfo: CoreUserInfoClaims = client.user_info(tokens.access_token().clone(), Some(subject.clone())).unwrap().request_async(&http).await.unwrap();
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some(ALICE.0));
    assert_eq!(userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice Example"));

    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = client.exchange_refresh_token(&refresh).unwrap().request_async(&http).await.unwrap();
    assert_ne!(refreshed.refresh_token().unwrap().secret(), refresh.secret(), "refresh tokens rotate");

    let introspection = client.introspect(refreshed.access_token()).request_async(&http).await.unwrap();
    assert!(openidconnect::TokenIntrospectionResponse::active(&introspection));

    // openidconnect refuses to revoke over plain http, so revoke with a direct RFC 7009 call.
    let revoked = reqwest::Client::new()
        .post(app.url("/revoke"))
        .basic_auth("payroll", Some(PAYROLL_SECRET))
        .form(&[("token", refreshed.refresh_token().unwrap().secret().as_str()), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), reqwest::StatusCode::OK);
    let after = client.introspect(refreshed.access_token()).request_async(&http).await.unwrap();
    assert!(!openidconnect::TokenIntrospectionResponse::active(&after), "revoking the refresh token ends its grant");
}

#[tokio::test]
async fn id_tokens_use_the_clients_registered_algorithm() {
    let app = spawn_app().await;
    let http = http_client();
    for (client_id, secret, port, alg) in [
        ("reports", "reports-secret-0123456789-abcdefghijklmnopqrstuv", 9997, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("edge", "edge-secret-0123456789-abcdefghijklmnopqrstuvwx", 9996, CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http).await.unwrap();
        let client = CoreClient::from_provider_metadata(metadata, ClientId::new(client_id.into()), Some(ClientSecret::new(secret.into())))
            .set_redirect_uri(RedirectUrl::new(format!("http://127.0.0.1:{port}/cb")).unwrap());
        let (auth_url, _, nonce) = client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();
        let browser = Browser::new();
        let login = location(&browser.get(auth_url.as_str()).await);
        let callback = location(&browser.submit_login(&app, &login, ALICE.0, ALICE.1).await);
        let code = query_param(&callback, "code").unwrap();
        let tokens = client.exchange_code(AuthorizationCode::new(code)).unwrap().request_async(&http).await.unwrap();
        let id_token = tokens.id_token().unwrap();
        assert_eq!(id_token.signing_alg().unwrap(), &alg);
        let verifier = client.id_token_verifier().set_allowed_algs(vec![alg]);
        id_token.claims(&verifier, &nonce).expect("verifies against the JWKS");
    }
}

/// The same library over TLS, where it also revokes (it refuses plain-http revocation) and
/// logs out; session cookies must be `__Host-`, Secure, HttpOnly and SameSite=Lax.
#[tokio::test]
async fn openid_client_over_tls_revokes_logs_out_and_cookies_are_secure() {
    use openidconnect::core::CoreRevocableToken as StandardRevocableToken;
    use openidconnect::{EndSessionUrl, LogoutRequest, PostLogoutRedirectUrl, ProviderMetadataWithLogout};
    let dir = TempDir::new("oidc-tls");
    let (cert, key, der) = self_signed();
    let cert_path = dir.file("cert.pem", &cert).display().to_string();
    let key_path = dir.file("key.pem", &key).display().to_string();
    let app = spawn_with(SpawnOptions { dir: Some(dir), extra: &["--tls-cert", &cert_path, "--tls-key", &key_path], ..Default::default() }).await;
    assert!(app.issuer.starts_with("http://"));
    let issuer = format!("https://{}", app.addr);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let reqwest_client = |cookies: bool| {
        reqwest::Client::builder().use_preconfigured_tls(tls.clone()).redirect(reqwest::redirect::Policy::none()).cookie_store(cookies).build().unwrap()
    };
    let http = http_client_with(reqwest_client(false));
    let metadata = ProviderMetadataWithLogout::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http).await.unwrap();
    let end_session: EndSessionUrl = metadata.additional_metadata().end_session_endpoint.clone().expect("end_session_endpoint");
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("payroll".into()), Some(ClientSecret::new(PAYROLL_SECRET.into())))
        .set_redirect_uri(RedirectUrl::new("http://127.0.0.1:9999/cb".into()).unwrap())
        .set_introspection_url(IntrospectionUrl::new(format!("{issuer}/introspect")).unwrap())
        .set_revocation_url(RevocationUrl::new(format!("{issuer}/revoke")).unwrap());
    let (auth_url, _, nonce) = client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random).url();

    let browser = Browser { http: reqwest_client(true) };
    let response = browser.get(auth_url.as_str()).await;
    let flow_cookie = set_cookie(&response, "__Host-gatehouse_flow");
    let login = location(&response);
    let page = browser.get(&format!("{issuer}{login}")).await.text().await.unwrap();
    let form = [
        ("request", hidden(&page, "request").unwrap()),
        ("csrf_token", hidden(&page, "csrf_token").unwrap()),
        ("email", ALICE.0.to_owned()),
        ("password", ALICE.1.to_owned()),
    ];
    let signed_in = browser.http.post(format!("{issuer}/login")).form(&form).send().await.unwrap();
    let session_cookie = set_cookie(&signed_in, "__Host-gatehouse_session");
    for cookie in [&flow_cookie, &session_cookie] {
        for attribute in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
        assert!(!cookie.contains("Domain="), "host-only: {cookie}");
    }
    let code = query_param(&location(&signed_in), "code").unwrap();
    let tokens = client.exchange_code(AuthorizationCode::new(code)).unwrap().request_async(&http).await.unwrap();
    let id_token = tokens.id_token().unwrap().clone();
    id_token.claims(&client.id_token_verifier(), &nonce).expect("verifies");

    // RFC 7009 through the library: revoking the refresh token ends the grant.
    let refresh = tokens.refresh_token().unwrap().clone();
    client.revoke_token(StandardRevocableToken::RefreshToken(refresh)).unwrap().request_async(&http).await.expect("revocation accepted");
    let after = client.introspect(tokens.access_token()).request_async(&http).await.unwrap();
    assert!(!openidconnect::TokenIntrospectionResponse::active(&after));

    // RP-initiated logout with the library's end-session URL.
    let logout_url = LogoutRequest::from(end_session)
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new("http://127.0.0.1:9999/signed-out".into()).unwrap())
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    let out = browser.get(logout_url.as_str()).await;
    assert_eq!(location(&out), "http://127.0.0.1:9999/signed-out?state=bye");
    let again = browser.get(&format!("{}&prompt=none", auth_url.as_str())).await;
    assert_eq!(query_param(&location(&again), "error").as_deref(), Some("login_required"), "the session ended");
}

fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}
