//! Storage behind capability-split traits, and the SQLite backend.
//!
//! Domain and server code see only the traits ([`Store`] is their union, used as
//! `Arc<dyn Store>`), so a PostgreSQL backend is one more implementation, never a branch at a
//! call site. The shared [`suite`] runs the same behavioural tests against every backend.
//!
//! Stores take `now` from the caller; they never read the clock.

mod error;
mod monitoring;
mod records;
pub mod sqlite;
pub mod vault;
#[cfg(any(test, feature = "test-suite"))]
pub mod suite;
#[cfg(any(test, feature = "test-suite"))]
mod suite_monitoring;
#[cfg(any(test, feature = "test-suite"))]
mod suite_privacy;

pub use error::StoreError;
pub use monitoring::*;
pub use records::*;

use async_trait::async_trait;
use gatehouse_core::ids::{FactorId, GrantId, SessionId, TenantId, UserId};
use gatehouse_core::alert::Alert;
use gatehouse_core::audit::{AuditEntry, ChainedRecord, Checkpoint};
use gatehouse_core::throttle::AccountThrottle;
use gatehouse_policy::{AppPolicy, DomainPolicy};
use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Client, ClientId, Email, EmailDomain, Factor};
use time::OffsetDateTime;

pub type StoreResult<T> = Result<T, StoreError>;

/// Tenants, users and applications: read side.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn user(&self, id: &UserId) -> StoreResult<Option<User>>;
    async fn tenant_for_domain(&self, domain: &EmailDomain) -> StoreResult<Option<Tenant>>;
    async fn tenants(&self) -> StoreResult<Vec<Tenant>>;
    async fn clients(&self) -> StoreResult<Vec<Client>>;
    async fn client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    async fn counts(&self) -> StoreResult<DirectoryCounts>;
}

/// Declarative import, applied in one transaction.
#[async_trait]
pub trait ImportStore: Send + Sync {
    async fn apply_import(&self, plan: &ImportPlan, now: OffsetDateTime) -> StoreResult<ImportSummary>;
    /// Replaces a client's secret digest (secret rotation), with its audit record.
    async fn set_client_secret(&self, id: &ClientId, digest: &[u8], now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<bool>;
}

/// Token signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn signing_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Stores new keys and retires the keys of the same algorithm as each new key activates,
    /// atomically, with its audit record.
    async fn rotate_signing_keys(&self, new_keys: &[StoredKey], audit: &AuditEntry) -> StoreResult<()>;
    /// Removes retired keys whose tokens have all expired.
    async fn prune_signing_keys(&self, retired_before: OffsetDateTime) -> StoreResult<u64>;
}

/// Single sign-on sessions, keyed by the digest of the cookie secret.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    async fn session_by_secret(&self, secret_digest: &[u8]) -> StoreResult<Option<SessionRecord>>;
    async fn session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, id: &SessionId, now: OffsetDateTime) -> StoreResult<()>;
    /// Records a fresh authentication in an existing session (`prompt=login`, `max_age`).
    async fn reauthenticate_session(&self, id: &SessionId, auth_time: OffsetDateTime, acr: &str, amr: &[String]) -> StoreResult<()>;
    /// Ends the session and revokes every grant issued under it; returns the revoked grants.
    async fn end_session(&self, id: &SessionId, now: OffsetDateTime) -> StoreResult<Vec<GrantId>>;
    /// Applies a successful sign-in atomically; returns grants revoked with an ended session.
    async fn complete_sign_in(&self, completion: &SignInCompletion, now: OffsetDateTime) -> StoreResult<Vec<GrantId>>;
}

/// Authorization requests in flight, grants, codes and refresh tokens.
#[async_trait]
pub trait GrantStore: Send + Sync {
    async fn save_pending(&self, pending: &PendingAuthorization) -> StoreResult<()>;
    async fn pending(&self, id: &str, now: OffsetDateTime) -> StoreResult<Option<PendingAuthorization>>;
    /// Replaces a pending request's progress if it is still `expected`; false when another
    /// request changed it first.
    async fn update_pending_progress(&self, id: &str, expected: Option<&str>, progress: &str) -> StoreResult<bool>;
    async fn delete_pending(&self, id: &str) -> StoreResult<()>;

