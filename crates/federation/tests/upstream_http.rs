//! The upstream client against a scripted provider on loopback (plain HTTP/1.1 over a tokio
//! socket, so every byte the provider sends is the test's): keys fetched again on an unknown
//! `kid` but not more often than every 30 seconds, and every call bounded (no redirect
//! followed, a size cap, a timeout). The protocol itself is tested against node's oidc-provider
//! in `crates/gatehouse/tests/it/federation.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_core::EmailDomain;
use gatehouse_core::federation::{IdentityProvider, ProviderId};
use gatehouse_core::ids::TenantId;
use gatehouse_crypto::{JwsRejection, SigningKey, jws};
use gatehouse_federation::UpstreamError;
use gatehouse_federation::oidc::{AuthorizationAsk, Rejection, Trip, Upstreams};
use gatehouse_wire::SigningAlg;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the scripted provider answers, changeable while it runs.
#[derive(Clone)]
struct Script {
    /// The keys its JWKS publishes.
    published: Vec<Arc<SigningKey>>,
    /// The ID token its token endpoint returns.
    id_token: String,
    /// Answer discovery with a redirect instead.
    redirect_discovery: bool,
    /// Pad the JWKS beyond the cap.
    huge_jwks: bool,
    /// Wait this long before answering the token endpoint.
    token_delay: Duration,
}

struct Provider {
    issuer: String,
    script: Arc<Mutex<Script>>,
    jwks_fetches: Arc<Mutex<u32>>,
}

fn respond(status: &str, content_type: &str, body: &str, extra: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}", body.len()).into_bytes()
}

async fn start(script: Script) -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let script = Arc::new(Mutex::new(script));
    let jwks_fetches = Arc::new(Mutex::new(0));
    let (shared, fetches, base) = (Arc::clone(&script), Arc::clone(&jwks_fetches), issuer.clone());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (script, fetches, base) = (Arc::clone(&shared), Arc::clone(&fetches), base.clone());
            tokio::spawn(async move {
                let mut request = vec![0u8; 16 * 1024];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let now = script.lock().unwrap().clone();
                let answer = match path.as_str() {
                    "/.well-known/openid-configuration" if now.redirect_discovery => {
                        respond("302 Found", "text/plain", "", &format!("location: {base}/elsewhere\r\n"))
                    }
                    "/.well-known/openid-configuration" => {
                        let doc = json!({ "issuer": base, "authorization_endpoint": format!("{base}/auth"), "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks") });
                        respond("200 OK", "application/json", &doc.to_string(), "")
                    }
                    "/jwks" => {
                        *fetches.lock().unwrap() += 1;
                        let keys: Vec<_> = now.published.iter().map(|k| k.public_jwk().clone()).collect();
                        let mut doc = json!({ "keys": keys });
                        if now.huge_jwks {
                            doc["padding"] = json!("x".repeat(300 * 1024));
                        }
                        respond("200 OK", "application/json", &doc.to_string(), "")
                    }
                    "/token" => {
                        tokio::time::sleep(now.token_delay).await;
                        respond("200 OK", "application/json", &json!({ "id_token": now.id_token, "token_type": "Bearer" }).to_string(), "")
                    }
                    _ => respond("404 Not Found", "text/plain", "", ""),
                };
                let _ = socket.write_all(&answer).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Provider { issuer, script, jwks_fetches }
}

fn provider(issuer: &str) -> IdentityProvider {
    IdentityProvider::new_oidc(TenantId::new("t"), ProviderId::parse("corp").unwrap(), issuer, "gatehouse", vec![EmailDomain::parse("fed.test").unwrap()])
}

const NOW: i64 = 1_800_000_000;

fn token(key: &SigningKey, issuer: &str) -> String {
    jws::sign(key, "JWT", &json!({ "iss": issuer, "sub": "s", "aud": "gatehouse", "iat": NOW, "exp": NOW + 300, "nonce": "n" })).unwrap()
}

