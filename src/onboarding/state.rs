//! The OAuth `state` of a Facebook Login link: bound to one agent, signed, short-lived and (with the
//! store) single-use.
//!
//! Form: `{agent_id}.{expires_unix}.{nonce}.{mac}` where `nonce` is 16 random bytes and `mac` is
//! HMAC-SHA256 over `pulso-oauth-state:v1:{agent_id}:{expires_unix}:{nonce}`, both base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

use crate::domain::AgentId;

const DOMAIN: &str = "pulso-oauth-state:v1";
/// Longest state accepted before any parsing (a real one is about 80 characters).
const MAX_LEN: usize = 200;

/// A state whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedState {
    pub agent: AgentId,
    pub expires_at: DateTime<Utc>,
    /// Unique per link; the store records it when used.
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state missing or not signed by this server")]
    Forged,
    #[error("state expired")]
    Expired(VerifiedState),
}

/// Signs and checks states with a 32-byte key.
pub struct StateSigner {
    key: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSigner(..)")
    }
}

impl StateSigner {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key: SecretBox::new(Box::new(key)),
        }
    }

    fn mac(&self, agent: AgentId, expires: i64, nonce: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.key.expose_secret()).expect("HMAC accepts keys of any length");
        mac.update(format!("{DOMAIN}:{agent}:{expires}:{nonce}").as_bytes());
        mac
    }

    /// A new state for `agent`, valid until `expires_at`.
    pub fn issue(&self, agent: AgentId, expires_at: DateTime<Utc>) -> String {
        let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
        let expires = expires_at.timestamp();
        let tag = self.mac(agent, expires, &nonce).finalize().into_bytes();
        format!("{agent}.{expires}.{nonce}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Checks the signature (in constant time) and then the expiry. Single use is the store's job.
    pub fn verify(&self, state: &str, now: DateTime<Utc>) -> Result<VerifiedState, StateError> {
        if state.len() > MAX_LEN {
            return Err(StateError::Forged);
        }
        let mut parts = state.split('.');
        let (Some(agent), Some(expires), Some(nonce), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(StateError::Forged);
        };
        let agent: AgentId = agent.parse().map_err(|_| StateError::Forged)?;
        let expires: i64 = expires.parse().map_err(|_| StateError::Forged)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| StateError::Forged)?;
        if nonce.is_empty() {
            return Err(StateError::Forged);
        }
        self.mac(agent, expires, nonce)
            .verify_slice(&tag)
            .map_err(|_| StateError::Forged)?;
        let expires_at = DateTime::from_timestamp(expires, 0).ok_or(StateError::Forged)?;
        let verified = VerifiedState {
            agent,
            expires_at,
            nonce: nonce.to_string(),
        };
        if expires_at <= now {
            return Err(StateError::Expired(verified));
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn issued_states_verify_and_bind_the_agent() {
        let signer = StateSigner::new([7; 32]);
        let now = Utc::now();
        let state = signer.issue(42, now + Duration::minutes(15));
        let v = signer.verify(&state, now).unwrap();
        assert_eq!(v.agent, 42);
        assert!(state.len() < MAX_LEN);
        // Two links never share a nonce.
        assert_ne!(signer.issue(42, now).split('.').nth(2), state.split('.').nth(2));
    }

    #[test]
    fn tampering_another_key_or_expiry_is_refused() {
        let signer = StateSigner::new([7; 32]);
        let now = Utc::now();
        let state = signer.issue(42, now + Duration::minutes(15));
        let other_agent = state.replacen("42.", "43.", 1);
        assert_eq!(signer.verify(&other_agent, now), Err(StateError::Forged));
        assert_eq!(StateSigner::new([8; 32]).verify(&state, now), Err(StateError::Forged));
        for junk in ["", "a.b.c.d", "42.1.x", "42.1.x.y.z", "42.99999999999999999999.n.t"] {
            assert_eq!(signer.verify(junk, now), Err(StateError::Forged), "{junk}");
        }
        match signer.verify(&state, now + Duration::minutes(16)) {
            Err(StateError::Expired(v)) => assert_eq!(v.agent, 42),
            other => panic!("{other:?}"),
        }
    }
}
