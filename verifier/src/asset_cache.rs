//! The files browsers download (the SDK, its models), each read, hashed and gzipped
//! once per version on disk and shared by every request.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use actix_web::web::Bytes;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// A file as served: read, hashed and gzipped once, then kept while the file on disk
/// keeps its length and modification time (the SDK folder is rebuilt under a running
/// dev server).
pub struct Prepared {
    stamp: (u64, Option<SystemTime>),
    /// sha256 of the bytes: the root of both representations' entity tags.
    pub digest: String,
    pub raw: Bytes,
    pub gzip: Bytes,
}

/// The browser's downloads, gzipped once per file version rather than per request: the
/// SDK's wasm is 4.5 MB and 1.2 MB gzipped, Face Mesh V2 4.9 MB and 2.9 MB.
#[derive(Default)]
pub struct AssetCache {
    files: Mutex<HashMap<PathBuf, Arc<Prepared>>>,
}

impl AssetCache {
    pub async fn get(&self, path: PathBuf) -> ApiResult<Arc<Prepared>> {
        let meta = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || std::fs::metadata(path))
                .await
                .map_err(ApiError::internal)?
                .map_err(|_| ApiError::not_found("file"))?
        };
        let stamp = (meta.len(), meta.modified().ok());
        if let Some(hit) = self
            .lock()?
            .get(&path)
            .filter(|p| p.stamp == stamp)
            .cloned()
        {
            return Ok(hit);
        }
        let prepared = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || prepare(&path, stamp))
                .await
                .map_err(ApiError::internal)?
                .map_err(|_| ApiError::not_found("file"))?
        };
        let prepared = Arc::new(prepared);
        self.lock()?.insert(path, prepared.clone());
        Ok(prepared)
    }

    fn lock(&self) -> ApiResult<std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Prepared>>>> {
        self.files
            .lock()
            .map_err(|_| ApiError::internal("asset cache lock poisoned"))
    }
}

fn prepare(path: &std::path::Path, stamp: (u64, Option<SystemTime>)) -> std::io::Result<Prepared> {
    let raw = std::fs::read(path)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw)?;
    Ok(Prepared {
        stamp,
        digest: hex::encode(Sha256::digest(&raw)),
        gzip: gz.finish()?.into(),
        raw: raw.into(),
    })
}
