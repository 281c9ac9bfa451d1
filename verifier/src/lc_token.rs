//! The `lc_token` a browser carries back to the customer's `return_url`: an EdDSA
//! (Ed25519) JWT with `kid`, short-lived, redeemable once. The key pair is made on first
//! start and kept in the store; `livecheck-verifier keys rotate` adds a new one. Tokens
//! are signed with the newest key; the newest and the one before it verify, and both
//! public halves are served at `/.well-known/jwks.json`, so tokens signed before a
//! rotation verify until they expire. Running verifiers pick a rotation up from the
//! store within a sweep interval.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::sync::Arc;

use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The check id.
    pub sub: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub passed: bool,
    /// The check's status when the token was issued.
    pub status: String,
}

pub struct TokenIssuer {
    /// The current key first, then the one before it.
    keys: std::sync::RwLock<Arc<Vec<SigningKey>>>,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_x: String,
}

impl SigningKey {
    fn from_pkcs8(kid: String, pkcs8: &[u8]) -> Result<Self, TokenError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| TokenError::Key(format!("stored key {kid} does not parse: {e}")))?;
        let public_x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let decoding = DecodingKey::from_ed_components(&public_x)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(Self {
            kid,
            encoding: EncodingKey::from_ed_der(pkcs8),
            decoding,
            public_x,
        })
    }
}

/// A new key pair: its id and PKCS#8 document.
fn new_key() -> (String, Vec<u8>) {
    let rng = ring::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).map(|d| d.as_ref().to_vec());
    (crate::secrets::new_id(), doc.unwrap_or_default())
}

async fn load_keys(store: &dyn Store) -> Result<Vec<SigningKey>, TokenError> {
    let stored = store
        .signing_keys(new_key())
        .await
        .map_err(|e: StoreError| TokenError::Key(e.to_string()))?;
    stored
        .into_iter()
        .map(|(kid, pkcs8)| SigningKey::from_pkcs8(kid, &pkcs8))
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("signing key: {0}")]
    Key(String),
    #[error("{0}")]
    Invalid(String),
}

impl TokenIssuer {
    pub async fn load(
        store: &dyn Store,
        issuer: String,
        audience: String,
        ttl: std::time::Duration,
    ) -> Result<Self, TokenError> {
        Ok(Self {
            keys: std::sync::RwLock::new(Arc::new(load_keys(store).await?)),
            issuer,
            audience,
            ttl: chrono::Duration::from_std(ttl).map_err(|e| TokenError::Key(e.to_string()))?,
        })
    }

    /// Adds a new current key to the store; returns its kid. The previous current key
    /// still verifies (and is published) until the next rotation.
    pub async fn rotate(store: &dyn Store) -> Result<String, TokenError> {
        let (kid, pkcs8) = new_key();
        store
            .add_signing_key(&kid, &pkcs8)
            .await
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(kid)
    }

    /// Reads the keys again if the store's current key changed (a rotation by another
    /// process); whether it did.
    pub async fn refresh(&self, store: &dyn Store) -> Result<bool, TokenError> {
        let keys = load_keys(store).await?;
        let changed = keys.first().map(|k| &k.kid) != self.keys().first().map(|k| &k.kid);
        if changed {
            if let Ok(mut slot) = self.keys.write() {
                *slot = Arc::new(keys);
            }
        }
        Ok(changed)
    }

