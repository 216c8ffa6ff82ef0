//! The admin API over HTTP: operators (client credentials with `gatehouse:admin`) and tenant
//! admins (their own tokens, own tenant only) change both policy layers, and the next sign-in
//! follows; lock-out checks, report-only trials, the simulator, and every rejection.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::support::api::{call, client_token, token_for};
use crate::support::app::{TestApp, db_fingerprint};
use crate::support::browser::{Browser, query_param};
use crate::support::fixtures::two_factor::{ALICE_TOTP, spawn};
use crate::support::walker::{assert_code_for, password_step};

async fn operator(app: &TestApp) -> String {
    let response = client_token(app, "ops", "gatehouse:admin").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn tenant_id(app: &TestApp, token: &str, name: &str) -> String {
    let tenants: Value = call(app, Method::GET, "/api/v1/tenants", token, None).await.json().await.unwrap();
    tenants["tenants"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_operator_switches_an_app_to_bypass_and_the_prompt_disappears() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let to = password_step(&app, &Browser::new(), "vault", "", "alice@acme.test").await;
    assert!(to.starts_with("/login/factor"), "vault requires 2FA: {to}");
    let apps: Value = call(&app, Method::GET, "/api/v1/applications", &ops, None).await.json().await.unwrap();
    assert!(apps["applications"].as_array().unwrap().iter().any(|a| a["client_id"] == "vault" && a["policy"]["two_factor"] == "required"));
    let changed = call(&app, Method::PUT, "/api/v1/applications/vault/policy", &ops, Some(json!({ "two_factor": "bypass" }))).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let to = password_step(&app, &Browser::new(), "vault", "", "alice@acme.test").await;
    assert_code_for("vault", &to);
    // Bad input changes nothing.
    for bad in [json!({ "two_factor": "sometimes" }), json!({ "two_factor": "required", "colour": 1 }), json!({ "step_up_scopes": { "x": "gold" } })] {
        let response = call(&app, Method::PUT, "/api/v1/applications/vault/policy", &ops, Some(bad.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(call(&app, Method::PUT, "/api/v1/applications/nope/policy", &ops, Some(json!({}))).await.status(), StatusCode::NOT_FOUND);
    assert_code_for("vault", &password_step(&app, &Browser::new(), "vault", "", "alice@acme.test").await);
}

#[tokio::test]
async fn only_operator_applications_get_the_admin_scope_and_only_admins_get_in() {
    let app = spawn().await;
    let refused = client_token(&app, "payroll", "gatehouse:admin").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_scope");
    assert_eq!(client_token(&app, "ops", "gatehouse:root").await.status(), StatusCode::BAD_REQUEST, "no other reserved scope");
    let plain: Value = client_token(&app, "ops", "reports").await.json().await.unwrap();
    let plain = plain["access_token"].as_str().unwrap();
    assert_eq!(call(&app, Method::GET, "/api/v1/tenants", plain, None).await.status(), StatusCode::FORBIDDEN, "an operator app's token without the scope");
    // Bob is not an admin.
    let bob = token_for(&app, "wiki", "bob@acme.test", None).await;
    assert_eq!(call(&app, Method::GET, "/api/v1/tenants", &bob, None).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(Client::new().get(app.url("/api/v1/tenants")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // A tenant admin sees only their tenant and may not touch applications.
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let tenants: Value = call(&app, Method::GET, "/api/v1/tenants", &alice, None).await.json().await.unwrap();
    assert_eq!(tenants["tenants"].as_array().unwrap().len(), 1);
    assert_eq!(call(&app, Method::GET, "/api/v1/applications", &alice, None).await.status(), StatusCode::FORBIDDEN);
    let ops = operator(&app).await;
    let globex = tenant_id(&app, &ops, "Globex").await;
    let other = call(&app, Method::PUT, &format!("/api/v1/tenants/{globex}/policy"), &alice, Some(json!({ "policy": {} }))).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN, "a tenant admin editing another tenant");
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/tenants/{globex}/users"), &alice, None).await.status(), StatusCode::FORBIDDEN);
    // The simulator does not tell a tenant admin who has an account in another tenant.
    let elsewhere =
        call(&app, Method::POST, "/api/v1/policy/simulate", &alice, Some(json!({ "email": "dave@globex.test", "client_id": "payroll", "ip": "127.0.0.1" })))
            .await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    let doc: Value = Client::new().get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/policy/simulate"]["post"].is_object());
    for path in [
        "/api/v1/audit",
        "/api/v1/alerts",
        "/api/v1/siem/events",
        "/api/v1/me/sign-ins/{id}/report",
        "/api/v1/tenants/{id}/reported-addresses",
        "/api/v1/tenants/{id}/reported-addresses/{address}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is described");
    }
}

#[tokio::test]
async fn a_tenant_admin_requires_2fa_for_the_domain_and_the_next_sign_in_enrolls() {
    let app = spawn().await;
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let acme = tenant_id(&app, &alice, "Acme Oy").await;
    let path = format!("/api/v1/tenants/{acme}/policy");
    let before: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{acme}"), &alice, None).await.json().await.unwrap();
    for bad in [
        json!({ "policy": { "trusted_networks": ["10.0.0.0/33"] } }),
        json!({ "policy": { "allowed_methods": ["carrier_pigeon"] } }),
        json!({ "policy": { "two_factor": "required", "allowed_methods": [] } }),
        json!({ "policy": { "two_factor": "required" }, "colour": "blue" }),
        json!({ "policy": { "remember_device_days": 9999 } }),
    ] {
        let response = call(&app, Method::PUT, &path, &alice, Some(bad.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let problem: Value = response.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().len() > 10, "{problem}");
    }
    let unchanged: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{acme}"), &alice, None).await.json().await.unwrap();
    assert_eq!(unchanged, before, "nothing applied");

    let saved = call(&app, Method::PUT, &path, &alice, Some(json!({ "policy": { "two_factor": "required" } }))).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(saved.json::<Value>().await.unwrap()["users_to_enroll"], 1, "bob has no factor");
    let to = password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await;
    assert!(to.starts_with("/login/enroll"), "the next sign-in enrolls: {to}");
}

#[tokio::test]
async fn a_change_that_locks_admins_out_is_refused_unless_confirmed() {
    let app = spawn().await;
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    let acme = tenant_id(&app, &alice, "Acme Oy").await;
    let path = format!("/api/v1/tenants/{acme}/policy");
    let passkeys_only = json!({ "two_factor": "required", "allowed_methods": ["passkey"] });
    let refused = call(&app, Method::PUT, &path, &alice, Some(json!({ "policy": passkeys_only }))).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let problem: Value = refused.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("alice@acme.test"), "names the people affected: {problem}");
    let tenant: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{acme}"), &alice, None).await.json().await.unwrap();
    assert_eq!(tenant["policy"]["two_factor"], "optional", "nothing saved");
    let confirmed = call(&app, Method::PUT, &path, &alice, Some(json!({ "policy": passkeys_only, "confirm_lockout": true }))).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_report_only_policy_records_what_it_would_have_done() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let acme = tenant_id(&app, &ops, "Acme Oy").await;
    let staged = call(
        &app,
        Method::PUT,
        &format!("/api/v1/tenants/{acme}/policy"),
        &ops,
        Some(json!({ "policy": { "two_factor": "required" }, "mode": "report_only" })),
    )
    .await;
    assert_eq!(staged.status(), StatusCode::OK);
    let body: Value = staged.json().await.unwrap();
    assert_eq!((body["tenant"]["policy"]["two_factor"].as_str(), body["tenant"]["staged_policy"]["two_factor"].as_str()), (Some("optional"), Some("required")));
    // Bob signs in as the enforced policy says (no prompt); the staged one would have enrolled him.
    assert_code_for("payroll", &password_step(&app, &Browser::new(), "payroll", "", "bob@acme.test").await);
    let report: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{acme}/staged-policy/report"), &ops, None).await.json().await.unwrap();
    assert_eq!(report["sign_ins"], 1, "{report}");
    assert_eq!(report["changed"], 1);
    assert_eq!(report["would_prompt"], 1);
    assert_eq!(report["by_user"]["bob@acme.test"], 1);
    assert_eq!(report["by_application"]["payroll"], 1);
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/tenants/{acme}/staged-policy"), &ops, None).await.status(), StatusCode::NO_CONTENT);
    let tenant: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{acme}"), &ops, None).await.json().await.unwrap();
    assert!(tenant["staged_policy"].is_null());
}

#[tokio::test]
async fn the_simulator_explains_each_seed_scenario_and_writes_nothing() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let fingerprint = db_fingerprint(&app.data_dir()).await;
    let simulate = |body: Value| call(&app, Method::POST, "/api/v1/policy/simulate", &ops, Some(body));
    for (email, client, rule, outcome) in [
        ("dave@globex.test", "wiki", "app_bypass", "no_prompt"),
        ("alice@acme.test", "vault", "app_required", "second_factor"),
        ("dave@globex.test", "payroll", "domain_required", "second_factor"),
        ("bob@acme.test", "vault", "app_required", "enroll"),
    ] {
        let decision: Value = simulate(json!({ "email": email, "client_id": client, "ip": "203.0.113.7" })).await.json().await.unwrap();
        assert_eq!(decision["winning_rule"]["code"], rule, "{email} {client}: {decision}");
        assert_eq!(decision["outcome"]["kind"], outcome);
        assert!(decision["reasons"].as_array().unwrap().len() >= 2);
    }
    let office: Value = simulate(json!({ "email": "erin@initech.test", "client_id": "payroll", "ip": "127.0.0.3" })).await.json().await.unwrap();
    assert_eq!(office["winning_rule"]["code"], "adaptive_low_risk");
    for bad in
        [json!({ "email": "x", "client_id": "payroll", "ip": "127.0.0.1" }), json!({ "email": "dave@globex.test", "client_id": "payroll", "ip": "nope" })]
    {
        assert_eq!(simulate(bad).await.status(), StatusCode::BAD_REQUEST);
    }
    assert_eq!(simulate(json!({ "email": "nobody@acme.test", "client_id": "payroll", "ip": "127.0.0.1" })).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(db_fingerprint(&app.data_dir()).await, fingerprint, "simulating writes nothing");
}

#[tokio::test]
async fn operators_create_tenants_domains_users_and_applications_that_work_at_once() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let created = call(&app, Method::POST, "/api/v1/tenants", &ops, Some(json!({ "name": "Umbrella", "domains": ["umbrella.test"] }))).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let tenant: Value = created.json().await.unwrap();
    let id = tenant["id"].as_str().unwrap().to_owned();
    let again = call(&app, Method::POST, "/api/v1/tenants", &ops, Some(json!({ "name": "Umbrella" }))).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let taken = call(&app, Method::POST, &format!("/api/v1/tenants/{id}/domains"), &ops, Some(json!({ "domain": "acme.test" }))).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT, "another tenant's domain");
    let added = call(&app, Method::POST, &format!("/api/v1/tenants/{id}/domains"), &ops, Some(json!({ "domain": "umbrella.example" }))).await;
    assert_eq!(added.json::<Value>().await.unwrap()["domains"], json!(["umbrella.example", "umbrella.test"]));
    for bad in [
        json!({ "email": "x@elsewhere.test", "name": "X" }),
        json!({ "email": "not an email", "name": "X" }),
        json!({ "email": "a@umbrella.test", "name": "A", "password": "short" }),
    ] {
        let response = call(&app, Method::POST, &format!("/api/v1/tenants/{id}/users"), &ops, Some(bad.clone())).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let user = call(
        &app,
        Method::POST,
        &format!("/api/v1/tenants/{id}/users"),
        &ops,
        Some(json!({ "email": "wesker@umbrella.test", "name": "Albert", "password": "a long test passphrase", "roles": ["admin"] })),
    )
    .await;
    assert_eq!(user.status(), StatusCode::CREATED);
    let user: Value = user.json().await.unwrap();
    let exists =
        call(&app, Method::POST, &format!("/api/v1/tenants/{id}/users"), &ops, Some(json!({ "email": "wesker@umbrella.test", "name": "Again" }))).await;
    assert_eq!(exists.status(), StatusCode::CONFLICT);

    let registered = call(
        &app,
        Method::POST,
        "/api/v1/applications",
        &ops,
        Some(json!({
            "client_id": "labs", "name": "Labs", "redirect_uris": ["http://127.0.0.1:9995/cb"], "grant_types": ["authorization_code"],
            "policy": { "two_factor": "bypass" }
        })),
    )
    .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let secret = registered.json::<Value>().await.unwrap()["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "256 bits");
    for bad in [
        json!({ "client_id": "labs", "name": "Again", "redirect_uris": ["http://127.0.0.1:9995/cb"], "grant_types": ["authorization_code"] }),
        json!({ "client_id": "x2", "name": "X", "grant_types": ["authorization_code"] }),
        json!({ "client_id": "x3", "name": "X", "redirect_uris": ["http://127.0.0.1:1/cb#frag"], "grant_types": ["authorization_code"] }),
        json!({ "client_id": "x4", "name": "X", "grant_types": ["implicit"] }),
    ] {
        let status = call(&app, Method::POST, "/api/v1/applications", &ops, Some(bad.clone())).await.status();
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT, "{bad}: {status}");
    }

    // The new user signs in to the new application straight away, with its new secret.
    let query = "client_id=labs&redirect_uri=http%3A%2F%2F127.0.0.1%3A9995%2Fcb&response_type=code&scope=openid&state=s";
    let callback = Browser::new().sign_in(&app, query, ("wesker@umbrella.test", "a long test passphrase")).await;
    let code = query_param(&callback, "code").unwrap();
    let tokens = Client::new()
        .post(app.url("/token"))
        .basic_auth("labs", Some(&secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "http://127.0.0.1:9995/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), StatusCode::OK);

    // Renaming and roles; a tenant admin cannot grant `operator`.
    let uid = user["id"].as_str().unwrap();
    let renamed: Value = call(&app, Method::PATCH, &format!("/api/v1/users/{uid}"), &ops, Some(json!({ "name": "Albert W." }))).await.json().await.unwrap();
    assert_eq!((renamed["name"].as_str(), renamed["roles"].clone()), (Some("Albert W."), json!(["admin"])));
    let alice = token_for(&app, "vault", "alice@acme.test", Some(ALICE_TOTP)).await;
    assert_eq!(
        call(&app, Method::PATCH, &format!("/api/v1/users/{uid}"), &alice, Some(json!({ "name": "x" }))).await.status(),
        StatusCode::NOT_FOUND,
        "another tenant's user is not found"
    );
    let bob_id = {
        let acme = tenant_id(&app, &alice, "Acme Oy").await;
        let users: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{acme}/users"), &alice, None).await.json().await.unwrap();
        users["users"].as_array().unwrap().iter().find(|u| u["email"] == "bob@acme.test").unwrap()["id"].as_str().unwrap().to_owned()
    };
    let escalate = call(&app, Method::PATCH, &format!("/api/v1/users/{bob_id}"), &alice, Some(json!({ "roles": ["operator"] }))).await;
    assert_eq!(escalate.status(), StatusCode::FORBIDDEN);
    assert_eq!(call(&app, Method::POST, "/api/v1/tenants", &alice, Some(json!({ "name": "Mine" }))).await.status(), StatusCode::FORBIDDEN, "operators only");
}

#[tokio::test]
async fn an_admin_resets_a_users_second_factors_and_the_next_sign_in_enrolls_again() {
    let app = spawn().await;
    let ops = operator(&app).await;
    let globex = tenant_id(&app, &ops, "Globex").await;
    let users: Value = call(&app, Method::GET, &format!("/api/v1/tenants/{globex}/users"), &ops, None).await.json().await.unwrap();
    let dave = users["users"].as_array().unwrap().iter().find(|u| u["email"] == "dave@globex.test").unwrap().clone();
    assert_eq!(dave["methods"], json!(["totp"]));
    let reset = call(&app, Method::DELETE, &format!("/api/v1/users/{}/factors", dave["id"].as_str().unwrap()), &ops, None).await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let to = password_step(&app, &Browser::new(), "payroll", "", "dave@globex.test").await;
    assert!(to.starts_with("/login/enroll"), "{to}");
}
