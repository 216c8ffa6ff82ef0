//! Second factors in sign-in, over HTTP against the real binary: the three seed scenarios of
//! the policy, the TOTP, SMS and recovery-code steps, the enrollment wizard, step-up, trusted
//! networks, SSO sessions that step up, and the rejections (replays, throttling, forms).

use reqwest::StatusCode;

use crate::support::app::{db_fingerprint, read_only_db};
use crate::support::browser::{Browser, hidden, location, query_param};
use crate::support::fixtures::two_factor::{ALICE_TOTP, DAVE_TOTP, ERIN_TOTP, PASSWORD, spawn};
use crate::support::walker::{assert_code_for, id_token_claims, outbox_lines, page, password_step, present, query, query_scoped, totp_now};

#[tokio::test]
async fn seed_domain_required_app_bypass_never_prompts() {
    let app = spawn().await;
    // Dave has 2FA and his domain requires it; Carol's domain requires it and she has none.
    for who in ["dave@globex.test", "carol@globex.test"] {
        let to = password_step(&app, &Browser::new(), "wiki", "", who).await;
        assert_code_for("wiki", &to);
        let claims = id_token_claims(&app, "wiki", &to).await;
        assert_eq!(claims["acr"], "urn:gatehouse:acr:pwd", "{who}");
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    }
}

#[tokio::test]
async fn seed_domain_optional_app_required_asks_for_2fa() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let html = page(&app, &browser, &to).await;
    assert!(html.contains("autocomplete=\"one-time-code\""));
    let response = present(&app, &browser, &to, "totp", &totp_now(ALICE_TOTP)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let callback = location(&response);
    assert_code_for("vault", &callback);
    let claims = id_token_claims(&app, "vault", &callback).await;
    assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // Bob has no factor: the enrollment wizard.
    let to = password_step(&app, &Browser::new(), "vault", "", "bob@acme.test").await;
    assert!(to.starts_with("/login/enroll?request="), "{to}");
}

#[tokio::test]
async fn seed_domain_required_app_adaptive_asks_for_2fa_and_the_wizard_enrolls() {
    let app = spawn().await;
    let to = password_step(&app, &Browser::new(), "payroll", "", "dave@globex.test").await;
    assert!(to.starts_with("/login/factor?request="), "{to}");

    // Carol must enroll: QR code and key, a wrong code first, then the right one.
    let browser = Browser::new();
    let to = password_step(&app, &browser, "payroll", "", "carol@globex.test").await;
    assert!(to.starts_with("/login/enroll?request="), "{to}");
    let html = page(&app, &browser, &to).await;
    assert!(html.contains("src=\"data:image/svg+xml;base64,"), "a QR code");
    let start = html.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
    let secret = html[start..].split('<').next().unwrap().to_owned();
    assert_eq!(page(&app, &browser, &to).await.matches(&secret).count(), 1, "reloading shows the same key");
    let wrong = browser.post_step(&app, "/login/enroll", &html, &[("code", "12345x")]).await;
    assert_eq!(wrong.status(), StatusCode::OK);
    assert!(wrong.text().await.unwrap().contains("not correct"));
    let done_early = browser.post_step(&app, "/login/enroll/done", &html, &[]).await;
    assert_eq!(done_early.status(), StatusCode::BAD_REQUEST, "no skipping the code");

    let codes_page = browser.post_step(&app, "/login/enroll", &html, &[("code", &totp_now(&secret))]).await;
    assert_eq!(codes_page.status(), StatusCode::OK);
    let codes_html = codes_page.text().await.unwrap();
    let codes: Vec<String> = codes_html.split("<li><code>").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");
    let resumed = browser.post_step(&app, "/login/enroll/done", &codes_html, &[]).await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    let callback = location(&resumed);
    assert_code_for("payroll", &callback);
    assert_eq!(id_token_claims(&app, "payroll", &callback).await["acr"], "urn:gatehouse:acr:mfa");
    let notices = outbox_lines(&app, "notifications.jsonl");
    assert!(notices.iter().any(|n| n["kind"] == "factor_added" && n["to"] == "carol@globex.test"), "{notices:?}");
    let pool = read_only_db(&app.data_dir()).await;
    let audited: Vec<(String, String)> = sqlx::query_as("SELECT actor, action FROM audit_records WHERE action = 'factor.add'").fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(audited.len(), 1, "the wizard's new factor is in the audit trail");
    assert!(audited[0].0.starts_with("user:"));

    // Next time Carol is asked for her factor; a recovery code works once.
    let browser = Browser::new();
    let to = password_step(&app, &browser, "payroll", "", "carol@globex.test").await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let used = present(&app, &browser, &to, "recovery_code", &codes[0]).await;
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    assert_code_for("payroll", &location(&used));
    let browser = Browser::new();
    let to = password_step(&app, &browser, "payroll", "", "carol@globex.test").await;
    let again = present(&app, &browser, &to, "recovery_code", &codes[0]).await;
    assert_eq!(again.status(), StatusCode::OK, "a recovery code is single use");
}

