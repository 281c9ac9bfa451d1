//! The files browsers download (the SDK, its models), each read, hashed and gzipped
//! once per version on disk and shared by every request, with the brotli form written
//! beside the file (`FILE.br`, by `scripts/brotli.mjs`) when it decodes to the file.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use actix_web::web::Bytes;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// A file as served: read, hashed and gzipped once, then kept while the file on disk
/// and its `.br` keep their lengths and modification times (the SDK folder is rebuilt
/// under a running dev server).
pub struct Prepared {
    stamp: Stamp,
    /// sha256 of the bytes: the root of both representations' entity tags.
    pub digest: String,
    pub raw: Bytes,
    pub gzip: Bytes,
    /// `FILE.br`, when there is one and it decodes to exactly this file's bytes (a stale
    /// or damaged one is ignored: gzip is served instead).
    pub brotli: Option<Bytes>,
    /// For a model's planes form: the sha256 of the ONNX file it decodes to.
    decoded: OnceLock<Option<String>>,
}

impl Prepared {
    /// The sha256 of the ONNX file these bytes are the planes form of
    /// (`livecheck_core::model_planes`), `None` when they are not one. Worked out on the
    /// first call for this version of the file (a 5 MB model: some 20 ms), so call it
    /// off the async workers.
    pub fn decoded_digest(&self) -> Option<&str> {
        self.decoded
            .get_or_init(|| {
                livecheck_core::model_planes::decode(&self.raw)
                    .ok()
                    .map(|onnx| hex::encode(Sha256::digest(onnx)))
            })
            .as_deref()
    }
}

/// The browser's downloads, gzipped once per file version rather than per request: the
/// SDK's wasm is 4.5 MB and 1.2 MB gzipped, Face Mesh V2 4.9 MB and 2.9 MB.
#[derive(Default)]
pub struct AssetCache {
    files: Mutex<HashMap<PathBuf, Arc<Prepared>>>,
}

/// Length and modification time of a file and of its `.br` (when there is one).
type Stamp = [Option<(u64, Option<SystemTime>)>; 2];

fn brotli_path(path: &std::path::Path) -> PathBuf {
    let mut br = path.as_os_str().to_owned();
    br.push(".br");
    br.into()
}

impl AssetCache {
    pub async fn get(&self, path: PathBuf) -> ApiResult<Arc<Prepared>> {
        let stamp: Stamp = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                [path.clone(), brotli_path(&path)].map(|p| {
                    std::fs::metadata(p)
                        .ok()
                        .map(|m| (m.len(), m.modified().ok()))
                })
            })
            .await
            .map_err(ApiError::internal)?
        };
        if stamp[0].is_none() {
            return Err(ApiError::not_found("file"));
        }
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

    /// Whether a version of `path` is prepared (whatever its stamp).
    #[cfg(test)]
    pub fn holds(&self, path: &std::path::Path) -> bool {
        self.files.lock().is_ok_and(|f| f.contains_key(path))
    }

    fn lock(&self) -> ApiResult<std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<Prepared>>>> {
        self.files
            .lock()
            .map_err(|_| ApiError::internal("asset cache lock poisoned"))
    }
}

fn prepare(path: &std::path::Path, stamp: Stamp) -> std::io::Result<Prepared> {
    let raw = std::fs::read(path)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw)?;
    let brotli = std::fs::read(brotli_path(path))
        .ok()
        .filter(|br| decodes_to(br, &raw))
        .map(Bytes::from);
    Ok(Prepared {
        stamp,
        digest: hex::encode(Sha256::digest(&raw)),
        gzip: gz.finish()?.into(),
        brotli,
        raw: raw.into(),
        decoded: OnceLock::new(),
    })
}

/// Whether brotli `packed` decodes to `raw`, reading no further than `raw`'s length
/// and a byte (a bomb stops there).
fn decodes_to(packed: &[u8], raw: &[u8]) -> bool {
    use std::io::Read;
    let mut out = Vec::with_capacity(raw.len());
    let reader = brotli_decompressor::Decompressor::new(packed, 64 * 1024);
    reader
        .take(raw.len() as u64 + 1)
        .read_to_end(&mut out)
        .is_ok_and(|_| out == raw)
}
