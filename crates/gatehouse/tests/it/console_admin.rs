//! The admin console (`/admin`) against the real binary: tenant admins and operators sign in
//! through `/authorize`, and every page reads and writes through the admin API with their
//! token, so each change is checked, refused and audited exactly as an API call is. Covers the
//! authentication settings (saved, invalid, the lock-out confirmation), users (roles, unlock,
//! reset of second factors, erasure with the address typed again), login history, change
//! history, alerts, applications, the simulator, and the refusals: another tenant, a person
//! who is no admin, tampered ids and forms without a valid CSRF token.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{call, client_token, token_for};
use crate::support::app::{SpawnOptions, TestApp, db_fingerprint, spawn_with};
use crate::support::browser::{Browser, hidden, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, FIXTURE, PASSWORD};
use crate::support::walker::{assert_code_for, password_step, visit};

/// The two-factor fixture (Acme: Alice admin with an authenticator app, Bob; Globex: Dave
/// admin, Carol; ...), an operator (Olga), and the console set to Bypass so a password alone
/// signs in to it.
fn fixture() -> String {
    format!(
        r#"{}
[[tenant]]
name = "Operators"
domains = ["ops.test"]
  [[tenant.user]]
  email = "olga@ops.test"
  name = "Olga"
  password = "a long test passphrase"
  roles = ["operator"]

[[application]]
client_id = "gatehouse-console"
name = "Console"
redirect_uris = ["http://127.0.0.1:1/console/callback"]
grant_types = ["authorization_code"]
two_factor = "bypass"
"#,
        FIXTURE
    )
}

async fn spawn() -> TestApp {
    let fixture = fixture();
    spawn_with(SpawnOptions { fixture: &fixture, ..Default::default() }).await
}

/// Follows redirects from `path`, signing in on the way (shared with the account page's tests).
async fn open(app: &TestApp, browser: &Browser, path: &str, email: &str, totp: Option<&str>) -> (StatusCode, String, String) {
    visit(app, browser, path, email, totp).await
}

/// Signs `email` in to the console from `/admin`; returns where they landed and its HTML.
async fn console_sign_in(browser: &Browser, app: &TestApp, email: &str, password: &str) -> (String, String) {
    assert_eq!(password, PASSWORD, "the fixture's one password");
    let first = browser.get(&app.url("/admin")).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert!(location(&first).contains("/authorize?client_id=gatehouse-console"));
    let (status, path, html) = open(app, browser, "/admin", email, None).await;
    assert!(status == StatusCode::OK || status == StatusCode::FORBIDDEN, "{status} at {path}");
    (path, html)
}

/// A page of the signed-in console.
async fn page(app: &TestApp, browser: &Browser, path: &str) -> (StatusCode, String) {
    let response = browser.get(&app.url(path)).await;
    (response.status(), response.text().await.unwrap())
}

/// Posts a console form; answers the redirect's target (within the server) or the response.
async fn post(app: &TestApp, browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser.http.post(app.url(path)).form(fields).send().await.unwrap()
}