    /// Creates the grant and its authorization code together.
    async fn create_grant_with_code(&self, grant: &GrantRecord, code: &CodeRecord) -> StoreResult<()>;
    /// Marks a code used, atomically: a second redemption sees `AlreadyUsed`.
    /// Looks a code up without consuming it: the record and whether it was already used. The
    /// caller checks the client, redirect URI and PKCE first, so a bad request changes nothing.
    async fn code(&self, digest: &[u8]) -> StoreResult<Option<(CodeRecord, bool)>>;
    /// A code presented by another client is not consumed (`WrongClient`).
    async fn redeem_code(&self, digest: &[u8], client_id: &str, now: OffsetDateTime) -> StoreResult<CodeRedemption>;
    async fn grant(&self, id: &GrantId) -> StoreResult<Option<GrantRecord>>;
    /// Revokes a grant (and so its refresh tokens); returns whether it was active.
    async fn revoke_grant(&self, id: &GrantId, now: OffsetDateTime) -> StoreResult<bool>;

    async fn create_refresh_token(&self, token: &RefreshRecord) -> StoreResult<()>;
    /// Uses a refresh token once and stores its successor, atomically. Presenting a used token
    /// again is reported as `Reused` so the caller can revoke the whole family. The successor
    /// joins the previous token's grant; an empty successor scope keeps the previous scope.
    async fn rotate_refresh_token(&self, digest: &[u8], successor: &RefreshRecord, now: OffsetDateTime) -> StoreResult<RefreshRotation>;
    async fn refresh_token(&self, digest: &[u8]) -> StoreResult<Option<RefreshRecord>>;

    /// Revoked access-token ids and grants that are still within their lifetime, for the
    /// server's in-memory revocation list.
    async fn revocations(&self, now: OffsetDateTime) -> StoreResult<Revocations>;
    async fn revoke_access_token(&self, jti: &str, expires_at: OffsetDateTime) -> StoreResult<()>;
    /// Deletes expired codes, pending requests, refresh tokens and revocation entries.
    async fn purge_expired(&self, now: OffsetDateTime) -> StoreResult<u64>;
}

/// Second factors, recovery codes and SMS challenges. Every "use" is an atomic
/// compare-and-set, so a code presented twice at the same instant succeeds once.
#[async_trait]
pub trait FactorStore: Send + Sync {
    /// Every factor of a user, confirmed or still enrolling, oldest first.
    async fn factors(&self, user: &UserId) -> StoreResult<Vec<Factor>>;
    async fn factor(&self, id: &FactorId) -> StoreResult<Option<Factor>>;
    async fn factor_by_credential_id(&self, credential_id: &[u8]) -> StoreResult<Option<Factor>>;
    /// A WebAuthn credential id already registered is a `Conflict`.
    async fn add_factor(&self, factor: &Factor) -> StoreResult<()>;
    /// Marks an enrolling factor of this user confirmed.
    async fn confirm_factor(&self, user: &UserId, id: &FactorId, now: OffsetDateTime) -> StoreResult<bool>;
    async fn rename_factor(&self, user: &UserId, id: &FactorId, label: &str) -> StoreResult<bool>;
    /// Removes a factor of this user (and its SMS challenges).
    async fn remove_factor(&self, user: &UserId, id: &FactorId) -> StoreResult<bool>;
    /// Accepts a TOTP time step once: true only if `step` is later than every step accepted
    /// before for this factor.
    async fn use_totp_step(&self, id: &FactorId, step: u64, now: OffsetDateTime) -> StoreResult<bool>;
    /// Stores a WebAuthn credential's new state (signature counter) after a sign-in.
    async fn update_webauthn_credential(&self, id: &FactorId, credential: &str, now: OffsetDateTime) -> StoreResult<()>;
    async fn touch_factor(&self, id: &FactorId, now: OffsetDateTime) -> StoreResult<()>;
    /// The user's WebAuthn user handle, created on first use.
    async fn webauthn_handle(&self, user: &UserId, fresh: &str) -> StoreResult<String>;
    async fn user_by_webauthn_handle(&self, handle: &str) -> StoreResult<Option<UserId>>;

    /// Replaces every recovery code of a user with a new set.
    async fn replace_recovery_codes(&self, user: &UserId, digests: &[Vec<u8>], now: OffsetDateTime) -> StoreResult<()>;
    /// Uses one code: true the first time only.
    async fn use_recovery_code(&self, user: &UserId, digest: &[u8], now: OffsetDateTime) -> StoreResult<bool>;
    async fn recovery_codes_left(&self, user: &UserId) -> StoreResult<u32>;

