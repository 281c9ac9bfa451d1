//! `multipart/form-data` uploads (the dialects that send photos that way): text fields
//! and one or more files, read with limits, then handed over as plain values.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header::HeaderMap;
use actix_web::web::Bytes;
use futures_util::{FutureExt, Stream, StreamExt};

use crate::error::{ApiError, ApiResult, ErrorCode};

/// Text fields are small; anything longer is not a field we read.
const MAX_TEXT: usize = 4096;
const MAX_PARTS: usize = 16;
/// Parsing what has arrived needs no waiting: a form not read after the parser was
/// given this many more turns once its body ended never will be.
const TURNS_AFTER_END: usize = 64;

#[derive(Default)]
pub struct Form {
    text: HashMap<String, String>,
    files: HashMap<String, Vec<u8>>,
}

impl Form {
    /// Reads every part of a `multipart/form-data` body (the boundary from `headers`):
    /// the parts named in `files` are files of up to `max_file` bytes each, whether or
    /// not the client gave them a file name (curl's `-F photo=<file` and many HTTP
    /// libraries send none); every other part is a text field. A body that stops short
    /// ends at the server's body deadline; one that ends inside a part is refused as
    /// soon as it ends.
    pub async fn read<S>(
        headers: &HeaderMap,
        body: S,
        files: &[&str],
        max_file: usize,
    ) -> ApiResult<Self>
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
    {
        let end = Rc::new(End::default());
        let body = EndWatch {
            inner: Box::pin(body),
            end: end.clone(),
        };
        // actix-multipart 0.7.2 panics on some malformed bodies (a line no longer than
        // a boundary of up to 3 characters, which the sender picks: `--\n` under
        // `boundary=XYZ`), which took down the worker and every request on it; and it
        // waits forever for the rest of a part when the body ends inside one.
        let parse = AssertUnwindSafe(Self::read_all(
            Multipart::new(headers, body),
            files,
            max_file,
        ))
        .catch_unwind();
        let stuck = async {
            std::future::poll_fn(|cx| end.poll(cx)).await;
            for _ in 0..TURNS_AFTER_END {
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            biased;
            read = parse => read.unwrap_or_else(|_| {
                Err(ApiError::invalid("multipart: the body is malformed"))
            }),
            () = stuck => Err(ApiError::invalid(
                "multipart: the body ended inside a part (no closing boundary)",
            )),
        }
    }

    async fn read_all(mut payload: Multipart, files: &[&str], max_file: usize) -> ApiResult<Self> {
        let mut form = Form::default();
        let mut parts = 0;
        while let Some(field) = payload.next().await {
            let mut field = field.map_err(|e| ApiError::invalid(format!("multipart: {e}")))?;
            parts += 1;
            if parts > MAX_PARTS {
                return Err(ApiError::invalid("multipart: too many parts"));
            }
            let name = field.name().unwrap_or_default().to_string();
            let is_file = files.contains(&name.as_str());
            let limit = if is_file { max_file } else { MAX_TEXT };
            let mut bytes = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| ApiError::invalid(format!("multipart: {e}")))?;
                if bytes.len() + chunk.len() > limit {
                    return Err(if is_file {
                        ApiError::new(
                            ErrorCode::PayloadTooLarge,
                            format!("{name} is larger than {max_file} bytes"),
                        )
                    } else {
                        ApiError::invalid(format!("field {name} is too long"))
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            if is_file {
                form.files.insert(name, bytes);
            } else {
                let text = String::from_utf8(bytes)
                    .map_err(|_| ApiError::invalid(format!("field {name} is not UTF-8")))?;
                form.text.insert(name, text);
            }
        }
        Ok(form)
    }

    pub fn text(&self, name: &str) -> ApiResult<&str> {
        self.text
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::invalid(format!("the form field {name} is required")))
    }

    /// A text field that may be absent or empty.
    pub fn optional_text(&self, name: &str) -> Option<&str> {
        self.text
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// A file part that may be absent (a form's file input left empty sends no bytes).
    pub fn optional_file(&mut self, name: &str) -> Option<Vec<u8>> {
        self.files.remove(name).filter(|b| !b.is_empty())
    }

    /// A file part (an image: the caller decodes it, HEIC included).
    pub fn image(&mut self, name: &str) -> ApiResult<Vec<u8>> {
        self.files
            .remove(name)
            .ok_or_else(|| ApiError::invalid(format!("the file part {name} is required")))
    }
}

/// Whether the body has ended, and who waits to hear it.
#[derive(Default)]
struct End {
    ended: Cell<bool>,
    waiting: RefCell<Option<Waker>>,
}

impl End {
    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ended.get() {
            return Poll::Ready(());
        }
        *self.waiting.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }

    fn set(&self) {
        self.ended.set(true);
        if let Some(w) = self.waiting.borrow_mut().take() {
            w.wake();
        }
    }
}

/// The body as it comes, telling `End` when it has ended.
struct EndWatch<S> {
    inner: Pin<Box<S>>,
    end: Rc<End>,
}

impl<S: Stream<Item = Result<Bytes, PayloadError>>> Stream for EndWatch<S> {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.as_mut().poll_next(cx);
        if matches!(next, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.end.set();
        }
        next
    }
}
