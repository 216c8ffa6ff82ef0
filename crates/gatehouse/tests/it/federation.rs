//! Third-party sign-in against an independent provider: node's `oidc-provider` plays each
//! company's own identity provider (`support::upstream`), and a scripted browser goes from the
//! application through Gatehouse to the provider and back. Home-realm discovery, just-in-time
//! accounts, linking, the refusals of section 4 of the issue, the browser binding of the
//! callback, and the 2FA matrix of `upstream_mfa`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::id_claims;
use crate::support::app::{TestApp, read_only_db};
use crate::support::browser::{Browser, hidden, location, payroll_query, query_param, redeem_payroll};
use crate::support::fixtures::basic::PAYROLL_CB;
use crate::support::upstream::{UPSTREAM_SECRET, Upstream, available, spawn_pair};

const PASSWORD: &str = "a long test passphrase";

/// Fed Oy (fed.test, JIT, the provider's MFA never counts) with Alice and Una already there;
/// Other Oy (other.test) with Bob; the 2FA matrix's tenants, each requiring 2FA: Never Oy,
/// Asserted Oy (counts the provider's MFA when asserted, asks for it with `urn:example:mfa`),
/// Trusted Oy (always counts it); Strict Oy, whose provider is required except for root.
pub(crate) fn fixture(upstream: &str) -> String {
    let provider = |id: &str, name: &str, domain: &str, extra: &str| {
        format!(
            r#"
  [[tenant.identity_provider]]
  id = "{id}"
  name = "{name}"
  issuer = "{upstream}"
  client_id = "gatehouse"
  client_secret = "{UPSTREAM_SECRET}"
  domains = ["{domain}"]
  provisioning = "jit"
  algorithms = ["RS256"]
{extra}"#
        )
    };
    let required = "  [tenant.policy]\n  two_factor = \"required\"\n";
    format!(
        r#"
[[tenant]]
name = "Fed Oy"
domains = ["fed.test", "fed-other.test"]
  [[tenant.user]]
  email = "alice@fed.test"
  name = "Alice"
  password = "{PASSWORD}"
  [[tenant.user]]
  email = "una@fed.test"
  name = "Una"
  password = "{PASSWORD}"
{corp}
[[tenant]]
name = "Other Oy"
domains = ["other.test"]
  [[tenant.user]]
  email = "bob@other.test"
  name = "Bob"
  password = "{PASSWORD}"

[[tenant]]
name = "Never Oy"
domains = ["never.test"]
{required}{never}
[[tenant]]
name = "Asserted Oy"
domains = ["asserted.test"]
{required}{asserted}
[[tenant]]
name = "Trusted Oy"
domains = ["trusted.test"]
{required}{trusted}
[[tenant]]
name = "Strict Oy"
domains = ["strict.test"]
  [[tenant.user]]
  email = "root@strict.test"
  name = "Root"
  password = "{PASSWORD}"
  [[tenant.user]]
  email = "sam@strict.test"
  name = "Sam"
  password = "{PASSWORD}"
{strict}
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
"#,
        corp = provider("corp", "Fed Oy staff", "fed.test", "  upstream_mfa = \"never\"\n"),
        never = provider("corp", "Never Oy staff", "never.test", "  upstream_mfa = \"never\"\n"),
        asserted = provider("corp", "Asserted Oy staff", "asserted.test", "  upstream_mfa = \"if_asserted\"\n  mfa_acr_values = [\"urn:example:mfa\"]\n"),
        trusted = provider("corp", "Trusted Oy staff", "trusted.test", "  upstream_mfa = \"always\"\n"),
        strict = provider("corp", "Strict Oy staff", "strict.test", "  required = true\n  break_glass = [\"root@strict.test\"]\n"),
    )
}

pub(crate) fn person(email: &str, verified: bool, name: &str, amr: &[&str]) -> Value {
    json!({ "claims": { "email": email, "email_verified": verified, "name": name }, "amr": amr })
}

