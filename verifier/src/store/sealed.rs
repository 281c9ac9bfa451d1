//! Secrets at rest: with a key from the environment (`LIVECHECK_SECRETS_KEY`, 32 bytes
//! in base64), the store keeps the lc_token signing keys, the frame keys and the
//! webhook secrets sealed with AES-256-GCM. Each value is bound to where it is kept
//! (table, column, row id) as associated data, so a sealed value moved to another row
//! does not open. Values written before a key was set stay readable as they are.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

use super::StoreError;

/// Marks a sealed value: `sealed:v1:` and base64 of nonce, ciphertext and tag.
const PREFIX: &str = "sealed:v1:";

pub struct Sealer {
    key: LessSafeKey,
}

impl Sealer {
    /// A key given as base64 of 32 random bytes (`openssl rand -base64 32`).
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| StoreError::Db("the secrets key is not base64".into()))?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| StoreError::Db("the secrets key must be 32 bytes".into()))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    pub fn seal(&self, place: &str, plain: &[u8]) -> String {
        let nonce_bytes = crate::secrets::random_bytes::<NONCE_LEN>();
        let mut data = plain.to_vec();
        // Sealing fails only for inputs beyond GCM's 64 GiB limit.
        let sealed = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(place.as_bytes()),
            &mut data,
        );
        debug_assert!(sealed.is_ok());
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, place: &str, stored: &str) -> Result<Vec<u8>, StoreError> {
        let bad = || {
            StoreError::Db(format!(
                "{place}: the sealed value does not open with this key"
            ))
        };
        let body = stored.strip_prefix(PREFIX).ok_or_else(bad)?;
        let mut data = STANDARD.decode(body).map_err(|_| bad())?;
        if data.len() < NONCE_LEN {
            return Err(bad());
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&data[..NONCE_LEN]);
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.as_bytes()),
                &mut data[NONCE_LEN..],
            )
            .map_err(|_| bad())?;
        Ok(plain.to_vec())
    }
}

/// Seals `plain` at `place` when there is a key; keeps it as it is otherwise.
pub fn seal(sealer: Option<&Sealer>, place: &str, plain: &[u8]) -> Vec<u8> {
    match sealer {
        Some(s) => s.seal(place, plain).into_bytes(),
        None => plain.to_vec(),
    }
}

/// Opens a stored value: sealed ones need the key, plain ones are as they were.
pub fn open(sealer: Option<&Sealer>, place: &str, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    if !stored.starts_with(PREFIX.as_bytes()) {
        return Ok(stored.to_vec());
    }
    let text = std::str::from_utf8(stored).map_err(|e| StoreError::Db(e.to_string()))?;
    match sealer {
        Some(s) => s.open(place, text),
        None => Err(StoreError::Db(format!(
            "{place} is sealed: set LIVECHECK_SECRETS_KEY to the key it was sealed with"
        ))),
    }
}

/// As `seal`, for text.
pub fn seal_text(sealer: Option<&Sealer>, place: &str, plain: &str) -> String {
    String::from_utf8(seal(sealer, place, plain.as_bytes())).unwrap_or_default()
}

/// As `open`, for text.
pub fn open_text(
    sealer: Option<&Sealer>,
    place: &str,
    stored: String,
) -> Result<String, StoreError> {
    if !stored.starts_with(PREFIX) {
        return Ok(stored);
    }
    String::from_utf8(open(sealer, place, stored.as_bytes())?)
        .map_err(|e| StoreError::Db(format!("{place}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Sealer {
        Sealer::from_base64(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_at_their_place() {
        let k = key(1);
        let sealed = seal_text(Some(&k), "checks.secret:c1", "whsec_abc");
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("whsec_abc"));
        assert_ne!(sealed, seal_text(Some(&k), "checks.secret:c1", "whsec_abc"));
        assert_eq!(
            open_text(Some(&k), "checks.secret:c1", sealed.clone()).unwrap(),
            "whsec_abc"
        );
        // Another row, another key, no key: refused.
        assert!(open_text(Some(&k), "checks.secret:c2", sealed.clone()).is_err());
        assert!(open_text(Some(&key(2)), "checks.secret:c1", sealed.clone()).is_err());
        assert!(open_text(None, "checks.secret:c1", sealed).is_err());
        // Written before a key was set: read as it is.
        assert_eq!(open_text(Some(&k), "x", "plain".into()).unwrap(), "plain");
        assert!(Sealer::from_base64("c2hvcnQ=").is_err());
    }
}