/// Posts a form and follows its Post/Redirect/Get: the page it leads to.
async fn submit(app: &TestApp, browser: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let response = post(app, browser, path, fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
    let to = location(&response);
    page(app, browser, to.split('#').next().unwrap()).await
}

async fn operator_token(app: &TestApp) -> String {
    let response = client_token(app, "ops", "gatehouse:admin").await;
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn api(app: &TestApp, token: &str, path: &str) -> Value {
    let response = call(app, Method::GET, path, token, None).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.unwrap()
}

async fn tenant_id(app: &TestApp, token: &str, name: &str) -> String {
    let tenants = api(app, token, "/api/v1/tenants").await;
    tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn user(app: &TestApp, token: &str, tenant: &str, email: &str) -> Option<Value> {
    let users = api(app, token, &format!("/api/v1/tenants/{tenant}/users")).await;
    users["users"].as_array().unwrap().iter().find(|u| u["email"] == email).cloned()
}

async fn user_id(app: &TestApp, token: &str, tenant: &str, email: &str) -> String {
    user(app, token, tenant, email).await.unwrap()["id"].as_str().unwrap().to_owned()
}

fn csrf(html: &str) -> String {
    hidden(html, "csrf_token").expect("a csrf_token field")
}

/// Where the link with `text` leads.
fn link_to(html: &str, text: &str) -> String {
    let end = html.find(&format!("\">{text}</a>")).unwrap_or_else(|| panic!("no link {text:?}"));
    let start = html[..end].rfind("href=\"").unwrap() + "href=\"".len();
    html[start..end].replace("&amp;", "&")
}

/// The flash message an action left, as shown on the next page (unescaped).
fn flash(html: &str) -> String {
    let start = html.find("id=\"flash\">").map(|i| i + "id=\"flash\">".len()).unwrap_or_else(|| panic!("no flash in {html}"));
    html[start..].split('<').next().unwrap().replace("&#39;", "'").replace("&#34;", "\"").replace("&quot;", "\"").replace("&amp;", "&")
}

#[tokio::test]
async fn a_tenant_admin_requires_2fa_through_the_form_and_the_change_is_audited() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let alice = Browser::new();
    let (path, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    assert_eq!(path, format!("/admin/tenants/{acme}"), "a tenant admin lands on their tenant");
    for text in ["Authentication settings", "bob@acme.test", "Authenticator app", "acme.test", "<h1>Acme Oy</h1>"] {
        assert!(html.contains(text), "{text} missing");
    }
    assert!(!html.contains("Add an email domain") && !html.contains("Terminate this tenant"), "operators only");
    let form = [
        ("csrf_token", csrf(&html)),
        ("two_factor", "required".into()),
        ("method_totp", "on".into()),
        ("method_sms", "on".into()),
        ("trusted_networks", "192.0.2.0/24\n".into()),
        ("remember_device_days", "14".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html) = submit(&app, &alice, &format!("/admin/tenants/{acme}/policy"), &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flash(&html), "The authentication settings were saved.");
    assert!(html.contains("value=\"required\" checked") && html.contains("192.0.2.0/24"));
    let tenant = api(&app, &ops, &format!("/api/v1/tenants/{acme}")).await;
    assert_eq!(
        tenant["policy"],
        json!({ "two_factor": "required", "allowed_methods": ["totp", "sms"], "trusted_networks": ["192.0.2.0/24"], "remember_device_days": 14 })
    );
    let to = password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await;
    assert!(to.starts_with("/login/enroll"), "the next sign-in enrolls: {to}");

    let alice_id = user_id(&app, &ops, &acme, "alice@acme.test").await;
    let (status, html) = page(&app, &alice, &format!("/admin/audit?action=tenant.policy.update&actor=user:{alice_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<code>tenant.policy.update</code>") && html.contains(&format!("user:{alice_id} <strong>(you)</strong>")), "{html}");
    assert!(html.contains(&format!("tenant:{acme}")));
    assert!(html.contains("value=\"tenant.policy.update\""), "the filter stays filled in");
}

#[tokio::test]
async fn an_invalid_policy_is_refused_with_the_reason_and_nothing_changes() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let before = api(&app, &ops, &format!("/api/v1/tenants/{acme}")).await;
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    let token = csrf(&html);
    let path = format!("/admin/tenants/{acme}/policy");
    for (fields, reason) in [
        (vec![("two_factor", "required"), ("remember_device_days", "30")], "requires 2FA but allows no method"),
        (vec![("two_factor", "optional"), ("method_totp", "on"), ("remember_device_days", "a week")], "whole number"),
        (vec![("two_factor", "optional"), ("trusted_networks", "10.0.0.0/33"), ("remember_device_days", "30")], "10.0.0.0/33"),
        (vec![("two_factor", "optional"), ("remember_device_days", "9999")], "9999"),
    ] {
        let mut form = vec![("csrf_token", token.as_str())];
        form.extend(fields);
        let (status, html) = submit(&app, &alice, &path, &form).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("<p class=\"error\" role=\"alert\" id=\"flash\">"), "an error flash");
        assert!(flash(&html).contains(reason), "{reason}: {}", flash(&html));
    }
    assert_eq!(api(&app, &ops, &format!("/api/v1/tenants/{acme}")).await, before, "nothing saved");
}

#[tokio::test]
async fn a_lock_out_is_named_and_saved_only_when_confirmed() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    let token = csrf(&html);
    let path = format!("/admin/tenants/{acme}/policy");
    let passkeys_only = [("csrf_token", token.as_str()), ("two_factor", "required"), ("method_passkey", "on"), ("remember_device_days", "30")];
    let refused = post(&app, &alice, &path, &passkeys_only).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let html = refused.text().await.unwrap();
    assert!(html.contains("alice@acme.test") && html.contains("role=\"alert\""), "names who is locked out: {html}");
    assert!(html.contains("Save anyway (confirm lock-out)") && html.contains("name=\"confirm_lockout\""));
    assert_eq!(api(&app, &ops, &format!("/api/v1/tenants/{acme}")).await["policy"]["two_factor"], "optional", "nothing saved");
    // The page carries the settings; ticking the box saves them.
    let mut again: Vec<(&str, String)> =
        ["csrf_token", "two_factor", "method_passkey", "trusted_networks", "remember_device_days"].iter().map(|n| (*n, hidden(&html, n).unwrap())).collect();
    assert!(hidden(&html, "method_totp").is_none());
    let unticked: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post(&app, &alice, &path, &unticked).await.status(), StatusCode::CONFLICT, "not without the box");
    again.push(("confirm_lockout", "on".into()));
    let ticked: Vec<(&str, &str)> = again.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, html) = submit(&app, &alice, &path, &ticked).await;
    assert!(flash(&html).starts_with("The authentication settings were saved."));
    let policy = api(&app, &ops, &format!("/api/v1/tenants/{acme}")).await["policy"].clone();
    assert_eq!((policy["two_factor"].as_str(), policy["allowed_methods"].clone()), (Some("required"), json!(["passkey"])));
}

