//! Time in the browser: a clock, sleeping, and a deadline on any wait.

use futures_util::future::{select, Either};
use std::future::Future;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::error::{Code, SdkError, SdkResult};

/// Milliseconds on the page's monotonic clock.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

pub async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms as i32);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Runs `fut`, or fails with `timeout` after `ms`.
pub async fn within<T>(
    ms: u32,
    what: &str,
    fut: impl Future<Output = SdkResult<T>>,
) -> SdkResult<T> {
    let fut = std::pin::pin!(fut);
    let timer = std::pin::pin!(sleep(ms));
    match select(fut, timer).await {
        Either::Left((r, _)) => r,
        Either::Right(_) => Err(SdkError::new(
            Code::Timeout,
            format!("{what} did not finish within {} s", ms / 1000),
        )),
    }
}

/// A promise as a future whose rejection is an error with `code`.
pub async fn wait(promise: js_sys::Promise, code: Code) -> SdkResult<JsValue> {
    JsFuture::from(promise)
        .await
        .map_err(|e| SdkError::new(code, crate::error::js_message(&e)))
}
