//! Applications (`/api/v1/applications...`, operators): registering them and their 2FA
//! behaviour.

use gatehouse_policy::AppPolicy;
use serde::{Deserialize, Serialize};

/// One registered application (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub client_id: String,
    pub name: String,
    pub policy: AppPolicy,
    /// May obtain `gatehouse:admin` with client credentials.
    pub operator: bool,
}

/// `GET /api/v1/applications`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationList {
    pub applications: Vec<Application>,
}

/// `POST /api/v1/applications`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// A public client (no secret, PKCE required) when false.
    #[serde(default = "confidential")]
    pub confidential: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub policy: AppPolicy,
    /// API scopes it may obtain for itself with client credentials.
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn confidential() -> bool {
    true
}

/// The answer to `POST /api/v1/applications`: the secret is returned this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationCreated {
    pub client_id: String,
    /// `null` for a public client.
    pub client_secret: Option<String>,
}

/// An application policy as a form describes it (`PUT /api/v1/applications/{id}/policy`),
/// before the API checks the mode and the levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppPolicyDraft {
    pub two_factor: String,
    /// Scope to acr value.
    pub step_up_scopes: serde_json::Map<String, serde_json::Value>,
}

/// The answer to `PUT /api/v1/applications/{id}/policy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPolicyChanged {
    pub client_id: String,
    pub policy: AppPolicy,
}
