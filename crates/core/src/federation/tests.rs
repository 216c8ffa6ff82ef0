use super::*;
use crate::Email;

fn domain(d: &str) -> EmailDomain {
    EmailDomain::parse(d).unwrap()
}

fn provider(issuer: &str) -> IdentityProvider {
    IdentityProvider::new_oidc(TenantId::new("t1"), ProviderId::parse("corp").unwrap(), issuer, "gatehouse", vec![domain("fed.test")])
}

#[test]
fn provider_ids_are_lowercase_letters_digits_and_dashes() {
    assert!(ProviderId::parse("corp-2").is_ok());
    for bad in ["", "Corp", "corp_1", "corp/x", &"a".repeat(41)] {
        assert!(ProviderId::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_provider_may_bind_only_its_tenants_own_domains() {
    let p = provider("https://login.example.com");
    assert!(p.validate(&[domain("fed.test")]).is_ok());
    let err = p.validate(&[domain("other.test")]).unwrap_err();
    assert!(err.to_string().contains("fed.test"), "{err}");
    let mut none = p.clone();
    none.domains.clear();
    assert!(none.validate(&[domain("fed.test")]).is_err());
}

#[test]
fn plain_http_upstreams_are_allowed_only_on_loopback() {
    assert!(upstream_url("http://127.0.0.1:9000/issuer").is_ok());
    assert!(upstream_url("http://localhost:9000").is_ok());
    assert!(upstream_url("http://[::1]:9000").is_ok());
    assert!(upstream_url("http://login.example.com").is_err());
    assert!(upstream_url("ftp://login.example.com").is_err());
    assert!(upstream_url("https://user:pw@login.example.com").is_err());
    assert!(upstream_url("https://login.example.com/#frag").is_err());
    assert!(provider("http://login.example.com").validate(&[domain("fed.test")]).is_err());
}

#[test]
fn only_asymmetric_algorithms_may_be_allowed() {
    let mut p = provider("https://login.example.com");
    let Upstream::Oidc(o) = &mut p.upstream else { panic!("an OIDC provider") };
    o.algorithms = vec!["HS256".into()];
    assert!(p.validate(&[domain("fed.test")]).is_err());
}

#[test]
fn an_entra_provider_names_one_directory() {
    let mut p = provider("https://login.microsoftonline.com/common/v2.0");
    p.preset = Preset::Entra;
    assert!(p.validate(&[domain("fed.test")]).is_err(), "no tid allow-list");
    let Upstream::Oidc(o) = &mut p.upstream else { panic!("an OIDC provider") };
    o.allowed_tenant_ids = vec!["tid-1".into()];
    assert!(p.validate(&[domain("fed.test")]).is_err(), "the multi-tenant issuer");
    let Upstream::Oidc(o) = &mut p.upstream else { panic!("an OIDC provider") };
    o.issuer = preset_issuer(Preset::Entra, Some("tid-1")).unwrap();
    assert!(p.validate(&[domain("fed.test")]).is_ok());
}

#[test]
fn a_required_provider_refuses_passwords_except_for_break_glass_accounts() {
    let mut p = provider("https://login.example.com");
    let ann = Email::parse("ann@fed.test").unwrap();
    let admin = Email::parse("root@fed.test").unwrap();
    assert!(!p.refuses_password_for(&ann), "not required");
    p.required = true;
    p.break_glass = vec![admin.clone()];
    assert!(p.refuses_password_for(&ann));
    assert!(!p.refuses_password_for(&admin));
    assert!(!p.refuses_password_for(&Email::parse("ROOT@fed.test").unwrap()), "compared as accounts are");
    assert!(!p.refuses_password_for(&Email::parse("x@elsewhere.test").unwrap()));
}

#[test]
fn home_realm_discovery_finds_the_provider_bound_to_a_domain() {
    let providers = vec![provider("https://login.example.com")];
    assert_eq!(provider_for_domain(&providers, &domain("fed.test")).map(|p| p.key()), Some("t1/corp".into()));
    assert!(provider_for_domain(&providers, &domain("other.test")).is_none());
}

#[test]
fn only_public_addresses_are_reachable_by_admin_typed_urls() {
    let public = |a: &str| is_public_address(a.parse().unwrap());
    for reachable in ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "1.1.1.1", "2002:5db8:d70e::1"] {
        assert!(public(reachable), "{reachable}");
    }
    for refused in [
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "224.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "240.0.0.1",
        "192.0.0.8",
        "::1",
        "::",
        "fc00::1",
        "fd12::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2001:db8::1",
        "64:ff9b::a00:1",
    ] {
        assert!(!public(refused), "{refused}");
    }
}

#[test]
fn a_name_a_scope_or_a_directory_id_that_could_mislead_is_refused() {
    let tenant = [domain("fed.test")];
    for name in ["Sign in\u{0}", "a\u{202e}gnp.exe", "a\u{1b}[31m", "x\u{2066}y", "a\u{2028}b", "\u{feff}Staff"] {
        let p = IdentityProvider { name: name.into(), ..provider("https://login.fed.test") };
        assert!(p.validate(&tenant).is_err(), "{name:?}");
    }
    for scopes in [vec!["email openid"], vec!["a\"b"], vec![""]] {
        let mut p = provider("https://login.fed.test");
        let Upstream::Oidc(o) = &mut p.upstream else { panic!("an OIDC provider") };
        o.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        assert!(p.validate(&tenant).is_err(), "{scopes:?}");
    }
    for directory in ["../../127.0.0.1", "x@127.0.0.1:7300", ""] {
        let mut p = provider("https://login.microsoftonline.com/x/v2.0");
        let Upstream::Oidc(o) = &mut p.upstream else { panic!("an OIDC provider") };
        o.allowed_tenant_ids = vec![directory.to_owned()];
        assert!(p.validate(&tenant).is_err(), "{directory:?}");
    }
    let mut fine = provider("https://login.fed.test");
    let Upstream::Oidc(o) = &mut fine.upstream else { panic!("an OIDC provider") };
    o.scopes = vec!["email".into(), "offline_access".into(), "https://graph.test/User.Read".into()];
    o.allowed_tenant_ids = vec!["72f988bf-86f1-41af-91ab-2d7cd011db47".into()];
    assert_eq!(fine.validate(&tenant), Ok(()));
}
