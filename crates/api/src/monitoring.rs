//! Security monitoring: the change history (`GET /api/v1/audit`) and alerts
//! (`GET /api/v1/alerts`, `POST /api/v1/alerts/{id}/acknowledge`, which answers the alert).

use gatehouse_core::alert::Alert;
use serde::{Deserialize, Serialize};

/// One record of the change history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its place in the hash chain; pages go back from it (`before`).
    pub seq: u64,
    /// Unix seconds.
    pub at: i64,
    pub actor: String,
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub target: String,
    pub tenant: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub reason: Option<String>,
}

/// `GET /api/v1/audit` (JSON), newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeHistory {
    pub records: Vec<AuditRecord>,
    /// The `before` of the next page; `null` on the last.
    pub next: Option<u64>,
}

/// `GET /api/v1/alerts`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
    /// The `before` of the next page; `null` on the last.
    pub next: Option<String>,
}
