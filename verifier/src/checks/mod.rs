//! A check's life as one service, whichever API asked: created (`create`), given a
//! reference selfie (`reference`), claimed and captured by a browser (`capture`) or
//! answered photo by photo (`photos`), decided (`decide`), and ended (`lifecycle`).
//! Handlers and dialects parse their requests, call these, and map the answers; the
//! service takes domain inputs, returns typed errors, and never sees a request.

pub mod capture;
pub mod create;
pub mod decide;
pub mod lifecycle;
pub mod photos;
pub mod rate_limit;
pub mod reference;

use crate::error::{ApiError, ApiResult};

/// Runs CPU work (decoding, the models) on the blocking pool.
pub async fn compute<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}