#[tokio::test]
async fn a_tenant_admin_cannot_see_or_change_another_tenant() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let globex = tenant_id(&app, &ops, "Globex").await;
    let dave = user_id(&app, &ops, &globex, "dave@globex.test").await;
    let before = api(&app, &ops, &format!("/api/v1/tenants/{globex}")).await;
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    let token = csrf(&html);
    for path in [
        format!("/admin/tenants/{globex}"),
        format!("/admin/users/{dave}"),
        format!("/admin/users/{dave}?tenant={globex}"),
        format!("/admin/users/{dave}/erase?tenant={globex}"),
        format!("/admin/tenants/{globex}/terminate"),
    ] {
        let (status, html) = page(&app, &alice, &path).await;
        assert!(status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND, "{path}: {status}");
        assert!(html.contains("<h1>Not available to you</h1>") || html.contains("<h1>Not found</h1>"), "{path}: a friendly notice");
        for secret in ["Globex", "globex.test", "Dave", "Carol"] {
            assert!(!html.contains(secret), "{path} shows {secret}");
        }
    }
    for tampered in ["/admin/tenants/..%2F..%2Fapi", "/admin/tenants/%3Cscript%3E", "/admin/users/nobody"] {
        let (status, html) = page(&app, &alice, tampered).await;
        assert!(status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND, "{tampered}: {status}");
        assert!(!html.contains("<script>"));
    }
    let (status, html) = page(&app, &alice, "/admin/applications").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("applications are managed by the instance"), "the API's reason");
    // Writes aimed at the other tenant are refused by the API and shown, with nothing changed.
    let (status, html) =
        submit(&app, &alice, &format!("/admin/tenants/{globex}/policy"), &[("csrf_token", &token), ("two_factor", "optional"), ("remember_device_days", "1")])
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(flash(&html).contains("only their own tenant"), "{html}");
    let (_, html) = submit(&app, &alice, &format!("/admin/users/{dave}/unlock"), &[("csrf_token", &token), ("tenant", &globex)]).await;
    assert!(!html.contains("Globex"));
    for action in ["reset-factors", "erase"] {
        let response =
            post(&app, &alice, &format!("/admin/users/{dave}/{action}"), &[("csrf_token", &token), ("tenant", &globex), ("confirm", "dave@globex.test")]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{action}");
    }
    assert_eq!(api(&app, &ops, &format!("/api/v1/tenants/{globex}")).await, before);
    let dave_now = user(&app, &ops, &globex, "dave@globex.test").await.expect("Dave was not erased");
    assert_eq!(dave_now["methods"], json!(["totp"]), "nor his factors reset");
}

