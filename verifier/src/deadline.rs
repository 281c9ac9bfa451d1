//! Every request body must arrive in full within `limits.body_read_timeout`: a body
//! that stops short (a Content-Length larger than what is sent, a multipart body cut
//! inside its boundary) is answered 408 `request_timeout` instead of holding a worker
//! and its buffers for as long as the client keeps the connection open.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{HttpMessage, HttpResponse};
use futures_util::Stream;
use tokio::time::Sleep;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Reads the request's body under the deadline and answers 408 if it ran out.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limit) = req
        .app_data::<Data<AppState>>()
        .map(|s| s.config.limits.body_read_timeout)
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let expired = Arc::new(AtomicBool::new(false));
    let body = Deadline {
        inner: req.take_payload(),
        timer: Box::pin(tokio::time::sleep(limit)),
        expired: expired.clone(),
        done: false,
    };
    req.set_payload(Payload::from(
        Box::pin(body) as Pin<Box<dyn Stream<Item = _>>>
    ));
    let res = next.call(req).await?;
    if !expired.load(Ordering::Relaxed) {
        return Ok(res.map_into_boxed_body());
    }
    let (req, _) = res.into_parts();
    Ok(ServiceResponse::new(
        req,
        HttpResponse::from_error(timed_out(limit)),
    ))
}

fn timed_out(limit: Duration) -> ApiError {
    ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "the request body did not arrive in full within {} s",
            limit.as_secs()
        ),
    )
}

/// The body's chunks as they come, until the deadline; then an error the handler's
/// extractor fails on (and the middleware answers for).
struct Deadline {
    inner: Payload,
    timer: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
    /// The body ended: a handler that reads it late is not timed out.
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        // The body first: what has arrived is delivered even at the deadline.
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(chunk)) => return Poll::Ready(Some(chunk)),
            Poll::Pending => {}
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.expired.store(true, Ordering::Relaxed);
                self.done = true;
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body deadline",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
