//! Records the store reads and writes, in domain types.

use gatehouse_core::ids::{FactorId, GrantId, SessionId, TenantId, UserId};
use gatehouse_core::{Client, Email, EmailDomain, SigningAlg};
use time::OffsetDateTime;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub pkcs8: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Published from creation; signs from this instant on.
    pub activates_at: OffsetDateTime,
    /// Stops signing at this instant (when its successor activates); stays published a while.
    pub retired_at: Option<OffsetDateTime>,
}

impl StoredKey {
    /// Whether this key is the one signing at `now`.
    pub fn signs_at(&self, now: OffsetDateTime) -> bool {
        self.activates_at <= now && self.retired_at.is_none_or(|r| r > now)
    }
    /// Published, not yet signing.
    pub fn is_pending(&self, now: OffsetDateTime) -> bool {
        self.activates_at > now && self.retired_at.is_none_or(|r| r > now)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: SessionId,
    pub secret_digest: Vec<u8>,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub auth_time: OffsetDateTime,
    pub acr: String,
    pub amr: Vec<String>,
    pub ended_at: Option<OffsetDateTime>,
    /// The identity provider that vouched for the last authentication (`TENANT_ID/PROVIDER_ID`).
    pub idp: Option<String>,
}

/// An authorization request waiting for the user to sign in. `request` is the serialised
/// [`gatehouse_core::authorize::AuthorizationRequest`] (the server owns its encoding);
/// `browser_digest` binds it to the browser that started it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub id: String,
    pub browser_digest: Vec<u8>,
    pub csrf_token: String,
    pub request: String,
    pub expires_at: OffsetDateTime,
    /// How far the sign-in got (first factor passed, policy decision, ceremony state), in the
    /// server's own encoding; `None` before the first factor.
    pub progress: Option<String>,
}

/// How a sign-in attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInResult {
    Success,
    /// Wrong email or password (also for unknown accounts).
    Failure,
    /// The second factor was wrong, replayed or expired.
    SecondFactorFailure,
    /// The policy refused it (no allowed method can meet the requirement).
    Denied,
}

impl SignInResult {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::SecondFactorFailure => "second_factor_failure",
            Self::Denied => "denied",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Success, Self::Failure, Self::SecondFactorFailure, Self::Denied].into_iter().find(|r| r.as_str() == value)
    }
}

/// One sign-in attempt, for login history and risk signals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInEvent {
    pub id: String,
    pub at: OffsetDateTime,
    /// `None` when the email named no account.
    pub user_id: Option<UserId>,
    pub tenant_id: Option<TenantId>,
    pub client_id: Option<String>,
    pub address: String,
    pub user_agent: String,
    pub device_id: Option<String>,
    pub result: SignInResult,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    /// The policy decision (outcome, winning rule, reasons) as JSON.
    pub decision: Option<serde_json::Value>,
    /// A sign-in let through with one factor although it looked risky.
    pub risky: bool,
    /// What a domain policy staged in report-only mode would have decided.
    pub staged_decision: Option<serde_json::Value>,
    /// When the user reported this sign-in as not theirs.
    pub reported_at: Option<OffsetDateTime>,
    /// The identity provider the sign-in came through (`TENANT_ID/PROVIDER_ID`).
    pub idp: Option<String>,
}

/// One sign-in as decided by the enforced policy and by the staged one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StagedOutcome {
    pub user_id: UserId,
    pub client_id: Option<String>,
    /// `no_prompt`, `second_factor`, `enroll` or `deny`.
    pub enforced: String,
    pub staged: String,
}

/// A browser known by its long-lived device cookie, per user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// A keyed digest of the cookie's secret and the user, so the cookie alone names nothing.
    pub id: String,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// When this browser last completed a second factor that the user asked to remember.
    pub second_factor_at: Option<OffsetDateTime>,
    pub user_agent: String,
    pub reported_at: Option<OffsetDateTime>,
}

/// A code sent by SMS, stored as a keyed digest; single use, a bounded number of tries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsChallenge {
    pub id: String,
    pub user_id: UserId,
    pub factor_id: FactorId,
    pub digest: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub attempts: u32,
    pub used_at: Option<OffsetDateTime>,
}

