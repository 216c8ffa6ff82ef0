//! Identity providers written through the admin API: an operator sets up a company's OpenID
//! Connect provider, its people sign in there, a replacement keeps the write-only secret, a
//! deletion ends it; every change audited. A URL an admin types reaches public addresses only
//! unless the operator allows private networks, and invalid settings save nothing.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::federation::{accounts, at_client, claims_for, federated_sign_in, fixture, identify, person};
use crate::support::api::{call, ids, json_of, operator};
use crate::support::app::{TestApp, read_only_db};
use crate::support::browser::Browser;
use crate::support::upstream::{UPSTREAM_SECRET, Upstream, available, spawn_pair_with};

/// The federation fixture's pair, Gatehouse started with `flags`; Bob of Other Oy (whose
/// tenant has no provider yet) is a person at the upstream too.
async fn pair_with(flags: &[&str]) -> Option<(TestApp, Upstream)> {
    if !available() {
        return None;
    }
    let mut people = accounts();
    people["bob@other.test"] = person("bob@other.test", true, "Bob Upstream", &["pwd"]);
    Some(spawn_pair_with(&people, fixture, flags).await)
}

fn settings(issuer: &str) -> Value {
    json!({
        "name": "Other Oy staff",
        "issuer": issuer,
        "client_id": "gatehouse",
        "client_secret": UPSTREAM_SECRET,
        "domains": ["other.test"],
        "provisioning": "jit",
        "algorithms": ["RS256"],
    })
}

async fn put(app: &TestApp, ops: &str, tenant: &str, id: &str, body: Value) -> Response {
    call(app, Method::PUT, &format!("/api/v1/tenants/{tenant}/identity-providers/{id}"), ops, Some(body)).await
}

async fn audited_actions(app: &TestApp) -> Vec<String> {
    let db = read_only_db(&app.data_dir()).await;
    sqlx::query_scalar("SELECT action FROM audit_records WHERE action LIKE 'tenant.identity_provider.%' ORDER BY seq").fetch_all(&db).await.unwrap()
}

#[tokio::test]
async fn an_operator_sets_up_a_provider_through_the_api_its_people_sign_in_there_and_a_deletion_ends_it() {
    let Some((app, upstream)) = pair_with(&["--federation-allow-private-networks"]).await else { return };
    let ops = operator(&app).await;
    let (other, _) = ids(&app, &ops, "Other Oy", "bob@other.test").await;

    let created = put(&app, &ops, &other, "corp", settings(&upstream.issuer)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let text = created.text().await.unwrap();
    assert!(!text.contains(UPSTREAM_SECRET), "the secret is write-only");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((body["client_secret_set"].as_bool(), body["via_api"].as_bool()), (Some(true), Some(true)));
    assert_eq!(body["redirect_uri"], format!("{}/login/federated/callback", app.issuer));

    // Bob's domain now signs in at the provider: his verified address links his account.
    let claims = claims_for(&app, &at_client(federated_sign_in(&Browser::new(), &app, "bob@other.test").await)).await;
    assert_eq!(claims["idp"], format!("{other}/corp"));
    assert_eq!(claims["name"], "Bob Upstream", "the name follows the upstream");

    // A kept secret never goes to another endpoint: a new client_id (or issuer) needs it again.
    let mut elsewhere = settings(&upstream.issuer);
    elsewhere["client_id"] = json!("someone-else");
    elsewhere.as_object_mut().unwrap().remove("client_secret");
    let refused = put(&app, &ops, &other, "corp", elsewhere).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("client secret again"));

    // Replaced without a secret: the stored one stays, and signing in still works.
    let mut renamed = settings(&upstream.issuer);
    renamed["name"] = json!("Renamed");
    renamed["mfa_acr_values"] = json!(["urn:example:mfa"]);
    renamed.as_object_mut().unwrap().remove("client_secret");
    let replaced = put(&app, &ops, &other, "corp", renamed).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    assert_eq!(json_of(replaced).await["name"], "Renamed");
    at_client(federated_sign_in(&Browser::new(), &app, "bob@other.test").await);

    let deleted = call(&app, Method::DELETE, &format!("/api/v1/tenants/{other}/identity-providers/corp"), &ops, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let list = json_of(call(&app, Method::GET, &format!("/api/v1/tenants/{other}/identity-providers"), &ops, None).await).await;
    assert_eq!(list["identity_providers"], json!([]));
    let (_, html) = identify(&Browser::new(), &app, "bob@other.test").await;
    assert!(html.contains("name=\"password\""), "back to his password");
    let again = call(&app, Method::DELETE, &format!("/api/v1/tenants/{other}/identity-providers/corp"), &ops, None).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    assert_eq!(audited_actions(&app).await, ["tenant.identity_provider.create", "tenant.identity_provider.update", "tenant.identity_provider.delete"]);
    let db = read_only_db(&app.data_dir()).await;
    let trail: Vec<String> = sqlx::query_scalar("SELECT COALESCE(before, '') || COALESCE(after, '') FROM audit_records").fetch_all(&db).await.unwrap();
    assert!(trail.iter().all(|t| !t.contains(UPSTREAM_SECRET)), "the secret is not audited");
    let update: String = sqlx::query_scalar("SELECT after FROM audit_records WHERE action = 'tenant.identity_provider.update'").fetch_one(&db).await.unwrap();
    let update: Value = serde_json::from_str(&update).unwrap();
    assert_eq!(update["provider"]["mfa_acr_values"], json!(["urn:example:mfa"]), "every setting is audited: {update}");
    assert_eq!(update["provider"]["upstream"]["client_id"], "gatehouse");
    assert_eq!((update["client_secret_set"].as_bool(), update["client_secret_changed"].as_bool()), (Some(true), Some(false)));
}

#[tokio::test]
async fn without_the_operators_leave_an_admin_typed_url_reaches_no_private_address() {
    let Some((app, upstream)) = pair_with(&[]).await else { return };
    let ops = operator(&app).await;
    let (other, _) = ids(&app, &ops, "Other Oy", "bob@other.test").await;
    for issuer in [upstream.issuer.as_str(), "https://10.0.0.1", "https://169.254.169.254", "https://[::1]:8443", "https://localhost:1"] {
        let refused = put(&app, &ops, &other, "corp", settings(issuer)).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{issuer}");
        let detail = refused.text().await.unwrap();
        assert!(detail.contains("public addresses") || detail.contains("loopback"), "{issuer}: {detail}");
    }
    let saml = json!({ "name": "S", "protocol": "saml", "metadata_url": format!("{}/metadata", upstream.issuer), "domains": ["other.test"] });
    let refused = put(&app, &ops, &other, "saml", saml).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("public addresses"));
    let list = json_of(call(&app, Method::GET, &format!("/api/v1/tenants/{other}/identity-providers"), &ops, None).await).await;
    assert_eq!(list["identity_providers"], json!([]), "nothing saved");
    assert!(audited_actions(&app).await.is_empty());
}

