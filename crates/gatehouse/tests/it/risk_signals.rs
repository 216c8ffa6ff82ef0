//! Risk signals and what is recorded, over HTTP: remembered browsers, trusted proxies, the
//! sign-in history with its decisions, introspection of the achieved level, and
//! `gatehouse policy explain` on the same data.

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::support::api::client_token;
use crate::support::app::{SpawnOptions, TempDir, cli, read_only_db, spawn_with};
use crate::support::browser::{Browser, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, ERIN_TOTP, FIXTURE, PASSWORD, SECRET, spawn};
use crate::support::walker::{assert_code_for, page, password_step, present, query, redeem, totp_now};

#[tokio::test]
async fn a_remembered_browser_skips_the_adaptive_prompt_and_others_do_not() {
    let app = spawn().await;
    let remembered = Browser::from_address("127.0.0.9".parse().unwrap());
    let to = remembered.sign_in(&app, &query("payroll", ""), ("erin@initech.test", PASSWORD)).await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let html = page(&app, &remembered, &to).await;
    assert!(html.contains("name=\"remember_device\""), "the domain allows remembering for 30 days");
    let response = remembered.post_step(&app, "/login/factor", &html, &[("method", "totp"), ("code", &totp_now(ERIN_TOTP)), ("remember_device", "on")]).await;
    assert_code_for("payroll", &location(&response));
    let set_cookies: Vec<_> = response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(set_cookies.iter().any(|c| c.starts_with("gatehouse_device=") && c.contains("Max-Age=34560000") && c.contains("HttpOnly")), "{set_cookies:?}");

    // The same browser signs in again with its password: no second factor this time.
    let again = remembered.sign_in(&app, &query("payroll", "&prompt=login"), ("erin@initech.test", PASSWORD)).await;
    assert_code_for("payroll", &again);
    // A browser that did not ask to be remembered is asked again.
    let other = Browser::from_address("127.0.0.9".parse().unwrap());
    let to = other.sign_in(&app, &query("payroll", ""), ("erin@initech.test", PASSWORD)).await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let response = present(&app, &other, &to, "totp", &totp_now(ERIN_TOTP)).await;
    assert_eq!(response.status(), StatusCode::OK, "the code of this step was spent by the first browser");
}

#[tokio::test]
async fn every_attempt_is_recorded_with_its_decision() {
    use sqlx::Row as _;
    let app = spawn().await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &query("vault", "")).await);
    let wrong = browser.submit_login(&app, &login, "alice@acme.test", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::OK);
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    present(&app, &browser, &to, "totp", "000000x").await;
    let response = present(&app, &browser, &to, "totp", &totp_now(ALICE_TOTP)).await;
    assert_code_for("vault", &location(&response));

    let pool = read_only_db(&app.data_dir()).await;
    let rows = sqlx::query("SELECT result, client_id, address, amr, acr, decision FROM sign_in_events ORDER BY at, rowid").fetch_all(&pool).await.unwrap();
    let results: Vec<String> = rows.iter().map(|r| r.get("result")).collect();
    assert_eq!(results, ["failure", "second_factor_failure", "success"]);
    let success = &rows[2];
    assert_eq!(success.get::<String, _>("client_id"), "vault");
    assert_eq!(success.get::<String, _>("address"), "127.0.0.1");
    assert_eq!(success.get::<String, _>("amr"), r#"["pwd","otp","mfa"]"#);
    assert_eq!(success.get::<String, _>("acr"), "urn:gatehouse:acr:mfa");
    let decision: Value = serde_json::from_str(&success.get::<String, _>("decision")).unwrap();
    assert_eq!(decision["winning_rule"]["code"], "app_required", "{decision}");
    assert!(decision["reasons"].as_array().unwrap().iter().any(|r| r["code"] == "app_required"), "{decision}");
    pool.close().await;
}