    fn keys(&self) -> Arc<Vec<SigningKey>> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn issue(
        &self,
        check_id: &str,
        passed: bool,
        status: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Claims), TokenError> {
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: check_id.to_string(),
            jti: crate::secrets::new_id(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            passed,
            status: status.to_string(),
        };
        let keys = self.keys();
        let current = keys
            .first()
            .ok_or_else(|| TokenError::Key("no signing key".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(current.kid.clone());
        let jwt = jsonwebtoken::encode(&header, &claims, &current.encoding)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok((jwt, claims))
    }

    /// Checks signature, algorithm, kid, issuer, audience and expiry.
    /// Verifies a token this verifier issued: its key, issuer and audience, times
    /// (`exp`, and `nbf` when present, with no leeway), a lifetime no longer than the
    /// configured one, and no `crit` header (no extension is understood here, so none
    /// may be required).
    pub fn verify(&self, jwt: &str) -> Result<Claims, TokenError> {
        let header =
            jsonwebtoken::decode_header(jwt).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let keys = self.keys();
        let key = keys
            .iter()
            .find(|k| header.kid.as_deref() == Some(k.kid.as_str()))
            .ok_or_else(|| TokenError::Invalid("unknown kid".into()))?;
        // jsonwebtoken's header type drops `crit`: read it from the raw header.
        let raw: serde_json::Value = jwt
            .split('.')
            .next()
            .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or_else(|| TokenError::Invalid("malformed header".into()))?;
        if raw.get("crit").is_some() {
            return Err(TokenError::Invalid(
                "the header names critical extensions this verifier does not know".into(),
            ));
        }
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.leeway = 0;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(jwt, &key.decoding, &v)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        if claims.exp - claims.iat > self.ttl.num_seconds() {
            return Err(TokenError::Invalid(
                "the token lives longer than this verifier issues them".into(),
            ));
        }
        Ok(claims)
    }

    /// The public keys that verify tokens: the current one first.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys()
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": k.public_x,
                    "kid": k.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    async fn issuer(store: &SqliteStore) -> TokenIssuer {
        TokenIssuer::load(
            store,
            "http://verifier.test".into(),
            "livecheck".into(),
            std::time::Duration::from_secs(600),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn tokens_verify_against_the_published_jwk_and_the_key_survives_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let a = issuer(&store).await;
        let (jwt, claims) = a.issue("check1", true, "completed", Utc::now()).unwrap();
        assert!(claims.exp - claims.iat <= 600);
        assert_eq!(a.verify(&jwt).unwrap(), claims);

        // Another process over the same store signs with the same key.
        let b = issuer(&store).await;
        assert_eq!(b.verify(&jwt).unwrap().sub, "check1");

        // A relying party with only the JWKS.
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(a.jwks()["keys"][0].clone()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["livecheck"]);
        assert!(jsonwebtoken::decode::<Claims>(&jwt, &key, &v).is_ok());
    }

    #[tokio::test]
    async fn after_a_rotation_old_tokens_verify_until_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let a = issuer(&store).await;
        let kid = |jwt: &str| jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
        let (first, _) = a.issue("c1", true, "completed", Utc::now()).unwrap();
        assert!(!a.refresh(&store).await.unwrap(), "nothing changed");

        let new = TokenIssuer::rotate(&store).await.unwrap();
        assert!(a.refresh(&store).await.unwrap());
        let (second, _) = a.issue("c2", true, "completed", Utc::now()).unwrap();
        assert_eq!(kid(&second), new);
        assert_ne!(kid(&first), new);
        assert_eq!(a.verify(&first).unwrap().sub, "c1");
        assert_eq!(a.verify(&second).unwrap().sub, "c2");
        let published: Vec<String> = a.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(published, [new.clone(), kid(&first)]);

        // A second rotation retires the first key: its tokens no longer verify.
        TokenIssuer::rotate(&store).await.unwrap();
        a.refresh(&store).await.unwrap();
        assert!(a.verify(&first).is_err());
        assert_eq!(a.verify(&second).unwrap().sub, "c2");
        assert_eq!(a.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn tampered_expired_and_foreign_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let a = issuer(&store).await;
        let (jwt, _) = a.issue("check1", false, "failed", Utc::now()).unwrap();
        // Flip `passed` in the payload: the signature no longer matches.
        let parts: Vec<&str> = jwt.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["passed"] = true.into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(payload.to_string()),
            parts[2]
        );
        assert!(a.verify(&forged).is_err());
        let (old, _) = a
            .issue(
                "check1",
                true,
                "completed",
                Utc::now() - chrono::Duration::hours(1),
            )
            .unwrap();
        assert!(a.verify(&old).is_err());
        let other_dir = tempfile::tempdir().unwrap();
        let other = issuer(&SqliteStore::open(other_dir.path()).unwrap()).await;
        assert!(other.verify(&jwt).is_err());
        assert!(a.verify("garbage").is_err());
    }

    /// Signs `claims` under `header` with the issuer's own key (what only a holder of
    /// the key could do: defence in depth).
    fn sign(a: &TokenIssuer, header: serde_json::Value, claims: serde_json::Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let c = URL_SAFE_NO_PAD.encode(claims.to_string());
        let sig = jsonwebtoken::crypto::sign(
            format!("{h}.{c}").as_bytes(),
            &a.keys()[0].encoding,
            Algorithm::EdDSA,
        )
        .unwrap();
        format!("{h}.{c}.{sig}")
    }

    #[tokio::test]
    async fn not_yet_valid_overlong_and_critical_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let a = issuer(&store).await;
        let now = Utc::now().timestamp();
        let header = serde_json::json!({"alg": "EdDSA", "kid": a.keys()[0].kid});
        let claims = |iat: i64, exp: i64| {
            serde_json::json!({"iss": "http://verifier.test", "aud": "livecheck", "sub": "c1",
                "jti": "j1", "iat": iat, "exp": exp, "passed": true, "status": "completed"})
        };
        // As issued: fine.
        assert!(a
            .verify(&sign(&a, header.clone(), claims(now, now + 600)))
            .is_ok());
        // Not before a minute from now.
        let mut early = claims(now, now + 600);
        early["nbf"] = (now + 60).into();
        assert!(a.verify(&sign(&a, header.clone(), early)).is_err());
        // Longer-lived than the configured ten minutes.
        assert!(a
            .verify(&sign(&a, header.clone(), claims(now, now + 3600)))
            .is_err());
        // A critical extension this verifier does not know.
        let mut crit = header.clone();
        crit["crit"] = serde_json::json!(["exp-policy"]);
        crit["exp-policy"] = "lenient".into();
        assert!(a.verify(&sign(&a, crit, claims(now, now + 600))).is_err());
    }
}