#[tokio::test]
async fn totp_replay_is_refused_and_the_user_told() {
    let app = spawn().await;
    let code = totp_now(ALICE_TOTP);
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    assert_eq!(present(&app, &browser, &to, "totp", &code).await.status(), StatusCode::SEE_OTHER);

    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let replay = present(&app, &browser, &to, "totp", &code).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert!(replay.text().await.unwrap().contains("already used"));
    let mut told = false;
    for _ in 0..50 {
        told = outbox_lines(&app, "notifications.jsonl").iter().any(|n| n["kind"] == "totp_code_reused");
        if told {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(told, "the user is notified of a replayed code");
}

#[tokio::test]
async fn wrong_codes_are_counted_and_throttled_with_retry_after() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    for wrong in ["abcdef", "1234567", "", "12 456", "000000x", "99999", "x", "-1", "1e6", "0x10"] {
        let response = present(&app, &browser, &to, "totp", wrong).await;
        assert_eq!(response.status(), StatusCode::OK, "{wrong:?} is refused on the page");
    }
    let locked = present(&app, &browser, &to, "totp", &totp_now(ALICE_TOTP)).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "even a right code waits once locked");
    assert!(locked.headers().get("retry-after").is_some());
}

#[tokio::test]
async fn sms_code_from_the_outbox_signs_in_and_resends_are_throttled() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&app, &browser, &to).await;
    assert!(html.contains("ending in 67"), "the number is masked");
    assert!(!html.contains("401234567"));
    let sent = browser.post_step(&app, "/login/factor/sms", &html, &[]).await;
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(sent.text().await.unwrap().contains("We sent a code"));
    let messages = outbox_lines(&app, "sms.jsonl");
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["to"], "+358401234567");
    let text = messages[0]["text"].as_str().unwrap();
    let code: String = text.split("code is ").nth(1).unwrap().chars().take(6).collect();

    let resend = browser.post_step(&app, "/login/factor/sms", &html, &[]).await;
    assert_eq!(resend.status(), StatusCode::TOO_MANY_REQUESTS, "one text per 30 seconds");
    assert_eq!(outbox_lines(&app, "sms.jsonl").len(), 1);

    let wrong_digit = if code.starts_with('9') { "0" } else { "9" };
    let wrong = present(&app, &browser, &to, "sms", &format!("{wrong_digit}{}", &code[1..])).await;
    assert!(wrong.text().await.unwrap().contains("tries left"));
    let response = present(&app, &browser, &to, "sms", &code).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let claims = id_token_claims(&app, "vault", &location(&response)).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms", "mfa"]));
}

#[tokio::test]
async fn step_up_scope_asks_for_2fa_even_in_a_bypass_app() {
    let app = spawn().await;
    let to = password_step(&app, &Browser::new(), "wiki", "", "alice@acme.test").await;
    assert_code_for("wiki", &to);
    let step_up = query_scoped("wiki", "openid pages:delete", "");
    let to = Browser::new().sign_in(&app, &step_up, ("alice@acme.test", PASSWORD)).await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let acr = Browser::new().sign_in(&app, &query("wiki", "&acr_values=urn%3Agatehouse%3Aacr%3Amfa"), ("alice@acme.test", PASSWORD)).await;
    assert!(acr.starts_with("/login/factor?request="), "acr_values steps up too: {acr}");
}

#[tokio::test]
async fn a_step_up_no_allowed_method_can_meet_is_refused() {
    let app = spawn().await;
    // Globex allows TOTP and SMS; neither is phishing-resistant.
    let to = password_step(&app, &Browser::new(), "payroll", "&acr_values=phr", "dave@globex.test").await;
    assert!(to.starts_with("http://127.0.0.1:9999/cb?"), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("unmet_authentication_requirements"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("st"));
}

#[tokio::test]
async fn trusted_office_network_skips_the_adaptive_prompt_and_a_coffee_shop_does_not() {
    let app = spawn().await;
    let office = Browser::from_address("127.0.0.2".parse().unwrap());
    let to = office.sign_in(&app, &query("payroll", ""), ("erin@initech.test", PASSWORD)).await;
    assert_code_for("payroll", &to);
    let coffee_shop = Browser::from_address("127.0.0.9".parse().unwrap());
    let to = coffee_shop.sign_in(&app, &query("payroll", ""), ("erin@initech.test", PASSWORD)).await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let response = present(&app, &coffee_shop, &to, "totp", &totp_now(ERIN_TOTP)).await;
    assert_code_for("payroll", &location(&response));
    // A Required app asks even in the office.
    let to = office.sign_in(&app, &query("vault", "&prompt=login"), ("erin@initech.test", PASSWORD)).await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
}

#[tokio::test]
async fn a_password_session_steps_up_for_a_required_app_and_then_satisfies_it() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "wiki", "", "dave@globex.test").await;
    assert_code_for("wiki", &to);
    // prompt=none cannot show the second-factor page.
    let silent = browser.authorize(&app, &query("vault", "&prompt=none")).await;
    assert_eq!(query_param(&location(&silent), "error").as_deref(), Some("interaction_required"));
    // No password again: straight to the second factor.
    let vault = browser.authorize(&app, &query("vault", "")).await;
    let to = location(&vault);
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let response = present(&app, &browser, &to, "totp", &totp_now(DAVE_TOTP)).await;
    assert_code_for("vault", &location(&response));
    // The session now holds two factors: the Adaptive and Required apps ask nothing.
    for client in ["payroll", "vault"] {
        let again = browser.authorize(&app, &query(client, "")).await;
        assert_code_for(client, &location(&again));
    }
    let claims = id_token_claims(&app, "vault", &location(&browser.authorize(&app, &query("vault", "")).await)).await;
    assert_eq!(claims["acr"], "urn:gatehouse:acr:mfa");
}

