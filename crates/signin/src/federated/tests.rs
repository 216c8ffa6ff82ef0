use super::*;
use gatehouse_core::EmailDomain;
use gatehouse_core::federation::ProviderId;
use gatehouse_core::ids::TenantId;

fn provider(provisioning: Provisioning) -> IdentityProvider {
    let domains = vec![EmailDomain::parse("fed.test").unwrap()];
    IdentityProvider {
        provisioning,
        ..IdentityProvider::new_oidc(TenantId::new("fed"), ProviderId::parse("corp").unwrap(), "https://login.fed.test", "gh", domains)
    }
}

fn user(id: &str, tenant: &str, email: &str) -> User {
    let mut u = crate::parked::tests::ann(id, tenant);
    u.email = Email::parse(email).unwrap();
    u
}

fn found(user: &User) -> Option<ByEmail<'_>> {
    Some(ByEmail { user, already_linked: false })
}

fn vouched(email: &Email, verified: bool) -> Vouched<'_> {
    Vouched { issuer: "https://login.fed.test", subject: "s-1", email: Some(email), email_verified: verified }
}

#[test]
fn a_linked_identity_signs_in_its_account_whatever_the_email_says() {
    let ann = user("u1", "fed", "ann@fed.test");
    let other = Email::parse("someone@else.test").unwrap();
    assert_eq!(resolve(&provider(Provisioning::Existing), &vouched(&other, false), Some(&ann), None), Resolution::Linked(ann.id.clone()));
}

#[test]
fn a_link_to_another_tenants_account_is_refused() {
    let stranger = user("u9", "other", "x@other.test");
    let email = Email::parse("ann@fed.test").unwrap();
    assert_eq!(resolve(&provider(Provisioning::Jit), &vouched(&email, true), Some(&stranger), None), Resolution::Refuse(Refusal::LinkedElsewhere));
}

#[test]
fn jit_creates_an_account_only_for_an_email_on_the_providers_domains() {
    let email = Email::parse("new@fed.test").unwrap();
    assert_eq!(resolve(&provider(Provisioning::Jit), &vouched(&email, false), None, None), Resolution::Create(email.clone()));
    let elsewhere = Email::parse("new@other.test").unwrap();
    assert_eq!(resolve(&provider(Provisioning::Jit), &vouched(&elsewhere, true), None, None), Resolution::Refuse(Refusal::DomainNotBound));
}

#[test]
fn without_jit_an_unknown_person_is_refused() {
    let email = Email::parse("new@fed.test").unwrap();
    assert_eq!(resolve(&provider(Provisioning::Existing), &vouched(&email, true), None, None), Resolution::Refuse(Refusal::NoAccount));
}

#[test]
fn an_existing_account_is_linked_only_when_the_upstream_verified_the_email() {
    let ann = user("u1", "fed", "ann@fed.test");
    assert_eq!(resolve(&provider(Provisioning::Jit), &vouched(&ann.email, true), None, found(&ann)), Resolution::LinkExisting(ann.id.clone()));
    assert_eq!(resolve(&provider(Provisioning::Jit), &vouched(&ann.email, false), None, found(&ann)), Resolution::Refuse(Refusal::UnverifiedEmail));
}

#[test]
fn an_account_another_identity_holds_is_never_linked_by_email() {
    // A squatter's identity created (or claimed) the account first: the real owner of the
    // address, another upstream subject, does not get into it (nor the squatter into theirs).
    let squatted = user("u1", "fed", "ceo@fed.test");
    let held = Some(ByEmail { user: &squatted, already_linked: true });
    assert_eq!(resolve(&provider(Provisioning::Jit), &vouched(&squatted.email, true), None, held), Resolution::Refuse(Refusal::AccountLinkedToAnother));
}

#[test]
fn an_account_whose_address_was_never_verified_is_never_linked_by_email() {
    let mut unverified = user("u1", "fed", "ceo@fed.test");
    unverified.email_verified = false;
    assert_eq!(
        resolve(&provider(Provisioning::Jit), &vouched(&unverified.email, true), None, found(&unverified)),
        Resolution::Refuse(Refusal::AccountUnverified)
    );
}

#[test]
fn an_account_of_another_tenant_is_never_linked() {
    let bob = user("u2", "other", "bob@fed.test");
    assert_eq!(resolve(&provider(Provisioning::Jit), &vouched(&bob.email, true), None, found(&bob)), Resolution::Refuse(Refusal::OtherTenant));
}

#[test]
fn no_email_no_account() {
    let v = Vouched { issuer: "i", subject: "s", email: None, email_verified: true };
    assert_eq!(resolve(&provider(Provisioning::Jit), &v, None, None), Resolution::Refuse(Refusal::NoEmail));
}

#[test]
fn the_providers_mfa_counts_as_the_setting_says() {
    let mut p = provider(Provisioning::Jit);
    assert!(!mfa_trusted(&p, true), "never");
    p.upstream_mfa = UpstreamMfa::IfAsserted;
    assert!(mfa_trusted(&p, true) && !mfa_trusted(&p, false));
    assert!(ask_provider_first(&p, false) && !ask_provider_first(&p, true));
    p.upstream_mfa = UpstreamMfa::Always;
    assert!(mfa_trusted(&p, false));
    assert!(!ask_provider_first(&p, false), "an always-trusted provider was asked already");
}