    async fn create_sms_challenge(&self, challenge: &SmsChallenge) -> StoreResult<()>;
    async fn sms_challenge(&self, id: &str) -> StoreResult<Option<SmsChallenge>>;
    /// Challenges sent to a user since a time (resend throttling).
    async fn sms_challenges_since(&self, user: &UserId, since: OffsetDateTime) -> StoreResult<u32>;
    /// Presents a code: the digest matches, the challenge is unexpired, unused and has tries
    /// left → used; a wrong digest spends a try.
    async fn check_sms_challenge(&self, id: &str, digest: &[u8], max_attempts: u32, now: OffsetDateTime) -> StoreResult<SmsCheck>;
}

/// Sign-in history (login history, risk signals) and the browsers users sign in from.
#[async_trait]
pub trait SignInStore: Send + Sync {
    async fn record_sign_in(&self, event: &SignInEvent) -> StoreResult<()>;
    /// Whether the user signed in successfully from this address before.
    async fn address_seen(&self, user: &UserId, address: &str) -> StoreResult<bool>;
    /// Whether the user signed in successfully from this address before, and whether someone
    /// in the user's own tenant reported the address ("this wasn't me") in a report that has
    /// not expired at `now`, in one read.
    async fn address_signals(&self, user: &UserId, address: &str, now: OffsetDateTime) -> StoreResult<(bool, bool)>;
    /// The user's sign-in attempts, newest first, strictly before `before` (a cursor: the `at`
    /// and `id` of the last event of the previous page).
    async fn sign_ins(&self, user: &UserId, filter: &SignInFilter, before: Option<(OffsetDateTime, String)>, limit: u32) -> StoreResult<Vec<SignInEvent>>;
    async fn sign_in_event(&self, id: &str) -> StoreResult<Option<SignInEvent>>;
    /// Every event recorded after a position, in the order they were recorded, each with its
    /// position (the SIEM export's cursor: positions grow with each insert, so an export never
    /// skips an event that committed late).
    async fn sign_in_events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, SignInEvent)>>;
    /// Addresses the user signed in from successfully, newest first, leaving out one event (the
    /// sign-in being judged) (new-network checks).
    async fn addresses_seen(&self, user: &UserId, except_event: &str, limit: u32) -> StoreResult<Vec<String>>;
    /// Retention: deletes history older than `before`; returns how many entries went.
    async fn prune_sign_ins(&self, before: OffsetDateTime) -> StoreResult<u64>;
    async fn device(&self, id: &str) -> StoreResult<Option<DeviceRecord>>;
    /// Creates a device or refreshes its last-seen time and user agent; a `second_factor_at`
    /// given replaces the stored one, `None` keeps it.
    async fn upsert_device(&self, device: &DeviceRecord) -> StoreResult<()>;
}

/// The tamper-evident audit trail (see `gatehouse_core::audit`).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends one record on its own; changes that are audited append in their own transaction.
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<u64>;
    /// Records after a sequence number, in order (verification pages through them).
    async fn audit_records(&self, after_seq: u64, limit: u32) -> StoreResult<Vec<ChainedRecord>>;
    /// Appends many records in one transaction (group commit); returns the last sequence number.
    async fn append_audit_batch(&self, entries: &[AuditEntry]) -> StoreResult<u64>;
    /// The last record's sequence number and hash.
    async fn audit_head(&self) -> StoreResult<Option<(u64, Vec<u8>)>>;
    /// Change history: matching records, newest first, before a sequence number (a cursor).
    async fn audit_query(&self, filter: &AuditFilter, before_seq: Option<u64>, limit: u32) -> StoreResult<Vec<ChainedRecord>>;
    async fn add_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()>;
    /// Every checkpoint, in sequence order.
    async fn checkpoints(&self) -> StoreResult<Vec<Checkpoint>>;
    /// Retention: deletes records up to and including `through_seq`, which must be a
    /// checkpoint's (the checkpoint then anchors what is left), and checkpoints before it.
    async fn prune_audit(&self, through_seq: u64) -> StoreResult<u64>;
}