#[tokio::test]
async fn invalid_provider_settings_are_refused_and_nothing_is_saved() {
    let Some((app, upstream)) = pair_with(&["--federation-allow-private-networks"]).await else { return };
    let ops = operator(&app).await;
    let (other, _) = ids(&app, &ops, "Other Oy", "bob@other.test").await;
    let with = |field: &str, value: Value| {
        let mut body = settings(&upstream.issuer);
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = settings(&upstream.issuer);
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let no_cert = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.test"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;
    let cases: [(&str, Value, &str); 12] = [
        ("IdP-initiated sign-in over OpenID Connect", with("allow_idp_initiated", json!(true)), "IdP-initiated settings are for protocol"),
        ("a control character in the name", with("name", json!("Sign in\u{202e}gnp.exe")), "control"),
        ("a scope with a space", with("scopes", json!(["email openid"])), "scope token"),
        ("another tenant's domain", with("domains", json!(["fed.test"])), "not one of the tenant's domains"),
        ("a MAC", with("algorithms", json!(["HS256"])), "algorithms"),
        ("no client_id", without("client_id"), "client_id"),
        ("no secret on creation", without("client_secret"), "client_secret"),
        ("an unknown protocol", with("protocol", json!("ws-fed")), "unknown protocol"),
        ("an unknown field", with("colour", json!("blue")), "colour"),
        ("a wrong issuer", with("issuer", json!(format!("{}/elsewhere", upstream.issuer))), "issuer"),
        ("SAML without a certificate", json!({ "name": "S", "protocol": "saml", "metadata": no_cert, "domains": ["other.test"] }), "no signing certificate"),
        (
            "SAML with client settings",
            json!({ "name": "S", "protocol": "saml", "metadata": no_cert, "client_id": "x", "domains": ["other.test"] }),
            "OpenID Connect",
        ),
    ];
    for (what, body, expected) in cases {
        let refused = put(&app, &ops, &other, "corp", body).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{what}");
        let detail = refused.text().await.unwrap();
        assert!(detail.contains(expected), "{what}: {detail}");
    }
    let bad_id = put(&app, &ops, &other, "Not_An_Id", settings(&upstream.issuer)).await;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    // Fed Oy's `corp` is bound to fed.test: a second provider there is a conflict.
    let (fed, _) = ids(&app, &ops, "Fed Oy", "alice@fed.test").await;
    let rival = put(&app, &ops, &fed, "rival", with("domains", json!(["fed.test"]))).await;
    assert_eq!(rival.status(), StatusCode::CONFLICT);
    let nowhere = put(&app, &ops, "no-such-tenant", "corp", settings(&upstream.issuer)).await;
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);
    let anonymous = reqwest::Client::new()
        .put(app.url(&format!("/api/v1/tenants/{other}/identity-providers/corp")))
        .json(&settings(&upstream.issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let list = json_of(call(&app, Method::GET, &format!("/api/v1/tenants/{other}/identity-providers"), &ops, None).await).await;
    assert_eq!(list["identity_providers"], json!([]), "nothing saved");
}