#[tokio::test]
async fn policy_explain_prints_the_outcome_the_winning_rule_and_every_reason() {
    let app = spawn().await;
    let data = app.data_dir();
    let explain = |args: &[&str]| {
        let mut all = vec!["policy", "explain"];
        all.extend_from_slice(args);
        cli(&data, &all)
    };
    let (ok, out, err) = explain(&["--email", "dave@globex.test", "--app", "wiki", "--ip", "203.0.113.7"]);
    assert!(ok, "{err}");
    assert!(out.contains("outcome: no_prompt"), "{out}");
    assert!(out.contains("winning rule: app_bypass — The App Bypass always wins"), "{out}");
    assert!(out.contains("  - domain_required:"), "every reason is listed: {out}");

    let (ok, out, _) = explain(&["--email", "dave@globex.test", "--app", "payroll", "--ip", "203.0.113.7", "--json"]);
    assert!(ok);
    let decision: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decision["winning_rule"]["code"], "domain_required");
    assert_eq!(decision["outcome"]["kind"], "second_factor");
    assert_eq!(decision["outcome"]["methods"], serde_json::json!(["totp"]), "dave has TOTP only, no recovery codes");

    let (_, out, _) = explain(&["--email", "bob@acme.test", "--app", "vault", "--ip", "203.0.113.7"]);
    assert!(out.contains("outcome: enroll") && out.contains("winning rule: app_required"), "{out}");
    let (_, out, _) = explain(&["--email", "alice@acme.test", "--app", "wiki", "--ip", "203.0.113.7", "--scope", "pages:delete"]);
    assert!(out.contains("outcome: second_factor") && out.contains("winning rule: step_up"), "{out}");
    let (_, out, _) = explain(&["--email", "dave@globex.test", "--app", "payroll", "--ip", "203.0.113.7", "--acr", "phr"]);
    assert!(out.contains("error unmet_authentication_requirements"), "{out}");
    let (_, office, _) = explain(&["--email", "erin@initech.test", "--app", "payroll", "--ip", "127.0.0.3"]);
    assert!(office.contains("winning rule: adaptive_low_risk") && office.contains("trusted_network"), "{office}");
    let (_, remembered, _) = explain(&["--email", "erin@initech.test", "--app", "payroll", "--ip", "198.51.100.7", "--known-device"]);
    assert!(remembered.contains("outcome: no_prompt") && remembered.contains("remembered_device"), "{remembered}");

    let (ok, _, err) = explain(&["--email", "nobody@acme.test", "--app", "payroll", "--ip", "203.0.113.7"]);
    assert!(!ok && err.contains("no user with email"), "{err}");
    let (ok, _, err) = explain(&["--email", "dave@globex.test", "--app", "nope", "--ip", "203.0.113.7"]);
    assert!(!ok && err.contains("no application"), "{err}");
    let (ok, _, err) = explain(&["--email", "dave@globex.test", "--app", "payroll", "--ip", "not-an-ip"]);
    assert!(!ok && err.contains("--ip"), "{err}");
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let proxy: std::net::IpAddr = "127.0.0.9".parse().unwrap();
    // Without a trusted proxy, a client claiming the office address is still at the coffee shop.
    let app = spawn().await;
    let spoofing = Browser::behind(proxy, Some("127.0.0.3"));
    let to = spoofing.sign_in(&app, &query("payroll", ""), ("erin@initech.test", PASSWORD)).await;
    assert!(to.starts_with("/login/factor"), "the header is ignored: {to}");

    let app = spawn_with(SpawnOptions { fixture: FIXTURE, extra: &["--trusted-proxy", "127.0.0.9/32"], ..Default::default() }).await;
    let from_office = Browser::behind(proxy, Some("198.51.100.20, 127.0.0.3"));
    assert_code_for("payroll", &from_office.sign_in(&app, &query("payroll", ""), ("erin@initech.test", PASSWORD)).await);
    let from_cafe = Browser::behind(proxy, Some("127.0.0.3, 198.51.100.20"));
    let to = from_cafe.sign_in(&app, &query("payroll", ""), ("erin@initech.test", PASSWORD)).await;
    assert!(to.starts_with("/login/factor"), "the client is the nearest untrusted hop, not a spoofed left entry: {to}");
    let scratch = TempDir::new("bad-proxy");
    let (ok, _, err) = cli(&scratch.path().join("data"), &["serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/33"]);
    assert!(!ok && err.contains("trusted_proxies"), "{err}");
}

