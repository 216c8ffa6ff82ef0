//! Data protection against the real binary: no personal data in plaintext on disk, a clear
//! start-up error for a wrong or missing master key, master-key rotation under load, access
//! reports that hold everything about a person, erasure, tenant termination and pseudonymised
//! analytics.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::api::{call, ids, json_of, operator, token_for};
use crate::support::app::{SpawnOptions, TempDir, TestApp, binary, cli, read_only_db, spawn_with};
use crate::support::browser::{Browser, location};
use crate::support::fixtures::two_factor::{ALICE_TOTP, FIXTURE, PASSWORD, spawn};
use crate::support::walker::{assert_code_for, outbox_lines, page, password_step, present, query};

/// Every byte of the database and its WAL.
fn database_bytes(data: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(data.join("gatehouse.db")).unwrap();
    bytes.extend(std::fs::read(data.join("gatehouse.db-wal")).unwrap_or_default());
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_file_holds_no_persons_email_phone_name_or_secret_in_plaintext() {
    let mut app = spawn().await;
    let _ = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let browser = Browser::new();
    assert_code_for("wiki", &browser.sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
    let data = app.data_dir();
    // Scanned while serving (the WAL included) and after a clean stop.
    let live = database_bytes(&data);
    app.terminate().await;
    let stopped = database_bytes(&data);
    let totp_bytes: &[u8] = b"Hello!\xde\xad\xbe\xef";
    for bytes in [&live, &stopped] {
        assert!(contains(bytes, b"acme.test"), "the scan sees plaintext that is not personal (tenant domains)");
        for needle in [
            &b"alice@acme.test"[..],
            b"bob@acme.test",
            b"carol@globex.test",
            b"frank@hooli.test",
            b"+358401234567",
            b"358401234567",
            b"Alice",
            b"Carol",
            totp_bytes,
        ] {
            assert!(!contains(bytes, needle), "the database holds {:?} in plaintext", String::from_utf8_lossy(needle));
        }
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(data.join("master.key")).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the generated master key is private");
}

#[tokio::test]
async fn a_wrong_or_missing_master_key_is_a_clear_start_up_error_and_changes_nothing() {
    let app = spawn().await;
    let dir = app.stop_keeping_data().await;
    let data = dir.path().join("data");
    let other = TempDir::new("other-master");
    let fixture = other.file("fixture.toml", FIXTURE);
    let (ok, _, err) = cli(&other.path().join("data"), &["import", fixture.to_str().unwrap(), "--password-memory-kib", "64", "--password-iterations", "1"]);
    assert!(ok, "{err}");
    let wrong = other.path().join("data").join("master.key");
    let before = std::fs::read(data.join("gatehouse.db")).unwrap();

    let (ok, _, err) = cli(&data, &["--master-key-file", wrong.to_str().unwrap(), "status"]);
    assert!(!ok && err.contains("master key does not open this database"), "{err}");
    let serve = std::process::Command::new(binary())
        .args(["--data-dir", data.to_str().unwrap(), "--master-key-file", wrong.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!serve.status.success(), "the server refuses to start");
    assert!(String::from_utf8_lossy(&serve.stderr).contains("master key does not open this database"));
    let (ok, _, err) = cli(&data, &["--master-key-file", dir.path().join("missing.key").to_str().unwrap(), "status"]);
    assert!(!ok && err.contains("does not exist"), "{err}");
    let garbage = dir.file("garbage.key", "not a keyring");
    let (ok, _, err) = cli(&data, &["--master-key-file", garbage.to_str().unwrap(), "status"]);
    assert!(!ok && err.contains("is not valid"), "{err}");

    // The default key moved away: never a fresh key for an encrypted database.
    std::fs::rename(data.join("master.key"), dir.path().join("kept-elsewhere.key")).unwrap();
    let serve = std::process::Command::new(binary()).args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert!(!serve.status.success());
    assert!(String::from_utf8_lossy(&serve.stderr).contains("is encrypted, but no master key was given"), "{}", String::from_utf8_lossy(&serve.stderr));
    assert!(!data.join("master.key").exists(), "no key was generated");
    assert_eq!(std::fs::read(data.join("gatehouse.db")).unwrap(), before, "nothing changed");
    // The key kept elsewhere, named by the variable, opens it.
    let output = std::process::Command::new(binary())
        .args(["--data-dir", data.to_str().unwrap(), "status"])
        .env("GATEHOUSE_MASTER_KEY_FILE", dir.path().join("kept-elsewhere.key"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn master_key_rotation_under_load_fails_no_request() {
    let app = spawn().await;
    let data = app.data_dir();
    let ops = operator(&app).await;
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let app = std::sync::Arc::new(app);
    let mut load = Vec::new();
    for n in 0..4 {
        let (app, stop, alice) = (app.clone(), stop.clone(), alice.clone());
        load.push(tokio::spawn(async move {
            let (mut done, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || done < 3 {
                // A password sign-in (the account read and opened) and a read of sealed factors.
                let browser = Browser::new();
                let to = browser.sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await;
                if !to.contains("code=") {
                    failed.push(format!("task {n}: sign-in went to {to}"));
                }
                let factors = call(&app, Method::GET, "/api/v1/me/factors", &alice, None).await;
                if factors.status() != StatusCode::OK {
                    failed.push(format!("task {n}: factors answered {}", factors.status()));
                }
                done += 1;
            }
            (done, failed)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let rotate_data = data.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || cli(&rotate_data, &["keys", "rotate-master"])).await.unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("data keys re-wrapped"), "{out}");
    // A tenant and a user created after the rotation are wrapped under the new key.
    let created = call(&app, Method::POST, "/api/v1/tenants", &ops, Some(json!({ "name": "Rotated Oy", "domains": ["rotated.test"] }))).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let tenant: Value = created.json().await.unwrap();
    let user = call(
        &app,
        Method::POST,
        &format!("/api/v1/tenants/{}/users", tenant["id"].as_str().unwrap()),
        &ops,
        Some(json!({ "email": "new@rotated.test", "name": "New", "password": PASSWORD })),
    )
    .await;
    assert_eq!(user.status(), StatusCode::CREATED);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for task in load {
        let (done, failed) = task.await.unwrap();
        assert!(failed.is_empty(), "{failed:?}");
        total += done;
    }
    assert!(total >= 12, "the load ran throughout: {total} rounds");

    let keyring: Value = serde_json::from_slice(&std::fs::read(data.join("master.key")).unwrap()).unwrap();
    let keys = keyring["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "the retired key stays for older backups");
    assert!(keys[0]["retired_at"].is_i64() && keys[1]["retired_at"].is_null());
    let pool = read_only_db(&data).await;
    let wrappers: Vec<String> = sqlx::query_scalar("SELECT DISTINCT wrapped_by FROM data_keys WHERE owner NOT LIKE 'user:%'").fetch_all(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(wrappers, [keys[1]["id"].as_str().unwrap()], "every master-wrapped key, the new tenant's included, is under the new key");
    // After a restart with the rotated keyring, old and new accounts sign in.
    let app = std::sync::Arc::into_inner(app).unwrap();
    let dir = app.stop_keeping_data().await;
    let app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, ..Default::default() }).await;
    for who in ["bob@acme.test", "new@rotated.test"] {
        let to = Browser::new().sign_in(&app, &query("wiki", ""), (who, PASSWORD)).await;
        assert!(to.contains("code=") || to.starts_with("/login/"), "{who}: {to}");
    }
    assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
}

#[tokio::test]
async fn the_access_report_holds_everything_about_a_person_and_never_a_secret() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let (_, alice_id) = ids(&app, &ops, "Acme Oy", "alice@acme.test").await;
    // A failed sign-in, a successful one (session, device, grant), recovery codes, an admin's change.
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &query("wiki", "")).await);
    assert_eq!(browser.submit_login(&app, &login, "alice@acme.test", "not her password").await.status(), StatusCode::OK);
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    assert_eq!(call(&app, Method::POST, "/api/v1/me/recovery-codes", &alice, None).await.status(), StatusCode::OK);
    let renamed = call(&app, Method::PATCH, &format!("/api/v1/users/{alice_id}"), &ops, Some(json!({ "name": "Alice Renamed" }))).await;
    assert_eq!(renamed.status(), StatusCode::OK);

    let report = json_of(call(&app, Method::GET, "/api/v1/me/personal-data", &alice, None).await).await;
    let subject = &report["subject"];
    assert_eq!(
        (subject["email"].as_str(), subject["name"].as_str(), subject["id"].as_str()),
        (Some("alice@acme.test"), Some("Alice Renamed"), Some(alice_id.as_str()))
    );
    assert_eq!(subject["tenant"]["name"], "Acme Oy");
    let factors = report["factors"].as_array().unwrap();
    let mut kinds: Vec<&str> = factors.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["sms", "totp"]);
    assert!(factors.iter().any(|f| f["detail"]["phone"] == "+358401234567"), "the phone number is the person's data");
    let text = report.to_string();
    assert!(!text.contains(ALICE_TOTP) && !text.contains("JBSWY3DP"), "never a TOTP secret");
    assert_eq!(report["recovery_codes"]["remaining"], 10);
    assert!(!report["sessions"].as_array().unwrap().is_empty() && !report["devices"].as_array().unwrap().is_empty());
    let results: Vec<&str> = report["sign_ins"].as_array().unwrap().iter().map(|e| e["result"].as_str().unwrap()).collect();
    assert!(results.contains(&"success") && results.contains(&"failure"), "{results:?}");
    let actions: Vec<&str> = report["audit_records"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"user.update") && actions.contains(&"recovery_codes.regenerate"), "{actions:?}");
    for kind in ["profile", "factors", "sessions", "sign_ins", "audit_records", "backups"] {
        assert!(report["retention"][kind].is_string(), "the retention rule for {kind}");
    }

    let csv = call(&app, Method::GET, "/api/v1/me/personal-data?format=csv&table=factors", &alice, None).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.text().await.unwrap().contains("totp"));
    for bad in ["?format=xml", "?format=csv", "?format=csv&table=passwords", "?colour=red"] {
        let response = call(&app, Method::GET, &format!("/api/v1/me/personal-data{bad}"), &alice, None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    // An admin answers the request on her behalf (audited); another tenant's admin cannot.
    assert_eq!(
        json_of(call(&app, Method::GET, &format!("/api/v1/users/{alice_id}/personal-data"), &ops, None).await).await["subject"]["id"],
        alice_id.as_str()
    );
    let dave = token_for(&app, "vault", "dave@globex.test", Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")).await;
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/users/{alice_id}/personal-data"), &dave, None).await.status(), StatusCode::NOT_FOUND);
    let audit = json_of(call(&app, Method::GET, "/api/v1/audit?action=personal_data.export", &ops, None).await).await;
    assert!(audit["records"].as_array().unwrap().len() >= 2, "{audit}");

    // The CLI gives the same report, as JSON or CSV tables; an unknown person is an error.
    let data = app.data_dir();
    let (ok, out, err) = cli(&data, &["gdpr", "export", "--email", "Alice@ACME.test"]);
    assert!(ok, "{err}");
    let from_cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(from_cli["subject"], report["subject"]);
    assert_eq!(from_cli["factors"], report["factors"]);
    let tables = TempDir::new("report-csv");
    let out_dir = tables.path().join("tables");
    let (ok, _, err) = cli(&data, &["gdpr", "export", "--email", "alice@acme.test", "--format", "csv", "--out", out_dir.to_str().unwrap()]);
    assert!(ok, "{err}");
    let mut files: Vec<String> = std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["audit_records.csv", "devices.csv", "factors.csv", "sessions.csv", "sign_ins.csv", "subject.csv"]);
    let (ok, _, err) = cli(&data, &["gdpr", "export", "--email", "nobody@acme.test"]);
    assert!(!ok && err.contains("no account has the email"), "{err}");
    let (ok, _, err) = cli(&data, &["gdpr", "export", "--email", "not an email"]);
    assert!(!ok && err.contains("--email"), "{err}");
}

#[tokio::test]
async fn erasure_removes_a_person_keeps_the_chain_and_never_removes_the_last_admin() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let (_, bob_id) = ids(&app, &ops, "Acme Oy", "bob@acme.test").await;
    let (_, carol_id) = ids(&app, &ops, "Globex", "carol@globex.test").await;
    assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
    let data = app.data_dir();

    let (ok, _, err) = cli(&data, &["gdpr", "erase", "--email", "alice@acme.test", "--yes"]);
    assert!(!ok && err.contains("last admin"), "{err}");
    let (ok, _, err) = cli(&data, &["gdpr", "erase", "--email", "bob@acme.test"]);
    assert!(!ok && err.contains("--yes"), "no confirmation, no erasure: {err}");
    let (ok, out, err) = cli(&data, &["gdpr", "erase", "--email", "bob@acme.test", "--yes"]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("user:{bob_id}")), "{out}");
    let (ok, _, err) = cli(&data, &["gdpr", "export", "--email", "bob@acme.test"]);
    assert!(!ok && err.contains("no account"), "{err}");
    // The server notices (the generation changed): Bob cannot sign in.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let browser = Browser::new();
    let login = location(&browser.authorize(&app, &query("wiki", "")).await);
    assert_eq!(browser.submit_login(&app, &login, "bob@acme.test", PASSWORD).await.status(), StatusCode::OK, "the sign-in page again");
    // Over the admin API too; the trail still verifies and names Bob only by his id.
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/users/{carol_id}"), &ops, None).await.status(), StatusCode::OK);
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/users/{carol_id}"), &ops, None).await.status(), StatusCode::NOT_FOUND);
    let (_, dave_id) = ids(&app, &ops, "Globex", "dave@globex.test").await;
    let last = call(&app, Method::DELETE, &format!("/api/v1/users/{dave_id}"), &ops, None).await;
    assert_eq!(last.status(), StatusCode::CONFLICT);
    let (ok, out, err) = cli(&data, &["audit", "verify"]);
    assert!(ok, "{out}{err}");
    let erasures = json_of(call(&app, Method::GET, "/api/v1/audit?action=user.erase", &ops, None).await).await;
    let targets: Vec<&str> = erasures["records"].as_array().unwrap().iter().map(|r| r["target"].as_str().unwrap()).collect();
    assert!(targets.contains(&format!("user:{bob_id}").as_str()) && targets.contains(&format!("user:{carol_id}").as_str()), "{targets:?}");
    let pool = read_only_db(&data).await;
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE owner = ?").bind(format!("user:{bob_id}")).fetch_one(&pool).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM users WHERE id = ?1) + (SELECT COUNT(*) FROM sign_in_events WHERE user_id = ?1)")
        .bind(&bob_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    let tombstone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM erased_users WHERE user_id = ?").bind(&bob_id).fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!((keys, rows, tombstone), (0, 0, 1), "Bob's key, rows and history are gone; only his pseudonymous id is remembered");
}

#[tokio::test]
async fn a_terminated_tenant_cannot_sign_in_until_reinstated() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let (globex, _) = ids(&app, &ops, "Globex", "dave@globex.test").await;
    let dave = token_for(&app, "vault", "dave@globex.test", Some("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")).await;
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    assert_eq!(call(&app, Method::POST, &format!("/api/v1/tenants/{globex}/terminate"), &alice, None).await.status(), StatusCode::FORBIDDEN, "operators only");

    let terminated =
        json_of(call(&app, Method::POST, &format!("/api/v1/tenants/{globex}/terminate"), &ops, Some(json!({ "reason": "contract ended" }))).await).await;
    let due = time::OffsetDateTime::parse(terminated["deletion_due"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    #[allow(clippy::disallowed_methods)] // the test compares with the server's clock
    let days = (due - time::OffsetDateTime::now_utc()).whole_days();
    assert!((182..=183).contains(&days), "six months: {days} days");
    assert_eq!(call(&app, Method::POST, &format!("/api/v1/tenants/{globex}/terminate"), &ops, None).await.status(), StatusCode::CONFLICT);
    assert_eq!(call(&app, Method::GET, "/api/v1/me/factors", &dave, None).await.status(), StatusCode::UNAUTHORIZED, "its tokens stopped at once");
    let to = Browser::new().sign_in(&app, &query("payroll", ""), ("carol@globex.test", PASSWORD)).await;
    assert!(to.contains("error=access_denied"), "{to}");

    assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);

    assert_eq!(call(&app, Method::POST, &format!("/api/v1/tenants/{globex}/reinstate"), &ops, None).await.status(), StatusCode::OK);
    assert_eq!(call(&app, Method::POST, &format!("/api/v1/tenants/{globex}/reinstate"), &ops, None).await.status(), StatusCode::CONFLICT);
    let to = Browser::new().sign_in(&app, &query("payroll", ""), ("carol@globex.test", PASSWORD)).await;
    assert!(!to.contains("error="), "signs in again: {to}");
    assert_eq!(call(&app, Method::POST, "/api/v1/tenants/no-such-tenant/terminate", &ops, None).await.status(), StatusCode::NOT_FOUND);

    // Someone mid-sign-in (password done, second factor pending) gets no code either.
    let (acme, _) = ids(&app, &ops, "Acme Oy", "alice@acme.test").await;
    let browser = Browser::new();
    let factor_page = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    assert!(factor_page.starts_with("/login/factor"), "{factor_page}");
    let html = page(&app, &browser, &factor_page).await;
    assert_eq!(browser.post_step(&app, "/login/factor/sms", &html, &[]).await.status(), StatusCode::OK);
    let sms = outbox_lines(&app, "sms.jsonl");
    let code: String = sms.last().unwrap()["text"].as_str().unwrap().split("code is ").nth(1).unwrap().chars().take(6).collect();
    assert_eq!(call(&app, Method::POST, &format!("/api/v1/tenants/{acme}/terminate"), &ops, None).await.status(), StatusCode::OK);
    let after = location(&present(&app, &browser, &factor_page, "sms", &code).await);
    assert!(after.contains("error=access_denied"), "{after}");
}

#[tokio::test]
async fn analytics_export_relates_people_only_by_keyed_pseudonyms() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let (_, bob_id) = ids(&app, &ops, "Acme Oy", "bob@acme.test").await;
    for _ in 0..2 {
        assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
    }
    let _ = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let data = app.data_dir();
    let keys = TempDir::new("analytics");
    let key = keys.path().join("export.key");
    let run = |key: &Path| {
        let (ok, out, err) = cli(&data, &["analytics", "export", "--key-file", key.to_str().unwrap()]);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let first = run(&key);
    let second = run(&key);
    assert_eq!(first["people"], second["people"], "the same key, the same pseudonyms");
    let other = run(&keys.path().join("other.key"));
    assert_ne!(first["people"], other["people"], "another key, other pseudonyms");
    let text = first.to_string();
    for personal in ["alice", "bob", "Alice", "@acme.test", "127.0.0.1", bob_id.as_str(), "Mozilla", "reqwest"] {
        assert!(!text.contains(personal), "the export holds {personal:?}: {text}");
    }
    let acme = first["tenants"].as_array().unwrap().iter().find(|t| t["activity"]["sign_ins"]["success"].as_u64().unwrap_or(0) >= 3).expect("acme's activity");
    assert_eq!(acme["factor_adoption"]["people_with_a_second_factor"], 1, "{acme}");
    let wiki = first["applications"].as_array().unwrap().iter().find(|a| a["application"] == "wiki").unwrap();
    assert_eq!(wiki["activity"]["policy_outcomes"]["no_prompt"], 2, "{wiki}");
    assert!(first["people"].as_array().unwrap().iter().any(|p| p["sign_ins"] == 2 && p["person"].as_str().unwrap().starts_with("p-")));
}

const ALICE_PHONE: &str = "+358401234567";
const CAROL_PHONE: &str = "+358401111111";

/// Every file under `dir`, read whole (database, WAL, outbox, reports, keys, logs).
fn every_file(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                // (A file can vanish between the listing and the read: a rewrite's temporary file.)
                files.push((path, bytes));
            }
        }
    }
    files
}

/// Which of `needles` which files under `dir` hold.
fn mentions(dir: &Path, needles: &[&str]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for (path, bytes) in every_file(dir) {
        for needle in needles {
            if contains(&bytes, needle.as_bytes()) {
                found.push((path.clone(), needle.to_string()));
            }
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The code in the newest text message of the outbox.
fn newest_code(app: &TestApp) -> String {
    let sms = outbox_lines(app, "sms.jsonl");
    sms.last().unwrap()["text"].as_str().unwrap().split("code is ").nth(1).unwrap().chars().take(6).collect()
}

/// Waits (up to 5 s) until the outbox's notices reach every one of `emails`.
async fn notices_reach(app: &TestApp, emails: &[&str]) {
    for _ in 0..50 {
        let notices = outbox_lines(app, "notifications.jsonl");
        if emails.iter().all(|e| notices.iter().any(|n| n["to"] == *e)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no notice reached all of {emails:?}: {:?}", outbox_lines(app, "notifications.jsonl"));
}

/// Signs in to `client` in a new browser (the second time: a "new sign-in" notice).
async fn sign_in_again(app: &TestApp, client: &str, email: &str, totp: Option<&str>) {
    let _ = token_for(app, client, email, totp).await;
}

#[tokio::test]
async fn erasure_leaves_no_email_or_phone_anywhere_in_the_data_directory() {
    // Bob is an admin too, so Alice (otherwise Acme's last admin) can be erased.
    let fixture = FIXTURE.replace("  email = \"bob@acme.test\"\n  name = \"Bob\"\n", "  email = \"bob@acme.test\"\n  name = \"Bob\"\n  roles = [\"admin\"]\n");
    assert_ne!(fixture, FIXTURE);
    let dir = TempDir::new("erasure-scan");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The server's log (debug for Gatehouse's own events) goes into the data directory too, so
    // the scan covers it.
    let log = data.join("gatehouse.log");
    let env = [("GATEHOUSE_LOG", "gatehouse=debug,info")];
    let mut app = spawn_with(SpawnOptions { dir: Some(dir), fixture: &fixture, log_file: Some(&log), env: &env, ..Default::default() }).await;
    let ops = operator(&app).await;
    let (_, alice_id) = ids(&app, &ops, "Acme Oy", "alice@acme.test").await;

    // Alice signs in with a text-message code, then again from a new browser (a notice).
    let browser = Browser::new();
    let factor_page = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&app, &browser, &factor_page).await;
    assert_eq!(browser.post_step(&app, "/login/factor/sms", &html, &[]).await.status(), StatusCode::OK);
    assert_code_for("vault", &location(&present(&app, &browser, &factor_page, "sms", &newest_code(&app)).await));
    sign_in_again(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    // Carol enrolls a phone in the wizard (a code to it, then a "factor added" notice).
    let browser = Browser::new();
    let wizard = password_step(&app, &browser, "payroll", "", "carol@globex.test").await;
    let html = page(&app, &browser, &wizard).await;
    let sent = browser.post_step(&app, "/login/enroll/sms", &html, &[("phone", CAROL_PHONE)]).await.text().await.unwrap();
    let codes = browser.post_step(&app, "/login/enroll/sms/confirm", &sent, &[("code", &newest_code(&app))]).await.text().await.unwrap();
    assert_code_for("payroll", &location(&browser.post_step(&app, "/login/enroll/done", &codes, &[]).await));
    // Bob, who stays, signs in twice.
    assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
    assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
    notices_reach(&app, &["alice@acme.test", "carol@globex.test", "bob@acme.test"]).await;
    let sms = outbox_lines(&app, "sms.jsonl");
    assert!(sms.iter().all(|m| m["user_id"].is_string()), "text messages name the user: {sms:?}");

    let erased = ["alice@acme.test", ALICE_PHONE, "358401234567", "Alice", "carol@globex.test", CAROL_PHONE, "358401111111", "Carol"];
    let before = mentions(&data, &erased);
    for needle in ["alice@acme.test", ALICE_PHONE, "carol@globex.test", CAROL_PHONE] {
        assert!(before.iter().any(|(path, n)| n == needle && path.starts_with(data.join("outbox"))), "the scan sees {needle} in the outbox before: {before:?}");
    }

    // Carol with the CLI beside the running server, Alice over the admin API.
    let (ok, out, err) = cli(&data, &["gdpr", "erase", "--email", "carol@globex.test", "--yes"]);
    assert!(ok, "{err}");
    assert!(out.contains("removed from the development outbox"), "{out}");
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/users/{alice_id}"), &ops, None).await.status(), StatusCode::OK);

    let live = mentions(&data, &erased);
    assert!(live.is_empty(), "after erasure, while serving: {live:?}");
    let notices = outbox_lines(&app, "notifications.jsonl");
    assert!(notices.iter().any(|n| n["to"] == "bob@acme.test"), "other people's lines stay, whole: {notices:?}");
    for file in ["sms.jsonl", "notifications.jsonl"] {
        assert_eq!(mode(&data.join("outbox").join(file)), 0o600, "{file} stays private after the rewrite");
    }
    app.terminate().await;
    let stopped = mentions(&data, &erased);
    assert!(stopped.is_empty(), "after erasure, stopped: {stopped:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("sign-in succeeded") && logged.contains("text messages"), "the scan covered the server's log: {logged}");
}

#[tokio::test]
async fn outbox_files_are_private_to_the_service_user() {
    let dir = TempDir::new("outbox-modes");
    let outbox = dir.path().join("data").join("outbox");
    std::fs::create_dir_all(&outbox).unwrap();
    // Left readable by everyone (an older version, or by hand): tightened when next opened.
    std::fs::write(outbox.join("notifications.jsonl"), "").unwrap();
    std::fs::set_permissions(outbox.join("notifications.jsonl"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&outbox, std::fs::Permissions::from_mode(0o755)).unwrap();
    let app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, ..Default::default() }).await;
    let browser = Browser::new();
    let factor_page = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&app, &browser, &factor_page).await;
    assert_eq!(browser.post_step(&app, "/login/factor/sms", &html, &[]).await.status(), StatusCode::OK);
    assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
    assert_code_for("wiki", &Browser::new().sign_in(&app, &query("wiki", ""), ("bob@acme.test", PASSWORD)).await);
    notices_reach(&app, &["bob@acme.test"]).await;
    assert_eq!(outbox_lines(&app, "sms.jsonl").len(), 1);
    assert_eq!(mode(&outbox), 0o700, "the outbox directory");
    for file in ["sms.jsonl", "notifications.jsonl", "outbox.lock"] {
        assert_eq!(mode(&outbox.join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn without_a_gateway_no_personal_data_is_written_to_an_outbox() {
    let dir = TempDir::new("no-gateway");
    let log = dir.path().join("server.log");
    let env = [("GATEHOUSE_LOG", "gatehouse=debug,info")];
    let app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, dev_outbox: false, log_file: Some(&log), env: &env, ..Default::default() }).await;
    let startup = std::fs::read_to_string(&log).unwrap();
    assert!(startup.contains("no SMS gateway is configured") && startup.contains("no notifier is configured"), "the start-up log says so: {startup}");

    // A sign-in code: the page says why, in words.
    let browser = Browser::new();
    let factor_page = password_step(&app, &browser, "vault", "", "alice@acme.test").await;
    let html = page(&app, &browser, &factor_page).await;
    let refused = browser.post_step(&app, "/login/factor/sms", &html, &[]).await;
    assert_eq!(refused.status(), StatusCode::OK);
    assert!(refused.text().await.unwrap().contains("text messages are not available on this server"));
    // Enrollment in the wizard: the same, and no factor is left behind.
    let browser = Browser::new();
    let wizard = password_step(&app, &browser, "payroll", "", "carol@globex.test").await;
    let html = page(&app, &browser, &wizard).await;
    let refused = browser.post_step(&app, "/login/enroll/sms", &html, &[("phone", CAROL_PHONE)]).await;
    assert!(refused.text().await.unwrap().contains("text messages are not available on this server"));
    // Enrollment over the API: a problem document that names the cause.
    let bob = token_for(&app, "wiki", "bob@acme.test", None).await;
    let refused = call(&app, Method::POST, "/api/v1/me/factors", &bob, Some(json!({ "kind": "sms", "phone": "+358409876543" }))).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.text().await.unwrap().contains("no SMS gateway is configured"));
    let pool = read_only_db(&app.data_dir()).await;
    let enrolling: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM factors WHERE kind = 'sms' AND confirmed_at IS NULL").fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(enrolling, 0, "a refused enrollment leaves no factor behind");

    // A notice (Bob's second sign-in, from a new browser) is dropped, and said so without whom.
    sign_in_again(&app, "wiki", "bob@acme.test", None).await;
    let mut dropped = false;
    for _ in 0..50 {
        dropped = std::fs::read_to_string(&log).unwrap().contains("a notice to a user was not sent");
        if dropped {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(dropped, "the dropped notice is logged at debug");
    assert!(!app.data_dir().join("outbox").exists(), "no outbox file, not even its directory");
    let people = ["alice@acme.test", "bob@acme.test", "carol@globex.test", ALICE_PHONE, "358401234567", CAROL_PHONE, "+358409876543"];
    let found = mentions(&app.data_dir(), &people);
    assert!(found.is_empty(), "{found:?}");
    let logged = std::fs::read(&log).unwrap();
    for needle in people {
        assert!(!contains(&logged, needle.as_bytes()), "the log holds {needle}");
    }
}

#[tokio::test]
async fn the_demo_turns_the_development_outbox_on_unless_told_not_to() {
    for (extra, on) in [(&["--demo"][..], true), (&["--demo", "--dev-outbox=false"][..], false)] {
        let dir = TempDir::new("demo-outbox");
        let log = dir.path().join("server.log");
        let mut app = spawn_with(SpawnOptions { dir: Some(dir), fixture: FIXTURE, extra, dev_outbox: false, log_file: Some(&log), ..Default::default() }).await;
        let startup = std::fs::read_to_string(&log).unwrap();
        assert_eq!(startup.contains("the development outbox is on"), on, "{extra:?}: {startup}");
        assert_eq!(startup.contains("no SMS gateway is configured"), !on, "{extra:?}: {startup}");
        app.terminate().await;
    }
}