#[tokio::test]
async fn a_person_who_is_no_admin_gets_a_friendly_refusal() {
    let app = spawn().await;
    let bob = Browser::new();
    let (_, html) = console_sign_in(&bob, &app, "bob@acme.test", PASSWORD).await;
    let (status, html2) = page(&app, &bob, "/admin").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for html in [&html, &html2] {
        assert!(html.contains("<h1>Not available to you</h1>") && html.contains("href=\"/account\""), "{html}");
        assert!(!html.contains("Change history") && !html.contains("href=\"/admin\""), "no admin navigation");
    }
    for path in ["/admin/audit", "/admin/alerts", "/admin/simulate", "/admin/applications", "/admin/tenants/x"] {
        let (status, html) = page(&app, &bob, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(html.contains("<h1>Not available to you</h1>"), "{path}");
    }
}

#[tokio::test]
async fn an_operator_manages_applications_domains_and_tenants() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let olga = Browser::new();
    let (path, html) = console_sign_in(&olga, &app, "olga@ops.test", PASSWORD).await;
    assert_eq!(path, "/admin");
    for text in ["Acme Oy", "Globex", "Initech", "href=\"/admin/applications\"", "href=\"/admin/simulate\"", "href=\"/admin/audit\"", "href=\"/admin/alerts\""]
    {
        assert!(html.contains(text), "{text} missing from the overview");
    }
    let to = password_step(&app, &Browser::new(), "vault", "", "alice@acme.test").await;
    assert!(to.starts_with("/login/factor"), "vault requires 2FA: {to}");
    let (status, html) = page(&app, &olga, "/admin/applications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Vault") && html.contains("pages:delete = urn:gatehouse:acr:mfa"), "wiki's step-up scope");
    let token = csrf(&html);
    let bad = submit(&app, &olga, "/admin/applications/vault/policy", &[("csrf_token", &token), ("two_factor", "bypass"), ("step_up_scopes", "secrets:read")])
        .await
        .1;
    assert!(flash(&bad).contains("scope = level"), "{}", flash(&bad));
    let gold =
        submit(&app, &olga, "/admin/applications/vault/policy", &[("csrf_token", &token), ("two_factor", "bypass"), ("step_up_scopes", "secrets:read = gold")])
            .await
            .1;
    assert!(flash(&gold).contains("gold"), "the API's reason: {}", flash(&gold));
    let (_, html) = submit(
        &app,
        &olga,
        "/admin/applications/vault/policy",
        &[("csrf_token", &token), ("two_factor", "bypass"), ("step_up_scopes", "secrets:read = mfa\n")],
    )
    .await;
    assert!(flash(&html).contains("vault"));
    let apps = api(&app, &ops, "/api/v1/applications").await;
    let vault = apps["applications"].as_array().unwrap().iter().find(|a| a["client_id"] == "vault").unwrap().clone();
    assert_eq!(vault["policy"], json!({ "two_factor": "bypass", "step_up_scopes": { "secrets:read": "urn:gatehouse:acr:mfa" } }));
    assert_code_for("vault", &password_step(&app, &Browser::new(), "vault", "", "alice@acme.test").await);

    let initech = tenant_id(&app, &ops, "Initech").await;
    let (_, html) = page(&app, &olga, &format!("/admin/tenants/{initech}")).await;
    assert!(html.contains("Add an email domain") && html.contains("name=\"role_operator\""), "operators' forms");
    let (_, html) = submit(&app, &olga, &format!("/admin/tenants/{initech}/domains"), &[("csrf_token", &token), ("domain", "initech.example")]).await;
    assert!(flash(&html).contains("initech.example"));
    assert_eq!(api(&app, &ops, &format!("/api/v1/tenants/{initech}")).await["domains"], json!(["initech.example", "initech.test"]));
    let (_, html) = submit(&app, &olga, &format!("/admin/tenants/{initech}/domains"), &[("csrf_token", &token), ("domain", "acme.test")]).await;
    assert!(html.contains("role=\"alert\" id=\"flash\""), "another tenant's domain is refused");
    let (status, confirm) = page(&app, &olga, &format!("/admin/tenants/{initech}/terminate")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("<strong>Initech</strong>") && confirm.contains("for=\"reason\""));
    let (_, html) = submit(&app, &olga, &format!("/admin/tenants/{initech}/terminate"), &[("csrf_token", &token), ("reason", "contract ended")]).await;
    assert!(flash(&html).starts_with("The tenant was terminated."), "{}", flash(&html));
    let audit = api(&app, &ops, "/api/v1/audit?action=tenant.terminate").await;
    assert_eq!(audit["records"][0]["reason"], "contract ended");
}