#[tokio::test]
async fn introspection_reports_the_achieved_acr_amr_and_auth_time() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let callback = location(&present(&app, &browser, &to, "totp", &totp_now(ALICE_TOTP)).await);
    let tokens = redeem(&app, "vault", &callback).await;
    let introspected: Value = Client::new()
        .post(app.url("/introspect"))
        .basic_auth("vault", Some(SECRET))
        .form(&[("token", tokens["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["acr"], "urn:gatehouse:acr:mfa", "{introspected}");
    assert_eq!(introspected["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert!(introspected["auth_time"].as_i64().unwrap() > 1_700_000_000);
}

#[tokio::test]
async fn login_history_is_the_users_own_and_their_admins_not_another_tenants() {
    use crate::support::api::{call, token_for};
    let app = spawn().await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &query("vault", "")).await);
    assert_eq!(browser.submit_login(&app, &login, "alice@acme.test", "wrong password").await.status(), StatusCode::OK);
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let page: Value = call(&app, reqwest::Method::GET, "/api/v1/me/sign-ins", &alice, None).await.json().await.unwrap();
    let entries = page["sign_ins"].as_array().unwrap();
    let results: Vec<&str> = entries.iter().map(|e| e["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["success", "failure"], "newest first: {page}");
    let success = &entries[0];
    assert_eq!((success["application"].as_str(), success["address"].as_str()), (Some("vault"), Some("127.0.0.1")));
    assert_eq!(success["methods"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(success["policy"]["rule"], "app_required");
    assert!(success["device"].is_string());
    assert!(page["next"].is_null());

    let first: Value = call(&app, reqwest::Method::GET, "/api/v1/me/sign-ins?limit=1", &alice, None).await.json().await.unwrap();
    let cursor = first["next"].as_str().unwrap();
    let second: Value = call(&app, reqwest::Method::GET, &format!("/api/v1/me/sign-ins?limit=1&before={cursor}"), &alice, None).await.json().await.unwrap();
    assert_eq!(second["sign_ins"][0]["result"], "failure", "the cursor continues");
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me/sign-ins?before=nonsense", &alice, None).await.status(), StatusCode::BAD_REQUEST);

    // Alice administers Acme: she sees Bob's history. Dave administers Globex: Alice's is not found.
    let ops: Value = client_token(&app, "ops", "gatehouse:admin").await.json().await.unwrap();
    let ops = ops["access_token"].as_str().unwrap();
    let tenants: Value = call(&app, reqwest::Method::GET, "/api/v1/tenants", ops, None).await.json().await.unwrap();
    let acme = tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == "Acme Oy").unwrap()["id"].as_str().unwrap().to_owned();
    let users: Value = call(&app, reqwest::Method::GET, &format!("/api/v1/tenants/{acme}/users"), ops, None).await.json().await.unwrap();
    let id_of = |email: &str| users["users"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"].as_str().unwrap().to_owned();
    let (alice_id, bob_id) = (id_of("alice@acme.test"), id_of("bob@acme.test"));
    assert_eq!(call(&app, reqwest::Method::GET, &format!("/api/v1/users/{bob_id}/sign-ins"), &alice, None).await.status(), StatusCode::OK);
    let dave = token_for(&app, "wiki", "dave@globex.test", None).await;
    assert_eq!(call(&app, reqwest::Method::GET, &format!("/api/v1/users/{alice_id}/sign-ins"), &dave, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(call(&app, reqwest::Method::GET, &format!("/api/v1/users/{alice_id}/sign-ins"), ops, None).await.status(), StatusCode::OK);
}