/// The upstream's people: what each one's provider asserts.
pub(crate) fn accounts() -> Value {
    let mut accounts = json!({
        "new@fed.test": person("new@fed.test", true, "New Person", &["pwd"]),
        "alice@fed.test": person("alice@fed.test", true, "Alice", &["pwd"]),
        "una@fed.test": person("una@fed.test", false, "Una", &["pwd"]),
        // Signs in as a fed.test person but asserts another tenant's address.
        "mallory@fed.test": person("bob@other.test", true, "Mallory", &["pwd"]),
        "nina@never.test": person("nina@never.test", true, "Nina", &["pwd", "mfa"]),
        "ada@asserted.test": person("ada@asserted.test", true, "Ada", &["pwd", "mfa"]),
        "pia@asserted.test": person("pia@asserted.test", true, "Pia", &["pwd"]),
        "tom@trusted.test": person("tom@trusted.test", true, "Tom", &["pwd"]),
        "sam@strict.test": person("sam@strict.test", true, "Sam", &["pwd"]),
    });
    // Signs in first with the CEO's address, unverified: a squatter.
    accounts["squatter@fed.test"] = person("ceo@fed.test", false, "Squatter", &["pwd"]);
    accounts["ceo@fed.test"] = person("ceo@fed.test", true, "The CEO", &["pwd"]);
    // Four upstream identities claiming Alice's verified address, to race for her account.
    for n in 1..=4 {
        accounts[format!("twin{n}@fed.test")] = person("alice@fed.test", true, "Twin", &["pwd"]);
    }
    accounts["pat@asserted.test"] =
        json!({ "claims": { "email": "pat@asserted.test", "email_verified": true, "name": "Pat" }, "amr": ["pwd"], "step_up_amr": ["pwd", "mfa"] });
    accounts
}

pub(crate) async fn pair() -> Option<(TestApp, Upstream)> {
    if !available() {
        return None;
    }
    Some(spawn_pair(&accounts(), fixture).await)
}

/// Where a trip through the provider ended.
#[derive(Debug)]
pub(crate) enum Landed {
    /// Back at the application with this callback URL.
    Client(String),
    /// At a Gatehouse sign-in page (a relative path: `/login/enroll?request=...`).
    Page(String),
    /// A page that is neither: its status and body.
    Html(StatusCode, String),
}

/// Follows redirects (and the page that leaves for the provider) from `url` until the browser
/// is back at the application or on a Gatehouse sign-in page; stops early where `stop` says.
async fn travel_until(browser: &Browser, app: &TestApp, mut url: String, stop: impl Fn(&str) -> bool) -> Landed {
    for _ in 0..12 {
        if stop(&url) {
            return Landed::Page(url);
        }
        let response = browser.get(&url).await;
        let status = response.status();
        if status.is_redirection() {
            let next = location(&response);
            let next = if next.starts_with('/') { url::Url::parse(&url).unwrap().join(&next).unwrap().to_string() } else { next };
            if next.starts_with(PAYROLL_CB) {
                return Landed::Client(next);
            }
            if let Some(path) = next.strip_prefix(&app.issuer).filter(|p| p.starts_with("/login") && !p.starts_with("/login/federated/callback")) {
                return Landed::Page(path.to_owned());
            }
            url = next;
            continue;
        }
        let html = response.text().await.unwrap();
        match continue_link(&html) {
            Some(link) if status == StatusCode::OK => url = link,
            _ => return Landed::Html(status, html),
        }
    }
    panic!("too many redirects from {url}");
}

/// The callback a trip ended at, or a failure showing where it ended instead.
pub(crate) fn at_client(landed: Landed) -> String {
    match landed {
        Landed::Client(callback) => callback,
        Landed::Html(status, html) => panic!("expected the application, got {status}: {}", html.chars().take(2000).collect::<String>()),
        other => panic!("expected the application, got {other:?}"),
    }
}

async fn travel(browser: &Browser, app: &TestApp, url: String) -> Landed {
    travel_until(browser, app, url, |_| false).await
}

