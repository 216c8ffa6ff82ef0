//! The signed-in person's own second factors (`/api/v1/me`): list, add, confirm, rename and
//! remove them, and regenerate recovery codes. Changing factors needs a fresh sign-in (within
//! ten minutes) that used a second factor when the person has one, so a password-only session
//! can never remove a second factor ([`SignedIn::require_fresh`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_api::factors::{
    AppEnrollment, ConfirmFactor, EnrollmentStarted, Factor as FactorBody, FactorList, KeyEnrollment, NewFactor, PhoneEnrollment, RecoveryCodes,
    RegisterCredential, RenameFactor,
};
use gatehouse_core::factor::parse_label;
use gatehouse_core::ids::{FactorId, GrantId, UserId};
use gatehouse_core::model::User;
use gatehouse_core::{Factor, FactorKind, PhoneNumber};
use gatehouse_delivery::NotificationKind;
use gatehouse_ops::monitor::audit_writer::AuditWriter;
use gatehouse_policy::DomainPolicy;
use gatehouse_signin::decide::method_of;
use gatehouse_signin::factors::ceremonies::{CEREMONY_LIFETIME, PendingRegistration};
use gatehouse_signin::factors::{self, Factors, MfaError, credentials};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::caller::{Origin, SignedIn};
use crate::error::{AdminError, Result};

/// The edge's in-memory caches a change must reach at once, not at the next reload: revoked
/// grants (their access tokens stop working) and cached accounts.
pub trait Caches: Send + Sync {
    fn revoke_grant(&self, grant: GrantId);
    fn forget_user(&self, user: &UserId);
}

/// The context of one call by the signed-in person: the second factors' context (the store,
/// the senders, the monitor), the audit writer, the edge's caches and the clock.
pub struct Account<'a> {
    pub factors: &'a Factors,
    pub audit: &'a AuditWriter,
    pub caches: &'a dyn Caches,
    pub now: OffsetDateTime,
}

pub(crate) fn factor_body(factor: &Factor) -> FactorBody {
    FactorBody {
        id: factor.id.as_str().to_owned(),
        kind: factor.kind.as_str().to_owned(),
        label: factor.label.clone(),
        confirmed: factor.is_confirmed(),
        created_at: factor.created_at.unix_timestamp(),
        last_used_at: factor.last_used_at.map(OffsetDateTime::unix_timestamp),
    }
}

/// What the audit trail keeps of a factor: never its label, which people fill with names.
fn factor_audit(factor: &Factor) -> Value {
    json!({ "kind": factor.kind.as_str(), "confirmed": factor.is_confirmed() })
}

fn label_of(label: &str) -> Result<String> {
    parse_label(label).ok_or_else(|| AdminError::bad_request("label must be 1 to 64 characters"))
}

