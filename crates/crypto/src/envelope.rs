//! Envelope encryption at rest: AES-256-GCM data keys, wrapped by a master key.
//!
//! A master key (held by a [`KeyProvider`]: the local keyring file now, a cloud KMS later)
//! wraps the instance's and each tenant's data keys; a tenant's data key wraps the data keys of
//! its users; a user's data key seals that user's personal fields. Destroying a user's data key
//! makes everything sealed under it unreadable, in the live database and in every backup taken
//! before (crypto-shredding); destroying a tenant's does the same for all its users at once.
//!
//! A sealed value names the key that sealed it, so a value under a key other than the one the
//! caller expected is refused instead of decrypted with the wrong key:
//!
//! ```text
//! 0x01 | key id length (1 byte) | key id | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The caller's associated data (a field name and the owner's id) is authenticated too, so a
//! ciphertext copied into another field or another person's row does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use zeroize::Zeroizing;

use crate::CryptoError;

pub const KEY_LEN: usize = 32;
const FORMAT_V1: u8 = 1;
const TAG_LEN: usize = 16;

/// A 256-bit AES-GCM key with its id. The raw bytes are kept (zeroised on drop) only so the key
/// can be wrapped again, e.g. under a new master key.
pub struct DataKey {
    id: String,
    bytes: Zeroizing<[u8; KEY_LEN]>,
    aead: LessSafeKey,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl DataKey {
    /// A fresh random key.
    pub fn generate(id: impl Into<String>) -> Result<Self, CryptoError> {
        Self::from_bytes(id, &crate::random::bytes::<KEY_LEN>()?)
    }

    pub fn from_bytes(id: impl Into<String>, bytes: &[u8]) -> Result<Self, CryptoError> {
        let id = id.into();
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::KeyRejected { kid: id.clone() })?;
        let unbound = UnboundKey::new(&AES_256_GCM, &array).map_err(|_| CryptoError::KeyRejected { kid: id.clone() })?;
        if id.is_empty() || id.len() > usize::from(u8::MAX) {
            return Err(CryptoError::KeyRejected { kid: id });
        }
        Ok(Self { id, bytes: Zeroizing::new(array), aead: LessSafeKey::new(unbound) })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw key, for wrapping and for writing a keyring file.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Encrypts `plaintext`, binding `aad`; a random 96-bit nonce per value.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = crate::random::bytes::<NONCE_LEN>()?;
        let mut out = Vec::with_capacity(2 + self.id.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT_V1);
        out.push(u8::try_from(self.id.len()).map_err(|_| CryptoError::Sealing)?);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&nonce_bytes);
        let body_start = out.len();
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(body_start);
        self.aead.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(aad), &mut body).map_err(|_| CryptoError::Sealing)?;
        out.append(&mut body);
        Ok(out)
    }

    /// Decrypts a value sealed by [`DataKey::seal`] under this key with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (key_id, nonce, body) = split_sealed(sealed)?;
        if key_id != self.id {
            return Err(CryptoError::WrongKey { expected: self.id.clone(), found: key_id.to_owned() });
        }
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Unsealing)?;
        let mut buffer = body.to_vec();
        let plain_len = self.aead.open_in_place(nonce, Aad::from(aad), &mut buffer).map_err(|_| CryptoError::Unsealing)?.len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }

    /// Seals another key under this one (its id is bound as associated data).
    pub fn wrap(&self, child: &DataKey) -> Result<Vec<u8>, CryptoError> {
        self.seal(child.id.as_bytes(), child.expose_bytes())
    }

    /// Opens a key wrapped by [`DataKey::wrap`].
    pub fn unwrap_key(&self, child_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let bytes = Zeroizing::new(self.open(child_id.as_bytes(), wrapped)?);
        DataKey::from_bytes(child_id, &bytes)
    }

    /// A subkey for one purpose (HKDF-SHA256), e.g. the blind-index key.
    pub fn derive(&self, id: impl Into<String>, purpose: &[u8]) -> Result<DataKey, CryptoError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"gatehouse envelope v1").extract(self.bytes.as_ref());
        let info = [purpose];
        let okm = prk.expand(&info, hkdf::HKDF_SHA256).map_err(|_| CryptoError::Sealing)?;
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        okm.fill(bytes.as_mut()).map_err(|_| CryptoError::Sealing)?;
        DataKey::from_bytes(id, bytes.as_ref())
    }
}

/// A keyed blind index: look-ups by a personal value (an email) without storing it. HMAC-SHA256
/// under a key derived from the instance's data key, so equal inputs give equal indexes and a
/// copy of the database alone cannot test guesses.
pub struct BlindIndex {
    key: aws_lc_rs::hmac::Key,
}