/// The link of the page that leaves for the provider.
pub(crate) fn continue_link(html: &str) -> Option<String> {
    let start = html.find("id=\"continue\" href=\"")? + "id=\"continue\" href=\"".len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&").replace("&#x2f;", "/").replace("&#x3d;", "=").replace("&#43;", "+"))
}

/// Starts `payroll`'s sign-in and types `email` on the first step; returns the answer.
pub(crate) async fn identify(browser: &Browser, app: &TestApp, email: &str) -> (StatusCode, String) {
    let login = location(&browser.authorize(app, &payroll_query("")).await);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    let response = browser.post_step(app, "/login", &page, &[("email", email)]).await;
    (response.status(), response.text().await.unwrap())
}

/// Signs `email` in through its company's provider from the first step to the application.
pub(crate) async fn federated_sign_in(browser: &Browser, app: &TestApp, email: &str) -> Landed {
    let (status, html) = identify(browser, app, email).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let link = continue_link(&html).unwrap_or_else(|| panic!("{email}'s domain should lead to its provider: {html}"));
    travel(browser, app, link).await
}

/// The ID token's claims for the code in a callback.
pub(crate) async fn claims_for(app: &TestApp, callback: &str) -> Value {
    let code = query_param(callback, "code").expect("a code");
    let response = redeem_payroll(app, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    id_claims(&response.json().await.unwrap())
}

async fn tenant_id(app: &TestApp, name: &str) -> String {
    let db = read_only_db(&app.data_dir()).await;
    sqlx::query_scalar("SELECT id FROM tenants WHERE name = ?").bind(name).fetch_one(&db).await.unwrap()
}

/// What the history recorded for refused federated sign-ins (the check that failed).
pub(crate) async fn refusals(app: &TestApp) -> Vec<String> {
    let db = read_only_db(&app.data_dir()).await;
    sqlx::query_scalar("SELECT decision FROM sign_in_events WHERE idp IS NOT NULL AND result = 'failure' ORDER BY at").fetch_all(&db).await.unwrap()
}

#[tokio::test]
async fn an_email_on_a_bound_domain_signs_in_at_its_companys_provider_and_gets_an_account_just_in_time() {
    let Some((app, upstream)) = pair().await else { return };
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("")).await);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    assert!(page.contains("name=\"email\"") && !page.contains("name=\"password\""), "the first step asks for the email alone");

    let callback = at_client(federated_sign_in(&browser, &app, "new@fed.test").await);
    let claims = claims_for(&app, &callback).await;
    let fed = tenant_id(&app, "Fed Oy").await;
    assert_eq!(claims["idp"], format!("{fed}/corp"), "the token names the provider");
    assert_eq!((claims["email"].as_str(), claims["name"].as_str()), (Some("new@fed.test"), Some("New Person")));
    assert_eq!(claims["acr"], "urn:gatehouse:acr:pwd");
    assert_eq!(claims["amr"], json!(["pwd"]));

    let sent = upstream.requests().await;
    let last = sent.last().unwrap();
    assert_eq!(last["login_hint"], "new@fed.test", "the email is passed on");
    assert_eq!(last["code_challenge_method"], "S256");
    assert!(last["has_nonce"].as_bool().unwrap() && last["has_state"].as_bool().unwrap());

    // The next sign-in finds the same account through the linked identity.
    let again = Browser::new();
    let callback = at_client(federated_sign_in(&again, &app, "new@fed.test").await);
    assert_eq!(claims_for(&app, &callback).await["sub"], claims["sub"]);
    let db = read_only_db(&app.data_dir()).await;
    let history: Vec<Option<String>> = sqlx::query_scalar("SELECT idp FROM sign_in_events WHERE result = 'success'").fetch_all(&db).await.unwrap();
    assert!(history.len() == 2 && history.iter().all(|idp| idp.as_deref() == Some(&format!("{fed}/corp"))), "the history shows the provider: {history:?}");
    let created: Vec<String> = sqlx::query_scalar("SELECT actor FROM audit_records WHERE action = 'user.create'").fetch_all(&db).await.unwrap();
    assert_eq!(created, [format!("idp:{fed}/corp")], "the account's creation is audited once");
}

