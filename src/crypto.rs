//! Encryption of Facebook tokens at rest: XChaCha20-Poly1305 with a random 192-bit nonce, the
//! agent id bound in as associated data (a ciphertext copied to another agent's row fails), and the
//! key id written in the stored value so keys can rotate.
//!
//! Stored form: `v1:<key_id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::domain::AgentId;

const VERSION: &str = "v1";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error(
        "falta la clave de cifrado de tokens: define PULSO__SECURITY__TOKEN_KEY con 32 bytes aleatorios en base64 (por ejemplo: openssl rand -base64 32)"
    )]
    MissingKey,
    #[error("la clave de cifrado {0} no es válida: deben ser 32 bytes en base64 estándar (openssl rand -base64 32)")]
    BadKey(String),
    #[error("el token cifrado usa la clave «{0}», que no está configurada")]
    UnknownKeyId(String),
    #[error("el token cifrado tiene un formato desconocido")]
    Malformed,
    #[error("el token cifrado no se pudo descifrar (clave equivocada, fila equivocada o dato alterado)")]
    Tampered,
}

/// Holds the active key and any older keys still allowed to decrypt.
pub struct TokenCipher {
    active_id: String,
    keys: HashMap<String, SecretBox<[u8; 32]>>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCipher")
            .field("active_id", &self.active_id)
            .finish_non_exhaustive()
    }
}

pub fn parse_key(name: &str, b64: &str) -> Result<SecretBox<[u8; 32]>, CryptoError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| CryptoError::BadKey(name.to_string()))?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey(name.to_string()))?;
    Ok(SecretBox::new(Box::new(key)))
}

/// A new random key, standard base64, as `openssl rand -base64 32` would print.
pub fn generate_key_b64() -> String {
    let key = XChaCha20Poly1305::generate_key(&mut OsRng);
    STANDARD.encode(key)
}

impl TokenCipher {
    /// `active` is the base64 key for `active_id`; `old` is "id:base64,id:base64" for rotation.
    pub fn new(
        active_id: &str,
        active: Option<&SecretString>,
        old: Option<&SecretString>,
    ) -> Result<Self, CryptoError> {
        let active = active.ok_or(CryptoError::MissingKey)?;
        let mut keys = HashMap::new();
        keys.insert(
            active_id.to_string(),
            parse_key("PULSO__SECURITY__TOKEN_KEY", active.expose_secret())?,
        );
        if let Some(old) = old {
            for entry in old.expose_secret().split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (id, b64) = entry
                    .split_once(':')
                    .ok_or_else(|| CryptoError::BadKey("PULSO__SECURITY__OLD_TOKEN_KEYS".into()))?;
                keys.entry(id.to_string())
                    .or_insert(parse_key("PULSO__SECURITY__OLD_TOKEN_KEYS", b64)?);
            }
        }
        Ok(Self {
            active_id: active_id.to_string(),
            keys,
        })
    }

    pub fn from_config(config: &crate::config::Config) -> Result<Self, CryptoError> {
        Self::new(
            &config.security.token_key_id,
            config.secrets.token_key.as_ref(),
            config.secrets.old_token_keys.as_ref(),
        )
    }

    fn aad(agent_id: AgentId) -> Vec<u8> {
        format!("pulso:agents:{agent_id}:page_token").into_bytes()
    }

    fn cipher(&self, key_id: &str) -> Result<XChaCha20Poly1305, CryptoError> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| CryptoError::UnknownKeyId(key_id.to_string()))?;
        Ok(XChaCha20Poly1305::new(key.expose_secret().into()))
    }

    pub fn encrypt(&self, agent_id: AgentId, token: &SecretString) -> String {
        let cipher = self.cipher(&self.active_id).expect("the active key is always present");
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = Self::aad(agent_id);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: token.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{VERSION}:{}:{}", self.active_id, URL_SAFE_NO_PAD.encode(blob))
    }

    pub fn decrypt(&self, agent_id: AgentId, stored: &str) -> Result<SecretString, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let blob = URL_SAFE_NO_PAD.decode(body).map_err(|_| CryptoError::Malformed)?;
        if blob.len() <= NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let aad = Self::aad(agent_id);
        let plain = self
            .cipher(key_id)?
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        let text = String::from_utf8(plain).map_err(|_| CryptoError::Tampered)?;
        Ok(SecretString::from(text))
    }

    /// Whether a stored value was written with an older key and should be re-encrypted.
    pub fn needs_rotation(&self, stored: &str) -> bool {
        stored.split(':').nth(1).is_some_and(|id| id != self.active_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn round_trip_and_binding_to_the_agent() {
        let key = secret(&generate_key_b64());
        let c = TokenCipher::new("k1", Some(&key), None).unwrap();
        let stored = c.encrypt(7, &secret("EAAB-page-token"));
        assert!(stored.starts_with("v1:k1:"));
        assert!(!stored.contains("EAAB"));
        assert_eq!(c.decrypt(7, &stored).unwrap().expose_secret(), "EAAB-page-token");
        assert_eq!(c.decrypt(8, &stored).unwrap_err(), CryptoError::Tampered);
        let mut flipped = stored.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            c.decrypt(7, &String::from_utf8(flipped).unwrap()).unwrap_err(),
            CryptoError::Tampered
        );
        assert_eq!(c.decrypt(7, "plaintext").unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn rotation_keeps_old_tokens_readable() {
        let old_key = generate_key_b64();
        let old = TokenCipher::new("k1", Some(&secret(&old_key)), None).unwrap();
        let stored = old.encrypt(1, &secret("tok"));
        let new = TokenCipher::new(
            "k2",
            Some(&secret(&generate_key_b64())),
            Some(&secret(&format!("k1:{old_key}"))),
        )
        .unwrap();
        assert_eq!(new.decrypt(1, &stored).unwrap().expose_secret(), "tok");
        assert!(new.needs_rotation(&stored));
        assert!(!new.needs_rotation(&new.encrypt(1, &secret("tok"))));
        let without_old = TokenCipher::new("k2", Some(&secret(&generate_key_b64())), None).unwrap();
        assert_eq!(
            without_old.decrypt(1, &stored).unwrap_err(),
            CryptoError::UnknownKeyId("k1".into())
        );
    }

    #[test]
    fn missing_or_short_keys_are_explained() {
        assert_eq!(TokenCipher::new("k1", None, None).unwrap_err(), CryptoError::MissingKey);
        assert!(CryptoError::MissingKey.to_string().contains("openssl rand -base64 32"));
        assert!(matches!(
            TokenCipher::new("k1", Some(&secret("c2hvcnQ=")), None),
            Err(CryptoError::BadKey(_))
        ));
    }
}