impl Account<'_> {
    /// Records a change the person made to their own factors. Appended after the change (the
    /// factor writes are their own transactions); a failure to record is an error they see.
    async fn record(&self, me: &SignedIn, origin: &Origin, action: &str, target: &FactorId, after: Option<Value>) -> Result<()> {
        let entry = gatehouse_core::audit::AuditEntry { after, ..me.audit(origin, self.now, action, format!("factor:{target}")) };
        self.audit.append(&entry).await?;
        Ok(())
    }

    pub(crate) async fn has_confirmed_factor(&self, user: &User) -> Result<bool> {
        Ok(self.factors.store.factors(&user.id).await?.iter().any(Factor::is_confirmed))
    }

    pub(crate) fn notify(&self, user: &User, kind: NotificationKind) {
        factors::notify(self.factors, user, kind, self.now);
    }

    /// Every factor (never a secret) and how many recovery codes are left.
    pub async fn list(&self, me: &SignedIn) -> Result<FactorList> {
        let store = self.factors.store.as_ref();
        let factors = store.factors(&me.user.id).await?;
        let left = store.recovery_codes_left(&me.user.id).await?;
        Ok(FactorList { factors: factors.iter().map(factor_body).collect(), recovery_codes_left: left })
    }

    /// Starts enrolling an authenticator app (its key and QR code), a phone (a code is sent to
    /// it), or a security key or passkey (WebAuthn options and a ceremony to answer). Only
    /// methods the person's domain allows.
    pub async fn add(&self, me: &SignedIn, origin: &Origin, request: NewFactor) -> Result<EnrollmentStarted> {
        let (cx, now, user) = (self.factors, self.now, &me.user);
        let kind = FactorKind::parse(&request.kind).ok_or_else(|| AdminError::bad_request("kind must be totp, sms, security_key or passkey"))?;
        let label = match &request.label {
            Some(label) => label_of(label)?,
            None => kind.label().to_owned(),
        };
        me.require_fresh(self.has_confirmed_factor(user).await?, now)?;
        let domain = cx.store.tenant_for_domain(&user.email.domain()).await?.map(|t| t.policy).unwrap_or_else(DomainPolicy::default);
        if !domain.configurable_methods().contains(method_of(kind)) {
            return Err(MfaError::NotAllowed.into());
        }
        Ok(match (kind, request.phone) {
            (FactorKind::Totp, None) => {
                let enrollment = factors::totp::begin(cx, user, &label, now).await?;
                EnrollmentStarted::App(AppEnrollment {
                    factor: enrollment.factor_id.as_str().to_owned(),
                    secret: enrollment.secret_text.as_str().to_owned(),
                    otpauth_uri: enrollment.uri.as_str().to_owned(),
                    qr_code: format!("data:image/svg+xml;base64,{}", STANDARD.encode(enrollment.qr_svg.as_bytes())),
                })
            }
            (FactorKind::Sms, Some(phone)) => {
                let phone = PhoneNumber::parse(&phone).map_err(|e| AdminError::bad_request(format!("phone: {e}")))?;
                let (factor, challenge) = factors::sms::begin(cx, user, phone, &label, origin.address, now).await?;
                EnrollmentStarted::Phone(PhoneEnrollment { factor: factor.id.as_str().to_owned(), challenge })
            }
            (FactorKind::Sms, None) => return Err(AdminError::bad_request("phone is required for sms")),
            (FactorKind::Totp, Some(_)) => return Err(AdminError::bad_request("phone belongs to sms only")),
            (FactorKind::SecurityKey | FactorKind::Passkey, None) => {
                let (options, ceremony_state) = credentials::begin_registration(cx, user).await?.options(kind, user)?;
                let ceremony = gatehouse_crypto::random::id()?;
                let pending = PendingRegistration { user: user.id.clone(), kind, label, state: ceremony_state, expires_at: now + CEREMONY_LIFETIME };
                cx.services.ceremonies.park(ceremony.clone(), pending, now);
                EnrollmentStarted::Key(KeyEnrollment { ceremony, options })
            }
            (FactorKind::SecurityKey | FactorKind::Passkey, Some(_)) => return Err(AdminError::bad_request("phone belongs to sms only")),
        })
    }

    /// Finishes registering a security key or passkey started by [`Self::add`] (the ceremony
    /// is used once and lives five minutes).
    pub async fn register_webauthn(&self, me: &SignedIn, origin: &Origin, request: RegisterCredential) -> Result<FactorBody> {
        let (cx, now, user) = (self.factors, self.now, &me.user);
        let pending = cx.services.ceremonies.take(&request.ceremony, &user.id, now).ok_or(MfaError::Expired)?;
        // Finishing is adding: the freshness rule applies as it stands now (a factor
        // confirmed since the ceremony began needs the second factor it brought).
        me.require_fresh(self.has_confirmed_factor(user).await?, now)?;
        let factor = credentials::finish_registration(cx, user, pending.kind, &pending.state, &request.credential.to_string(), &pending.label, now).await?;
        self.record(me, origin, "factor.add", &factor.id, Some(factor_audit(&factor))).await?;
        Ok(factor_body(&factor))
    }

    /// Activates an enrolling factor with its first code.
    pub async fn confirm(&self, me: &SignedIn, origin: &Origin, id: &str, request: ConfirmFactor) -> Result<FactorBody> {
        let (cx, now, user) = (self.factors, self.now, &me.user);
        let id = FactorId::new(id);
        let factor = cx.store.factor(&id).await?.filter(|f| f.user_id == user.id && !f.is_confirmed()).ok_or(MfaError::UnknownFactor)?;
        // Confirming is what adds the factor, so it meets the rule of adding as it stands
        // now: a factor left pending while the account had none cannot be confirmed later by
        // a password-only sign-in once another factor exists. (After the lookup, so a
        // confirmation sent twice still gets "unknown factor", not a step-up.)
        me.require_fresh(self.has_confirmed_factor(user).await?, now)?;
        match (factor.kind, request.challenge) {
            (FactorKind::Totp, None) => {
                factors::totp::confirm(cx, user, &id, &request.code, now).await?;
            }
            (FactorKind::Sms, Some(challenge)) => factors::sms::confirm(cx, user, &id, &challenge, &request.code, now).await?,
            _ => return Err(AdminError::bad_request("an sms factor is confirmed with its challenge, an authenticator app without")),
        }
        let confirmed = cx.store.factor(&id).await?.ok_or(MfaError::UnknownFactor)?;
        self.record(me, origin, "factor.add", &id, Some(factor_audit(&confirmed))).await?;
        Ok(factor_body(&confirmed))
    }

    /// Renames a factor.
    pub async fn rename(&self, me: &SignedIn, origin: &Origin, id: &str, request: RenameFactor) -> Result<FactorBody> {
        let store = self.factors.store.as_ref();
        let label = label_of(&request.label)?;
        let id = FactorId::new(id);
        if !store.rename_factor(&me.user.id, &id, &label).await? {
            return Err(MfaError::UnknownFactor.into());
        }
        self.notify(&me.user, NotificationKind::FactorRenamed { factor: id.to_string(), label: label.clone() });
        let factor = store.factor(&id).await?.ok_or(MfaError::UnknownFactor)?;
        self.record(me, origin, "factor.rename", &id, Some(json!({ "changed": ["label"] }))).await?;
        Ok(factor_body(&factor))
    }

    /// Removes a factor (a fresh two-factor sign-in required).
    pub async fn remove(&self, me: &SignedIn, origin: &Origin, id: &str) -> Result<()> {
        let store = self.factors.store.as_ref();
        let id = FactorId::new(id);
        let factor = store.factor(&id).await?.filter(|f| f.user_id == me.user.id).ok_or(MfaError::UnknownFactor)?;
        me.require_fresh(self.has_confirmed_factor(&me.user).await?, self.now)?;
        if !store.remove_factor(&me.user.id, &id).await? {
            return Err(MfaError::UnknownFactor.into());
        }
        tracing::info!(user = %me.user.id, factor = %id, "second factor removed");
        self.record(me, origin, "factor.remove", &id, None).await?;
        self.notify(&me.user, NotificationKind::FactorRemoved { factor: id.to_string(), label: factor.label });
        Ok(())
    }

    /// Ten new recovery codes, shown once; the old ones stop working.
    pub async fn regenerate_recovery_codes(&self, me: &SignedIn, origin: &Origin) -> Result<RecoveryCodes> {
        if !self.has_confirmed_factor(&me.user).await? {
            return Err(AdminError::Conflict { title: "No second factor", detail: "recovery codes back up a second factor; set one up first".into() });
        }
        me.require_fresh(true, self.now)?;
        let codes = factors::recovery::regenerate(self.factors, &me.user, self.now).await?;
        self.notify(&me.user, NotificationKind::RecoveryCodesRegenerated);
        self.record(me, origin, "recovery_codes.regenerate", &FactorId::new("recovery-codes"), None).await?;
        Ok(RecoveryCodes { codes: codes.iter().map(|c| c.as_str().to_owned()).collect() })
    }
}
