//! Third-party sign-in over SAML 2.0 against an independent provider: pysaml2 signing with the
//! xmlsec1 tool plays a company's ADFS (`support::saml_idp`), and a scripted browser goes from
//! the application through Gatehouse to the provider and back. The trip out, the ACS and its
//! browser binding, every check of the answer (unsigned, another key, SHA-1, wrapped, a
//! comment in the NameID, wrong audience, expired, replayed, unsolicited), and the step-up
//! that asks the provider for multi-factor authentication.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::federation::{claims_for, continue_link, identify, refusals};
use crate::support::api::{call, ids_of_tenant, operator};
use crate::support::app::TestApp;
use crate::support::browser::{Browser, hidden, location};
use crate::support::fixtures::basic::PAYROLL_CB;
use crate::support::saml_idp::{SamlIdp, available, spawn_saml_pair};

const MULTIPLE_AUTHN: &str = "http://schemas.microsoft.com/claims/multipleauthn";

/// Saml Oy (saml.test, JIT, the email from the `mail` attribute, IdP-initiated sign-in
/// allowed) with Alice already there; Step Oy (step.test), requiring 2FA, counting the
/// provider's `multipleauthn`, taking IdP-initiated sign-ins from the same IdP too; Api Oy
/// (api.test), whose provider an operator sets up through the API.
fn fixture(metadata: &str) -> String {
    // Three more tenants take the same IdP's portal answers: five in all, none able to take or
    // block another's (the second attack round blocked everyone with a fifth). Zed1 reads the
    // email from `otherMail`, which makes an answer carrying both addresses ambiguous.
    let others: String = (1..=3)
        .map(|n| {
            let attribute = if n == 1 { "  email_attribute = \"otherMail\"\n" } else { "" };
            format!(
                "\n[[tenant]]\nname = \"Zed{n} Oy\"\ndomains = [\"zed{n}.test\"]\n  [[tenant.identity_provider]]\n  id = \"adfs\"\n  name = \"Zed{n} staff\"\n  protocol = \"saml\"\n  metadata_file = \"{metadata}\"\n  domains = [\"zed{n}.test\"]\n  allow_idp_initiated = true\n{attribute}"
            )
        })
        .collect();
    format!(
        r#"
[[tenant]]
name = "Saml Oy"
domains = ["saml.test"]
  [[tenant.user]]
  email = "alice@saml.test"
  name = "Alice"
  password = "a long test passphrase"
  [[tenant.identity_provider]]
  id = "adfs"
  name = "Saml Oy staff"
  protocol = "saml"
  preset = "adfs"
  metadata_file = "{metadata}"
  domains = ["saml.test"]
  provisioning = "jit"
  email_attribute = "mail"
  allow_idp_initiated = true

[[tenant]]
name = "Step Oy"
domains = ["step.test"]
  [tenant.policy]
  two_factor = "required"
  [[tenant.identity_provider]]
  id = "adfs"
  name = "Step Oy staff"
  protocol = "saml"
  metadata_file = "{metadata}"
  domains = ["step.test"]
  provisioning = "jit"
  upstream_mfa = "if_asserted"
  allow_idp_initiated = true
  mfa_acr_values = ["{MULTIPLE_AUTHN}"]

[[tenant]]
name = "Api Oy"
domains = ["api.test"]
{others}
[[application]]
client_id = "payroll"
name = "Payroll"
client_secret = "payroll-secret-0123456789-abcdefghijklmnopqrstuv"
redirect_uris = ["http://127.0.0.1:9999/cb"]
grant_types = ["authorization_code"]

[[application]]
client_id = "ops"
name = "Operations console"
client_secret = "two-factor-secret-0123456789-abcdefghijklmnopq"
grant_types = ["client_credentials"]
operator = true
"#
    )
}

fn person(name_id: &str, email: &str, name: &str) -> Value {
    json!({ "name_id": name_id, "attributes": { "mail": [email], "displayName": [name] } })
}