#[tokio::test]
async fn identifier_first_reveals_nothing_about_whether_an_account_exists() {
    let Some((app, _upstream)) = pair().await else { return };
    let (known_status, known) = identify(&Browser::new(), &app, "bob@other.test").await;
    let (ghost_status, ghost) = identify(&Browser::new(), &app, "ghost@other.test").await;
    assert_eq!((known_status, ghost_status), (StatusCode::OK, StatusCode::OK));
    let strip = |html: &str, email: &str| {
        let html = html.replace(email, "EMAIL");
        let without = |html: &str, name: &str| hidden(html, name).map_or(html.to_owned(), |v| html.replace(&v, "X"));
        without(&without(&html, "request"), "csrf_token")
    };
    assert!(known.contains("name=\"password\""), "the password step follows");
    assert_eq!(strip(&known, "bob@other.test"), strip(&ghost, "ghost@other.test"), "the same page whether or not the account exists");
}

#[tokio::test]
async fn a_login_hint_on_a_bound_domain_goes_straight_to_the_provider() {
    let Some((app, upstream)) = pair().await else { return };
    let browser = Browser::new();
    let response = browser.authorize(&app, &payroll_query("&login_hint=new%40fed.test")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert!(to.starts_with(&format!("{}/auth?", upstream.issuer)), "no Gatehouse page: {to}");
    let _ = at_client(travel(&browser, &app, to).await);
    // A hint on a domain with no provider shows the password step with the email filled in.
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("&login_hint=bob%40other.test")).await);
    assert!(login.starts_with("/login?request="), "{login}");
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    assert!(page.contains("value=\"bob@other.test\"") && page.contains("name=\"password\""));
}

#[tokio::test]
async fn an_application_suggested_provider_is_offered_as_a_button() {
    let Some((app, _upstream)) = pair().await else { return };
    let fed = tenant_id(&app, "Fed Oy").await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query(&format!("&idp_hint={fed}%2Fcorp"))).await);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    assert!(page.contains("Sign in with Fed Oy staff") && page.contains("action=\"/login/federated\""), "{page}");
    let response = browser.post_step(&app, "/login/federated", &page, &[("provider", &format!("{fed}/corp"))]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(continue_link(&response.text().await.unwrap()).is_some(), "the button leaves for the provider");
    let unknown = Browser::new();
    let login = location(&unknown.authorize(&app, &payroll_query("&idp_hint=nobody%2Fnothing")).await);
    let page = unknown.get(&app.url(&login)).await.text().await.unwrap();
    assert!(!page.contains("/login/federated"), "a hint naming no provider offers nothing");
    let unasked = unknown.post_step(&app, "/login/federated", &page, &[("provider", &format!("{fed}/corp"))]).await;
    assert_eq!(unasked.status(), StatusCode::BAD_REQUEST, "a provider the application did not suggest has no button");
}

#[tokio::test]
async fn an_existing_account_is_linked_only_when_the_provider_verified_the_email() {
    let Some((app, _upstream)) = pair().await else { return };
    let password = Browser::new().sign_in(&app, &payroll_query(""), ("alice@fed.test", PASSWORD)).await;
    let alice = claims_for(&app, &password).await["sub"].clone();
    let callback = at_client(federated_sign_in(&Browser::new(), &app, "alice@fed.test").await);
    assert_eq!(claims_for(&app, &callback).await["sub"], alice, "the verified email linked Alice's own account");

    let Landed::Html(status, html) = federated_sign_in(&Browser::new(), &app, "una@fed.test").await else { panic!("expected a refusal") };
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("that account cannot be used here"), "{html}");
    assert!(refusals(&app).await.iter().any(|r| r.contains("unverified_email")), "the admin reads why");
    let db = read_only_db(&app.data_dir()).await;
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM external_identities").fetch_one(&db).await.unwrap();
    assert_eq!(links, 1, "only Alice was linked");
}

