//! The account page (`/account`) against the real binary: the console signs in through
//! `/authorize` like any first-party application, then every read and write goes through the
//! self-service API with the person's token. Covers adding, confirming, renaming and removing
//! factors (with the step-up the API asks for), sessions, "download my data", and the bad
//! input: forms without or with a stale CSRF token, another person's factor id, double
//! submits, and a replayed or forged callback (the back button after signing in).

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::app::{SpawnOptions, TestApp, db_fingerprint, spawn_with};
use crate::support::browser::{Browser, hidden, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, FIXTURE};
use crate::support::walker::{totp_now, visit};

/// The two-factor fixture, with the console set to Bypass so a password alone signs in and
/// the API's own step-up is what asks for the second factor.
fn fixture() -> String {
    format!(
        "{}\n[[application]]\nclient_id = \"gatehouse-console\"\nname = \"Console\"\nredirect_uris = [\"http://127.0.0.1:1/console/callback\"]\ngrant_types = [\"authorization_code\"]\ntwo_factor = \"bypass\"\n",
        FIXTURE
    )
}

async fn spawn() -> TestApp {
    let fixture = fixture();
    spawn_with(SpawnOptions { fixture: &fixture, ..Default::default() }).await
}

async fn post(app: &TestApp, browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    browser.http.post(app.url(path)).form(fields).send().await.unwrap()
}

fn factor_id(html: &str, label: &str) -> String {
    let row = html.find(&format!("value=\"{label}")).unwrap_or_else(|| panic!("no factor {label} in {html}"));
    let start = html[..row].rfind("/account/factors/").unwrap() + "/account/factors/".len();
    html[start..].split('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_account_page_signs_in_through_authorize_and_shows_the_person() {
    let app = spawn().await;
    let browser = Browser::new();
    let first = browser.get(&app.url("/account")).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let to = location(&first);
    assert!(to.contains("/authorize?client_id=gatehouse-console") && to.contains("code_challenge_method=S256"), "{to}");
    let (status, path, html) = visit(&app, &browser, "/account", "alice@acme.test", None).await;
    assert_eq!((status, path.as_str()), (StatusCode::OK, "/account"));
    for text in ["Alice", "alice@acme.test", "Authenticator app", "this browser", "gatehouse-console", "Download my data"] {
        assert!(html.contains(text), "{text} missing");
    }
    assert!(!html.contains(ALICE_TOTP), "never a secret");
    let page = browser.get(&app.url("/account")).await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["cache-control"], "no-store");
    // Replaying the callback (the back button after signing in) is a friendly page, no session.
    let replay = visit(&app, &Browser::new(), "/console/callback?code=x&state=y", "alice@acme.test", None).await;
    assert_eq!(replay.0, StatusCode::BAD_REQUEST);
    assert!(replay.2.contains("already used or has expired"), "{}", replay.2);
}

#[tokio::test]
async fn an_authenticator_app_is_added_from_the_account_page() {
    let app = spawn().await;
    let browser = Browser::new();
    let (_, _, html) = visit(&app, &browser, "/account", "bob@acme.test", None).await;
    assert!(html.contains("You have not set up a second step yet."));
    let csrf = hidden(&html, "csrf_token").unwrap();
    let started = post(&app, &browser, "/account/factors/totp", &[("csrf_token", &csrf)]).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let setup = location(&started);
    let page = browser.get(&app.url(&setup)).await.text().await.unwrap();
    let key_at = page.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
    let secret: String = page[key_at..].chars().take_while(|c| *c != '<').filter(|c| !c.is_whitespace()).collect();
    assert!(page.contains("data:image/svg+xml;base64,"), "a QR code");
    let confirm = setup.replace("/setup", "/confirm");
    let wrong = post(&app, &browser, &confirm, &[("csrf_token", &csrf), ("code", "000000")]).await;
    assert_eq!(location(&wrong), setup, "a wrong code comes back to the same key");
    let again = browser.get(&app.url(&setup)).await.text().await.unwrap();
    assert!(again.contains(&secret) && again.contains("role=\"alert\""), "the key again, with the reason");
    let right = post(&app, &browser, &confirm, &[("csrf_token", &csrf), ("code", &totp_now(&secret))]).await;
    assert!(location(&right).starts_with("/account"));
    let (_, _, html) = visit(&app, &browser, "/account", "bob@acme.test", None).await;
    assert!(html.contains("The method was added.") && html.contains("Recovery codes left:"), "{html}");
    assert!(!html.contains("not finished"));
    let gone = browser.get(&app.url(&setup)).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "the key is not shown again");
    // The confirmation sent twice: a message on the account page, nothing changed.
    let twice = post(&app, &browser, &confirm, &[("csrf_token", &csrf), ("code", &totp_now(&secret))]).await;
    assert!(location(&twice).starts_with("/account"), "{}", location(&twice));
}