fn accounts() -> Value {
    let mut accounts = json!({
        "new@saml.test": person("new-1", "new@saml.test", "New Person"),
        "alice@saml.test": person("alice-1", "alice@saml.test", "Alice Upstream"),
        "ext@saml.test": person("ext-1", "ext@elsewhere.test", "Outsider"),
        "api@api.test": person("api-1", "api@api.test", "Api Person"),
    });
    accounts["both@saml.test"] = json!({ "name_id": "both-1", "attributes": { "mail": ["both@saml.test"], "otherMail": ["both@zed1.test"] } });
    accounts["pat@step.test"] = json!({ "name_id": "pat-1", "attributes": { "mail": ["pat@step.test"] }, "step_up_authn_context": MULTIPLE_AUTHN });
    accounts
}

async fn pair() -> Option<(TestApp, SamlIdp, crate::support::app::TempDir)> {
    if !available() {
        return None;
    }
    Some(spawn_saml_pair(&accounts(), fixture).await)
}

/// The provider's answer as its page carries it: (SAMLResponse, RelayState).
type Answer = (String, String);

/// Types `email` on the first step and follows the trip to the provider; returns its answer.
async fn answer_for(browser: &Browser, app: &TestApp, email: &str) -> Answer {
    let (status, html) = identify(browser, app, email).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let to_idp = continue_link(&html).unwrap_or_else(|| panic!("{email}'s domain should lead to its provider: {html}"));
    answer_at(browser, &to_idp).await
}

async fn answer_at(browser: &Browser, idp_url: &str) -> Answer {
    let page = browser.get(idp_url).await;
    assert_eq!(page.status(), StatusCode::OK, "the provider answers with its form");
    let html = page.text().await.unwrap();
    (hidden(&html, "SAMLResponse").expect("a SAMLResponse"), hidden(&html, "RelayState").expect("a RelayState"))
}

async fn post_answer(browser: &Browser, app: &TestApp, answer: &Answer, extra: &[(&str, &str)]) -> Response {
    let mut form = vec![("SAMLResponse", answer.0.as_str()), ("RelayState", answer.1.as_str())];
    form.extend_from_slice(extra);
    browser.http.post(app.url("/saml/acs")).form(&form).send().await.unwrap()
}

/// The application's callback an ACS answer redirects to.
fn to_client(response: &Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the ACS redirects");
    let next = location(response);
    assert!(next.starts_with(PAYROLL_CB), "back at the application, not {next}");
    next
}

fn decoded(answer: &Answer) -> String {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(&answer.0).unwrap()).unwrap()
}

fn encoded(xml: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(xml)
}

#[tokio::test]
async fn a_person_signs_in_through_a_saml_provider_and_gets_an_account_just_in_time() {
    let Some((app, idp, _dir)) = pair().await else { return };
    let metadata = reqwest::get(app.url("/saml/metadata")).await.unwrap();
    assert_eq!(metadata.headers()["content-type"], "application/samlmetadata+xml");
    let metadata = metadata.text().await.unwrap();
    assert!(metadata.contains(&format!("entityID=\"{}/saml/metadata\"", app.issuer)), "the entityID is the metadata's URL");
    assert!(metadata.contains(&format!("Location=\"{}/saml/acs\"", app.issuer)) && metadata.contains("HTTP-POST"));

    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let callback = to_client(&post_answer(&browser, &app, &answer, &[]).await);
    let claims = claims_for(&app, &callback).await;
    assert_eq!((claims["email"].as_str(), claims["name"].as_str()), (Some("new@saml.test"), Some("New Person")));
    assert!(claims["idp"].as_str().unwrap().ends_with("/adfs"), "the token names the provider: {claims}");

    let sent = idp.requests().await;
    let request = sent.last().unwrap();
    assert_eq!(request["binding"], "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "Redirect, as the metadata offers it");
    assert_eq!(request["issuer"], format!("{}/saml/metadata", app.issuer));
    assert_eq!(request["acs"], format!("{}/saml/acs", app.issuer));
    assert_eq!(request["login_hint"], "new@saml.test");
    assert!(request["id"].as_str().unwrap().len() > 40, "a request ID of 256 random bits");

    // An existing account on the provider's domain is linked (SAML: the binding is the proof).
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "alice@saml.test").await;
    let claims = claims_for(&app, &to_client(&post_answer(&browser, &app, &answer, &[]).await)).await;
    assert_eq!(claims["email"], "alice@saml.test");
    assert_eq!(claims["name"], "Alice Upstream", "the name follows the upstream");
}