/// The outcome of presenting an SMS code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsCheck {
    Accepted,
    /// Wrong code; this many tries are left.
    Wrong {
        tries_left: u32,
    },
    /// Unknown, expired, already used or out of tries.
    Unusable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: GrantId,
    pub client_id: String,
    pub user_id: UserId,
    pub session_id: Option<SessionId>,
    pub scope: String,
    pub nonce: Option<String>,
    pub auth_time: OffsetDateTime,
    pub acr: String,
    pub amr: Vec<String>,
    /// The `acr_values` the client requested.
    pub requested_acr: Vec<String>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// The identity provider the sign-in came through (the `idp` claim).
    pub idp: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRecord {
    pub digest: Vec<u8>,
    pub grant_id: GrantId,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub expires_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeRedemption {
    Redeemed(CodeRecord),
    /// The code was redeemed before: a replay. The grant should be revoked.
    AlreadyUsed {
        grant_id: GrantId,
    },
    /// The code exists but was issued to another client; it stays unused.
    WrongClient,
    NotFound,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRecord {
    pub digest: Vec<u8>,
    pub grant_id: GrantId,
    pub client_id: String,
    pub scope: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

// Returned once per refresh; boxing would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshRotation {
    Rotated {
        previous: RefreshRecord,
        grant: GrantRecord,
    },
    /// A used token was presented again: the family must be revoked.
    Reused {
        grant_id: GrantId,
    },
    /// Unknown, expired, or its grant is revoked.
    Invalid,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revocations {
    pub access_token_ids: Vec<(String, OffsetDateTime)>,
    pub grant_ids: Vec<GrantId>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectoryCounts {
    pub tenants: u64,
    pub users: u64,
    pub clients: u64,
}

/// What an import file asks for, already validated and with passwords hashed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportPlan {
    pub tenants: Vec<TenantPlan>,
    pub clients: Vec<Client>,
    /// Identity providers of the plan's tenants (created or updated; others are left alone).
    pub identity_providers: Vec<ProviderPlan>,
    /// Audit records of the change, appended in its transaction when it changes anything.
    pub audit: Vec<gatehouse_core::audit::AuditEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantPlan {
    /// Used only when the tenant is new.
    pub new_id: TenantId,
    pub name: String,
    pub domains: Vec<EmailDomain>,
    pub users: Vec<UserPlan>,
    /// `None` leaves the tenant's domain policy as it is.
    pub policy: Option<gatehouse_policy::DomainPolicy>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPlan {
    /// Used only when the user is new.
    pub new_id: UserId,
    pub email: Email,
    pub name: String,
    /// `None` leaves an existing password as it is.
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    /// A TOTP secret migrated from another provider: enrolled (confirmed) unless the user
    /// already has a TOTP factor with this secret.
    pub totp_secret: Option<Vec<u8>>,
    /// A phone number: an SMS factor (verified by whoever imports it) unless one exists.
    pub phone: Option<gatehouse_core::PhoneNumber>,
    /// Ids for factors created by this import.
    pub new_factor_ids: [FactorId; 2],
}

/// A tenant's identity provider as an import asks for it.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderPlan {
    /// The tenant, by name (the import's natural key); the provider's `tenant_id` is set from it.
    pub tenant_name: String,
    pub provider: gatehouse_core::federation::IdentityProvider,
    /// `None` keeps the stored secret.
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ProviderPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderPlan").field("tenant_name", &self.tenant_name).field("provider", &self.provider.key()).finish_non_exhaustive()
    }
}

/// A stored identity provider with its client secret opened.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredProvider {
    pub provider: gatehouse_core::federation::IdentityProvider,
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for StoredProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("StoredProvider").field("provider", &self.provider.key()).finish_non_exhaustive()
    }
}

/// Gatehouse's key as a SAML service provider: providers encrypt assertions to its
/// certificate (DER, published in the SP metadata); `pkcs8` is the RSA private key.
#[derive(Clone, PartialEq, Eq)]
pub struct SamlSpKey {
    pub kid: String,
    pub pkcs8: Vec<u8>,
    pub certificate: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SamlSpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("SamlSpKey").field("kid", &self.kid).field("retired_at", &self.retired_at).finish_non_exhaustive()
    }
}

/// An identity at an upstream provider: (provider, issuer, subject).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// `TENANT_ID/PROVIDER_ID`.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
}

/// An account created at a first sign-in through an identity provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLinkedUser {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub name: String,
    pub email_verified: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// Everything a successful sign-in writes, applied in one transaction (one fsync on the
/// password path instead of five).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInCompletion {
    /// A session that ends because another user signed in on this browser.
    pub ended_session: Option<SessionId>,
    pub session: SessionWrite,
    /// The parked authorization request, now answered.
    pub pending_id: String,
    pub grant: GrantRecord,
    pub code: CodeRecord,
    /// The browser, remembered in the same transaction (one write per sign-in).
    pub device: Option<DeviceRecord>,
    /// The sign-in history entry.
    pub event: Option<SignInEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionWrite {
    Create(SessionRecord),
    /// A fresh authentication in the browser's existing session. The session's secret is
    /// replaced (`secret_digest`), so a cookie stolen before this authentication never carries
    /// the level it proved (ASVS 3.2.1, 7.2.4).
    Reauthenticate {
        id: SessionId,
        secret_digest: Vec<u8>,
        auth_time: OffsetDateTime,
        acr: String,
        amr: Vec<String>,
        idp: Option<String>,
    },
}