impl BlindIndex {
    pub fn new(key: &DataKey) -> Self {
        Self { key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key.expose_bytes()) }
    }

    /// The index of an already normalised value, as 43 base64url characters.
    pub fn index(&self, value: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&self.key, value.as_bytes()).as_ref())
    }
}

/// The id of the key that sealed a value, without opening it.
pub fn sealed_key_id(sealed: &[u8]) -> Result<&str, CryptoError> {
    split_sealed(sealed).map(|(id, _, _)| id)
}

fn split_sealed(sealed: &[u8]) -> Result<(&str, &[u8], &[u8]), CryptoError> {
    let (&version, rest) = sealed.split_first().ok_or(CryptoError::Unsealing)?;
    if version != FORMAT_V1 {
        return Err(CryptoError::Unsealing);
    }
    let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Unsealing)?;
    let (id, rest) = rest.split_at_checked(usize::from(id_len)).ok_or(CryptoError::Unsealing)?;
    let (nonce, body) = rest.split_at_checked(NONCE_LEN).ok_or(CryptoError::Unsealing)?;
    if body.len() < TAG_LEN {
        return Err(CryptoError::Unsealing);
    }
    let id = std::str::from_utf8(id).map_err(|_| CryptoError::Unsealing)?;
    Ok((id, nonce, body))
}

/// Where master keys live. The local implementation is a keyring file; a cloud KMS is another
/// implementation. Wrapping happens only when a tenant is created, at start-up and during
/// rotation, and unwrapped keys are cached by the caller, so a provider may be slow.
pub trait KeyProvider: Send + Sync {
    /// The master key new wrappings use.
    fn current_id(&self) -> Result<String, CryptoError>;
    /// Wraps a data key under the current master key: (master key id, wrapped key).
    fn wrap(&self, key: &DataKey) -> Result<(String, Vec<u8>), CryptoError>;
    /// Opens a data key wrapped under the master key `master_id`. An unknown id is
    /// [`CryptoError::UnknownMasterKey`]; a wrong key or a damaged value is
    /// [`CryptoError::Unsealing`].
    fn unwrap(&self, master_id: &str, key_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_associated_data() {
        let key = DataKey::generate("dk-1").unwrap();
        let sealed = key.seal(b"users.email:u1", b"alice@example.com").unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"alice"));
        assert_eq!(sealed_key_id(&sealed).unwrap(), "dk-1");
        assert_eq!(key.open(b"users.email:u1", &sealed).unwrap(), b"alice@example.com");
        assert!(matches!(key.open(b"users.email:u2", &sealed), Err(CryptoError::Unsealing)));
        let other = DataKey::generate("dk-2").unwrap();
        assert!(matches!(other.open(b"users.email:u1", &sealed), Err(CryptoError::WrongKey { .. })));
        let impostor = DataKey::from_bytes("dk-1", other.expose_bytes()).unwrap();
        assert!(matches!(impostor.open(b"users.email:u1", &sealed), Err(CryptoError::Unsealing)));
    }

    #[test]
    fn damaged_or_truncated_values_are_refused() {
        let key = DataKey::generate("dk").unwrap();
        let sealed = key.seal(b"", b"secret").unwrap();
        for cut in 0..sealed.len() {
            assert!(key.open(b"", &sealed[..cut]).is_err(), "truncated at {cut}");
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(key.open(b"", &flipped).is_err());
        assert_ne!(key.seal(b"", b"secret").unwrap(), sealed, "nonces are fresh");
    }

    #[test]
    fn wrapped_keys_round_trip_and_derivation_is_stable() {
        let master = DataKey::generate("mk").unwrap();
        let child = DataKey::generate("dk-child").unwrap();
        let wrapped = master.wrap(&child).unwrap();
        let back = master.unwrap_key("dk-child", &wrapped).unwrap();
        assert_eq!(back.expose_bytes(), child.expose_bytes());
        assert!(master.unwrap_key("dk-other", &wrapped).is_err(), "the id is bound");
        let a = master.derive("idx", b"blind-index").unwrap();
        let b = master.derive("idx", b"blind-index").unwrap();
        assert_eq!(a.expose_bytes(), b.expose_bytes());
        assert_ne!(master.derive("idx", b"other").unwrap().expose_bytes(), a.expose_bytes());
        let index = BlindIndex::new(&a);
        assert_eq!(index.index("alice@example.com"), BlindIndex::new(&b).index("alice@example.com"));
        assert_ne!(index.index("alice@example.com"), index.index("bob@example.com"));
        assert_ne!(index.index("alice@example.com"), BlindIndex::new(&master).index("alice@example.com"));
    }
}