#[tokio::test]
async fn an_upstream_asserting_an_address_on_another_domain_is_refused() {
    let Some((app, _upstream)) = pair().await else { return };
    let Landed::Html(_, html) = federated_sign_in(&Browser::new(), &app, "mallory@fed.test").await else { panic!("expected a refusal") };
    assert!(html.contains("that account cannot be used here"));
    assert!(refusals(&app).await.iter().any(|r| r.contains("domain_not_bound")));
    let db = read_only_db(&app.data_dir()).await;
    let bobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM external_identities").fetch_one(&db).await.unwrap();
    assert_eq!(bobs, 0, "nobody was linked, least of all Bob of Other Oy");
}

#[tokio::test]
async fn a_callback_belongs_to_the_browser_that_started_it_and_is_answered_once() {
    let Some((app, _upstream)) = pair().await else { return };
    let browser = Browser::new();
    let (_, html) = identify(&browser, &app, "new@fed.test").await;
    let callback_prefix = format!("{}/login/federated/callback", app.issuer);
    let Landed::Page(callback) = travel_until(&browser, &app, continue_link(&html).unwrap(), |u| u.starts_with(&callback_prefix)).await else {
        panic!("expected the callback")
    };
    let thief = Browser::new();
    assert_eq!(thief.get(&callback).await.status(), StatusCode::BAD_REQUEST, "another browser's callback is refused");
    let _ = at_client(travel(&browser, &app, callback.clone()).await);
    assert_eq!(browser.get(&callback).await.status(), StatusCode::BAD_REQUEST, "a replayed callback finds nothing");
    let forged = callback.replace("state=", "state=x");
    assert_eq!(browser.get(&forged).await.status(), StatusCode::BAD_REQUEST);
    let twice = format!("{callback}&state=another");
    let page = browser.get(&twice).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("<h1>"), "a friendly page, not the framework's text");
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused() {
    let Some((app, _upstream)) = pair().await else { return };
    let browser = Browser::new();
    let (_, html) = identify(&browser, &app, "new@fed.test").await;
    let callback_prefix = format!("{}/login/federated/callback", app.issuer);
    let Landed::Page(callback) = travel_until(&browser, &app, continue_link(&html).unwrap(), |u| u.starts_with(&callback_prefix)).await else {
        panic!("expected the callback")
    };
    // oidc-provider names itself (RFC 9207); the answer is made to name another issuer.
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().filter(|(k, _)| k != "iss").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(pairs.len() + 1, url.query_pairs().count(), "the provider sent iss");
    url.query_pairs_mut().clear().extend_pairs(pairs).append_pair("iss", "https://evil.example");
    let mixed_up = url.to_string();
    let Landed::Html(_, html) = travel(&browser, &app, mixed_up).await else { panic!("expected a refusal") };
    assert!(html.contains("did not complete"), "{html}");
    assert!(refusals(&app).await.iter().any(|r| r.contains("iss_mismatch")));

    // The provider says it always names itself: an answer stripped of `iss` is refused too.
    let browser = Browser::new();
    let (_, html) = identify(&browser, &app, "new@fed.test").await;
    let Landed::Page(callback) = travel_until(&browser, &app, continue_link(&html).unwrap(), |u| u.starts_with(&callback_prefix)).await else {
        panic!("expected the callback")
    };
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().filter(|(k, _)| k != "iss").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let Landed::Html(..) = travel(&browser, &app, url.to_string()).await else { panic!("expected a refusal") };
    assert!(refusals(&app).await.iter().any(|r| r.contains("iss_missing")));
}