#[tokio::test]
async fn the_wizard_says_plainly_when_only_webauthn_is_allowed() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "payroll", "", "frank@hooli.test").await;
    assert!(to.starts_with("/login/enroll?request="), "{to}");
    let html = page(&app, &browser, &to).await;
    assert!(html.contains("a security key") && html.contains("a passkey"), "{html}");
}

#[tokio::test]
async fn flow_forms_refuse_tampering_and_other_browsers() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&app, &browser, &to).await;
    let request = hidden(&html, "request").unwrap();
    let fingerprint = db_fingerprint(&app.data_dir()).await;

    let bad_csrf = browser
        .http
        .post(app.url("/login/factor"))
        .form(&[("request", request.as_str()), ("csrf_token", "forged"), ("method", "totp"), ("code", &totp_now(ALICE_TOTP))])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_csrf.status(), StatusCode::BAD_REQUEST);
    let stranger = Browser::new();
    let stolen = stranger.post_step(&app, "/login/factor", &html, &[("method", "totp"), ("code", &totp_now(ALICE_TOTP))]).await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST, "the request is bound to the browser that started it");
    assert_eq!(stranger.get(&app.url(&to)).await.status(), StatusCode::BAD_REQUEST);
    let not_offered = browser.post_step(&app, "/login/factor", &html, &[("method", "passkey"), ("code", "123456")]).await;
    assert!(not_offered.text().await.unwrap().contains("does not allow"));
    assert_eq!(db_fingerprint(&app.data_dir()).await, fingerprint, "refused forms change nothing stored");
}

#[tokio::test]
async fn the_wizard_enrolls_a_phone_after_a_code_comes_back() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "payroll", "", "carol@globex.test").await;
    assert!(to.starts_with("/login/enroll?request="), "{to}");
    let html = page(&app, &browser, &to).await;
    assert!(html.contains("autocomplete=\"tel\""), "globex allows text messages");
    let bad = browser.post_step(&app, "/login/enroll/sms", &html, &[("phone", "040 123")]).await;
    assert_eq!(bad.status(), StatusCode::OK);
    assert!(bad.text().await.unwrap().contains("country code"));
    assert!(outbox_lines(&app, "sms.jsonl").is_empty(), "nothing sent to a malformed number");
    let sent = browser.post_step(&app, "/login/enroll/sms", &html, &[("phone", "+358401111111")]).await;
    let sent_html = sent.text().await.unwrap();
    assert!(sent_html.contains("Code we sent to your phone"));
    let messages = outbox_lines(&app, "sms.jsonl");
    assert_eq!(messages[0]["to"], "+358401111111");
    let again = browser.post_step(&app, "/login/enroll/sms", &html, &[("phone", "+358402222222")]).await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS, "one text per 30 seconds");
    let pool = read_only_db(&app.data_dir()).await;
    let phones: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM factors WHERE kind = 'sms' AND confirmed_at IS NULL").fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(phones, 1, "a throttled attempt leaves no factor behind");
    let code: String = messages[0]["text"].as_str().unwrap().split("code is ").nth(1).unwrap().chars().take(6).collect();
    let codes = browser.post_step(&app, "/login/enroll/sms/confirm", &sent_html, &[("code", &code)]).await;
    let codes_html = codes.text().await.unwrap();
    assert_eq!(codes_html.matches("<li><code>").count(), 10);
    let done = browser.post_step(&app, "/login/enroll/done", &codes_html, &[]).await;
    let callback = location(&done);
    assert_code_for("payroll", &callback);
    let claims = id_token_claims(&app, "payroll", &callback).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms", "mfa"]));
}
