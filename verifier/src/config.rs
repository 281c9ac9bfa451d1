//! Configuration: the embedded `config.default.toml`, then an optional file, then
//! `LIVECHECK_<SECTION>_<KEY>` variables; validated once at start.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub const DEFAULT_TOML: &str = include_str!("../config.default.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub checks: ChecksConfig,
    pub tokens: TokensConfig,
    pub webhooks: WebhooksConfig,
    pub limits: LimitsConfig,
    pub secrets: SecretsConfig,
    pub store: StoreConfig,
}

/// Where checks are kept: empty `url`, the embedded SQLite file in `server.data_dir`;
/// `postgres://…`, a PostgreSQL database several verifiers can share.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub url: String,
    pub max_connections: usize,
    /// PEM certificates PostgreSQL's TLS certificate is checked against (a managed
    /// database's CA bundle); empty: webpki's roots.
    pub ca_file: String,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A URL's password never reaches a log.
        let url = match (self.url.split_once("://"), self.url.rfind('@')) {
            (Some((scheme, _)), Some(at)) => format!("{scheme}://…{}", &self.url[at..]),
            _ => self.url.clone(),
        };
        f.debug_struct("StoreConfig")
            .field("url", &url)
            .field("max_connections", &self.max_connections)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl StoreConfig {
    /// The PostgreSQL URL, when the store is PostgreSQL.
    pub fn postgres(&self) -> Option<&str> {
        (self.url.starts_with("postgres://") || self.url.starts_with("postgresql://"))
            .then_some(self.url.as_str())
    }
}

/// The key that seals secrets at rest (base64 of 32 bytes); empty keeps them plain.
/// Best given as `LIVECHECK_SECRETS_KEY` rather than in a file.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    pub key: String,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = if self.key.is_empty() { "none" } else { "set" };
        f.debug_struct("SecretsConfig").field("key", &key).finish()
    }
}

impl SecretsConfig {
    pub fn sealer(&self) -> Result<Option<crate::store::Sealer>, crate::store::StoreError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        crate::store::Sealer::from_base64(&self.key).map(Some)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub models_dir: String,
    pub sdk_dir: String,
    #[serde(with = "duration_text")]
    pub shutdown_grace: Duration,
    pub trusted_proxies: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    pub max_frame_bytes: usize,
    pub max_frames: u32,
    pub max_session_bytes: u64,
    #[serde(with = "duration_text")]
    pub capture_grace: Duration,
    #[serde(with = "duration_text")]
    pub audit_retention: Duration,
    #[serde(with = "duration_text")]
    pub sweep_interval: Duration,
    #[serde(with = "duration_text")]
    pub finish_lease: Duration,
    pub anti_spoof_frames: usize,
    pub light_challenge: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensConfig {
    #[serde(with = "duration_text")]
    pub lc_token_ttl: Duration,
    pub audience: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    #[serde(with = "duration_list")]
    pub retry_schedule: Vec<Duration>,
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    #[serde(with = "duration_text")]
    pub poll_interval: Duration,
    pub allow_private_targets: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub creates_per_minute: u32,
    pub claims_per_minute: u32,
    #[serde(with = "duration_text")]
    pub body_read_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("{var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file`, then the environment (`vars`, usually `std::env::vars()`).
    pub fn load(
        file: Option<&std::path::Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = DEFAULT_TOML.parse()?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            merge(&mut table, text.parse()?);
        }
        let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
        apply_env(&mut table, &vars)?;
        let config: Config = toml::Value::Table(table).try_into()?;
        config.validate()?;
        Ok(config)
    }

    pub fn defaults() -> Self {
        Self::load(None, std::iter::empty()).expect("the embedded defaults are valid")
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return bad("server.bind must be HOST:PORT with an IP address");
        }
        if !self.server.public_url.is_empty() {
            match url::Url::parse(&self.server.public_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return bad("server.public_url must be an http(s) URL"),
            }
        }
        if self.checks.max_frame_bytes == 0 || self.checks.max_frame_bytes > 64 << 20 {
            return bad("checks.max_frame_bytes must be between 1 and 64 MiB");
        }
        if self.checks.max_session_bytes < self.checks.max_frame_bytes as u64
            || self.checks.max_session_bytes > 1 << 30
        {
            return bad("checks.max_session_bytes must be between max_frame_bytes and 1 GiB");
        }
        if self.secrets.sealer().is_err() {
            return bad("secrets.key must be base64 of 32 bytes (openssl rand -base64 32)");
        }
        if !(1..=1000).contains(&self.checks.max_frames) {
            return bad("checks.max_frames must be between 1 and 1000");
        }
        if !self.store.url.is_empty() && self.store.postgres().is_none() {
            return bad("store.url must be empty (SQLite) or a postgres:// URL");
        }
        if !(1..=1000).contains(&self.store.max_connections) {
            return bad("store.max_connections must be between 1 and 1000");
        }
        if self.checks.finish_lease < Duration::from_secs(1)
            || self.checks.finish_lease > Duration::from_secs(3600)
        {
            return bad("checks.finish_lease must be between 1 s and 1 h");
        }
        if self.checks.anti_spoof_frames == 0 {
            return bad("checks.anti_spoof_frames must be at least 1");
        }
        if self.checks.sweep_interval.is_zero() || self.webhooks.poll_interval.is_zero() {
            return bad("sweep and poll intervals must be positive");
        }
        if self.tokens.lc_token_ttl.is_zero() || self.tokens.lc_token_ttl > Duration::from_secs(600)
        {
            return bad("tokens.lc_token_ttl must be between 1 s and 10 min");
        }
        if let Err(e) = crate::proxy::TrustedProxies::parse(&self.server.trusted_proxies) {
            return Err(ConfigError::Invalid(format!("server.trusted_proxies: {e}")));
        }
        if self.tokens.audience.is_empty() {
            return bad("tokens.audience must not be empty");
        }
        Ok(())
    }
}

