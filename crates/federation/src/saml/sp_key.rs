//! Gatehouse's own key as a SAML service provider: an RSA key whose self-signed certificate the
//! SP metadata publishes for encryption, so a provider can encrypt its assertions to Gatehouse.
//!
//! The key is RSA (XML Encryption's key transport is RSA-OAEP at every provider that encrypts:
//! ADFS, Entra ID, Okta, Shibboleth) and signs nothing but its own certificate: Gatehouse's
//! AuthnRequests are unsigned (`AuthnRequestsSigned="false"`), so one key has one purpose. The
//! certificate only carries the public key to the provider; nobody validates its chain.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::audit::AuditEntry;
use gatehouse_store::{FederationStore, SamlSpKey};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509, X509NameBuilder};
use time::OffsetDateTime;

/// How long the published certificate says it is valid. Providers that check dates at all
/// (ADFS warns) see a decade; the key is replaced by rotation, not by expiry.
const CERTIFICATE_YEARS: i64 = 10;

/// Why the SP key cannot be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpKeyError {
    #[error("the SAML encryption key cannot be generated: {0}")]
    Generate(String),
    #[error("the stored SAML encryption key `{0}` does not load: {1}")]
    Load(String, String),
    #[error(transparent)]
    Store(#[from] gatehouse_store::StoreError),
}

/// Gatehouse's SP keys from the store, the first one made on a new installation (in a blocking
/// task: RSA generation takes a moment). Nodes starting at once on an empty database each
/// make one; the store keeps the first and every node loads that one.
pub async fn load_or_create(store: &dyn FederationStore, entity_id: &str, now: OffsetDateTime) -> Result<Vec<EncryptionKey>, SpKeyError> {
    let mut stored = store.saml_sp_keys().await?;
    if !stored.iter().any(|key| key.retired_at.is_none()) {
        let entity = entity_id.to_owned();
        let key = tokio::task::spawn_blocking(move || EncryptionKey::generate(&entity, now)).await.map_err(|e| SpKeyError::Generate(e.to_string()))??;
        let audit = AuditEntry {
            at: now.unix_timestamp(),
            actor: "system".into(),
            on_behalf_of: None,
            action: "key.generate".into(),
            target: "saml-sp-keys".into(),
            tenant: None,
            before: None,
            // The key id and its use only: never key material.
            after: Some(serde_json::json!({ "kid": key.kid, "use": "saml encryption", "rsa_bits": 3072 })),
            address: None,
            user_agent: None,
            reason: Some("no SAML encryption key was active".into()),
        };
        store.add_saml_sp_key(&key, &audit).await?;
        stored = store.saml_sp_keys().await?;
    }
    stored.iter().map(EncryptionKey::load).collect()
}

/// A loaded SP key: the private key for RSA-OAEP and the certificate the metadata publishes.
pub struct EncryptionKey {
    kid: String,
    active: bool,
    certificate: Vec<u8>,
    pub(super) decrypting: OaepPrivateDecryptingKey,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl PartialEq for EncryptionKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid
    }
}

impl Eq for EncryptionKey {}

fn generate_error(e: impl std::fmt::Display) -> SpKeyError {
    SpKeyError::Generate(e.to_string())
}

impl EncryptionKey {
    /// A new RSA-3072 key and a self-signed certificate naming `entity_id`, valid from an hour
    /// before `now` (a provider's clock may be behind) for ten years.
    pub fn generate(entity_id: &str, now: OffsetDateTime) -> Result<SamlSpKey, SpKeyError> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa3072).map_err(generate_error)?;
        let pkcs8 = key.as_der().map_err(generate_error)?.as_ref().to_vec();
        let certificate = self_signed(&pkcs8, entity_id, now.unix_timestamp()).map_err(generate_error)?;
        let digest = openssl::sha::sha256(&certificate);
        let kid = format!("sp-{}", digest.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>());
        Ok(SamlSpKey { kid, pkcs8, certificate, created_at: now, retired_at: None })
    }

    /// Loads a stored key, checking its certificate carries its public key.
    pub fn load(stored: &SamlSpKey) -> Result<Self, SpKeyError> {
        let fail = |e: &dyn std::fmt::Display| SpKeyError::Load(stored.kid.clone(), e.to_string());
        let key = PrivateDecryptingKey::from_pkcs8(&stored.pkcs8).map_err(|e| fail(&e))?;
        let certificate = X509::from_der(&stored.certificate).map_err(|e| fail(&e))?;
        let private = PKey::private_key_from_pkcs8(&stored.pkcs8).map_err(|e| fail(&e))?;
        let public = certificate.public_key().map_err(|e| fail(&e))?;
        if !public.public_eq(&private) {
            return Err(fail(&"its certificate carries another public key"));
        }
        let decrypting = OaepPrivateDecryptingKey::new(key).map_err(|e| fail(&e))?;
        Ok(Self { kid: stored.kid.clone(), active: stored.retired_at.is_none(), certificate: stored.certificate.clone(), decrypting })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Not retired: offered in the metadata (a retired key still opens answers in flight).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The certificate as the metadata's `X509Certificate` carries it.
    pub fn certificate_base64(&self) -> String {
        STANDARD.encode(&self.certificate)
    }
}

fn self_signed(pkcs8: &[u8], entity_id: &str, now: i64) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let key = PKey::private_key_from_pkcs8(pkcs8)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "Gatehouse SAML encryption")?;
    // The entityID is a URL; the organisation field shows it to the provider's admin.
    let shown: String = entity_id.chars().filter(|c| !c.is_control()).take(64).collect();
    name.append_entry_by_text("O", if shown.is_empty() { "Gatehouse" } else { &shown })?;
    let name = name.build();
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let serial = {
        let mut random = [0u8; 16];
        openssl::rand::rand_bytes(&mut random)?;
        random[0] &= 0x7f;
        let number = BigNum::from_slice(&random)?;
        Asn1Integer::from_bn(&number)?
    };
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    let (from, until) = (Asn1Time::from_unix(now - 3600)?, Asn1Time::from_unix(now + CERTIFICATE_YEARS * 365 * 86_400)?);
    builder.set_not_before(&from)?;
    builder.set_not_after(&until)?;
    builder.set_pubkey(&key)?;
    builder.append_extension(BasicConstraints::new().critical().build()?)?;
    builder.append_extension(KeyUsage::new().critical().key_encipherment().build()?)?;
    builder.sign(&key, MessageDigest::sha256())?;
    builder.build().to_der()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_loads_and_its_certificate_carries_its_public_key() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let stored = EncryptionKey::generate("https://id.test/saml/metadata", now).unwrap();
        let loaded = EncryptionKey::load(&stored).unwrap();
        assert_eq!(loaded.kid(), stored.kid);
        let certificate = X509::from_der(&STANDARD.decode(loaded.certificate_base64()).unwrap()).unwrap();
        assert_eq!(certificate.public_key().unwrap().bits(), 3072);
        assert!(certificate.not_before() < Asn1Time::from_unix(now.unix_timestamp()).unwrap());
        assert!(!format!("{loaded:?}").contains("decrypting"), "Debug names the key id only");
        let other = EncryptionKey::generate("https://id.test/saml/metadata", now).unwrap();
        let mixed = SamlSpKey { certificate: other.certificate, ..stored };
        assert!(matches!(EncryptionKey::load(&mixed), Err(SpKeyError::Load(..))), "a certificate of another key is refused");
    }
}
