//! An email the provider keeps out of its ID token: Gatehouse asks the provider's UserInfo
//! endpoint with the access token of the same exchange (node's `oidc-provider`, which gives
//! this account's claims only there).

use serde_json::json;

use crate::federation::{at_client, claims_for, federated_sign_in, fixture, person};
use crate::support::browser::Browser;
use crate::support::upstream::{available, spawn_pair};

#[tokio::test]
async fn an_email_the_provider_gives_only_at_userinfo_is_read_from_there() {
    if !available() {
        return;
    }
    let accounts = json!({
        "alice@fed.test": person("alice@fed.test", true, "Alice", &["pwd"]),
        "uma@fed.test": { "claims": { "email": "uma@fed.test", "email_verified": true, "name": "Uma" }, "amr": ["pwd"], "userinfo_only": true },
    });
    let (app, _upstream) = spawn_pair(&accounts, fixture).await;
    let callback = at_client(federated_sign_in(&Browser::new(), &app, "uma@fed.test").await);
    let claims = claims_for(&app, &callback).await;
    assert_eq!((claims["email"].as_str(), claims["name"].as_str()), (Some("uma@fed.test"), Some("Uma")), "created just in time from UserInfo's email");
}
