//! One-minute windows per key (a customer's creates, a client's claims), each starting
//! at the key's first request after the last one ended, counted in the store: every
//! verifier on one store counts in the same windows, so running N of them does not give
//! a client N times the limit.

use chrono::{DateTime, Utc};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;

const WINDOW: chrono::Duration = chrono::Duration::minutes(1);

/// Counts a request of `key`; past `per_minute` in its window, 429 with the seconds
/// until the window ends in `Retry-After`. A limit of 0 is no limit.
pub async fn admit(state: &AppState, key: String, per_minute: u32) -> ApiResult<()> {
    if per_minute == 0 {
        return Ok(());
    }
    let now = Utc::now();
    let (count, start) = state.store.count_request(&key, now, WINDOW).await?;
    refuse_past(count, per_minute, start, now)
}

fn refuse_past(
    count: u32,
    per_minute: u32,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    if count <= per_minute {
        return Ok(());
    }
    // When the window ends, in whole seconds (1 to 60).
    let wait = ((start + WINDOW - now).num_milliseconds() + 999) / 1000;
    let wait = wait.clamp(1, 60);
    Err(ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests; retry in {wait} s"),
    )
    .with_header("retry-after", wait.to_string()))
}

/// Windows that started before this have ended (the sweeper drops them).
pub fn ended_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - WINDOW
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::tests::store;
    use crate::store::{RateStore, Store};

    #[tokio::test]
    async fn two_processes_on_one_store_count_in_the_same_window() {
        let (dir, a) = store().await;
        // A second process on the same file.
        let b = crate::store::sqlite::SqliteStore::open(dir.path()).unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-12-06T10:00:40Z")
            .unwrap()
            .with_timezone(&Utc);
        let sec = chrono::Duration::seconds;
        let mut counts: Vec<(u32, DateTime<Utc>)> = Vec::new();
        for i in 0..4 {
            let s: &dyn Store = if i % 2 == 0 { &a } else { &b };
            counts.push(
                s.count_request("create:k1", t0 + sec(i), WINDOW)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(
            counts,
            [(1, t0), (2, t0), (3, t0), (4, t0)],
            "one window from the first request"
        );
        assert!(refuse_past(3, 3, t0, t0 + sec(3)).is_ok());
        let refused = refuse_past(4, 3, t0, t0 + sec(3)).unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        assert_eq!(refused.headers, [("retry-after", "57".to_string())]);
        // Another key has its own window; once a window ends, the next starts anew.
        assert_eq!(
            b.count_request("claim:10.0.0.1", t0, WINDOW).await.unwrap(),
            (1, t0)
        );
        let later = t0 + WINDOW;
        assert_eq!(
            a.count_request("create:k1", later, WINDOW).await.unwrap(),
            (1, later)
        );
        // The sweeper's rule drops the windows that ended, and only those.
        assert_eq!(
            a.erase_rate_windows(ended_before(later + sec(1)))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            a.count_request("create:k1", later + sec(1), WINDOW)
                .await
                .unwrap(),
            (2, later)
        );
    }
}