#[tokio::test]
async fn an_answer_without_the_flow_cookie_is_posted_again_from_gatehouse_and_refused_in_another_browser() {
    let Some((app, _idp, _dir)) = pair().await else { return };
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;

    // The provider's cross-site POST carries no SameSite=Lax cookie: Gatehouse posts it again.
    let stranger = Browser::new();
    let bounce = post_answer(&stranger, &app, &answer, &[]).await;
    assert_eq!(bounce.status(), StatusCode::OK);
    let csp = bounce.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let page = bounce.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{}/saml/acs\"", app.issuer)) && hidden(&page, "resubmitted").as_deref() == Some("1"), "{page}");
    assert!(csp.contains("form-action"), "{csp}");
    // Posted again without the cookie: another browser's answer, refused, the trip kept.
    let refused = post_answer(&stranger, &app, &answer, &[("resubmitted", "1")]).await;
    assert_ne!(refused.status(), StatusCode::SEE_OTHER, "no sign-in in another browser");
    // The browser that started the sign-in finishes it.
    to_client(&post_answer(&browser, &app, &answer, &[("resubmitted", "1")]).await);
}

/// Starts `email`'s sign-in with the provider's next answer made wrong by `options`, posts it
/// and returns Gatehouse's answer.
async fn wrong_answer(app: &TestApp, idp: &SamlIdp, options: Value) -> Response {
    idp.next(&options).await;
    let browser = Browser::new();
    let answer = answer_for(&browser, app, "new@saml.test").await;
    post_answer(&browser, app, &answer, &[]).await
}

async fn assert_refused(app: &TestApp, response: Response, check: &str) {
    assert_eq!(response.status(), StatusCode::OK, "the sign-in page again");
    let page = response.text().await.unwrap();
    assert!(!page.contains(check), "the check stays out of the browser");
    let recorded = refusals(app).await;
    assert!(recorded.last().is_some_and(|r| r.contains(check)), "the history names `{check}`: {recorded:?}");
}

#[tokio::test]
async fn each_check_of_the_answer_refuses_a_wrong_one_and_names_it_for_the_admin() {
    let Some((app, idp, _dir)) = pair().await else { return };
    assert_refused(&app, wrong_answer(&app, &idp, json!({ "sign": "none" })).await, "signature does not verify").await;
    assert_refused(&app, wrong_answer(&app, &idp, json!({ "sign": "other_key" })).await, "signature does not verify").await;
    assert_refused(&app, wrong_answer(&app, &idp, json!({ "sign": "sha1" })).await, "rsa-sha1").await;
    assert_refused(&app, wrong_answer(&app, &idp, json!({ "audience": "https://another-sp.test/saml" })).await, "Audience").await;
    assert_refused(&app, wrong_answer(&app, &idp, json!({ "lifetime_minutes": -10 })).await, "expired").await;
    assert_refused(&app, wrong_answer(&app, &idp, json!({ "in_response_to": "_another_request" })).await, "InResponseTo").await;
}

