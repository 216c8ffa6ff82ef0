//! `/api/v1/me/sessions`: where the signed-in person is signed in.

use serde::{Deserialize, Serialize};

/// One active SSO session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub last_seen_at: i64,
    pub auth_time: i64,
    /// The `amr` values of the sign-in.
    pub methods: Vec<String>,
    /// The session the calling token was issued in.
    pub current: bool,
}

/// `GET /api/v1/me/sessions`, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    pub sessions: Vec<Session>,
}
