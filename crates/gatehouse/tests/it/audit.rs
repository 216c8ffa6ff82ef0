//! The audit trail: admin changes are recorded with who, what (before and after), when and
//! from where, and `gatehouse audit verify` names the first record changed, deleted, inserted
//! or reordered by editing the SQLite file directly.

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::Row as _;

use crate::support::api::{call, client_token, token_for};
use crate::support::app::{SpawnOptions, cli, read_only_db, spawn_with};
use crate::support::fixtures::two_factor::{ALICE_TOTP, spawn};
use crate::support::walker::totp_now;

async fn writable(data: &std::path::Path) -> sqlx::SqlitePool {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(data.join("gatehouse.db"));
    sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap()
}

fn verify(data: &std::path::Path) -> (bool, String) {
    let (ok, out, err) = cli(data, &["audit", "verify"]);
    (ok, format!("{out}{err}"))
}

#[tokio::test]
async fn admin_changes_are_chained_and_any_tampering_is_named() {
    let app = spawn().await;
    let ops: serde_json::Value = client_token(&app, "ops", "gatehouse:admin").await.json().await.unwrap();
    let ops = ops["access_token"].as_str().unwrap().to_owned();
    let changed = call(&app, Method::PUT, "/api/v1/applications/vault/policy", &ops, Some(json!({ "two_factor": "bypass" }))).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let tenants: serde_json::Value = call(&app, Method::GET, "/api/v1/tenants", &ops, None).await.json().await.unwrap();
    let acme = tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == "Acme Oy").unwrap()["id"].as_str().unwrap().to_owned();
    for mode in ["report_only", "enforce", "enforce"] {
        let body = json!({ "policy": { "two_factor": "required" }, "mode": mode });
        assert_eq!(call(&app, Method::PUT, &format!("/api/v1/tenants/{acme}/policy"), &ops, Some(body)).await.status(), StatusCode::OK);
    }
    let refused = call(&app, Method::PUT, &format!("/api/v1/tenants/{acme}/policy"), &ops, Some(json!({ "policy": { "allowed_methods": ["x"] } }))).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let (ok, out) = verify(&app.data_dir());
    assert!(
        ok && out.contains("intact: 7 records"),
        "the start-up import, the first keys (SAML encryption, then token signing) and four changes; a refused change is not recorded: {out}"
    );

    let data = app.data_dir();
    let dir = app.stop_keeping_data().await;
    let pool = writable(&data).await;
    let first = sqlx::query("SELECT actor, action, target, before, after, address FROM audit_records WHERE seq = 4").fetch_one(&pool).await.unwrap();
    assert_eq!(first.get::<String, _>("actor"), "client:ops");
    assert_eq!(first.get::<String, _>("action"), "application.policy.update");
    assert_eq!(first.get::<String, _>("target"), "client:vault");
    assert!(first.get::<String, _>("before").contains("required") && first.get::<String, _>("after").contains("bypass"));
    assert_eq!(first.get::<String, _>("address"), "127.0.0.1");

    // Changed.
    sqlx::query("UPDATE audit_records SET actor = 'user:someone-else' WHERE seq = 5").execute(&pool).await.unwrap();
    let (ok, out) = verify(&data);
    assert!(!ok && out.contains("record 5") && out.contains("changed"), "{out}");
    sqlx::query("UPDATE audit_records SET actor = 'client:ops' WHERE seq = 5").execute(&pool).await.unwrap();
    assert!(verify(&data).0, "restored");

    // Deleted.
    let saved: Vec<u8> = sqlx::query_scalar("SELECT hash FROM audit_records WHERE seq = 6").fetch_one(&pool).await.unwrap();
    sqlx::query("CREATE TABLE saved AS SELECT * FROM audit_records WHERE seq = 6").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM audit_records WHERE seq = 6").execute(&pool).await.unwrap();
    let (ok, out) = verify(&data);
    assert!(!ok && out.contains("record 7"), "{out}");
    sqlx::query("INSERT INTO audit_records SELECT * FROM saved").execute(&pool).await.unwrap();
    sqlx::query("DROP TABLE saved").execute(&pool).await.unwrap();
    assert!(verify(&data).0);

    // Reordered: records 5 and 6 swap places.
    sqlx::query("UPDATE audit_records SET seq = -5 WHERE seq = 5").execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_records SET seq = 5 WHERE seq = 6").execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_records SET seq = 6 WHERE seq = -5").execute(&pool).await.unwrap();
    let (ok, out) = verify(&data);
    assert!(!ok && out.contains("record 5"), "{out}");
    sqlx::query("UPDATE audit_records SET seq = -6 WHERE seq = 6").execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_records SET seq = 6 WHERE seq = 5").execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_records SET seq = 5 WHERE seq = -6").execute(&pool).await.unwrap();
    assert!(verify(&data).0);

    // Inserted at the end with a made-up hash.
    sqlx::query("INSERT INTO audit_records (seq, at, actor, action, target, prev_hash, hash) VALUES (8, 0, 'user:x', 'tenant.delete', 'tenant:x', ?, ?)")
        .bind(saved.clone())
        .bind(saved)
        .execute(&pool)
        .await
        .unwrap();
    let (ok, out) = verify(&data);
    assert!(!ok && out.contains("record 8"), "{out}");
    pool.close().await;
    drop(dir);
}