#[tokio::test]
async fn a_wrapped_or_commented_answer_is_refused_though_its_signature_verifies() {
    let Some((app, _idp, _dir)) = pair().await else { return };
    // Signature wrapping: the signed assertion moved aside, an assertion of the attacker's
    // where the reader looks.
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let xml = decoded(&answer);
    let start = xml.find("<ns1:Assertion").unwrap();
    let end = xml.find("</ns1:Assertion>").unwrap() + "</ns1:Assertion>".len();
    let signed = &xml[start..end];
    let forged = signed.replace("new-1", "ceo-1").replace("new@saml.test", "ceo@saml.test");
    let forged = forged.replacen("ID=\"", "ID=\"forged", 1);
    let wrapped = format!("{}<ns0:Extensions>{signed}</ns0:Extensions>{forged}{}", &xml[..start], &xml[end..]);
    let response = post_answer(&browser, &app, &(encoded(&wrapped), answer.1.clone()), &[]).await;
    assert_refused(&app, response, "exactly one assertion").await;

    // A comment in the NameID leaves the signature valid (c14n drops it): refused outright.
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let commented = decoded(&answer).replacen(">new-1<", ">new<!---->-1<", 1);
    let response = post_answer(&browser, &app, &(encoded(&commented), answer.1.clone()), &[]).await;
    assert_refused(&app, response, "comment").await;

    // A DTD never reaches a parser.
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let xml = decoded(&answer);
    let with_dtd = xml.replacen("<?xml version=\"1.0\"?>", "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x \"y\">]>", 1);
    assert_ne!(with_dtd, xml);
    let response = post_answer(&browser, &app, &(encoded(&with_dtd), answer.1.clone()), &[]).await;
    assert_refused(&app, response, "DTD").await;
}

/// A change to a response's XML, given the provider's entityID.
type Edit = dyn Fn(&str, &str) -> String;

