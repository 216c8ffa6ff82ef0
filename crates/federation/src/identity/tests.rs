use super::*;
use gatehouse_core::EmailDomain;
use gatehouse_core::federation::{ProviderId, Upstream, UpstreamMfa};
use gatehouse_core::ids::TenantId;
use serde_json::{Value, json};

fn provider(preset: Preset) -> IdentityProvider {
    let domains = vec![EmailDomain::parse("fed.test").unwrap()];
    let mut provider = IdentityProvider::new_oidc(TenantId::new("t1"), ProviderId::parse("corp").unwrap(), "https://login.fed.test", "gatehouse", domains);
    let Upstream::Oidc(oidc) = &mut provider.upstream else { panic!("an OIDC provider") };
    oidc.allowed_tenant_ids = vec!["dir-1".into()];
    let mfa_acr_values = vec!["http://schemas.microsoft.com/claims/multipleauthn".into()];
    IdentityProvider { preset, upstream_mfa: UpstreamMfa::IfAsserted, mfa_acr_values, ..provider }
}

fn claims(extra: Value) -> IdTokenClaims {
    let mut base =
        json!({"iss": "https://login.fed.test", "sub": "s-1", "aud": "gatehouse", "exp": 2, "iat": 1, "email": "ann@fed.test", "email_verified": true});
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

#[test]
fn a_generic_provider_keys_the_identity_on_sub_and_trusts_email_verified() {
    let id = from_oidc(&provider(Preset::Generic), claims(json!({}))).unwrap();
    assert_eq!((id.subject.as_str(), id.email_verified), ("s-1", true));
    assert_eq!(id.email.unwrap().as_str(), "ann@fed.test");
    assert!(!id.mfa_asserted);
}

#[test]
fn entra_keys_on_tid_and_oid_and_never_treats_email_as_proof() {
    let id = from_oidc(&provider(Preset::Entra), claims(json!({"tid": "dir-1", "oid": "o-9"}))).unwrap();
    assert_eq!(id.subject, "dir-1:o-9");
    assert!(!id.email_verified, "the email claim is not proof of ownership");
}

#[test]
fn entra_refuses_a_directory_off_the_allow_list_and_a_missing_oid() {
    assert_eq!(from_oidc(&provider(Preset::Entra), claims(json!({"tid": "dir-2", "oid": "o"}))).unwrap_err(), Rejection::Directory);
    assert_eq!(from_oidc(&provider(Preset::Entra), claims(json!({"tid": "dir-1"}))).unwrap_err(), Rejection::ObjectId);
}

#[test]
fn google_requires_the_hosted_domain_to_be_the_bound_one() {
    assert!(from_oidc(&provider(Preset::Google), claims(json!({"hd": "fed.test"}))).is_ok());
    assert_eq!(from_oidc(&provider(Preset::Google), claims(json!({"hd": "gmail.com"}))).unwrap_err(), Rejection::HostedDomain);
    assert_eq!(from_oidc(&provider(Preset::Google), claims(json!({}))).unwrap_err(), Rejection::HostedDomain, "a consumer account has no hd");
}

#[test]
fn multi_factor_is_asserted_by_amr_or_a_listed_acr() {
    assert!(from_oidc(&provider(Preset::Generic), claims(json!({"amr": ["pwd", "mfa"]}))).unwrap().mfa_asserted);
    assert!(from_oidc(&provider(Preset::Generic), claims(json!({"amr": ["hwk"]}))).unwrap().mfa_asserted);
    assert!(!from_oidc(&provider(Preset::Generic), claims(json!({"amr": ["pwd"]}))).unwrap().mfa_asserted);
    let acr = claims(json!({"acr": "http://schemas.microsoft.com/claims/multipleauthn"}));
    assert!(from_oidc(&provider(Preset::Generic), acr).unwrap().mfa_asserted);
    assert!(!from_oidc(&provider(Preset::Generic), claims(json!({"acr": "1"}))).unwrap().mfa_asserted);
    assert_eq!(from_oidc(&provider(Preset::Generic), claims(json!({"amr": ["mfa", "pwd"]}))).unwrap().first_method.as_deref(), Some("pwd"));
}

#[test]
fn adfs_reads_the_upn_and_the_domain_binding_is_the_proof() {
    let mut c = json!({"upn": "ann@fed.test", "email_verified": false});
    c["email"] = Value::Null;
    let id = from_oidc(&provider(Preset::Adfs), claims(c)).unwrap();
    assert_eq!(id.email.unwrap().as_str(), "ann@fed.test");
    assert!(id.email_verified);
}

#[test]
fn an_address_beyond_ascii_is_no_address() {
    let kelvin = claims(json!({"email": "\u{212a}evin@fed.test"}));
    assert_eq!(from_oidc(&provider(Preset::Generic), kelvin).unwrap().email, None, "the Kelvin sign would fold into kevin@");
}

#[test]
fn quoted_or_commented_local_parts_are_no_address() {
    for address in ["\"alice\"@fed.test", "alice(x)@fed.test", "\"al\\ice\"@fed.test", "al..ice@fed.test", ".alice@fed.test"] {
        assert_eq!(from_oidc(&provider(Preset::Generic), claims(json!({ "email": address }))).unwrap().email, None, "{address}");
    }
    assert!(from_oidc(&provider(Preset::Generic), claims(json!({ "email": "ann.o'hara+hr@fed.test" }))).unwrap().email.is_some());
}