/// Alerts, brute-force state, and what users report.
#[async_trait]
pub trait SecurityStore: Send + Sync {
    /// Stores an alert; `deliver` schedules it for the sinks.
    async fn raise_alert(&self, alert: &Alert, deliver: bool) -> StoreResult<()>;
    /// Alerts newest first, of one tenant (or all), before an alert id (a cursor).
    async fn alerts(&self, tenant: Option<&TenantId>, open_only: bool, before: Option<&str>, limit: u32) -> StoreResult<Vec<Alert>>;
    async fn alert(&self, id: &str) -> StoreResult<Option<Alert>>;
    /// Acknowledges an open alert, with its audit record in the same transaction.
    async fn acknowledge_alert(&self, id: &str, by: &str, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<bool>;
    /// Alerts due for delivery at `now`, oldest first.
    async fn alerts_due(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<PendingAlert>>;
    async fn record_delivery(&self, id: &str, report: &DeliveryReport) -> StoreResult<()>;
    /// Retention: deletes alerts raised before `before`; returns how many went.
    async fn prune_alerts(&self, before: OffsetDateTime) -> StoreResult<u64>;

    async fn account_throttle(&self, user: &UserId) -> StoreResult<Option<AccountThrottle>>;
    /// The account an email names, with its lockout state, in one read (the password step's
    /// only read before the hash: the same cost whether the account exists or not).
    async fn user_with_throttle(&self, email: &Email) -> StoreResult<(Option<User>, AccountThrottle)>;
    /// A failed sign-in: its history entry and, for an existing account, its new lockout state,
    /// in one transaction (so a failure for an existing account costs what one for an unknown
    /// email costs).
    async fn record_failed_sign_in(&self, event: &SignInEvent, throttle: Option<(&UserId, &AccountThrottle)>) -> StoreResult<()>;
    async fn save_account_throttle(&self, user: &UserId, throttle: &AccountThrottle) -> StoreResult<()>;
    async fn clear_account_throttle(&self, user: &UserId) -> StoreResult<()>;

    /// Whether the address stands reported in this tenant at `now`.
    async fn address_reported(&self, tenant: &TenantId, address: &str, now: OffsetDateTime) -> StoreResult<bool>;
    /// The tenant's reported addresses that have not expired at `now`, newest first.
    async fn reported_addresses(&self, tenant: &TenantId, now: OffsetDateTime) -> StoreResult<Vec<ReportedAddress>>;
    /// A tenant admin clears a reported address, with its audit record, in one transaction.
    /// False when the tenant had no such report.
    async fn clear_reported_address(&self, tenant: &TenantId, address: &str, audit: &AuditEntry) -> StoreResult<bool>;
    /// "This wasn't me", in one transaction: marks the event and its device reported, marks its
    /// address reported in the user's tenant until `report.address_reported_until`, forgets
    /// remembered browsers, ends every session of the user (revoking their grants and refresh
    /// tokens), requires a credentials reset at the next sign-in and appends the audit record.
    /// With `report.remove_later_factors` (only for a sign-in that used a fresh second factor)
    /// second factors and recovery codes created since the reported sign-in are removed too.
    /// The password is never changed here. `None` when the event is not this user's.
    async fn report_sign_in(&self, user: &UserId, report: &SignInReport<'_>, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<Option<ReportedSignIn>>;
    /// Completes a required credentials reset: sets the new password hash and clears the
    /// requirement, with its audit record. False when no reset was required.
    async fn set_password(&self, user: &UserId, hash: &str, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<bool>;
}

/// Management writes of the admin API: the two policy layers and what they read. Each write
/// bumps the generation, so every cache (this server's, another process's) reloads.
#[async_trait]
pub trait AdminStore: Send + Sync {
    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    async fn tenant_users(&self, id: &TenantId) -> StoreResult<Vec<User>>;
    /// Replaces the enforced domain policy and clears any staged one; `audit` is appended to
    /// the audit trail in the same transaction.
    async fn set_domain_policy(&self, id: &TenantId, policy: &DomainPolicy, audit: &AuditEntry) -> StoreResult<bool>;
    /// Stages (or with `None` discards) a policy in report-only mode.
    async fn set_staged_policy(&self, id: &TenantId, policy: Option<&DomainPolicy>, audit: &AuditEntry) -> StoreResult<bool>;
    async fn set_app_policy(&self, id: &ClientId, policy: &AppPolicy, audit: &AuditEntry) -> StoreResult<bool>;
    /// Successful and refused sign-ins of a tenant since a time, with the enforced and the
    /// staged outcome kinds, for the report-only report.
    async fn staged_outcomes(&self, id: &TenantId, since: OffsetDateTime) -> StoreResult<Vec<StagedOutcome>>;
}

/// Envelope encryption's keys (see [`vault`]): master-key rotation.
#[async_trait]
pub trait KeyManagementStore: Send + Sync {
    /// Re-wraps every key wrapped by an older master key under the provider's current one.
    async fn rewrap_data_keys(&self) -> StoreResult<RewrapReport>;
    /// The master keys some data key is still wrapped under.
    async fn master_keys_in_use(&self) -> StoreResult<Vec<String>>;
}

/// Individuals' rights (GDPR access and erasure) and the tenant lifecycle.
#[async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Crypto-shredding erasure, in one transaction with its audit record: destroys the user's
    /// data key (so their sealed data is unreadable everywhere, backups included), deletes their
    /// rows, ends their sessions and revokes their grants. `Conflict` when they are their
    /// tenant's last admin; `None` when there is no such user.
    async fn erase_user(&self, user: &UserId, now: OffsetDateTime, audit: &AuditEntry) -> StoreResult<Option<Erasure>>;
    /// Every session of the user, newest first (access reports).
    async fn user_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>>;
    /// Every browser the user signed in from (access reports).
    async fn user_devices(&self, user: &UserId) -> StoreResult<Vec<DeviceRecord>>;
    /// Terminates a tenant: sign-in stops at once (sessions end, grants are revoked) and its data
    /// is due for deletion at `deletion_due`. False when there is no such active tenant.
    async fn terminate_tenant(&self, id: &TenantId, now: OffsetDateTime, deletion_due: OffsetDateTime, audit: &AuditEntry) -> StoreResult<bool>;
    /// Reinstates a terminated tenant not yet deleted. False when it is not terminated.
    async fn reinstate_tenant(&self, id: &TenantId, audit: &AuditEntry) -> StoreResult<bool>;
    /// Terminated tenants whose deletion is due at `now`.
    async fn tenants_due_for_deletion(&self, now: OffsetDateTime) -> StoreResult<Vec<Tenant>>;
    /// Deletes a terminated tenant and everything of it, destroying its data keys; returns what
    /// went. Audit records stay (they name people only by pseudonymous id).
    async fn delete_tenant(&self, id: &TenantId, audit: &AuditEntry) -> StoreResult<Option<TenantDeletion>>;
    /// Confirmed second factors, one row per (tenant, user, kind) (adoption statistics).
    async fn factor_adoption(&self) -> StoreResult<Vec<(TenantId, UserId, gatehouse_core::FactorKind)>>;
}

/// Backups: a consistent copy of the database while it serves traffic, and the users' data
/// keys, which backups keep apart from it.
///
/// A snapshot holds no user's data key. Backups keep those in one object per target that each
/// backup and each erasure replace, so an erased person's key leaves every backup at once and
/// their sealed rows in earlier snapshots can never be opened again (crypto-shredding).
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// Writes a transactionally consistent copy of the database, without users' data keys, to
    /// `path` (which must not exist).
    async fn snapshot_to(&self, path: &std::path::Path) -> StoreResult<()>;
    /// Every user's data key, as stored (wrapped by their tenant's key), with the people erased
    /// so far and this installation's id.
    async fn key_vault(&self) -> StoreResult<KeyVault>;
    /// After a restore: puts back the keys of users this database holds and deletes the users
    /// the vault says were erased since. A vault of another installation, or one lacking the key
    /// of someone not erased (older than the backup, or damaged), is a `Conflict` and changes
    /// nothing. Returns (keys restored, users removed).
    async fn restore_user_keys(&self, vault: &KeyVault) -> StoreResult<(u64, u64)>;
}

/// A counter bumped by every write made outside the server (import, key rotation), so a running
/// server notices and reloads its caches.
#[async_trait]
pub trait GenerationStore: Send + Sync {
    async fn generation(&self) -> StoreResult<i64>;
    async fn bump_generation(&self) -> StoreResult<i64>;
}

/// Every capability: what the server holds as `Arc<dyn Store>`.
#[async_trait]
pub trait Store:
    DirectoryStore
    + ImportStore
    + KeyStore
    + SessionStore
    + GrantStore
    + FactorStore
    + SignInStore
    + AdminStore
    + AuditStore
    + SecurityStore
    + KeyManagementStore
    + PrivacyStore
    + SnapshotStore
    + GenerationStore
{
    /// Checks the backend answers (readiness).
    async fn ping(&self) -> StoreResult<()>;
    /// Flushes and closes; acknowledged writes are already durable, this only checkpoints.
    async fn close(&self);
}