#[tokio::test]
async fn an_encrypted_assertion_opens_with_the_key_the_sp_metadata_publishes() {
    let Some((app, idp, _dir)) = pair().await else { return };
    let metadata = reqwest::get(app.url("/saml/metadata")).await.unwrap().text().await.unwrap();
    assert!(metadata.contains(r#"<md:KeyDescriptor use="encryption">"#) && metadata.contains("X509Certificate"), "{metadata}");
    let gcm_first = metadata.find("xmlenc11#aes256-gcm").unwrap() < metadata.find("xmlenc#aes256-cbc").unwrap();
    assert!(gcm_first, "AES-GCM offered first");
    // The provider reads the certificate from that metadata. ADFS and Entra ID encrypt with
    // AES-256-CBC, others with AES-GCM; a response signed as well as its assertion still signs in.
    for (content, sign) in [("aes256-cbc", "assertion"), ("aes128-gcm", "assertion"), ("aes256-gcm", "both")] {
        idp.next(&json!({ "encrypt": content, "sign": sign })).await;
        let browser = Browser::new();
        let answer = answer_for(&browser, &app, "new@saml.test").await;
        let xml = decoded(&answer);
        assert!(xml.contains("EncryptedAssertion") && !xml.contains("new-1"), "{content}: the NameID travels encrypted");
        let claims = claims_for(&app, &to_client(&post_answer(&browser, &app, &answer, &[]).await)).await;
        assert_eq!(claims["email"], "new@saml.test", "{content}");
    }
}

#[tokio::test]
async fn an_encrypted_assertion_must_carry_its_own_signature_and_open_with_gatehouses_key_by_an_accepted_algorithm() {
    let Some((app, idp, _dir)) = pair().await else { return };
    // Anyone can encrypt to Gatehouse's public certificate: only the response was signed, and
    // that signature covered what is no longer there.
    let response_signed = wrong_answer(&app, &idp, json!({ "encrypt": "aes256-gcm", "sign": "response" })).await;
    assert_refused(&app, response_signed, "signature does not verify").await;
    let to_another_key = wrong_answer(&app, &idp, json!({ "encrypt": "aes256-gcm", "encrypt_to": "other" })).await;
    assert_refused(&app, to_another_key, "does not open with Gatehouse's key").await;
    // pysaml2's own default: Triple DES.
    assert_refused(&app, wrong_answer(&app, &idp, json!({ "encrypt": "tripledes-cbc" })).await, "tripledes-cbc").await;
    // An encrypted assertion beside a plain one: two assertions.
    let browser = Browser::new();
    idp.next(&json!({ "encrypt": "aes256-gcm" })).await;
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let xml = decoded(&answer);
    let plain = decoded(&answer_for(&Browser::new(), &app, "new@saml.test").await);
    let start = plain.find("<ns1:Assertion").unwrap();
    let end = plain.find("</ns1:Assertion>").unwrap() + "</ns1:Assertion>".len();
    let at = xml.find("</ns0:Response>").unwrap();
    let both = format!("{}{}{}", &xml[..at], &plain[start..end], &xml[at..]);
    assert_refused(&app, post_answer(&browser, &app, &(encoded(&both), answer.1.clone()), &[]).await, "exactly one assertion").await;
    // A session key is opened once: the same encrypted assertion in another sign-in, as it was
    // or relabelled from GCM to CBC, is refused before anything is decrypted.
    let browser = Browser::new();
    idp.next(&json!({ "encrypt": "aes256-gcm" })).await;
    let first = answer_for(&browser, &app, "new@saml.test").await;
    to_client(&post_answer(&browser, &app, &first, &[]).await);
    let used = decoded(&first);
    let relabelled = used.replace("http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2001/04/xmlenc#aes256-cbc");
    assert_ne!(relabelled, used);
    for (what, xml) in [("as it was", used.clone()), ("relabelled", relabelled)] {
        let browser = Browser::new();
        let trip = answer_for(&browser, &app, "new@saml.test").await;
        let response = post_answer(&browser, &app, &(encoded(&xml), trip.1.clone()), &[]).await;
        assert_ne!(response.status(), StatusCode::SEE_OTHER, "{what}");
        assert_refused(&app, response, "session key was used before").await;
    }
    // A tampered ciphertext spends its key too: the untampered one cannot follow.
    let browser = Browser::new();
    idp.next(&json!({ "encrypt": "aes256-cbc" })).await;
    let original = answer_for(&browser, &app, "new@saml.test").await;
    let xml = decoded(&original);
    // The content's CipherValue is the last one (the wrapped key's comes first).
    let close = xml.rfind("CipherValue>").unwrap();
    let data = xml[..close].rfind("CipherValue>").unwrap() + "CipherValue>".len();
    let at = (data + 30..close).find(|&i| xml.as_bytes()[i].is_ascii_alphanumeric()).unwrap();
    let flipped = if xml.as_bytes()[at] == b'A' { 'B' } else { 'A' };
    let tampered = format!("{}{flipped}{}", &xml[..at], &xml[at + 1..]);
    assert_refused(&app, post_answer(&browser, &app, &(encoded(&tampered), original.1.clone()), &[]).await, "does not open").await;
    let browser = Browser::new();
    let trip = answer_for(&browser, &app, "new@saml.test").await;
    let response = post_answer(&browser, &app, &(original.0.clone(), trip.1.clone()), &[]).await;
    assert_refused(&app, response, "session key was used before").await;
    // The one encrypted assertion, moved out of its place into the response's Extensions.
    let browser = Browser::new();
    idp.next(&json!({ "encrypt": "aes256-gcm" })).await;
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let xml = decoded(&answer);
    let start = xml.find("<ns1:EncryptedAssertion").unwrap();
    let end = xml.find("</ns1:EncryptedAssertion>").unwrap() + "</ns1:EncryptedAssertion>".len();
    let at = xml.find("</ns0:Response>").unwrap();
    let moved = format!("{}{}<ns0:Extensions>{}</ns0:Extensions>{}", &xml[..start], &xml[end..at], &xml[start..end], &xml[at..]);
    assert_refused(&app, post_answer(&browser, &app, &(encoded(&moved), answer.1.clone()), &[]).await, "not a child of the Response").await;
}

#[tokio::test]
async fn the_responses_own_status_issuer_and_destination_count_though_only_the_assertion_is_signed() {
    let Some((app, idp, _dir)) = pair().await else { return };
    let success = "urn:oasis:names:tc:SAML:2.0:status:Success";
    let acs = format!("{}/saml/acs", app.issuer);
    let another_request = |xml: &str, _: &str| {
        let at = xml.find("InResponseTo=\"").unwrap() + "InResponseTo=\"".len();
        let end = xml[at..].find('"').unwrap() + at;
        format!("{}_another{}", &xml[..at], &xml[end..])
    };
    let edits: [(&str, Box<Edit>, &str); 4] = [
        ("another InResponseTo on the envelope", Box::new(another_request), "InResponseTo"),
        ("a failure status", Box::new(move |xml, _| xml.replacen(success, "urn:oasis:names:tc:SAML:2.0:status:Requester", 1)), "StatusCode"),
        ("another issuer", Box::new(|xml, idp| xml.replacen(&format!(">{idp}<"), ">https://evil.test/idp<", 1)), "Issuer"),
        (
            "another destination",
            Box::new(move |xml, _| xml.replacen(&format!("Destination=\"{acs}\""), "Destination=\"https://evil.test/acs\"", 1)),
            "Destination",
        ),
    ];
    let idp_entity = format!("{}/metadata", idp.base);
    for (what, edit, check) in edits {
        let browser = Browser::new();
        let answer = answer_for(&browser, &app, "new@saml.test").await;
        let xml = decoded(&answer);
        let edited = edit(&xml, &idp_entity);
        assert_ne!(edited, xml, "{what}: the edit applies");
        assert_refused(&app, post_answer(&browser, &app, &(encoded(&edited), answer.1.clone()), &[]).await, check).await;
    }
}

#[tokio::test]
async fn an_answer_is_accepted_once_and_an_assertion_id_only_once() {
    let Some((app, idp, _dir)) = pair().await else { return };
    let browser = Browser::new();
    idp.next(&json!({ "assertion_id": "_once" })).await;
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    to_client(&post_answer(&browser, &app, &answer, &[]).await);
    // The same answer again finds its trip spent.
    let again = post_answer(&browser, &app, &answer, &[]).await;
    assert_ne!(again.status(), StatusCode::SEE_OTHER, "a replayed answer signs nobody in");
    // A new answer carrying an assertion ID already used is a replay, across sign-ins.
    idp.next(&json!({ "assertion_id": "_once" })).await;
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    assert_refused(&app, post_answer(&browser, &app, &answer, &[]).await, "already used").await;
}

#[tokio::test]
async fn an_unsolicited_answer_or_an_email_off_the_providers_domains_signs_nobody_in() {
    let Some((app, _idp, _dir)) = pair().await else { return };
    // An answer to no request of this browser's: its RelayState names no sign-in.
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let unsolicited = post_answer(&browser, &app, &(answer.0.clone(), "nothing.here".into()), &[]).await;
    assert_ne!(unsolicited.status(), StatusCode::SEE_OTHER);
    let no_relay = browser.http.post(app.url("/saml/acs")).form(&[("SAMLResponse", answer.0.as_str())]).send().await.unwrap();
    assert_ne!(no_relay.status(), StatusCode::SEE_OTHER);
    // The provider asserts an address on a domain it is not bound to.
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "ext@saml.test").await;
    let response = post_answer(&browser, &app, &answer, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let recorded = refusals(&app).await;
    assert!(recorded.last().is_some_and(|r| r.contains("domain_not_bound")), "{recorded:?}");
}

#[tokio::test]
async fn a_policy_wanting_two_factors_asks_the_saml_provider_for_them_first() {
    let Some((app, idp, _dir)) = pair().await else { return };
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "pat@step.test").await;
    // The password-only answer: Gatehouse goes back to the provider asking for multi-factor.
    let step_up = post_answer(&browser, &app, &answer, &[]).await;
    assert_eq!(step_up.status(), StatusCode::SEE_OTHER);
    let to_idp = location(&step_up);
    assert!(to_idp.starts_with(&idp.base), "back to the provider: {to_idp}");
    let answer = answer_at(&browser, &to_idp).await;
    let sent = idp.requests().await;
    let request = sent.last().unwrap();
    assert_eq!(request["contexts"], json!([MULTIPLE_AUTHN]), "RequestedAuthnContext names the provider's multi-factor class");
    assert_eq!(request["force_authn"], "true", "ForceAuthn: a fresh authentication");
    let claims = claims_for(&app, &to_client(&post_answer(&browser, &app, &answer, &[]).await)).await;
    assert_eq!(claims["email"], "pat@step.test");
    assert!(claims["amr"].as_array().unwrap().iter().any(|m| m == "mfa"), "the provider's proof counts: {claims}");
}

#[tokio::test]
async fn a_saml_provider_set_up_through_the_api_with_its_metadata_pasted_signs_its_people_in() {
    let Some((app, idp, _dir)) = pair().await else { return };
    let ops = operator(&app).await;
    let tenant = ids_of_tenant(&app, &ops, "Api Oy").await;
    let body = json!({
        "name": "Api Oy staff",
        "protocol": "saml",
        "metadata": idp.metadata().await,
        "domains": ["api.test"],
        "provisioning": "jit",
    });
    let created = call(&app, reqwest::Method::PUT, &format!("/api/v1/tenants/{tenant}/identity-providers/adfs"), &ops, Some(body)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["protocol"], "saml");
    assert_eq!(created["saml"]["sp_entity_id"], format!("{}/saml/metadata", app.issuer), "the values to register");
    assert_eq!(created["saml"]["acs_url"], format!("{}/saml/acs", app.issuer));
    assert_eq!(created["saml"]["idp_entity_id"], format!("{}/metadata", idp.base));

    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "api@api.test").await;
    let claims = claims_for(&app, &to_client(&post_answer(&browser, &app, &answer, &[]).await)).await;
    assert_eq!((claims["email"].as_str(), claims["idp"].as_str()), (Some("api@api.test"), Some(format!("{tenant}/adfs").as_str())));

    // The audit trail names the pinned certificate, not the document.
    let db = crate::support::app::read_only_db(&app.data_dir()).await;
    let after: String = sqlx::query_scalar("SELECT after FROM audit_records WHERE action = 'tenant.identity_provider.create'").fetch_one(&db).await.unwrap();
    let after: Value = serde_json::from_str(&after).unwrap();
    let pinned = after["provider"]["upstream"]["signing_certificates_sha256"].as_array().unwrap();
    assert!(pinned.len() == 1 && pinned[0].as_str().unwrap().len() == 64, "{after}");
    assert!(!after.to_string().contains("X509Certificate"), "the metadata document stays out");
}

