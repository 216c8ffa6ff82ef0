//! Security keys and passkeys as second factors: registering one (self-service or in the
//! enrollment wizard) and presenting one at sign-in, over [`super::WebAuthnService`]. Ceremony
//! state goes back to the caller to park with the sign-in; nothing here touches HTTP.

use gatehouse_core::ids::FactorId;
use gatehouse_core::model::User;
use gatehouse_core::{Factor, FactorKind, FactorSecret};
use gatehouse_policy::AuthLevel;
use gatehouse_store::StoreError;
use serde_json::Value;
use time::OffsetDateTime;
use webauthn_rs::prelude::{CredentialID, Uuid};

use super::{Factors, MfaError, WebAuthnService, check_throttle, notify, record_failure};
use gatehouse_delivery::NotificationKind;

fn service(cx: &Factors) -> Result<&WebAuthnService, MfaError> {
    cx.services.webauthn.as_ref().ok_or(MfaError::WebAuthnUnavailable)
}

/// A verified WebAuthn sign-in.
pub struct Presented {
    pub factor: FactorId,
    /// RFC 8176: `hwk` for a key that cannot leave its hardware, `swk` for a synced passkey.
    pub amr: &'static str,
    pub level: AuthLevel,
}

fn confirmed_of_kind(factors: &[Factor], kind: FactorKind) -> impl Iterator<Item = (&Factor, &str, &[u8], bool)> {
    factors.iter().filter(move |f| f.kind == kind && f.is_confirmed()).filter_map(|f| match &f.secret {
        FactorSecret::WebAuthn { credential, credential_id, device_bound } => Some((f, credential.as_str(), credential_id.as_slice(), *device_bound)),
        _ => None,
    })
}

/// The credential id an assertion names (`rawId`), before any verification.
fn credential_id_of(response: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let value: Value = serde_json::from_str(response).ok()?;
    let raw = value.get("rawId")?.as_str()?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok()
}

/// Starts a sign-in with the user's credentials of `kind`; returns the browser's options and
/// the ceremony state to park.
pub async fn begin_sign_in(cx: &Factors, user: &User, kind: FactorKind, now: OffsetDateTime) -> Result<(Value, String), MfaError> {
    check_throttle(cx, user, now).await?;
    let factors = cx.store.factors(&user.id).await?;
    let credentials: Vec<String> = confirmed_of_kind(&factors, kind).map(|(_, c, _, _)| c.to_owned()).collect();
    service(cx)?.start_authentication(kind, &credentials)
}

/// Verifies the browser's assertion against the parked ceremony; advances the stored
/// signature counter. A counter that went backwards (a cloned authenticator) is refused.
pub async fn finish_sign_in(cx: &Factors, user: &User, kind: FactorKind, ceremony: &str, response: &str, now: OffsetDateTime) -> Result<Presented, MfaError> {
    check_throttle(cx, user, now).await?;
    let factors = cx.store.factors(&user.id).await?;
    let result = service(cx)?.finish_authentication(kind, ceremony, response, |id| {
        confirmed_of_kind(&factors, kind).find(|(_, _, cid, _)| *cid == id).map(|(_, c, _, _)| c.to_owned())
    });
    let assertion = match result {
        Ok(assertion) => assertion,
        Err(error) => {
            if matches!(error, MfaError::ClonedAuthenticator) {
                tracing::warn!(user = %user.id, "WebAuthn signature counter went backwards: possible cloned authenticator");
                let factor = credential_id_of(response)
                    .and_then(|id| confirmed_of_kind(&factors, kind).find(|(_, _, cid, _)| *cid == id.as_slice()).map(|(f, ..)| f.id.to_string()))
                    .unwrap_or_default();
                notify(cx, user, NotificationKind::ClonedAuthenticatorSuspected { factor }, now);
            }
            if error.counts_as_failure() {
                record_failure(cx, user, now);
            }
            return Err(error);
        }
    };
    let (factor, _, _, device_bound) =
        confirmed_of_kind(&factors, kind).find(|(_, _, cid, _)| *cid == assertion.credential_id.as_slice()).ok_or(MfaError::UnknownCredential)?;
    if kind == FactorKind::Passkey && !assertion.user_verified {
        record_failure(cx, user, now);
        return Err(MfaError::WebAuthn("the passkey did not verify the user".into()));
    }
    match &assertion.updated_credential {
        Some(updated) => cx.store.update_webauthn_credential(&factor.id, updated, now).await?,
        None => cx.store.touch_factor(&factor.id, now).await?,
    }
    let level = if device_bound { AuthLevel::PhishingResistantHardware } else { AuthLevel::PhishingResistant };
    Ok(Presented { factor: factor.id.clone(), amr: if device_bound { "hwk" } else { "swk" }, level })
}

