//! Random identifiers and credentials, and how they are kept: API keys and client
//! tokens are stored only as SHA-256 digests and compared in constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// 128-bit identifier, hex (check ids, delivery ids, jti).
pub fn new_id() -> String {
    hex::encode(random_bytes::<16>())
}

/// 256-bit credential, URL-safe (result tokens, capture links, client tokens).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// An API key: `lck_` and 256 random bits.
pub fn new_api_key() -> String {
    format!("lck_{}", new_token())
}

/// Webhook secret in the Standard Webhooks form `whsec_<base64 key>`.
pub fn new_webhook_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>())
    )
}

pub fn digest_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored digest in constant time.
pub fn matches_digest(presented: &str, stored_hex: &str) -> bool {
    let got = Sha256::digest(presented.as_bytes());
    match hex::decode(stored_hex) {
        Ok(want) if want.len() == got.len() => got.as_slice().ct_eq(&want).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_only_their_secret() {
        let key = new_api_key();
        let stored = digest_hex(&key);
        assert!(matches_digest(&key, &stored));
        assert!(!matches_digest(&format!("{key}x"), &stored));
        assert!(!matches_digest(&key, "not hex"));
        assert_ne!(new_token(), new_token());
        assert_eq!(new_id().len(), 32);
    }
}