#[tokio::test]
async fn identities_racing_for_one_account_by_its_email_link_one() {
    let Some((app, _upstream)) = pair().await else { return };
    let callback_prefix = format!("{}/login/federated/callback", app.issuer);
    let mut ready = Vec::new();
    for n in 1..=4 {
        let browser = Browser::new();
        let (_, html) = identify(&browser, &app, &format!("twin{n}@fed.test")).await;
        let Landed::Page(callback) = travel_until(&browser, &app, continue_link(&html).unwrap(), |u| u.starts_with(&callback_prefix)).await else {
            panic!("expected the callback")
        };
        ready.push((browser, callback));
    }
    // Every callback at once: each finds Alice's account unlinked before any link is written.
    let [a, b, c, d] = &ready[..] else { panic!("four browsers") };
    let (la, lb, lc, ld) =
        tokio::join!(travel(&a.0, &app, a.1.clone()), travel(&b.0, &app, b.1.clone()), travel(&c.0, &app, c.1.clone()), travel(&d.0, &app, d.1.clone()));
    let landed = [la, lb, lc, ld];
    let signed_in = landed.iter().filter(|l| matches!(l, Landed::Client(_))).count();
    assert_eq!(signed_in, 1, "one identity gets Alice's account: {landed:?}");
    let db = read_only_db(&app.data_dir()).await;
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM external_identities").fetch_one(&db).await.unwrap();
    assert_eq!(links, 1);
}

#[tokio::test]
async fn an_account_a_squatter_created_is_never_given_to_another_identity_by_email() {
    let Some((app, _upstream)) = pair().await else { return };
    let squatter = at_client(federated_sign_in(&Browser::new(), &app, "squatter@fed.test").await);
    let squatted = claims_for(&app, &squatter).await;
    assert_eq!(squatted["email"], "ceo@fed.test");
    assert_eq!(squatted["email_verified"], false, "created with the address unverified, as the provider said");
    let Landed::Html(_, html) = federated_sign_in(&Browser::new(), &app, "ceo@fed.test").await else {
        panic!("the CEO must not land in the squatter's account")
    };
    assert!(html.contains("that account cannot be used here"));
    assert!(refusals(&app).await.iter().any(|r| r.contains("account_linked_to_another")), "{:?}", refusals(&app).await);
}

#[tokio::test]
async fn an_unverified_new_address_upstream_is_not_taken() {
    let Some((app, upstream)) = pair().await else { return };
    let first = claims_for(&app, &at_client(federated_sign_in(&Browser::new(), &app, "new@fed.test").await)).await;
    let mut changed = accounts();
    changed["new@fed.test"]["claims"] = json!({ "email": "cfo@fed.test", "email_verified": false, "name": "Now The CFO" });
    upstream.set_accounts(&changed).await;
    let after = claims_for(&app, &at_client(federated_sign_in(&Browser::new(), &app, "new@fed.test").await)).await;
    assert_eq!(after["sub"], first["sub"]);
    assert_eq!((after["email"].as_str(), after["email_verified"].as_bool()), (Some("new@fed.test"), Some(true)), "the address stays, still verified");
    assert_eq!(after["name"], "Now The CFO", "the name follows");
}

#[tokio::test]
async fn the_providers_mfa_never_counts_when_upstream_mfa_is_never() {
    let Some((app, _upstream)) = pair().await else { return };
    let landed = federated_sign_in(&Browser::new(), &app, "nina@never.test").await;
    assert!(matches!(&landed, Landed::Page(p) if p.starts_with("/login/enroll?")), "Gatehouse's own factor is asked: {landed:?}");
}

#[tokio::test]
async fn an_asserted_mfa_counts_when_upstream_mfa_is_if_asserted() {
    let Some((app, upstream)) = pair().await else { return };
    let callback = at_client(federated_sign_in(&Browser::new(), &app, "ada@asserted.test").await);
    let claims = claims_for(&app, &callback).await;
    assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa");
    assert_eq!(claims["amr"], json!(["pwd", "mfa"]));
    assert_eq!(upstream.requests().await.len(), 1, "no step-up was needed");
}