#[tokio::test]
async fn directory_changes_and_imports_are_audited_once_and_never_hold_secrets() {
    let app = spawn().await;
    let ops: serde_json::Value = client_token(&app, "ops", "gatehouse:admin").await.json().await.unwrap();
    let ops = ops["access_token"].as_str().unwrap().to_owned();
    let tenant: serde_json::Value =
        call(&app, Method::POST, "/api/v1/tenants", &ops, Some(json!({ "name": "Umbrella", "domains": ["umbrella.test"] }))).await.json().await.unwrap();
    let id = tenant["id"].as_str().unwrap();
    let user = call(
        &app,
        Method::POST,
        &format!("/api/v1/tenants/{id}/users"),
        &ops,
        Some(json!({ "email": "ada@umbrella.test", "name": "Ada", "password": "a very secret passphrase" })),
    )
    .await;
    assert_eq!(user.status(), StatusCode::CREATED);
    let conflict = call(&app, Method::POST, "/api/v1/tenants", &ops, Some(json!({ "name": "Umbrella" }))).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    let created =
        call(&app, Method::POST, "/api/v1/applications", &ops, Some(json!({ "client_id": "labs", "name": "Labs", "grant_types": ["client_credentials"] })))
            .await;
    let secret = created.json::<serde_json::Value>().await.unwrap()["client_secret"].as_str().unwrap().to_owned();
    // The fixture was imported at start-up (the first record), then the first keys made: the
    // SAML encryption key, the token-signing keys.
    let pool = read_only_db(&app.data_dir()).await;
    let rows = sqlx::query("SELECT actor, action, COALESCE(after, '') AS after FROM audit_records ORDER BY seq").fetch_all(&pool).await.unwrap();
    pool.close().await;
    let actions: Vec<String> = rows.iter().map(|r| r.get::<String, _>("action")).collect();
    assert_eq!(
        actions,
        ["import.apply", "key.generate", "key.generate", "tenant.create", "user.create", "application.create"],
        "the refused change is not recorded"
    );
    assert_eq!(rows[3].get::<String, _>("actor"), "client:ops");
    let everything: String = rows.iter().map(|r| r.get::<String, _>("after")).collect();
    assert!(everything.contains("password_set") && everything.contains("\"fields\":[\"email\",\"name\"]"), "{everything}");
    assert!(!everything.contains("ada@umbrella.test") && !everything.contains("Ada"), "no personal data in the trail: it outlives erasure");
    assert!(!everything.contains("a very secret passphrase") && !everything.contains(&secret), "no secrets in the trail");
    // Importing the same file again changes nothing and records nothing.
    let fixture = app.dir.path().join("fixture.toml");
    let (ok, _, err) = cli(&app.data_dir(), &["import", fixture.to_str().unwrap(), "--password-memory-kib", "64", "--password-iterations", "1"]);
    assert!(ok, "{err}");
    let (ok, out) = verify(&app.data_dir());
    assert!(ok && out.contains("intact: 6 records"), "{out}");
}