impl ServerConfig {
    /// `models_dir`, or `LIVECHECK_MODELS_DIR`, or a `models` folder beside the binary
    /// (a copied release binary finds its models there), else the repository's
    /// `models/cache`.
    pub fn models_dir(&self) -> PathBuf {
        if !self.models_dir.is_empty() {
            PathBuf::from(&self.models_dir)
        } else if let Some(dir) = std::env::var_os("LIVECHECK_MODELS_DIR") {
            dir.into()
        } else {
            beside_binary("models")
                .unwrap_or_else(livecheck_core::manifest::ModelFiles::default_dir)
        }
    }

    /// `sdk_dir`, or `LIVECHECK_SDK_DIR`, or an `sdk` folder beside the binary, else the
    /// repository's `sdk-wasm/pkg`.
    pub fn sdk_dir(&self) -> PathBuf {
        if !self.sdk_dir.is_empty() {
            PathBuf::from(&self.sdk_dir)
        } else if let Some(dir) = std::env::var_os("LIVECHECK_SDK_DIR") {
            dir.into()
        } else {
            beside_binary("sdk").unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk-wasm/pkg")
            })
        }
    }
}

/// The folder `name` next to the running binary, if there is one.
fn beside_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.join(name);
    dir.is_dir().then_some(dir)
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `LIVECHECK_<SECTION>_<KEY>` overrides a key that exists; its text is read as the
/// default's type (integer, comma-separated list, or string).
fn apply_env(
    table: &mut toml::Table,
    vars: &std::collections::HashMap<String, String>,
) -> Result<(), ConfigError> {
    for (section, values) in table.iter_mut() {
        let Some(values) = values.as_table_mut() else {
            continue;
        };
        for (key, value) in values.iter_mut() {
            let var = format!("LIVECHECK_{}_{}", section, key).to_ascii_uppercase();
            let Some(text) = vars.get(&var) else { continue };
            let env_err = |message: String| ConfigError::Env {
                var: var.clone(),
                message,
            };
            *value = match value {
                toml::Value::Integer(_) => toml::Value::Integer(
                    text.trim()
                        .parse()
                        .map_err(|_| env_err("expected an integer".into()))?,
                ),
                toml::Value::Boolean(_) => toml::Value::Boolean(match text.trim() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(env_err("expected true or false".into())),
                }),
                toml::Value::Array(_) => toml::Value::Array(
                    text.split(',')
                        .map(|s| toml::Value::String(s.trim().to_string()))
                        .collect(),
                ),
                _ => toml::Value::String(text.clone()),
            };
        }
    }
    Ok(())
}

/// "250ms", "5s", "2m", "1h", "1d".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{t:?} has no unit (ms, s, m, h, d)"))?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{t:?} is not a duration"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return Err(format!("{t:?}: unknown unit {unit:?}")),
    };
    Ok(Duration::from_millis(ms))
}

mod duration_text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

mod duration_list {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| super::parse_duration(s).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::defaults();
        assert_eq!(c.server.bind, "127.0.0.1:8080");
        assert_eq!(c.checks.max_frame_bytes, 10 * 1024 * 1024);
        assert_eq!(c.checks.max_session_bytes, 48 * 1024 * 1024);
        assert_eq!(c.checks.audit_retention, Duration::from_secs(1800));
        let secs: Vec<u64> = c
            .webhooks
            .retry_schedule
            .iter()
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(
            secs,
            [5, 60, 300, 1800, 7200, 18000, 36000, 50400, 86400, 86400]
        );
    }

    #[test]
    fn environment_overrides_typed_values() {
        let c = Config::load(
            None,
            env(&[
                ("LIVECHECK_WEBHOOKS_RETRY_SCHEDULE", "1s, 2s"),
                ("LIVECHECK_CHECKS_MAX_FRAMES", "7"),
                ("LIVECHECK_SERVER_BIND", "0.0.0.0:0"),
                ("LIVECHECK_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
            ]),
        )
        .unwrap();
        assert!(c.webhooks.allow_private_targets);
        assert!(!Config::defaults().webhooks.allow_private_targets);
        assert_eq!(c.webhooks.retry_schedule.len(), 2);
        assert_eq!(c.checks.max_frames, 7);
        assert_eq!(c.server.bind, "0.0.0.0:0");
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let e = Config::load(None, env(&[("LIVECHECK_CHECKS_MAX_FRAMES", "many")])).unwrap_err();
        assert!(e.to_string().contains("LIVECHECK_CHECKS_MAX_FRAMES"), "{e}");
        let e = Config::load(None, env(&[("LIVECHECK_TOKENS_LC_TOKEN_TTL", "1h")])).unwrap_err();
        assert!(e.to_string().contains("lc_token_ttl"), "{e}");
        let e = Config::load(None, env(&[("LIVECHECK_SERVER_BIND", "nowhere")])).unwrap_err();
        assert!(e.to_string().contains("bind"), "{e}");
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn unknown_keys_in_a_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[checks]\nmax_frame = 3\n").unwrap();
        assert!(Config::load(Some(&path), std::iter::empty()).is_err());
    }
}