/// The provider's portal tile: an unsolicited answer for `account`, as (SAMLResponse, RelayState).
async fn from_portal(idp: &SamlIdp, account: &str) -> Answer {
    let page = Browser::new().get(&format!("{}/idp-initiated?account={account}", idp.base)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    (hidden(&html, "SAMLResponse").expect("a SAMLResponse"), hidden(&html, "RelayState").unwrap_or_default())
}

#[tokio::test]
async fn an_idp_initiated_answer_starts_a_sign_in_of_the_browsers_own_where_the_provider_allows_it() {
    let Some((app, idp, dir)) = pair().await else { return };
    let unsolicited = from_portal(&idp, "new@saml.test").await;
    assert!(!decoded(&unsolicited).contains("InResponseTo"), "the portal's answer names no request");
    // Verified, it sends the browser to start a sign-in of its own, for that person.
    let browser = Browser::new();
    let started = post_answer(&browser, &app, &unsolicited, &[]).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&started), format!("{}/console/sign-in?login_hint=new%40saml.test", app.issuer));
    let authorize = browser.get(&location(&started)).await;
    assert!(location(&authorize).contains("login_hint=new%40saml.test"), "the account page's sign-in carries the hint");
    let to_idp = browser.get(&location(&authorize)).await;
    let to_idp = location(&to_idp);
    assert!(to_idp.starts_with(&idp.base), "the hint on a bound domain goes straight to the provider: {to_idp}");
    // The provider's session answers that request; this browser is signed in to its account page.
    let answer = answer_at(&browser, &to_idp).await;
    let back = post_answer(&browser, &app, &answer, &[]).await;
    assert!(location(&back).starts_with(&format!("{}/console/callback?", app.issuer)), "{}", location(&back));
    let to_account = location(&browser.get(&location(&back)).await);
    assert_eq!(to_account, "/account", "back at the account page");
    let account = browser.get(&app.url(&to_account)).await;
    assert_eq!(account.status(), StatusCode::OK);
    assert!(account.text().await.unwrap().contains("new@saml.test"), "signed in as the person the provider named");

    // The portal's answer is taken once.
    let again = post_answer(&Browser::new(), &app, &unsolicited, &[]).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a replayed unsolicited answer");
    assert_logged(&dir, "already used (replay)", 1).await;
    // Step Oy takes the same IdP's portal answers: each goes to the provider whose domains hold
    // the address, encrypted ones too.
    idp.next(&json!({ "encrypt": "aes128-gcm" })).await;
    let encrypted = from_portal(&idp, "pat@step.test").await;
    assert!(decoded(&encrypted).contains("EncryptedAssertion"));
    let started = post_answer(&Browser::new(), &app, &encrypted, &[]).await;
    assert_eq!(location(&started), format!("{}/console/sign-in?login_hint=pat%40step.test", app.issuer));
}

