//! A tenant's users (`/api/v1/tenants/{id}/users`, `/api/v1/users/{id}`): the directory,
//! creating and changing people, and erasure.

use serde::{Deserialize, Serialize};

/// A user as the tenant's directory lists them: with the methods they enrolled, never secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Kinds of the confirmed second factors.
    pub methods: Vec<String>,
}

/// `GET /api/v1/tenants/{id}/users`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub users: Vec<DirectoryEntry>,
}

/// A user as created or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub tenant: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
}

/// `POST /api/v1/tenants/{id}/users`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// Optional: without one the user signs in only after a password is set by import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `PATCH /api/v1/users/{id}`: what is given changes; what is not stays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// What an erasure removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub user: String,
    pub tenant: String,
    pub factors: u64,
    pub sessions: u64,
    pub sign_ins: u64,
    pub devices: u64,
    pub revoked_grants: Vec<String>,
}

/// The answer to `DELETE /api/v1/users/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserErased {
    pub erased: Erasure,
}