#[tokio::test]
async fn unlock_and_a_reset_of_second_factors_work_and_are_audited() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let globex = tenant_id(&app, &ops, "Globex").await;
    let bob = user_id(&app, &ops, &acme, "bob@acme.test").await;
    let dave = user_id(&app, &ops, &globex, "dave@globex.test").await;
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    assert!(html.contains(&format!("action=\"/admin/users/{bob}/unlock\"")));
    assert!(html.contains("Unlock<span class=\"visually-hidden\"> bob@acme.test</span>"), "a button named for its row");
    assert!(html.contains(&format!("<form method=\"get\" action=\"/admin/users/{bob}/reset-factors\">")), "resetting asks first");
    let (_, html) = submit(&app, &alice, &format!("/admin/users/{bob}/unlock"), &[("csrf_token", &csrf(&html)), ("tenant", &acme)]).await;
    assert!(flash(&html).contains("unlocked"), "{}", flash(&html));
    let (_, html) = page(&app, &alice, "/admin/audit?action=user.unlock").await;
    assert!(html.contains(&format!("user:{bob}")), "audited: {html}");

    let olga = Browser::new();
    let (_, html) = console_sign_in(&olga, &app, "olga@ops.test", PASSWORD).await;
    let token = csrf(&html);
    let reset = format!("/admin/users/{dave}/reset-factors?tenant={globex}");
    let (status, confirm) = page(&app, &olga, &reset).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("<strong>dave@globex.test</strong>") && confirm.contains("Reset two-step verification"));
    assert_eq!(user(&app, &ops, &globex, "dave@globex.test").await.unwrap()["methods"], json!(["totp"]), "asking changes nothing");
    let (_, html) = submit(&app, &olga, &format!("/admin/users/{dave}/reset-factors"), &[("csrf_token", &token), ("tenant", &globex)]).await;
    assert!(flash(&html).contains("reset"), "{}", flash(&html));
    assert!(html.contains("<h1>Globex</h1>"), "back on the tenant page");
    assert_eq!(user(&app, &ops, &globex, "dave@globex.test").await.unwrap()["methods"], json!([]));
    let (_, html) = page(&app, &olga, &format!("/admin/audit?action=user.factors.reset&target=user:{dave}")).await;
    assert!(html.contains("<code>user.factors.reset</code>") && html.contains("(you)"), "{html}");
}