#[tokio::test]
async fn a_missing_mfa_is_asked_of_the_provider_before_gatehouses_own_factor() {
    let Some((app, upstream)) = pair().await else { return };
    let callback = at_client(federated_sign_in(&Browser::new(), &app, "pat@asserted.test").await);
    assert_eq!(claims_for(&app, &callback).await["acr"], "urn:gatehouse:acr:mfa");
    let sent = upstream.requests().await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!((&sent[1]["acr_values"], &sent[1]["prompt"], &sent[1]["max_age"]), (&json!("urn:example:mfa"), &json!("login"), &json!("0")));

    // A provider that still proves no second factor: Gatehouse's own is next, and the step-up
    // is asked once only.
    let landed = federated_sign_in(&Browser::new(), &app, "pia@asserted.test").await;
    assert!(matches!(&landed, Landed::Page(p) if p.starts_with("/login/enroll?")), "{landed:?}");
    assert_eq!(upstream.requests().await.len(), 4);
}

#[tokio::test]
async fn the_providers_word_is_enough_when_upstream_mfa_is_always() {
    let Some((app, _upstream)) = pair().await else { return };
    let callback = at_client(federated_sign_in(&Browser::new(), &app, "tom@trusted.test").await);
    assert_eq!(claims_for(&app, &callback).await["acr"], "urn:gatehouse:acr:mfa");
}

#[tokio::test]
async fn a_required_provider_takes_password_sign_ins_except_for_break_glass_accounts() {
    let Some((app, _upstream)) = pair().await else { return };
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &payroll_query("")).await);
    let page = browser.get(&app.url(&login)).await.text().await.unwrap();
    let response = browser.post_step(&app, "/login", &page, &[("email", "sam@strict.test"), ("password", PASSWORD)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let link = continue_link(&response.text().await.unwrap()).expect("Sam's password is not taken: he goes to his provider");
    let _ = at_client(travel(&browser, &app, link).await);
    let callback = Browser::new().sign_in(&app, &payroll_query(""), ("root@strict.test", PASSWORD)).await;
    assert!(callback.starts_with(PAYROLL_CB), "the break-glass account signs in with its password");
}

#[tokio::test]
async fn name_and_email_follow_the_upstream_without_changing_the_account() {
    let Some((app, upstream)) = pair().await else { return };
    let first = at_client(federated_sign_in(&Browser::new(), &app, "new@fed.test").await);
    let before = claims_for(&app, &first).await;
    let mut changed = accounts();
    changed["new@fed.test"]["claims"] = json!({ "email": "renamed@fed.test", "email_verified": true, "name": "Renamed Person" });
    upstream.set_accounts(&changed).await;
    let second = at_client(federated_sign_in(&Browser::new(), &app, "new@fed.test").await);
    let after = claims_for(&app, &second).await;
    assert_eq!(after["sub"], before["sub"], "the same account");
    assert_eq!((after["email"].as_str(), after["name"].as_str()), (Some("renamed@fed.test"), Some("Renamed Person")));
}

#[tokio::test]
async fn signing_out_offers_the_providers_own_sign_out() {
    let Some((app, upstream)) = pair().await else { return };
    let browser = Browser::new();
    at_client(federated_sign_in(&browser, &app, "new@fed.test").await);
    let confirm = browser.get(&app.url("/logout")).await.text().await.unwrap();
    let csrf = hidden(&confirm, "csrf_token").unwrap();
    let done = browser.http.post(app.url("/logout")).form(&[("confirm", "yes"), ("csrf_token", csrf.as_str())]).send().await.unwrap();
    let html = done.text().await.unwrap();
    let end_session = format!("{}/session/end?client_id=gatehouse", upstream.issuer);
    assert!(html.contains("Also sign out of Fed Oy staff") && html.contains(&end_session), "{html}");

    // A password sign-in's session has no provider to offer.
    let password = Browser::new();
    password.sign_in(&app, &payroll_query(""), ("alice@fed.test", PASSWORD)).await;
    let confirm = password.get(&app.url("/logout")).await.text().await.unwrap();
    let csrf = hidden(&confirm, "csrf_token").unwrap();
    let done = password.http.post(app.url("/logout")).form(&[("confirm", "yes"), ("csrf_token", csrf.as_str())]).send().await.unwrap();
    assert!(!done.text().await.unwrap().contains("Also sign out of"));
}