#[tokio::test]
async fn removing_a_factor_asks_for_the_second_factor_first_and_a_double_submit_changes_nothing() {
    let app = spawn().await;
    let browser = Browser::new();
    let (_, _, html) = visit(&app, &browser, "/account", "alice@acme.test", None).await;
    let csrf = hidden(&html, "csrf_token").unwrap();
    let id = factor_id(&html, "Phone (imported)");
    let remove = format!("/account/factors/{id}/remove");
    let confirm_page = browser.get(&app.url(&remove)).await.text().await.unwrap();
    assert!(confirm_page.contains("Remove this method"));
    // Password only: the API wants a fresh sign-in with a second factor.
    let step_up = post(&app, &browser, &remove, &[("csrf_token", &csrf)]).await;
    let to = location(&step_up);
    assert!(to.contains("/authorize?") && to.contains("acr_values=urn%3Agatehouse%3Aacr%3Amfa") && to.contains("prompt=login"), "{to}");
    let (status, path, page) = visit(&app, &browser, &to, "alice@acme.test", Some(ALICE_TOTP)).await;
    assert_eq!((status, path.as_str()), (StatusCode::OK, remove.as_str()), "back at the confirmation");
    assert!(page.contains("Remove this method"));
    // The sign-in gave the console session a new key, but the same person keeps their CSRF
    // token: a form opened before the step-up (in this or another tab) still works.
    assert_eq!(hidden(&page, "csrf_token").unwrap(), csrf);
    let removed = post(&app, &browser, &remove, &[("csrf_token", &csrf)]).await;
    assert!(location(&removed).starts_with("/account"));
    let (_, _, html) = visit(&app, &browser, "/account", "alice@acme.test", None).await;
    assert!(html.contains("The method was removed.") && !html.contains("value=\"Phone (imported)"));
    let before = db_fingerprint(&app.data_dir()).await;
    let twice = post(&app, &browser, &remove, &[("csrf_token", &csrf)]).await;
    assert!(location(&twice).starts_with("/account"));
    let (_, _, html) = visit(&app, &browser, "/account", "alice@acme.test", None).await;
    assert!(html.contains("does not exist or is not yours"), "a friendly message");
    assert_eq!(db_fingerprint(&app.data_dir()).await, before, "the double submit changed nothing");
}

#[tokio::test]
async fn another_persons_factor_and_forged_forms_change_nothing() {
    let app = spawn().await;
    let alice = Browser::new();
    let (_, _, html) = visit(&app, &alice, "/account", "alice@acme.test", None).await;
    let alices_factor = factor_id(&html, "Authenticator app");
    let bob = Browser::new();
    let (_, _, html) = visit(&app, &bob, "/account", "bob@acme.test", None).await;
    let csrf = hidden(&html, "csrf_token").unwrap();
    let before = db_fingerprint(&app.data_dir()).await;
    let renamed = post(&app, &bob, &format!("/account/factors/{alices_factor}/rename"), &[("csrf_token", &csrf), ("label", "mine now")]).await;
    assert!(location(&renamed).starts_with("/account"));
    let page = bob.get(&app.url("/account")).await.text().await.unwrap();
    assert!(page.contains("does not exist or is not yours"), "{page}");
    let peek = bob.get(&app.url(&format!("/account/factors/{alices_factor}/remove"))).await;
    assert_eq!(peek.status(), StatusCode::NOT_FOUND);
    for fields in [vec![("label", "x")], vec![("csrf_token", "forged"), ("label", "x")]] {
        let refused = post(&app, &bob, &format!("/account/factors/{alices_factor}/rename"), &fields).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.text().await.unwrap().contains("This form has expired"));
    }
    // Alice's CSRF token is no good in Bob's browser, nor in a browser with no console session.
    let alices_csrf = hidden(&alice.get(&app.url("/account")).await.text().await.unwrap(), "csrf_token").unwrap();
    let crossed = post(&app, &bob, "/account/recovery-codes", &[("csrf_token", &alices_csrf)]).await;
    assert_eq!(crossed.status(), StatusCode::BAD_REQUEST);
    let stranger = post(&app, &Browser::new(), "/account/recovery-codes", &[("csrf_token", &alices_csrf)]).await;
    assert_eq!(stranger.status(), StatusCode::BAD_REQUEST);
    assert_eq!(db_fingerprint(&app.data_dir()).await, before, "nothing changed");
}

#[tokio::test]
async fn sessions_are_listed_and_signed_out_and_personal_data_downloads() {
    let app = spawn().await;
    let laptop = Browser::new();
    let phone = Browser::new();
    visit(&app, &phone, "/account", "alice@acme.test", None).await;
    let (_, _, html) = visit(&app, &laptop, "/account", "alice@acme.test", None).await;
    assert_eq!(html.matches("/revoke\"").count(), 2, "two sessions");
    let csrf = hidden(&html, "csrf_token").unwrap();
    // The session that is not this browser's.
    let mut other = None;
    for row in html.split("<tr>").filter(|r| r.contains("/revoke\"")) {
        if !row.contains("this browser") {
            let start = row.find("/account/sessions/").unwrap() + "/account/sessions/".len();
            other = Some(row[start..].split('/').next().unwrap().to_owned());
        }
    }
    let other = other.unwrap();
    let revoked = post(&app, &laptop, &format!("/account/sessions/{other}/revoke"), &[("csrf_token", &csrf)]).await;
    assert!(location(&revoked).starts_with("/account"));
    let (_, _, html) = visit(&app, &laptop, "/account", "alice@acme.test", None).await;
    assert!(html.contains("That session was signed out.") && html.matches("/revoke\"").count() == 1);
    // The phone's console token was revoked with its session: it has to sign in again.
    let phone_page = phone.get(&app.url("/account")).await;
    assert_eq!(phone_page.status(), StatusCode::SEE_OTHER);
    assert!(location(&phone_page).contains("/authorize?"));

    let download = laptop.get(&app.url("/account/personal-data")).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert!(download.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let report: Value = download.json().await.unwrap();
    assert!(report.to_string().contains("alice@acme.test"));
    // A link on another site does not export anything.
    let elsewhere = laptop.http.get(app.url("/account/personal-data")).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::BAD_REQUEST);
}