#[tokio::test]
async fn roles_raise_an_alert_that_is_acknowledged_once() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let bob = user_id(&app, &ops, &acme, "bob@acme.test").await;
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    assert!(!html.contains("name=\"role_operator\""), "a tenant admin grants only admin");
    let token = csrf(&html);
    let (_, html) = submit(&app, &alice, &format!("/admin/users/{bob}/roles"), &[("csrf_token", &token), ("tenant", &acme), ("role_admin", "on")]).await;
    assert!(flash(&html).contains("bob@acme.test"));
    assert_eq!(user(&app, &ops, &acme, "bob@acme.test").await.unwrap()["roles"], json!(["admin"]));
    let (_, html) =
        submit(&app, &alice, &format!("/admin/users/{bob}/roles"), &[("csrf_token", &token), ("tenant", &acme), ("role_admin", "on"), ("role_operator", "on")])
            .await;
    assert!(flash(&html).contains("cannot be granted"), "the API's refusal: {}", flash(&html));
    assert_eq!(user(&app, &ops, &acme, "bob@acme.test").await.unwrap()["roles"], json!(["admin"]));

    let (status, html) = page(&app, &alice, "/admin/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("role escalation"), "{html}");
    let start = html.find("action=\"/admin/alerts/").unwrap() + "action=\"".len();
    let acknowledge = html[start..].split('"').next().unwrap().to_owned();
    let (_, html) = submit(&app, &alice, &acknowledge, &[("csrf_token", &token)]).await;
    assert_eq!(flash(&html), "The alert was acknowledged.");
    assert!(html.contains("Acknowledged by user:"));
    let (status, html) = submit(&app, &alice, &acknowledge, &[("csrf_token", &token)]).await;
    assert_eq!(status, StatusCode::OK, "no crash");
    assert!(html.contains("role=\"alert\" id=\"flash\">this alert was acknowledged before"), "{html}");
    let (_, html) = submit(&app, &alice, "/admin/alerts/nope/acknowledge", &[("csrf_token", &token)]).await;
    assert!(flash(&html).contains("does not exist"));
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_change_nothing() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let bob = user_id(&app, &ops, &acme, "bob@acme.test").await;
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    let bobs = Browser::new();
    let (_, bobs_html) = console_sign_in(&bobs, &app, "bob@acme.test", PASSWORD).await;
    let bobs_csrf = csrf(&bobs_html);
    assert_ne!(bobs_csrf, csrf(&html));
    let before = db_fingerprint(&app.data_dir()).await;
    let forms: [(String, Vec<(&str, &str)>); 8] = [
        (format!("/admin/tenants/{acme}/policy"), vec![("two_factor", "required"), ("method_totp", "on"), ("remember_device_days", "30")]),
        (format!("/admin/tenants/{acme}/domains"), vec![("domain", "acme.example")]),
        (format!("/admin/users/{bob}/roles"), vec![("role_admin", "on"), ("tenant", &acme)]),
        (format!("/admin/users/{bob}/unlock"), vec![("tenant", &acme)]),
        (format!("/admin/users/{bob}/reset-factors"), vec![("tenant", &acme)]),
        (format!("/admin/users/{bob}/erase"), vec![("tenant", &acme), ("confirm", "bob@acme.test")]),
        ("/admin/applications/vault/policy".to_owned(), vec![("two_factor", "bypass")]),
        ("/admin/simulate".to_owned(), vec![("email", "bob@acme.test"), ("client_id", "vault"), ("ip", "203.0.113.7")]),
    ];
    for (path, fields) in &forms {
        for token in [None, Some("forged"), Some(bobs_csrf.as_str())] {
            let mut form = fields.clone();
            if let Some(token) = token {
                form.push(("csrf_token", token));
            }
            let refused = post(&app, &alice, path, &form).await;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{path} with {token:?}");
            assert!(refused.text().await.unwrap().contains("This form has expired"));
        }
    }
    assert_eq!(db_fingerprint(&app.data_dir()).await, before, "nothing changed");
}