fn trip() -> Trip<'static> {
    Trip { redirect_uri: "http://127.0.0.1:1/cb", code: "c", code_verifier: "v", nonce: "n", authenticated_since: None }
}

fn script(published: Vec<Arc<SigningKey>>) -> Script {
    Script { published, id_token: String::new(), redirect_discovery: false, huge_jwks: false, token_delay: Duration::ZERO }
}

fn es256() -> Arc<SigningKey> {
    Arc::new(SigningKey::generate(SigningAlg::ES256).unwrap())
}

#[tokio::test]
async fn an_unknown_kid_fetches_the_keys_again_but_not_more_often_than_every_30_seconds() {
    let old = es256();
    let p = start(script(vec![Arc::clone(&old)])).await;
    let upstreams = Upstreams::new(Duration::from_secs(5)).unwrap();
    let config = provider(&p.issuer);
    p.script.lock().unwrap().id_token = token(&old, &p.issuer);
    upstreams.finish(&config, Some("secret"), &trip(), NOW).await.unwrap();
    assert_eq!(*p.jwks_fetches.lock().unwrap(), 1, "discovered once");

    // The provider rotates: a token under a new key. The keys were fetched just now, so a
    // stream of tokens under unknown keys cannot make Gatehouse fetch them again and again.
    let new = es256();
    p.script.lock().unwrap().published = vec![Arc::clone(&old), Arc::clone(&new)];
    p.script.lock().unwrap().id_token = token(&new, &p.issuer);
    let refused = upstreams.finish(&config, Some("secret"), &trip(), NOW).await.unwrap_err();
    assert!(matches!(refused, UpstreamError::IdToken(Rejection::Signature(JwsRejection::UnknownKey))), "{refused}");
    assert_eq!(*p.jwks_fetches.lock().unwrap(), 1, "not fetched again within 30 seconds");
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_the_interval_has_passed() {
    let old = es256();
    let p = start(script(vec![Arc::clone(&old)])).await;
    let upstreams = Upstreams::new(Duration::from_secs(5)).unwrap().with_key_refetch_interval(Duration::ZERO);
    let config = provider(&p.issuer);
    p.script.lock().unwrap().id_token = token(&old, &p.issuer);
    upstreams.finish(&config, Some("secret"), &trip(), NOW).await.unwrap();
    let new = es256();
    p.script.lock().unwrap().published = vec![Arc::clone(&new)];
    p.script.lock().unwrap().id_token = token(&new, &p.issuer);
    upstreams.finish(&config, Some("secret"), &trip(), NOW).await.unwrap();
    assert_eq!(*p.jwks_fetches.lock().unwrap(), 2, "the unknown kid fetched the keys once more");
    upstreams.finish(&config, Some("secret"), &trip(), NOW).await.unwrap();
    assert_eq!(*p.jwks_fetches.lock().unwrap(), 2, "a known kid needs no fetch");
    // A kid the provider does not publish at all is still refused after the fetch.
    let stranger = es256();
    p.script.lock().unwrap().id_token = token(&stranger, &p.issuer);
    let refused = upstreams.finish(&config, Some("secret"), &trip(), NOW).await.unwrap_err();
    assert!(matches!(refused, UpstreamError::IdToken(Rejection::Signature(JwsRejection::UnknownKey))), "{refused}");
}

#[tokio::test]
async fn a_discovery_redirect_is_not_followed() {
    let p = start(Script { redirect_discovery: true, ..script(vec![es256()]) }).await;
    let upstreams = Upstreams::new(Duration::from_secs(5)).unwrap();
    let error = upstreams.begin(&provider(&p.issuer), "http://127.0.0.1:1/cb", "state", &AuthorizationAsk::default()).await.err().unwrap();
    assert!(matches!(error, UpstreamError::Status { status: 302, .. }), "{error}");
}

#[tokio::test]
async fn a_huge_jwks_is_refused_at_the_cap() {
    let p = start(Script { huge_jwks: true, ..script(vec![es256()]) }).await;
    let upstreams = Upstreams::new(Duration::from_secs(5)).unwrap();
    let error = upstreams.begin(&provider(&p.issuer), "http://127.0.0.1:1/cb", "state", &AuthorizationAsk::default()).await.err().unwrap();
    assert!(matches!(error, UpstreamError::TooLarge("JWKS")), "{error}");
}

#[tokio::test]
async fn a_slow_token_endpoint_times_out() {
    let key = es256();
    let p = start(Script { token_delay: Duration::from_secs(3), ..script(vec![Arc::clone(&key)]) }).await;
    p.script.lock().unwrap().id_token = token(&key, &p.issuer);
    let upstreams = Upstreams::new(Duration::from_secs(1)).unwrap();
    let started = std::time::Instant::now();
    let error = upstreams.finish(&provider(&p.issuer), Some("secret"), &trip(), NOW).await.unwrap_err();
    assert!(matches!(&error, UpstreamError::Unreachable(why) if why == "timed out"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "the timeout, not the provider, ended the wait");
}

#[tokio::test]
async fn the_authorization_request_carries_pkce_state_nonce_and_the_hint() {
    let p = start(script(vec![es256()])).await;
    let upstreams = Upstreams::new(Duration::from_secs(5)).unwrap();
    let ask = AuthorizationAsk { login_hint: Some("ann@fed.test"), acr_values: Some("urn:mfa".into()), prompt_login: true, max_age: Some(0) };
    let started = upstreams.begin(&provider(&p.issuer), "http://127.0.0.1:1/cb", "parked.secret", &ask).await.unwrap();
    let url = url::Url::parse(&started.url).unwrap();
    let get = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    assert_eq!(get("state").as_deref(), Some("parked.secret"));
    assert_eq!(get("nonce").as_deref(), Some(started.nonce.as_str()));
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(get("code_challenge"), Some(gatehouse_core::pkce::CodeChallenge::s256_of(&started.code_verifier).as_str().to_owned()));
    assert_eq!((get("login_hint").as_deref(), get("acr_values").as_deref()), (Some("ann@fed.test"), Some("urn:mfa")));
    assert_eq!((get("prompt").as_deref(), get("max_age").as_deref()), (Some("login"), Some("0")));
    assert_eq!(get("response_type").as_deref(), Some("code"));
}

#[tokio::test]
async fn a_provider_set_up_through_the_api_reaches_no_private_address_unless_the_operator_allows_it() {
    let key = es256();
    let p = start(script(vec![Arc::clone(&key)])).await;
    p.script.lock().unwrap().id_token = token(&key, &p.issuer);
    let typed = IdentityProvider { via_api: true, ..provider(&p.issuer) };
    let upstreams = Upstreams::new(Duration::from_secs(5)).unwrap();
    let Err(refused) = upstreams.begin(&typed, "http://127.0.0.1:1/cb", "s", &Default::default()).await else { panic!("a loopback address reached") };
    assert!(matches!(refused, UpstreamError::Refused(_)), "loopback by address: {refused}");
    let by_name = IdentityProvider { via_api: true, ..provider(&p.issuer.replace("127.0.0.1", "localhost")) };
    assert!(upstreams.begin(&by_name, "http://127.0.0.1:1/cb", "s", &Default::default()).await.is_err(), "loopback by name");
    assert_eq!(*p.jwks_fetches.lock().unwrap(), 0, "nothing reached the provider");
    // The operator's own provider on the same address is trusted input.
    upstreams.finish(&provider(&p.issuer), Some("secret"), &trip(), NOW).await.unwrap();
    let allowed = Upstreams::new(Duration::from_secs(5)).unwrap().with_private_networks(true);
    allowed.finish(&typed, Some("secret"), &trip(), NOW).await.unwrap();
}
