//! WebAuthn ceremonies through `webauthn-rs`: registration and sign-in for security keys
//! (roaming authenticators, user presence) and passkeys (user verification), and passkey
//! sign-in without a password (discoverable credentials).
//!
//! The relying-party ID is the issuer's host, which must be a domain name: WebAuthn refuses IP
//! addresses, so an issuer like `http://127.0.0.1:8080` has no WebAuthn (use
//! `http://localhost:8080`). Ceremony state is serialised so the server can park it with the
//! sign-in or enrolment it belongs to.

use gatehouse_core::FactorKind;
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticatorAttachment, CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::MfaError;

pub struct WebAuthnService {
    webauthn: Webauthn,
    rp_id: String,
}

/// A credential as registered, ready to store.
pub struct RegisteredCredential {
    pub credential: String,
    pub credential_id: Vec<u8>,
    /// Not backup-eligible: the private key cannot leave the authenticator.
    pub device_bound: bool,
}

/// The result of a sign-in ceremony.
pub struct Assertion {
    pub credential_id: Vec<u8>,
    /// The stored credential with its counter advanced, when it changed.
    pub updated_credential: Option<String>,
    pub user_verified: bool,
}

fn ceremony_failed(error: WebauthnError) -> MfaError {
    match error {
        WebauthnError::CredentialPossibleCompromise => MfaError::ClonedAuthenticator,
        other => MfaError::WebAuthn(other.to_string()),
    }
}

fn json_error(error: serde_json::Error) -> MfaError {
    MfaError::WebAuthn(format!("malformed WebAuthn message: {error}"))
}

/// Whether the serialised credential may be synced or backed up (read from the library's own
/// serialisation, which records the authenticator's backup-eligibility flag).
fn backup_eligible(credential: &Value) -> bool {
    credential.get("cred").and_then(|c| c.get("backup_eligible")).and_then(Value::as_bool).unwrap_or(true)
}

impl WebAuthnService {
    /// `None` when the issuer's host is not a domain name.
    pub fn new(issuer: &str) -> Result<Option<Self>, MfaError> {
        let origin = Url::parse(issuer).map_err(|e| MfaError::WebAuthn(e.to_string()))?;
        let Some(host) = origin.domain().map(str::to_owned) else {
            return Ok(None);
        };
        let webauthn = WebauthnBuilder::new(&host, &origin).and_then(|b| b.rp_name("Gatehouse").build()).map_err(|e| MfaError::WebAuthn(e.to_string()))?;
        Ok(Some(Self { webauthn, rp_id: host }))
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }

    /// Starts registering a new credential; returns the browser's options and the state to keep.
    pub fn start_registration(
        &self,
        kind: FactorKind,
        handle: Uuid,
        account: &str,
        display: &str,
        exclude: Vec<CredentialID>,
    ) -> Result<(Value, String), MfaError> {
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (options, state) = match kind {
            FactorKind::Passkey => {
                let (options, state) = self.webauthn.start_passkey_registration(handle, account, display, exclude).map_err(ceremony_failed)?;
                let mut options = serde_json::to_value(options).map_err(json_error)?;
                // Ask for a discoverable credential where the authenticator can make one, so the
                // passkey can also sign in without a password. Not required: a hardware key
                // with no resident-key slots left still works as a second factor.
                if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(Value::as_object_mut) {
                    selection.insert("residentKey".into(), Value::from("preferred"));
                }
                (options, serde_json::to_string(&state).map_err(json_error)?)
            }
            FactorKind::SecurityKey => {
                let (options, state) = self
                    .webauthn
                    .start_securitykey_registration(handle, account, display, exclude, None, Some(AuthenticatorAttachment::CrossPlatform))
                    .map_err(ceremony_failed)?;
                (serde_json::to_value(options).map_err(json_error)?, serde_json::to_string(&state).map_err(json_error)?)
            }
            FactorKind::Totp | FactorKind::Sms => return Err(MfaError::NotWebAuthn),
        };
        Ok((options, state))
    }

    pub fn finish_registration(&self, kind: FactorKind, state: &str, response: &str) -> Result<RegisteredCredential, MfaError> {
        let response: RegisterPublicKeyCredential = serde_json::from_str(response).map_err(json_error)?;
        let credential = match kind {
            FactorKind::Passkey => {
                let state: PasskeyRegistration = serde_json::from_str(state).map_err(json_error)?;
                let passkey = self.webauthn.finish_passkey_registration(&response, &state).map_err(ceremony_failed)?;
                serde_json::to_value(&passkey).map_err(json_error)?
            }
            FactorKind::SecurityKey => {
                let state: SecurityKeyRegistration = serde_json::from_str(state).map_err(json_error)?;
                let key = self.webauthn.finish_securitykey_registration(&response, &state).map_err(ceremony_failed)?;
                serde_json::to_value(&key).map_err(json_error)?
            }
            FactorKind::Totp | FactorKind::Sms => return Err(MfaError::NotWebAuthn),
        };
        let credential_id = response.raw_id.to_vec();
        Ok(RegisteredCredential { device_bound: !backup_eligible(&credential), credential: credential.to_string(), credential_id })
    }

