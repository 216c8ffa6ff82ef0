use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_crypto::SigningKey;
use gatehouse_crypto::jws::sign;
use gatehouse_wire::SigningAlg;
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://login.fed.test";

fn key() -> SigningKey {
    SigningKey::generate(SigningAlg::ES256).unwrap()
}

fn keys(key: &SigningKey) -> ForeignKeySet {
    ForeignKeySet::from_jwks(json!({"keys": [key.public_jwk()]}).to_string().as_bytes()).unwrap()
}

fn claims() -> Value {
    json!({"iss": ISSUER, "sub": "u-1", "aud": "gatehouse", "exp": NOW + 300, "iat": NOW - 5, "nonce": "n-1", "email": "ann@fed.test", "email_verified": true})
}

fn expected() -> Expected<'static> {
    Expected { issuer: ISSUER, client_id: "gatehouse", nonce: "n-1", algorithms: &["ES256", "RS256"], now: NOW, skew: 60, authenticated_since: None }
}

fn check(key: &SigningKey, claims: Value) -> Result<IdTokenClaims, Rejection> {
    validate(&sign(key, "JWT", &claims).unwrap(), &keys(key), &expected())
}

fn with(field: &str, value: Value) -> Value {
    let mut c = claims();
    c[field] = value;
    c
}

#[test]
fn a_token_the_provider_signed_for_this_request_is_accepted() {
    let key = key();
    let claims = check(&key, claims()).unwrap();
    assert_eq!(claims.sub, "u-1");
    assert!(claims.email_verified());
}

#[test]
fn another_issuer_is_refused() {
    let key = key();
    assert_eq!(check(&key, with("iss", json!("https://evil.test"))).unwrap_err(), Rejection::Issuer("https://evil.test".into()));
}

#[test]
fn another_audience_is_refused() {
    let key = key();
    assert_eq!(check(&key, with("aud", json!("someone-else"))).unwrap_err(), Rejection::Audience);
    assert_eq!(check(&key, with("aud", json!(["someone-else", "other"]))).unwrap_err(), Rejection::Audience);
}

#[test]
fn several_audiences_need_azp_naming_gatehouse() {
    let key = key();
    assert_eq!(check(&key, with("aud", json!(["gatehouse", "other"]))).unwrap_err(), Rejection::AuthorizedParty);
    let mut c = with("aud", json!(["gatehouse", "other"]));
    c["azp"] = json!("gatehouse");
    assert!(check(&key, c).is_ok());
    assert_eq!(check(&key, with("azp", json!("other"))).unwrap_err(), Rejection::AuthorizedParty);
}

#[test]
fn an_expired_token_is_refused_beyond_the_skew() {
    let key = key();
    assert!(check(&key, with("exp", json!(NOW - 30))).is_ok(), "within the minute of skew");
    assert_eq!(check(&key, with("exp", json!(NOW - 61))).unwrap_err(), Rejection::Expired);
}

#[test]
fn a_token_issued_in_the_future_is_refused() {
    let key = key();
    assert_eq!(check(&key, with("iat", json!(NOW + 120))).unwrap_err(), Rejection::IssuedInFuture);
}

#[test]
fn a_wrong_or_missing_nonce_is_refused() {
    let key = key();
    assert_eq!(check(&key, with("nonce", json!("n-2"))).unwrap_err(), Rejection::Nonce);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("nonce");
    assert_eq!(check(&key, c).unwrap_err(), Rejection::Nonce);
}

#[test]
fn a_missing_subject_is_refused() {
    let key = key();
    assert_eq!(check(&key, with("sub", json!(""))).unwrap_err(), Rejection::Subject);
    assert_eq!(check(&key, with("sub", json!("a\u{0}b"))).unwrap_err(), Rejection::Subject, "no control characters");
}

#[test]
fn a_token_not_yet_valid_is_refused() {
    let key = key();
    assert_eq!(check(&key, with("nbf", json!(NOW + 120))).unwrap_err(), Rejection::NotYetValid);
    assert!(check(&key, with("nbf", json!(NOW - 5))).is_ok());
}

#[test]
fn a_step_up_needs_an_authentication_at_or_after_it_started() {
    let key = key();
    let fresh = Expected { authenticated_since: Some(NOW - 10), ..expected() };
    let token = |auth_time: Option<i64>| {
        let mut c = claims();
        if let Some(at) = auth_time {
            c["auth_time"] = json!(at);
        }
        sign(&key, "JWT", &c).unwrap()
    };
    assert!(validate(&token(Some(NOW - 5)), &keys(&key), &fresh).is_ok());
    assert_eq!(validate(&token(Some(NOW - 86_400)), &keys(&key), &fresh).unwrap_err(), Rejection::StaleAuthentication, "a day-old session");
    assert_eq!(validate(&token(None), &keys(&key), &fresh).unwrap_err(), Rejection::StaleAuthentication);
    assert_eq!(validate(&token(Some(NOW + 3600)), &keys(&key), &fresh).unwrap_err(), Rejection::AuthenticatedInFuture, "an hour ahead");
}

#[test]
fn alg_none_is_refused() {
    let key = key();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": key.kid()}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    let unsigned = format!("{header}.{payload}.");
    assert_eq!(validate(&unsigned, &keys(&key), &expected()).unwrap_err(), Rejection::Signature(JwsRejection::AlgorithmNotAllowed("none".into())));
}

#[test]
fn a_key_not_in_the_jwks_is_refused() {
    let published = key();
    let other = key();
    let token = sign(&other, "JWT", &claims()).unwrap();
    assert_eq!(validate(&token, &keys(&published), &expected()).unwrap_err(), Rejection::Signature(JwsRejection::UnknownKey));
}

#[test]
fn an_algorithm_off_the_providers_list_is_refused() {
    let ed = SigningKey::generate(SigningAlg::EdDSA).unwrap();
    let token = sign(&ed, "JWT", &claims()).unwrap();
    assert_eq!(validate(&token, &keys(&ed), &expected()).unwrap_err(), Rejection::Signature(JwsRejection::AlgorithmNotAllowed("EdDSA".into())));
}

#[test]
fn email_verified_as_a_string_counts_only_when_true() {
    let key = key();
    assert!(check(&key, with("email_verified", json!("true"))).unwrap().email_verified());
    assert!(!check(&key, with("email_verified", json!("false"))).unwrap().email_verified());
    assert!(!check(&key, with("email_verified", json!(false))).unwrap().email_verified());
}
