//! Secrets at rest: warehouse passwords are stored sealed with ChaCha20-Poly1305 as
//! `v1:` + base64(nonce ‖ ciphertext), a fresh random 96-bit nonce per value.
//!
//! The key is `LIFT_SECRET_KEY` (32 bytes, base64), else a key generated in `secret-key` beside
//! the SQLite database (mode 0600). On PostgreSQL without `LIFT_SECRET_KEY` there is no key:
//! passwords cannot be stored (a clear error), the rest of lift works. A stored value without the
//! `v1:` prefix is a password from before sealing; it is read as is, and sealed at start-up when a
//! key exists (`repo::warehouse::seal_plaintext_passwords`).

use std::sync::Arc;

use anyhow::{bail, Context};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::DomainError;

/// The generated key's file beside the SQLite database.
pub const KEY_FILE_NAME: &str = "secret-key";
const PREFIX: &str = "v1:";
const NONCE_BYTES: usize = 12;
const KEY_BYTES: usize = 32;
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Seals and opens stored secrets; without a key, only reads legacy plain values.
#[derive(Clone)]
pub struct Sealer {
    cipher: Option<Arc<ChaCha20Poly1305>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("has_key", &self.cipher.is_some())
            .finish()
    }
}

impl Sealer {
    /// The key from `secret_key` (base64 of 32 bytes), else from (or newly into) the key file
    /// beside the SQLite database at `database_url`, else none. An empty `secret_key` counts as
    /// unset: compose files and templates pass `LIFT_SECRET_KEY=` when the operator set none.
    pub fn from_settings(
        secret_key: Option<&SecretString>,
        database_url: &str,
    ) -> anyhow::Result<Sealer> {
        let given = secret_key
            .map(|key| key.expose_secret().trim())
            .filter(|key| !key.is_empty());
        let encoded = match given {
            Some(key) => key.to_owned(),
            None => match crate::secret_file::beside_sqlite(database_url, KEY_FILE_NAME) {
                Some(path) => crate::secret_file::read_or_create(&path, || {
                    let mut key = [0u8; KEY_BYTES];
                    rand::rng().fill_bytes(&mut key);
                    BASE64.encode(key)
                })?,
                None => return Ok(Sealer { cipher: None }),
            },
        };
        Sealer::from_base64(&encoded)
    }

    /// A sealer with the key `encoded` (base64 of 32 bytes).
    pub fn from_base64(encoded: &str) -> anyhow::Result<Sealer> {
        let cipher = BASE64
            .decode(encoded)
            .ok()
            .filter(|k| k.len() == KEY_BYTES)
            .and_then(|k| ChaCha20Poly1305::new_from_slice(&k).ok());
        let Some(cipher) = cipher else {
            bail!("LIFT_SECRET_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)");
        };
        Ok(Sealer {
            cipher: Some(Arc::new(cipher)),
        })
    }

    pub fn has_key(&self) -> bool {
        self.cipher.is_some()
    }

    /// The stored form of `secret`: `""` for an empty one, else sealed. Without a key, a
    /// non-empty secret is refused (`field` names it).
    pub fn seal(&self, field: &str, secret: &SecretString) -> Result<String, DomainError> {
        let plain = secret.expose_secret();
        if plain.is_empty() {
            return Ok(String::new());
        }
        let Some(cipher) = &self.cipher else {
            return Err(DomainError::validation(
                field,
                "this server cannot store passwords: its operator has not set LIFT_SECRET_KEY to encrypt them with",
            ));
        };
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plain.as_bytes())
            .map_err(|_| DomainError::internal("sealing a secret failed"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", BASE64.encode(bytes)))
    }

    /// The secret in a stored value: opened when sealed, as is when from before sealing.
    pub fn open(&self, stored: &str) -> anyhow::Result<SecretString> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Ok(SecretString::from(stored));
        };
        let Some(cipher) = &self.cipher else {
            bail!("a stored secret is sealed, but LIFT_SECRET_KEY is not set");
        };
        let bytes = BASE64
            .decode(encoded)
            .context("a sealed secret is not base64")?;
        if bytes.len() < NONCE_BYTES {
            bail!("a sealed secret is too short");
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().context("a sealed secret's nonce")?;
        let plain = cipher.decrypt(&Nonce::from(nonce), sealed).map_err(|_| {
            anyhow::anyhow!(
                "a sealed secret does not open with this LIFT_SECRET_KEY (was the key changed?)"
            )
        })?;
        Ok(SecretString::from(
            String::from_utf8(plain).context("a sealed secret is not text")?,
        ))
    }

    /// Whether a stored value is sealed (as opposed to empty or from before sealing).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::from_base64(&BASE64.encode([7u8; KEY_BYTES])).expect("key")
    }

    #[test]
    fn a_sealed_secret_opens_to_itself_and_does_not_contain_it() {
        let secret = SecretString::from("hunter2-hunter2");
        let stored = sealer().seal("password", &secret).expect("sealed");
        assert!(stored.starts_with("v1:"));
        assert!(!stored.contains("hunter2"));
        let opened = sealer().open(&stored).expect("opens");
        assert_eq!(opened.expose_secret(), "hunter2-hunter2");
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let secret = SecretString::from("same");
        assert_ne!(
            sealer().seal("password", &secret).expect("sealed"),
            sealer().seal("password", &secret).expect("sealed")
        );
    }

    #[test]
    fn plain_values_from_before_sealing_are_read_as_they_are() {
        assert_eq!(
            sealer().open("legacy").expect("plain").expose_secret(),
            "legacy"
        );
        assert_eq!(sealer().open("").expect("empty").expose_secret(), "");
    }

    #[test]
    fn a_tampered_value_or_another_key_does_not_open() {
        let stored = sealer()
            .seal("password", &SecretString::from("x"))
            .expect("sealed");
        let other = Sealer::from_base64(&BASE64.encode([8u8; KEY_BYTES])).expect("key");
        assert!(other.open(&stored).is_err());
        let mut tampered = stored.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(sealer()
            .open(&String::from_utf8(tampered).expect("text"))
            .is_err());
    }

    #[test]
    fn without_a_key_passwords_are_refused_but_empty_ones_pass() {
        let keyless = Sealer { cipher: None };
        assert!(matches!(
            keyless.seal("password", &SecretString::from("x")),
            Err(DomainError::Validation { .. })
        ));
        assert_eq!(
            keyless
                .seal("password", &SecretString::from(""))
                .expect("empty"),
            ""
        );
    }

    #[test]
    fn an_empty_key_setting_is_no_key() {
        let sealer = Sealer::from_settings(Some(&SecretString::from("  ")), "postgres://h/db")
            .expect("an empty key is unset");
        assert!(sealer.seal("password", &SecretString::from("x")).is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(Sealer::from_base64("short").is_err());
        assert!(Sealer::from_base64(&BASE64.encode([1u8; 16])).is_err());
    }
}