    /// Starts a sign-in with one of the given stored credentials (all of one kind).
    pub fn start_authentication(&self, kind: FactorKind, credentials: &[String]) -> Result<(Value, String), MfaError> {
        if credentials.is_empty() {
            return Err(MfaError::NotEnrolled);
        }
        match kind {
            FactorKind::Passkey => {
                let keys = credentials.iter().map(|c| serde_json::from_str::<Passkey>(c)).collect::<Result<Vec<_>, _>>().map_err(json_error)?;
                let (options, state) = self.webauthn.start_passkey_authentication(&keys).map_err(ceremony_failed)?;
                Ok((serde_json::to_value(options).map_err(json_error)?, serde_json::to_string(&state).map_err(json_error)?))
            }
            FactorKind::SecurityKey => {
                let keys = credentials.iter().map(|c| serde_json::from_str::<SecurityKey>(c)).collect::<Result<Vec<_>, _>>().map_err(json_error)?;
                let (options, state) = self.webauthn.start_securitykey_authentication(&keys).map_err(ceremony_failed)?;
                Ok((serde_json::to_value(options).map_err(json_error)?, serde_json::to_string(&state).map_err(json_error)?))
            }
            FactorKind::Totp | FactorKind::Sms => Err(MfaError::NotWebAuthn),
        }
    }

    /// Finishes a sign-in. `stored` finds the stored credential for the id the browser used.
    pub fn finish_authentication(
        &self,
        kind: FactorKind,
        state: &str,
        response: &str,
        stored: impl Fn(&[u8]) -> Option<String>,
    ) -> Result<Assertion, MfaError> {
        let response: PublicKeyCredential = serde_json::from_str(response).map_err(json_error)?;
        let current = stored(response.get_credential_id()).ok_or(MfaError::UnknownCredential)?;
        let (result, updated) = match kind {
            FactorKind::Passkey => {
                let state: PasskeyAuthentication = serde_json::from_str(state).map_err(json_error)?;
                let result = self.webauthn.finish_passkey_authentication(&response, &state).map_err(ceremony_failed)?;
                let mut key: Passkey = serde_json::from_str(&current).map_err(json_error)?;
                let changed = key.update_credential(&result) == Some(true);
                (result, changed.then(|| serde_json::to_string(&key)).transpose().map_err(json_error)?)
            }
            FactorKind::SecurityKey => {
                let state: SecurityKeyAuthentication = serde_json::from_str(state).map_err(json_error)?;
                let result = self.webauthn.finish_securitykey_authentication(&response, &state).map_err(ceremony_failed)?;
                let mut key: SecurityKey = serde_json::from_str(&current).map_err(json_error)?;
                let changed = key.update_credential(&result) == Some(true);
                (result, changed.then(|| serde_json::to_string(&key)).transpose().map_err(json_error)?)
            }
            FactorKind::Totp | FactorKind::Sms => return Err(MfaError::NotWebAuthn),
        };
        Ok(Assertion { credential_id: result.cred_id().to_vec(), updated_credential: updated, user_verified: result.user_verified() })
    }

    /// Starts a passkey sign-in without a user name (the browser offers its passkeys).
    pub fn start_discoverable(&self) -> Result<(Value, String), MfaError> {
        let (options, state) = self.webauthn.start_discoverable_authentication().map_err(ceremony_failed)?;
        let mut options = serde_json::to_value(options).map_err(json_error)?;
        // A button-triggered (modal) request, not conditional mediation in the autofill.
        if let Some(object) = options.as_object_mut() {
            object.remove("mediation");
        }
        Ok((options, serde_json::to_string(&state).map_err(json_error)?))
    }

    /// The user handle and credential id a discoverable assertion claims (not yet verified).
    pub fn identify_discoverable(&self, response: &str) -> Result<(Uuid, Vec<u8>), MfaError> {
        let response: PublicKeyCredential = serde_json::from_str(response).map_err(json_error)?;
        let (handle, credential_id) = self.webauthn.identify_discoverable_authentication(&response).map_err(ceremony_failed)?;
        Ok((handle, credential_id.to_vec()))
    }

    /// Verifies a discoverable assertion against the stored credential it named.
    pub fn finish_discoverable(&self, kind: FactorKind, state: &str, response: &str, stored: &str) -> Result<Assertion, MfaError> {
        let response: PublicKeyCredential = serde_json::from_str(response).map_err(json_error)?;
        let state: DiscoverableAuthentication = serde_json::from_str(state).map_err(json_error)?;
        let (result, updated) = match kind {
            FactorKind::Passkey => {
                let mut key: Passkey = serde_json::from_str(stored).map_err(json_error)?;
                let result = self.webauthn.finish_discoverable_authentication_v2(&response, state, &key).map_err(ceremony_failed)?;
                let changed = key.update_credential(&result) == Some(true);
                (result, changed.then(|| serde_json::to_string(&key)).transpose().map_err(json_error)?)
            }
            FactorKind::SecurityKey => {
                let mut key: SecurityKey = serde_json::from_str(stored).map_err(json_error)?;
                let result = self.webauthn.finish_discoverable_authentication_v2(&response, state, &key).map_err(ceremony_failed)?;
                let changed = key.update_credential(&result) == Some(true);
                (result, changed.then(|| serde_json::to_string(&key)).transpose().map_err(json_error)?)
            }
            FactorKind::Totp | FactorKind::Sms => return Err(MfaError::NotWebAuthn),
        };
        Ok(Assertion { credential_id: result.cred_id().to_vec(), updated_credential: updated, user_verified: result.user_verified() })
    }
}
