//! Tenants (`/api/v1/tenants...`): their domains and domain policy, a policy staged in
//! report-only mode, termination, and the addresses their people reported.

use gatehouse_policy::DomainPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One tenant, as read, created or changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub domains: Vec<String>,
    pub policy: DomainPolicy,
    /// The policy on trial in report-only mode; `null` when none is.
    pub staged_policy: Option<DomainPolicy>,
}

/// `GET /api/v1/tenants`: the tenants the caller may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantList {
    pub tenants: Vec<Tenant>,
}

/// `POST /api/v1/tenants`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub name: String,
    #[serde(default)]
    pub domains: Vec<String>,
}

/// `POST /api/v1/tenants/{id}/domains`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDomain {
    pub domain: String,
}

/// Whether a policy change is enforced now or staged in report-only mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum PolicyMode {
    #[default]
    Enforce,
    ReportOnly,
}

/// `PUT /api/v1/tenants/{id}/policy`. The API reads `policy` as JSON first so that a policy
/// that does not parse is named as such (`policy: ...`); a sender may give any shape, such
/// as the console's [`PolicyDraft`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange<P = serde_json::Value> {
    pub policy: P,
    #[serde(default)]
    pub mode: PolicyMode,
    /// Save although the lock-out check names people who would be locked out.
    #[serde(default)]
    pub confirm_lockout: bool,
}

/// A domain policy as a form describes it, before the API checks the names and numbers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDraft {
    pub two_factor: String,
    pub allowed_methods: Vec<String>,
    pub trusted_networks: Vec<String>,
    pub remember_device_days: u64,
}

/// The answer to `PUT /api/v1/tenants/{id}/policy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChanged {
    pub tenant: Tenant,
    /// Users the policy will ask to enroll a second factor at their next sign-in.
    pub users_to_enroll: u64,
}

/// `GET /api/v1/tenants/{id}/staged-policy/report`: how the staged policy would have decided
/// the recorded sign-ins differently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedPolicyReport {
    pub days: u16,
    pub sign_ins: u64,
    pub changed: u64,
    pub would_prompt: u64,
    pub would_stop_prompting: u64,
    pub would_deny: u64,
    /// Changed decisions by email address.
    pub by_user: BTreeMap<String, u32>,
    /// Changed decisions by client id (`""` for none).
    pub by_application: BTreeMap<String, u32>,
}

/// `POST /api/v1/tenants/{id}/terminate`
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Termination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to `POST /api/v1/tenants/{id}/terminate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantTerminated {
    pub tenant: String,
    /// `terminated`.
    pub status: String,
    /// RFC 3339: when the data is deleted unless the tenant is reinstated first.
    pub deletion_due: Option<String>,
}

/// The answer to `POST /api/v1/tenants/{id}/reinstate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantReinstated {
    pub tenant: String,
    /// `active`.
    pub status: String,
}

/// An address the tenant's people reported with "this wasn't me".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedAddress {
    pub address: String,
    /// Unix seconds.
    pub reported_at: i64,
    pub expires_at: i64,
}

/// `GET /api/v1/tenants/{id}/reported-addresses`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedAddressList {
    pub reported_addresses: Vec<ReportedAddress>,
}
