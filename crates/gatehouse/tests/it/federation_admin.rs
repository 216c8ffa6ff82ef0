//! The admin API of third-party sign-in: a tenant's providers with the values to register
//! (never the secret), and linking by hand what the sign-in refused to link by email: the
//! refusal in the person's history names the identity, an admin links it, the person signs in,
//! and unlinking ends that. Tenant scope and every rejection path.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::federation::{Landed, at_client, claims_for, federated_sign_in, pair};
use crate::support::api::{call, ids, json_of, operator};
use crate::support::browser::Browser;
use crate::support::upstream::UPSTREAM_SECRET;

#[tokio::test]
async fn a_tenants_providers_are_listed_with_what_to_register_and_never_the_secret() {
    let Some((app, upstream)) = pair().await else { return };
    let ops = operator(&app).await;
    let (fed, _) = ids(&app, &ops, "Fed Oy", "alice@fed.test").await;
    let response = call(&app, Method::GET, &format!("/api/v1/tenants/{fed}/identity-providers"), &ops, None).await;
    let text = response.text().await.unwrap();
    assert!(!text.contains(UPSTREAM_SECRET), "the secret never leaves");
    let list: Value = serde_json::from_str(&text).unwrap();
    let corp = &list["identity_providers"][0];
    assert_eq!(list["identity_providers"].as_array().unwrap().len(), 1, "only this tenant's");
    assert_eq!((corp["key"].as_str(), corp["issuer"].as_str()), (Some(format!("{fed}/corp").as_str()), Some(upstream.issuer.as_str())));
    assert_eq!(corp["redirect_uri"], format!("{}/login/federated/callback", app.issuer));
    assert_eq!((corp["client_secret_set"].as_bool(), corp["upstream_mfa"].as_str()), (Some(true), Some("never")));
    let (strict, _) = ids(&app, &ops, "Strict Oy", "root@strict.test").await;
    let strict = json_of(call(&app, Method::GET, &format!("/api/v1/tenants/{strict}/identity-providers"), &ops, None).await).await;
    assert!(strict["identity_providers"][0]["required"].as_bool().unwrap());
    let missing = call(&app, Method::GET, "/api/v1/tenants/nobody/identity-providers", &ops, None).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let anonymous = reqwest::get(app.url(&format!("/api/v1/tenants/{fed}/identity-providers"))).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_identity_refused_by_email_is_linked_by_hand_and_unlinked() {
    let Some((app, upstream)) = pair().await else { return };
    let ops = operator(&app).await;
    let (_, una) = ids(&app, &ops, "Fed Oy", "una@fed.test").await;
    let Landed::Html(..) = federated_sign_in(&Browser::new(), &app, "una@fed.test").await else { panic!("refused: the email is unverified") };

    // The refusal is in Una's history, naming the identity to link.
    let history = json_of(call(&app, Method::GET, &format!("/api/v1/users/{una}/sign-ins"), &ops, None).await).await;
    let refusal = &history["sign_ins"][0];
    assert_eq!((refusal["result"].as_str(), refusal["identity_provider"].as_str().map(|p| p.ends_with("/corp"))), (Some("failure"), Some(true)));
    let db = crate::support::app::read_only_db(&app.data_dir()).await;
    let decision: String =
        sqlx::query_scalar("SELECT decision FROM sign_in_events WHERE user_id = ? AND result = 'failure'").bind(&una).fetch_one(&db).await.unwrap();
    let decision: Value = serde_json::from_str(&decision).unwrap();
    let (issuer, subject) = (decision["federation"]["issuer"].as_str().unwrap(), decision["federation"]["subject"].as_str().unwrap());
    assert_eq!((issuer, subject), (upstream.issuer.as_str(), "una@fed.test"));
    assert_eq!(decision["federation"]["refused"], "unverified_email");

    let path = format!("/api/v1/users/{una}/identities");
    let link = |body: Value| call(&app, Method::POST, &path, &ops, Some(body));
    let wrong_issuer = link(json!({ "provider": "corp", "issuer": "https://evil.test", "subject": subject })).await;
    assert_eq!(wrong_issuer.status(), StatusCode::BAD_REQUEST, "the issuer must be the provider's");
    let other_tenants = link(json!({ "provider": "nothing", "issuer": issuer, "subject": subject })).await;
    assert_eq!(other_tenants.status(), StatusCode::NOT_FOUND);
    let control = link(json!({ "provider": "corp", "issuer": issuer, "subject": "a\u{0}b" })).await;
    assert_eq!(control.status(), StatusCode::BAD_REQUEST);
    let unknown_field = link(json!({ "provider": "corp", "issuer": issuer, "subject": subject, "user": "someone" })).await;
    assert_eq!(unknown_field.status(), StatusCode::BAD_REQUEST);
    let linked = link(json!({ "provider": "corp", "issuer": issuer, "subject": subject })).await;
    assert_eq!(linked.status(), StatusCode::CREATED);
    let again = link(json!({ "provider": "corp", "issuer": issuer, "subject": "another" })).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "one identity per provider: unlink first");
    let (_, alice) = ids(&app, &ops, "Fed Oy", "alice@fed.test").await;
    let taken =
        call(&app, Method::POST, &format!("/api/v1/users/{alice}/identities"), &ops, Some(json!({ "provider": "corp", "issuer": issuer, "subject": subject })))
            .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT, "an identity links one account");

    let listed = json_of(call(&app, Method::GET, &format!("/api/v1/users/{una}/identities"), &ops, None).await).await;
    assert_eq!(listed["identities"][0]["subject"], subject);
    let callback = at_client(federated_sign_in(&Browser::new(), &app, "una@fed.test").await);
    assert_eq!(claims_for(&app, &callback).await["sub"], una.as_str(), "Una signs in through her provider now");

    let unlinked = call(&app, Method::DELETE, &format!("/api/v1/users/{una}/identities/corp"), &ops, None).await;
    assert_eq!(unlinked.status(), StatusCode::NO_CONTENT);
    let twice = call(&app, Method::DELETE, &format!("/api/v1/users/{una}/identities/corp"), &ops, None).await;
    assert_eq!(twice.status(), StatusCode::NOT_FOUND);
    let Landed::Html(..) = federated_sign_in(&Browser::new(), &app, "una@fed.test").await else { panic!("refused again once unlinked") };
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_records WHERE action LIKE 'user.identity.%' ORDER BY seq").fetch_all(&db).await.unwrap();
    assert_eq!(actions, ["user.identity.link", "user.identity.unlink"], "both audited");
    let audit_text: Vec<String> =
        sqlx::query_scalar("SELECT COALESCE(after, '') || COALESCE(before, '') FROM audit_records WHERE action LIKE 'user.identity.%'")
            .fetch_all(&db)
            .await
            .unwrap();
    assert!(audit_text.iter().all(|t| !t.contains(subject)), "audit records name no upstream subject");
}