#[tokio::test]
async fn a_users_own_factor_changes_are_audited_with_where_they_came_from() {
    let app = spawn().await;
    let token = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let added: serde_json::Value = call(&app, Method::POST, "/api/v1/me/factors", &token, Some(json!({ "kind": "totp" }))).await.json().await.unwrap();
    let id = added["factor"].as_str().unwrap();
    let code = totp_now(added["secret"].as_str().unwrap());
    assert_eq!(call(&app, Method::POST, &format!("/api/v1/me/factors/{id}/confirm"), &token, Some(json!({ "code": code }))).await.status(), StatusCode::OK);
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/me/factors/{id}"), &token, None).await.status(), StatusCode::NO_CONTENT);
    let pool = read_only_db(&app.data_dir()).await;
    let rows = sqlx::query("SELECT actor, action, target, address, COALESCE(after, '') AS after FROM audit_records WHERE action LIKE 'factor.%' ORDER BY seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    let actions: Vec<String> = rows.iter().map(|r| r.get::<String, _>("action")).collect();
    assert_eq!(actions, ["factor.add", "factor.remove"]);
    assert!(rows.iter().all(|r| r.get::<String, _>("target") == format!("factor:{id}") && r.get::<String, _>("address") == "127.0.0.1"));
    assert!(!rows[0].get::<String, _>("after").contains(added["secret"].as_str().unwrap()), "never the TOTP secret");
    assert!(verify(&app.data_dir()).0);
}

#[tokio::test]
async fn signed_checkpoints_catch_a_truncated_trail_and_a_forged_signature() {
    let app = spawn().await;
    let ops: serde_json::Value = client_token(&app, "ops", "gatehouse:admin").await.json().await.unwrap();
    let ops = ops["access_token"].as_str().unwrap().to_owned();
    for policy in ["bypass", "required"] {
        let changed = call(&app, Method::PUT, "/api/v1/applications/vault/policy", &ops, Some(json!({ "two_factor": policy }))).await;
        assert_eq!(changed.status(), StatusCode::OK);
    }
    let data = app.data_dir();
    let (ok, out, _) = cli(&data, &["audit", "checkpoint"]);
    assert!(ok && out.contains("signed checkpoint at record 5"), "{out}");
    let (ok, out) = verify(&data);
    assert!(ok && out.contains("signed checkpoints"), "{out}");
    let (ok, jwk, _) = cli(&data, &["audit", "key"]);
    let jwk: serde_json::Value = serde_json::from_str(jwk.trim()).unwrap();
    assert!(ok && jwk["crv"] == "Ed25519" && jwk.get("d").is_none(), "the public half only: {jwk}");
    // A copy of the public key kept elsewhere verifies; another Ed25519 key (the server's
    // token-signing one) does not.
    let kept = app.dir.file("audit-public.jwk", &jwk.to_string());
    let (ok, out, err) = cli(&data, &["audit", "verify", "--public-key", kept.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    let jwks: serde_json::Value = reqwest::get(app.url("/jwks")).await.unwrap().json().await.unwrap();
    let token_key = jwks["keys"].as_array().unwrap().iter().find(|k| k["crv"] == "Ed25519").unwrap().clone();
    let other = app.dir.file("other.jwk", &token_key.to_string());
    let (ok, out, err) = cli(&data, &["audit", "verify", "--public-key", other.to_str().unwrap()]);
    assert!(!ok && format!("{out}{err}").contains("invalid signature"), "{out}{err}");

    let dir = app.stop_keeping_data().await;
    let pool = writable(&data).await;
    // The newest record deleted: the chain alone still links, the checkpoint says otherwise.
    sqlx::query("CREATE TABLE saved AS SELECT * FROM audit_records WHERE seq = 5").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM audit_records WHERE seq = 5").execute(&pool).await.unwrap();
    let (ok, out) = verify(&data);
    assert!(!ok && out.contains("record 5") && out.contains("deleted from the end"), "{out}");
    sqlx::query("INSERT INTO audit_records SELECT * FROM saved").execute(&pool).await.unwrap();
    assert!(verify(&data).0, "restored");

    // A checkpoint whose signature was tampered with (or made without the instance key).
    sqlx::query("UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE seq = 5").execute(&pool).await.unwrap();
    let (ok, out) = verify(&data);
    assert!(!ok && out.contains("checkpoint at record 5 has an invalid signature"), "{out}");
    pool.close().await;
    drop(dir);
}

#[tokio::test]
async fn a_broken_chain_found_by_the_start_up_check_raises_a_critical_alert() {
    let app = spawn().await;
    let data = app.data_dir();
    let dir = app.stop_keeping_data().await;
    let pool = writable(&data).await;
    sqlx::query("UPDATE audit_records SET actor = 'cli:someone-else' WHERE seq = 1").execute(&pool).await.unwrap();
    pool.close().await;

    let app = spawn_with(SpawnOptions { dir: Some(dir), import: false, ..Default::default() }).await;
    let ops: serde_json::Value = client_token(&app, "ops", "gatehouse:admin").await.json().await.unwrap();
    let ops = ops["access_token"].as_str().unwrap().to_owned();
    let mut found = None;
    for _ in 0..50 {
        let alerts: serde_json::Value = call(&app, Method::GET, "/api/v1/alerts", &ops, None).await.json().await.unwrap();
        found = alerts["alerts"].as_array().unwrap().iter().find(|a| a["kind"] == "audit_chain_broken").cloned();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let alert = found.expect("the daily check runs at start-up and raises an alert");
    assert_eq!((alert["severity"].as_str(), alert["subject"].as_str()), (Some("critical"), Some("audit:1")));
    assert!(alert["summary"].as_str().unwrap().contains("record 1"), "{alert}");
}
