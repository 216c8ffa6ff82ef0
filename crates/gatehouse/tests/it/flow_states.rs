//! The sign-in flow's typed states over HTTP: a step belongs to one stage, and racing requests
//! on one parked sign-in advance it once (found by the black-box review of issue 16's
//! refactor).

use reqwest::StatusCode;

use crate::support::app::read_only_db;
use crate::support::browser::{Browser, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, PASSWORD, spawn};
use crate::support::walker::{assert_code_for, page, password_step, present, totp_now};

#[tokio::test]
async fn a_password_posted_again_after_the_first_factor_is_refused() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    assert!(to.starts_with("/login/factor?request="), "{to}");
    let request = to.trim_start_matches("/login/factor?request=");
    let login_page = browser.get(&app.url(&format!("/login?request={request}"))).await;
    assert_eq!(login_page.status(), StatusCode::BAD_REQUEST, "the password page is over once a first factor passed");
    let factor_html = page(&app, &browser, &to).await;
    let again = browser.post_step(&app, "/login", &factor_html, &[("email", "alice@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a second password does not restart the sign-in");
    // The second-factor step is untouched and still answers the request.
    let response = present(&app, &browser, &to, "totp", &totp_now(ALICE_TOTP)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_code_for("vault", &location(&response));
}

#[tokio::test]
async fn racing_confirmations_of_a_new_app_record_one_factor_and_one_set_of_recovery_codes() {
    let app = spawn().await;
    let browser = Browser::new();
    let to = password_step(&app, &browser, "payroll", "", "carol@globex.test").await;
    assert!(to.starts_with("/login/enroll?request="), "{to}");
    let html = page(&app, &browser, &to).await;
    let start = html.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
    let secret = html[start..].split('<').next().unwrap().to_owned();
    let code = totp_now(&secret);
    let fields = [("code", code.as_str())];
    let post = || browser.post_step(&app, "/login/enroll", &html, &fields);
    // Six at once, as a double-clicking browser or two tabs would.
    let (a, b, c, d, e, f) = tokio::join!(post(), post(), post(), post(), post(), post());
    let responses = [a, b, c, d, e, f];
    let mut shown = 0;
    for response in responses {
        let status = response.status();
        let body = response.text().await.unwrap();
        if status == StatusCode::OK && body.contains("<li><code>") {
            shown += 1;
        } else if status == StatusCode::OK {
            // Checked while the winner was between spending the code and confirming the app:
            // the same wizard again, with the reason, and the same key.
            assert!(body.contains("already used") && body.contains(&secret), "a loser sees the same app: {body}");
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "a losing confirmation is refused: {body}");
        }
    }
    assert_eq!(shown, 1, "one confirmation shows recovery codes");
    let pool = read_only_db(&app.data_dir()).await;
    let (added,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_records WHERE action = 'factor.add'").fetch_one(&pool).await.unwrap();
    assert_eq!(added, 1, "the new factor is recorded once");
    let (orphans,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM factors WHERE confirmed_at IS NULL").fetch_one(&pool).await.unwrap();
    assert_eq!(orphans, 0, "no second app was started behind the winner's back");
}
