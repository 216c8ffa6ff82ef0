//! Records of security monitoring: audit queries, alerts and their delivery, and what a
//! reported sign-in changed.

use gatehouse_core::ids::{GrantId, TenantId};
use time::OffsetDateTime;

use crate::{SignInEvent, SignInResult};

/// Which audit records an admin asks for; every given field must match.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Records of this tenant only (a tenant admin's view); `None` for every record.
    pub tenant: Option<TenantId>,
    pub actor: Option<String>,
    pub target: Option<String>,
    /// An exact action (`user.update`) or a family (`user.`, ending with a dot).
    pub action: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    /// Unix seconds, exclusive.
    pub until: Option<i64>,
}

/// Which sign-ins a login-history page shows.
#[derive(Clone, Debug, Default)]
pub struct SignInFilter {
    pub result: Option<SignInResult>,
    pub client_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// An alert waiting for delivery: the sinks that already have it and how often it was tried.
#[derive(Clone, Debug)]
pub struct PendingAlert {
    pub alert: gatehouse_core::alert::Alert,
    pub delivered_to: Vec<String>,
    pub attempts: u32,
}

/// The outcome of one delivery round for an alert.
#[derive(Clone, Debug)]
pub struct DeliveryReport {
    pub delivered_to: Vec<String>,
    /// `None` when every sink has it (or delivery is given up).
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
}

/// What a person asks with "this wasn't me".
#[derive(Clone, Copy, Debug)]
pub struct SignInReport<'a> {
    pub event_id: &'a str,
    /// Remove second factors and recovery codes created since the reported sign-in; the edge
    /// asks it only for a sign-in that used a fresh second factor.
    pub remove_later_factors: bool,
    /// The reported address counts as risky in the tenant until then.
    pub address_reported_until: OffsetDateTime,
}

/// An address someone in a tenant reported, risky for that tenant's sign-ins until it expires
/// or an admin clears it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReportedAddress {
    pub address: String,
    #[serde(with = "time::serde::timestamp")]
    pub reported_at: OffsetDateTime,
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
}

/// What "this wasn't me" changed, in one transaction.
#[derive(Clone, Debug)]
pub struct ReportedSignIn {
    pub event: SignInEvent,
    /// Grants revoked with the user's sessions (their access tokens stop working too).
    pub revoked_grants: Vec<GrantId>,
    pub sessions_ended: u64,
    /// Second factors and recovery codes created since the reported sign-in, removed.
    pub factors_removed: u64,
    pub recovery_codes_removed: u64,
}

/// What a master-key rotation re-wrapped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RewrapReport {
    pub current_master: String,
    pub previous_masters: Vec<String>,
    pub rewrapped: u64,
}

/// What an erasure removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub user: String,
    pub tenant: String,
    pub factors: u64,
    pub sessions: u64,
    pub sign_ins: u64,
    pub devices: u64,
    pub revoked_grants: Vec<GrantId>,
}

/// The deletion report of a terminated tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TenantDeletion {
    pub tenant: String,
    pub name: String,
    pub domains: Vec<String>,
    pub users: u64,
    pub factors: u64,
    pub sessions: u64,
    pub sign_ins: u64,
    pub grants: u64,
    pub alerts: u64,
    pub data_keys_destroyed: u64,
}

/// What a backup target keeps apart from the snapshots (see [`crate::SnapshotStore`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyVault {
    pub instance: String,
    pub keys: Vec<WrappedKeyRecord>,
    /// Ids of people erased (including with a deleted tenant).
    pub erased: Vec<String>,
}

/// A data key as stored: wrapped by another key (a user's, by their tenant's).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrappedKeyRecord {
    pub id: String,
    pub owner: String,
    pub wrapped_by: String,
    #[serde(with = "base64_bytes")]
    pub wrapped: Vec<u8>,
    pub created_at: i64,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}
