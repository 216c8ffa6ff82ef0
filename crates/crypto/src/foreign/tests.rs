use super::*;
use crate::SigningKey;
use crate::jws::sign;
use gatehouse_wire::SigningAlg;
use serde_json::json;

fn published(keys: &[&SigningKey]) -> ForeignKeySet {
    let jwks = json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() });
    ForeignKeySet::from_jwks(jwks.to_string().as_bytes()).unwrap()
}

fn forge_header(token: &str, header: &serde_json::Value) -> String {
    let mut parts = token.splitn(2, '.');
    let _ = parts.next();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts.next().unwrap())
}

#[test]
fn a_token_signed_by_a_published_key_verifies_for_every_algorithm_gatehouse_signs_with() {
    for alg in SigningAlg::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let token = sign(&key, "JWT", &json!({"sub": "u"})).unwrap();
        let verified = published(&[&key]).verify(&token, &ASYMMETRIC_ALGS).unwrap();
        assert_eq!(verified.alg, alg.as_str());
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&verified.payload).unwrap()["sub"], "u");
    }
}

#[test]
fn alg_none_and_hmac_are_refused_whatever_the_allow_list_says() {
    let key = SigningKey::generate(SigningAlg::RS256).unwrap();
    let token = sign(&key, "JWT", &json!({"sub": "u"})).unwrap();
    let set = published(&[&key]);
    let none = forge_header(&token, &json!({"alg": "none", "kid": key.kid()}));
    let none = format!("{}.", none.rsplit_once('.').unwrap().0);
    assert_eq!(set.verify(&none, &["none", "RS256"]).unwrap_err(), JwsRejection::AlgorithmNotAllowed("none".into()));
    let hs = forge_header(&token, &json!({"alg": "HS256", "kid": key.kid()}));
    assert_eq!(set.verify(&hs, &["HS256", "RS256"]).unwrap_err(), JwsRejection::AlgorithmNotAllowed("HS256".into()));
}

#[test]
fn an_algorithm_off_the_callers_list_is_refused() {
    let key = SigningKey::generate(SigningAlg::EdDSA).unwrap();
    let token = sign(&key, "JWT", &json!({})).unwrap();
    assert_eq!(published(&[&key]).verify(&token, &["RS256"]).unwrap_err(), JwsRejection::AlgorithmNotAllowed("EdDSA".into()));
}

#[test]
fn a_key_not_in_the_jwks_is_refused_even_when_the_header_carries_it() {
    let published_key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let attacker = SigningKey::generate(SigningAlg::ES256).unwrap();
    let token = sign(&attacker, "JWT", &json!({"sub": "admin"})).unwrap();
    let set = published(&[&published_key]);
    assert_eq!(set.verify(&token, &ASYMMETRIC_ALGS).unwrap_err(), JwsRejection::UnknownKey);
    // The attacker's key in `jwk`, and the published kid: the published key decides.
    let embedded = forge_header(&token, &json!({"alg": "ES256", "kid": published_key.kid(), "jwk": attacker.public_jwk()}));
    assert_eq!(set.verify(&embedded, &ASYMMETRIC_ALGS).unwrap_err(), JwsRejection::BadSignature);
}

#[test]
fn a_tampered_payload_fails_the_signature() {
    let key = SigningKey::generate(SigningAlg::RS256).unwrap();
    let token = sign(&key, "JWT", &json!({"sub": "u"})).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(br#"{"sub":"admin"}"#), parts[2]);
    assert_eq!(published(&[&key]).verify(&forged, &ASYMMETRIC_ALGS).unwrap_err(), JwsRejection::BadSignature);
}

#[test]
fn a_key_of_another_type_than_the_algorithm_is_a_mismatch() {
    let rsa = SigningKey::generate(SigningAlg::RS256).unwrap();
    let token = sign(&rsa, "JWT", &json!({})).unwrap();
    let confused = forge_header(&token, &json!({"alg": "ES256", "kid": rsa.kid()}));
    assert_eq!(published(&[&rsa]).verify(&confused, &ASYMMETRIC_ALGS).unwrap_err(), JwsRejection::KeyMismatch);
}

#[test]
fn without_a_kid_exactly_one_fitting_key_must_be_published() {
    let one = SigningKey::generate(SigningAlg::ES256).unwrap();
    let two = SigningKey::generate(SigningAlg::ES256).unwrap();
    // Signed over a header without a kid.
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(json!({"alg": "ES256"}).to_string()), URL_SAFE_NO_PAD.encode("{}"));
    let no_kid = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(one.sign(signed.as_bytes()).unwrap()));
    assert!(published(&[&one]).verify(&no_kid, &ASYMMETRIC_ALGS).is_ok());
    assert_eq!(published(&[&one, &two]).verify(&no_kid, &ASYMMETRIC_ALGS).unwrap_err(), JwsRejection::UnknownKey);
}

#[test]
fn encryption_symmetric_and_short_rsa_keys_are_not_loaded() {
    let jwks = json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "mac"},
        {"kty": "RSA", "use": "enc", "n": URL_SAFE_NO_PAD.encode([0xffu8; 256]), "e": "AQAB", "kid": "enc"},
        {"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128]), "e": "AQAB", "kid": "short"},
        {"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521"},
    ]});
    let set = ForeignKeySet::from_jwks(jwks.to_string().as_bytes()).unwrap();
    assert!(set.is_empty());
    assert!(ForeignKeySet::from_jwks(b"{\"not\": \"a jwks\"}").is_none());
}

#[test]
fn the_kid_is_read_without_trusting_it() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let token = sign(&key, "JWT", &json!({})).unwrap();
    assert_eq!(ForeignKeySet::kid_of(&token).as_deref(), Some(key.kid()));
    assert_eq!(ForeignKeySet::kid_of("garbage"), None);
}

#[test]
fn a_token_with_critical_extensions_is_refused() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": key.kid(), "crit": ["b64"], "b64": false}).to_string()),
        URL_SAFE_NO_PAD.encode("{}")
    );
    let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(key.sign(signed.as_bytes()).unwrap()));
    assert_eq!(published(&[&key]).verify(&token, &ASYMMETRIC_ALGS).unwrap_err(), JwsRejection::CriticalExtension);
}