#[tokio::test]
async fn the_simulator_shows_the_winning_rule_and_every_reason() {
    let app = spawn().await;
    let alice = Browser::new();
    console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    let (status, html) = page(&app, &alice, "/admin/simulate").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<input id=\"client-id\" name=\"client_id\" type=\"text\""), "a tenant admin types the client id");
    let token = csrf(&html);
    let ask = |email: &'static str, client: &'static str| {
        [("csrf_token", token.clone()), ("email", email.into()), ("client_id", client.into()), ("ip", "203.0.113.7".into()), ("scopes", "openid email".into())]
    };
    let form = ask("bob@acme.test", "vault");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = post(&app, &alice, "/admin/simulate", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    for text in [
        "Stronger wins: security is elevated, the application requires 2FA",
        "<code>app_required</code>",
        "the application requires 2FA",
        "the domain policy leaves 2FA optional",
        "Sent to set up two-step verification",
    ] {
        assert!(html.contains(text), "{text} missing: {html}");
    }
    assert!(html.contains("value=\"bob@acme.test\""), "the form stays filled in");
    let form = ask("dave@globex.test", "vault");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let elsewhere = post(&app, &alice, "/admin/simulate", &form).await;
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
    let html = elsewhere.text().await.unwrap();
    assert!(html.contains("class=\"error\" role=\"alert\"") && !html.contains("app_required"), "another tenant's person is not found");

    let olga = Browser::new();
    console_sign_in(&olga, &app, "olga@ops.test", PASSWORD).await;
    let (_, html) = page(&app, &olga, "/admin/simulate").await;
    assert!(html.contains("<select id=\"client-id\" name=\"client_id\">") && html.contains("<option value=\"wiki\">"), "operators pick an application");
    let form = [("csrf_token", csrf(&html)), ("email", "dave@globex.test".into()), ("client_id", "wiki".into()), ("ip", "203.0.113.7".into())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let html = post(&app, &olga, "/admin/simulate", &form).await.text().await.unwrap();
    assert!(
        html.contains("The App Bypass always wins") && html.contains("<code>app_bypass</code>") && html.contains("the domain policy requires 2FA"),
        "{html}"
    );
    assert!(html.contains("<option value=\"wiki\" selected>"));
}

#[tokio::test]
async fn an_erasure_needs_the_address_typed_again() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let bob = user_id(&app, &ops, &acme, "bob@acme.test").await;
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    let token = csrf(&html);
    let (status, confirm) = page(&app, &alice, &format!("/admin/users/{bob}/erase?tenant={acme}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirm.contains("<strong>bob@acme.test</strong>") && confirm.contains("<label for=\"confirm\">"));
    let erase = format!("/admin/users/{bob}/erase");
    for typed in ["", "alice@acme.test", "bob@acme.test.evil"] {
        let (_, html) = submit(&app, &alice, &erase, &[("csrf_token", &token), ("tenant", &acme), ("confirm", typed)]).await;
        assert_eq!(flash(&html), "That is not this person's email address. Nothing was erased.");
        assert!(html.contains("<strong>bob@acme.test</strong>"), "back at the confirmation");
    }
    assert!(user(&app, &ops, &acme, "bob@acme.test").await.is_some(), "nothing erased");
    let (_, html) = submit(&app, &alice, &erase, &[("csrf_token", &token), ("tenant", &acme), ("confirm", " Bob@Acme.test ")]).await;
    assert_eq!(flash(&html), "Erased: bob@acme.test");
    assert!(user(&app, &ops, &acme, "bob@acme.test").await.is_none());
    let (_, html) = submit(&app, &alice, &erase, &[("csrf_token", &token), ("tenant", &acme), ("confirm", "bob@acme.test")]).await;
    assert!(flash(&html).contains("does not exist"), "a second erasure: {html}");
}

