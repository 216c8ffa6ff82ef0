//! The local master keyring: the [`KeyProvider`] kept in a file (`--master-key-file`).
//!
//! A keyring holds the current master key and the keys it replaced. Retired keys still unwrap
//! (backups taken before a rotation carry data keys wrapped under them) until the rotation
//! that follows the backup retention window drops them. This type only parses, serialises and
//! rotates; reading and writing the file is the caller's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::CryptoError;
use crate::envelope::{DataKey, KeyProvider};

const FORMAT: &str = "gatehouse-master-keyring-v1";

pub struct MasterKeyring {
    keys: Vec<MasterKey>,
}

struct MasterKey {
    key: DataKey,
    created_at: i64,
    retired_at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: String,
    keys: Vec<KeyEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyEntry {
    id: String,
    key: String,
    /// Unix seconds.
    created_at: i64,
    retired_at: Option<i64>,
}

impl MasterKeyring {
    /// A keyring with one fresh key.
    pub fn generate(now: i64) -> Result<Self, CryptoError> {
        Ok(Self { keys: vec![MasterKey { key: DataKey::generate(new_id()?)?, created_at: now, retired_at: None }] })
    }

    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let file: KeyringFile = serde_json::from_str(text).map_err(|e| CryptoError::Keyring(format!("not a master keyring: {e}")))?;
        if file.format != FORMAT {
            return Err(CryptoError::Keyring(format!("unknown keyring format `{}`", file.format)));
        }
        let mut keys = Vec::with_capacity(file.keys.len());
        for entry in file.keys {
            let bytes =
                zeroize::Zeroizing::new(STANDARD.decode(entry.key.as_bytes()).map_err(|_| CryptoError::Keyring(format!("key `{}` is not base64", entry.id)))?);
            let key = DataKey::from_bytes(entry.id.clone(), &bytes).map_err(|_| CryptoError::Keyring(format!("key `{}` is not a 256-bit key", entry.id)))?;
            keys.push(MasterKey { key, created_at: entry.created_at, retired_at: entry.retired_at });
        }
        let ring = Self { keys };
        ring.current()?;
        Ok(ring)
    }

    pub fn to_text(&self) -> String {
        let file = KeyringFile {
            format: FORMAT.into(),
            keys: self
                .keys
                .iter()
                .map(|k| KeyEntry { id: k.key.id().to_owned(), key: STANDARD.encode(k.key.expose_bytes()), created_at: k.created_at, retired_at: k.retired_at })
                .collect(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }

    fn current(&self) -> Result<&DataKey, CryptoError> {
        self.keys.iter().rev().find(|k| k.retired_at.is_none()).map(|k| &k.key).ok_or_else(|| CryptoError::Keyring("the keyring has no current key".into()))
    }

    /// Adds a new current key and retires the others; drops keys retired before
    /// `drop_retired_before` (older than every backup that may still need them) unless a data
    /// key is still wrapped under them (`in_use`). Returns the new key's id.
    pub fn rotate(&mut self, now: i64, drop_retired_before: i64, in_use: &[String]) -> Result<String, CryptoError> {
        self.keys.retain(|k| k.retired_at.is_none_or(|at| at >= drop_retired_before) || in_use.iter().any(|id| id == k.key.id()));
        for key in &mut self.keys {
            key.retired_at.get_or_insert(now);
        }
        let key = DataKey::generate(new_id()?)?;
        let id = key.id().to_owned();
        self.keys.push(MasterKey { key, created_at: now, retired_at: None });
        Ok(id)
    }

    /// Every key id, oldest first, with whether it is retired.
    pub fn ids(&self) -> Vec<(String, bool)> {
        self.keys.iter().map(|k| (k.key.id().to_owned(), k.retired_at.is_some())).collect()
    }

    pub fn has(&self, id: &str) -> bool {
        self.keys.iter().any(|k| k.key.id() == id)
    }
}

fn new_id() -> Result<String, CryptoError> {
    Ok(format!("mk-{}", crate::random::id()?))
}

impl KeyProvider for MasterKeyring {
    fn current_id(&self) -> Result<String, CryptoError> {
        Ok(self.current()?.id().to_owned())
    }

    fn wrap(&self, key: &DataKey) -> Result<(String, Vec<u8>), CryptoError> {
        let master = self.current()?;
        Ok((master.id().to_owned(), master.wrap(key)?))
    }

    fn unwrap(&self, master_id: &str, key_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let master = self.keys.iter().find(|k| k.key.id() == master_id).ok_or_else(|| CryptoError::UnknownMasterKey(master_id.to_owned()))?;
        master.key.unwrap_key(key_id, wrapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_round_trips_and_rotation_keeps_retired_keys_for_unwrapping() {
        let mut ring = MasterKeyring::generate(100).unwrap();
        let first = ring.current_id().unwrap();
        let data = DataKey::generate("dk-t1").unwrap();
        let (wrapped_by, wrapped) = ring.wrap(&data).unwrap();
        assert_eq!(wrapped_by, first);
        let second = ring.rotate(200, 0, &[]).unwrap();
        assert_ne!(first, second);
        let reparsed = MasterKeyring::parse(&ring.to_text()).unwrap();
        assert_eq!(reparsed.current_id().unwrap(), second);
        assert_eq!(reparsed.unwrap(&first, "dk-t1", &wrapped).unwrap().expose_bytes(), data.expose_bytes());
        // A later rotation past the retention window forgets the first key.
        let mut kept = MasterKeyring::parse(&ring.to_text()).unwrap();
        kept.rotate(300, 250, std::slice::from_ref(&first)).unwrap();
        assert!(kept.has(&first), "a key still wrapping data is never dropped");
        ring.rotate(300, 250, &[]).unwrap();
        assert!(!ring.has(&first) && ring.has(&second));
        assert!(matches!(ring.unwrap(&first, "dk-t1", &wrapped), Err(CryptoError::UnknownMasterKey(_))));
    }

    #[test]
    fn malformed_keyrings_are_refused_with_a_reason() {
        for text in [
            "",
            "{}",
            r#"{"format":"other","keys":[]}"#,
            r#"{"format":"gatehouse-master-keyring-v1","keys":[]}"#,
            r#"{"format":"gatehouse-master-keyring-v1","keys":[{"id":"mk","key":"AAAA","created_at":0,"retired_at":null}]}"#,
        ] {
            assert!(matches!(MasterKeyring::parse(text), Err(CryptoError::Keyring(_))), "{text}");
        }
    }
}
