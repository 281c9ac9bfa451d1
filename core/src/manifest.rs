//! The model manifest (`models/manifest.json`), embedded so every build checks model
//! bytes against the same sha256 values the fetch step used.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::ModelError;

const MANIFEST_JSON: &str = include_str!("../../models/manifest.json");

#[derive(Clone, Debug, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub licence: String,
    pub source: String,
    pub runs_in: Vec<String>,
    #[serde(default)]
    pub origin: Origin,
}

/// Where a file comes from besides the mirror (`models/fetch.sh`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Origin {
    /// The upstream's own copy of these exact bytes.
    pub url: Option<String>,
    /// The script that rebuilds it from the package registries.
    pub build: Option<String>,
    /// The rebuild's canonical bytes (`models/build/canon.py`), where they are not the
    /// mirror's: the same weights and arithmetic under other names (and, for Blendshape
    /// V2, fewer layout nodes), checked to give equal outputs; accepted as well.
    pub build_sha256: Option<String>,
}

impl ModelEntry {
    /// Whether a file with this sha256 is this model: the pinned bytes, or its
    /// canonical rebuild.
    pub fn accepts(&self, sha256: &str) -> bool {
        sha256 == self.sha256 || self.origin.build_sha256.as_deref() == Some(sha256)
    }
}

#[derive(Deserialize)]
struct Manifest {
    models: Vec<ModelEntry>,
}

/// Every model the engine uses.
pub fn entries() -> &'static [ModelEntry] {
    static ENTRIES: std::sync::OnceLock<Vec<ModelEntry>> = std::sync::OnceLock::new();
    // The manifest is part of the source tree; a parse failure is a build defect that
    // the unit test below catches.
    ENTRIES.get_or_init(|| {
        serde_json::from_str::<Manifest>(MANIFEST_JSON)
            .map(|m| m.models)
            .unwrap_or_default()
    })
}

pub fn entry(name: &str) -> Option<&'static ModelEntry> {
    entries().iter().find(|e| e.name == name)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks model bytes against the manifest.
pub fn verify(name: &str, bytes: &[u8]) -> Result<(), ModelError> {
    let e = entry(name).ok_or_else(|| ModelError::Checksum {
        model: name.to_string(),
        reason: "not in the manifest".into(),
    })?;
    let got = sha256_hex(bytes);
    if !e.accepts(&got) {
        return Err(ModelError::Checksum {
            model: name.to_string(),
            reason: format!("{} has sha256 {got}, manifest says {}", e.file, e.sha256),
        });
    }
    Ok(())
}

/// Model files read from a folder (native only): the cache `models/fetch.sh` fills.
#[cfg(not(target_arch = "wasm32"))]
pub struct ModelFiles {
    files: std::collections::HashMap<String, Vec<u8>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl ModelFiles {
    /// Reads and verifies every model the manifest lists.
    pub fn load_dir(dir: &std::path::Path) -> Result<Self, ModelError> {
        let mut files = std::collections::HashMap::new();
        for e in entries().iter().cloned() {
            let path = dir.join(&e.file);
            let bytes = std::fs::read(&path).map_err(|err| ModelError::Checksum {
                model: e.name.clone(),
                reason: format!("cannot read {}: {err}", path.display()),
            })?;
            verify(&e.name, &bytes)?;
            files.insert(e.name, bytes);
        }
        Ok(Self { files })
    }

    pub fn get(&self, name: &str) -> &[u8] {
        self.files.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn model_bytes(&self) -> crate::ModelBytes<'_> {
        crate::ModelBytes {
            yunet: self.get("yunet"),
            face_mesh: self.get("face_mesh"),
            blendshapes: self.get("blendshapes"),
            anti_spoof: Some((self.get("minifasnet_v2"), self.get("minifasnet_v1se"))),
            face_recognition: Some(self.get("face_recognition")),
        }
    }

    /// The default folder: `LIVECHECK_MODELS_DIR`, else `models/cache` in this workspace.
    pub fn default_dir() -> std::path::PathBuf {
        std::env::var_os("LIVECHECK_MODELS_DIR")
            .map(Into::into)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/cache")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lists_the_six_engine_models() {
        let names: Vec<&str> = entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "yunet",
                "face_mesh",
                "blendshapes",
                "minifasnet_v2",
                "minifasnet_v1se",
                "face_recognition"
            ]
        );
    }

    #[test]
    fn a_rebuild_is_accepted_only_by_its_own_pinned_digest() {
        let mesh = entry("face_mesh").unwrap();
        let rebuilt = mesh.origin.build_sha256.as_deref().unwrap();
        assert!(rebuilt.len() == 64 && rebuilt.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(mesh.accepts(&mesh.sha256) && mesh.accepts(rebuilt));
        // Not another model's digest, nor another model's rebuild.
        assert!(!mesh.accepts(&entry("yunet").unwrap().sha256));
        assert!(!entry("blendshapes").unwrap().accepts(rebuilt));
        let blendshapes = entry("blendshapes").unwrap();
        let rebuilt = blendshapes.origin.build_sha256.as_deref().unwrap();
        assert!(blendshapes.accepts(rebuilt) && !mesh.accepts(rebuilt));
        // Every model has a public source besides the mirror.
        for e in entries() {
            assert!(
                e.origin.url.is_some() || e.origin.build.is_some(),
                "{}",
                e.name
            );
        }
    }

    #[test]
    fn wrong_bytes_fail_the_checksum_naming_the_file() {
        let err = verify("yunet", b"not a model").unwrap_err();
        assert!(
            err.to_string()
                .contains("face_detection_yunet_2023mar_320.onnx"),
            "{err}"
        );
    }
}