#[tokio::test]
async fn the_user_page_pages_through_login_history_with_the_policy_reasons() {
    let app = spawn().await;
    let ops = operator_token(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let bob = user_id(&app, &ops, &acme, "bob@acme.test").await;
    for _ in 0..26 {
        assert_code_for("payroll", &password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await);
    }
    let alice = Browser::new();
    let (_, html) = console_sign_in(&alice, &app, "alice@acme.test", PASSWORD).await;
    let link = format!("/admin/users/{bob}?tenant={acme}");
    assert!(html.contains(&format!("href=\"{link}\"")), "the users table links to the person");
    let (status, html) = page(&app, &alice, &link).await;
    assert_eq!(status, StatusCode::OK);
    for text in [
        "<h1>bob@acme.test</h1>",
        "payroll",
        "Adaptive: risky, but the user has no second factor",
        "the application asks for 2FA when the sign-in is risky",
        "Download personal data",
    ] {
        assert!(html.contains(text), "{text} missing");
    }
    assert_eq!(html.matches("<ul class=\"reasons\">").count(), 25, "a page of 25");
    let older = link_to(&html, "Older entries");
    assert!(older.contains("before="), "an older page: {older}");
    let (status, html) = page(&app, &alice, &older).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.matches("<ul class=\"reasons\">").count() >= 1, "the rest");
    let (status, _) = page(&app, &alice, &format!("/admin/users/{bob}?tenant={acme}&before=garbage")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a tampered cursor is a notice");

    let download = alice.get(&app.url(&format!("/admin/users/{bob}/personal-data"))).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert!(download.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let report: Value = download.json().await.unwrap();
    assert!(report.to_string().contains("bob@acme.test"));
    let audit = api(&app, &ops, &format!("/api/v1/audit?action=personal_data.export&target=user:{bob}")).await;
    assert_eq!(audit["records"].as_array().unwrap().len(), 1, "the export is recorded");
}

/// A tenant admin cannot act on an instance operator who is in their tenant (strip the role,
/// reset, unlock, read or erase them); granting `operator` raises the role-escalation alert;
/// the console cannot be set to Bypass through the API.
#[tokio::test]
async fn operators_are_out_of_a_tenant_admins_reach_and_the_console_never_bypasses() {
    let app = spawn().await;
    let olga = token_for(&app, "wiki", "olga@ops.test", None).await;
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let users: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{}/users", acme_id(&app, &olga).await), &olga, None).await.json().await.unwrap();
    let bob = users["users"].as_array().unwrap().iter().find(|u| u["email"] == "bob@acme.test").unwrap()["id"].as_str().unwrap().to_owned();
    let granted = call(&app, Method::PATCH, &format!("/api/v1/users/{bob}"), &olga, Some(json!({ "roles": ["operator"] }))).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let alerts: Value = call(&app, Method::GET, "/api/v1/alerts", &olga, None).await.json().await.unwrap();
    assert!(alerts.to_string().contains("role_escalation") && alerts.to_string().contains(&format!("user:{bob}")), "{alerts}");

    let before = db_fingerprint(&app.data_dir()).await;
    for (method, path, body) in [
        (Method::PATCH, format!("/api/v1/users/{bob}"), Some(json!({ "roles": ["admin"] }))),
        (Method::DELETE, format!("/api/v1/users/{bob}/factors"), None),
        (Method::POST, format!("/api/v1/users/{bob}/unlock"), None),
        (Method::GET, format!("/api/v1/users/{bob}/personal-data"), None),
        (Method::DELETE, format!("/api/v1/users/{bob}"), None),
    ] {
        let refused = call(&app, method.clone(), &path, &alice, body).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    assert_eq!(db_fingerprint(&app.data_dir()).await, before, "nothing changed");

    // An operator changing Bob's other roles keeps the operator role only by saying so; a
    // tenant admin's role list never drops a role they cannot grant (tested through Olga
    // making him an admin: operator stays because she lists it).
    let both = call(&app, Method::PATCH, &format!("/api/v1/users/{bob}"), &olga, Some(json!({ "roles": ["admin", "operator"] }))).await;
    let both: Value = both.json().await.unwrap();
    assert_eq!(both["roles"], json!(["admin", "operator"]));

    let bypass = call(&app, Method::PUT, "/api/v1/applications/gatehouse-console/policy", &olga, Some(json!({ "two_factor": "bypass" }))).await;
    assert_eq!(bypass.status(), StatusCode::CONFLICT);
    let required = call(&app, Method::PUT, "/api/v1/applications/gatehouse-console/policy", &olga, Some(json!({ "two_factor": "required" }))).await;
    assert_eq!(required.status(), StatusCode::OK);
}

async fn acme_id(app: &TestApp, token: &str) -> String {
    let tenants: Value = call(app, Method::GET, "/api/v1/tenants", token, None).await.json().await.unwrap();
    tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == "Acme Oy").unwrap()["id"].as_str().unwrap().to_owned()
}