/// Waits for Gatehouse's log to name `check` `times` times (refusals of unsolicited answers
/// are logged, with no sign-in to record them in).
async fn assert_logged(dir: &crate::support::app::TempDir, check: &str, times: usize) {
    let mut logged = String::new();
    for _ in 0..50 {
        logged = std::fs::read_to_string(dir.path().join("gatehouse.log")).unwrap_or_default();
        if logged.matches(check).count() >= times {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the log should name `{check}` {times} time(s): {logged}");
}

#[tokio::test]
async fn an_unsolicited_answer_is_refused_where_not_allowed_off_the_domains_or_when_it_answers_a_request() {
    let Some((app, idp, dir)) = pair().await else { return };
    // The IdP asserts an address on neither provider's domains (both take its portal's answers).
    let off_domain = post_answer(&Browser::new(), &app, &from_portal(&idp, "ext@saml.test").await, &[]).await;
    assert_eq!(off_domain.status(), StatusCode::BAD_REQUEST);
    assert_logged(&dir, "domain_not_bound", 1).await;
    // Two tenants pinning the IdP each read the answer as one of their own addresses (Saml Oy
    // its `mail`, Zed1 its `otherMail`): ambiguous, sent to neither.
    let ambiguous = post_answer(&Browser::new(), &app, &from_portal(&idp, "both@saml.test").await, &[]).await;
    assert_eq!(ambiguous.status(), StatusCode::BAD_REQUEST);
    assert_logged(&dir, "claimed by several providers", 1).await;
    // An answer to a request whose envelope hides its InResponseTo: the signed assertion still
    // names the request, and it does not pass for an unsolicited one.
    let browser = Browser::new();
    let answer = answer_for(&browser, &app, "new@saml.test").await;
    let xml = decoded(&answer);
    let root = xml.find("<ns0:Response").unwrap();
    let root_tag = &xml[root..xml[root..].find('>').unwrap() + root];
    let attribute = root_tag.find(" InResponseTo=\"").unwrap() + root;
    let value_end = attribute + 15 + xml[attribute + 15..].find('"').unwrap() + 1;
    let stripped = format!("{}{}", &xml[..attribute], &xml[value_end..]);
    assert!(!stripped[root..stripped[root..].find('>').unwrap() + root].contains("InResponseTo"));
    let response = post_answer(&Browser::new(), &app, &(encoded(&stripped), String::new()), &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a solicited assertion never starts a sign-in elsewhere");
    assert_logged(&dir, "answers no request this browser started (unsolicited)", 1).await;
    // An answer of the portal's, once the provider no longer allows IdP-initiated sign-in: only
    // Step Oy's provider takes them now, and the address is not on its domains.
    let ops = operator(&app).await;
    let tenant = ids_of_tenant(&app, &ops, "Saml Oy").await;
    let body = json!({ "name": "Saml Oy staff", "protocol": "saml", "preset": "adfs", "metadata": idp.metadata().await,
        "domains": ["saml.test"], "provisioning": "jit", "email_attribute": "mail", "allow_idp_initiated": false });
    let replaced = call(&app, reqwest::Method::PUT, &format!("/api/v1/tenants/{tenant}/identity-providers/adfs"), &ops, Some(body)).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["saml"]["allow_idp_initiated"], false);
    let refused = post_answer(&Browser::new(), &app, &from_portal(&idp, "new@saml.test").await, &[]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "not allowed: refused");
    assert_logged(&dir, "domain_not_bound", 2).await;
}