/// Starts registering a new credential of `kind`; the user's existing credentials are excluded
/// so one authenticator is not registered twice.
pub async fn begin_registration<'a>(cx: &'a Factors, user: &User) -> Result<RegistrationStart<'a>, MfaError> {
    let service = service(cx)?;
    let fresh = Uuid::new_v4().to_string();
    let handle = cx.store.webauthn_handle(&user.id, &fresh).await?;
    let handle = Uuid::parse_str(&handle).map_err(|_| MfaError::Store(StoreError::Corrupt("users.webauthn_handle".into())))?;
    let factors = cx.store.factors(&user.id).await?;
    let exclude: Vec<CredentialID> = factors
        .iter()
        .filter_map(|f| match &f.secret {
            FactorSecret::WebAuthn { credential_id, .. } => Some(CredentialID::from(credential_id.clone())),
            _ => None,
        })
        .collect();
    Ok(RegistrationStart { service, handle, exclude })
}

/// Inputs to a registration ceremony, gathered once.
pub struct RegistrationStart<'a> {
    service: &'a WebAuthnService,
    handle: Uuid,
    exclude: Vec<CredentialID>,
}

impl RegistrationStart<'_> {
    pub fn options(self, kind: FactorKind, user: &User) -> Result<(Value, String), MfaError> {
        self.service.start_registration(kind, self.handle, user.email.as_str(), &user.name, self.exclude)
    }
}

/// Verifies the browser's attestation and stores the credential as a confirmed factor.
pub async fn finish_registration(
    cx: &Factors,
    user: &User,
    kind: FactorKind,
    ceremony: &str,
    response: &str,
    label: &str,
    now: OffsetDateTime,
) -> Result<Factor, MfaError> {
    check_throttle(cx, user, now).await?;
    let registered = match service(cx)?.finish_registration(kind, ceremony, response) {
        Ok(registered) => registered,
        Err(error) => {
            record_failure(cx, user, now);
            return Err(error);
        }
    };
    let factor = Factor {
        id: FactorId::new(gatehouse_crypto::random::id()?),
        user_id: user.id.clone(),
        kind,
        label: label.to_owned(),
        secret: FactorSecret::WebAuthn { credential: registered.credential, credential_id: registered.credential_id, device_bound: registered.device_bound },
        created_at: now,
        confirmed_at: Some(now),
        last_used_at: None,
    };
    match cx.store.add_factor(&factor).await {
        Err(StoreError::Conflict(_)) => return Err(MfaError::AlreadyRegistered),
        other => other?,
    }
    notify(cx, user, NotificationKind::FactorAdded { factor: factor.id.to_string(), label: factor.label.clone() }, now);
    Ok(factor)
}

/// The level and method reference a just-registered credential proves.
pub fn registered_proof(factor: &Factor) -> (&'static str, AuthLevel) {
    match factor.secret {
        FactorSecret::WebAuthn { device_bound: true, .. } => ("hwk", AuthLevel::PhishingResistantHardware),
        _ => ("swk", AuthLevel::PhishingResistant),
    }
}

/// Starts a passkey sign-in without a user name: the browser offers its discoverable
/// credentials for this site.
pub fn begin_passwordless(cx: &Factors) -> Result<(Value, String), MfaError> {
    service(cx)?.start_discoverable()
}

/// A verified passwordless sign-in: who it was and what it proved.
pub struct Passwordless {
    pub user: gatehouse_core::ids::UserId,
    pub presented: Presented,
}

/// Verifies a discoverable assertion: the user handle names the account, the credential must
/// be that account's confirmed security key or passkey, and the user must have been verified
/// (a PIN or biometric on the authenticator), which makes it two factors on its own.
pub async fn finish_passwordless(cx: &Factors, ceremony: &str, response: &str, now: OffsetDateTime) -> Result<Passwordless, MfaError> {
    let service = service(cx)?;
    let (handle, credential_id) = service.identify_discoverable(response)?;
    let user_id = cx.store.user_by_webauthn_handle(&handle.to_string()).await?.ok_or(MfaError::UnknownCredential)?;
    let factor = cx
        .store
        .factor_by_credential_id(&credential_id)
        .await?
        .filter(|f| f.user_id == user_id && f.is_confirmed() && f.kind.is_webauthn())
        .ok_or(MfaError::UnknownCredential)?;
    let FactorSecret::WebAuthn { credential, device_bound, .. } = &factor.secret else {
        return Err(MfaError::UnknownCredential);
    };
    let user = cx.store.user(&user_id).await?.ok_or(MfaError::UnknownCredential)?;
    check_throttle(cx, &user, now).await?;
    let assertion = match service.finish_discoverable(factor.kind, ceremony, response, credential) {
        Ok(assertion) => assertion,
        Err(error) => {
            record_failure(cx, &user, now);
            return Err(error);
        }
    };
    if !assertion.user_verified {
        return Err(MfaError::WebAuthn("the passkey did not verify you (no PIN or biometric); sign in with your password".into()));
    }
    match &assertion.updated_credential {
        Some(updated) => cx.store.update_webauthn_credential(&factor.id, updated, now).await?,
        None => cx.store.touch_factor(&factor.id, now).await?,
    }
    let level = if *device_bound { AuthLevel::PhishingResistantHardware } else { AuthLevel::PhishingResistant };
    let presented = Presented { factor: factor.id.clone(), amr: if *device_bound { "hwk" } else { "swk" }, level };
    Ok(Passwordless { user: user_id, presented })
}
