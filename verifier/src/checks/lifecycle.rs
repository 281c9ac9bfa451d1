//! A check's end: decided (passed or failed), cancelled (the user left, or the customer
//! deleted the session it belonged to) or expired (its link's validity ran out). Each is
//! one store transition with the webhook events the check asks for. Ends race each
//! other: the first one the store records wins; a cancel or expiry that comes second
//! answers `Already`, a decision that comes second is the store's `Conflict`.

use chrono::{DateTime, Utc};

use livecheck_core::decision::FailureReason;

use crate::model::{Check, Outcome, Status, StoredImage};
use crate::store::{Store, StoreError, StoreResult, Transition};
use crate::webhooks::new_deliveries;

/// Whether this call ended the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Now,
    /// It had already ended (decided, cancelled or expired): left as it was.
    Already,
}

/// Records a decided check: its status, outcome and images, the webhook events, and the
/// id of an issued lc_token (hosted flows) for single redemption.
pub async fn decide(
    store: &dyn Store,
    check: &Check,
    outcome: &Outcome,
    images: Vec<StoredImage>,
    token: Option<(String, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> StoreResult<Status> {
    let status = Status::decided(outcome.passed);
    let events = new_deliveries(
        check,
        status,
        outcome.passed,
        outcome.failure_reason.map(FailureReason::code),
        now,
    );
    store
        .transition(Transition {
            check_id: check.id.clone(),
            to: status,
            outcome: Some(outcome.clone()),
            images,
            events,
            token,
            at: now,
        })
        .await?;
    Ok(status)
}

pub async fn cancel(store: &dyn Store, check: &Check, now: DateTime<Utc>) -> StoreResult<Ended> {
    end(store, check, Status::Cancelled, now).await
}

pub async fn expire(store: &dyn Store, check: &Check, now: DateTime<Utc>) -> StoreResult<Ended> {
    end(store, check, Status::Expired, now).await
}

async fn end(
    store: &dyn Store,
    check: &Check,
    to: Status,
    now: DateTime<Utc>,
) -> StoreResult<Ended> {
    let events = new_deliveries(check, to, false, Some(to.as_str()), now);
    let ended = store
        .transition(Transition {
            check_id: check.id.clone(),
            to,
            outcome: None,
            images: Vec::new(),
            events,
            token: None,
            at: now,
        })
        .await;
    match ended {
        Ok(()) => Ok(Ended::Now),
        Err(StoreError::Conflict(_)) => Ok(Ended::Already),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::tests::{check, store};
    use crate::store::{CheckStore, OutboxStore};

    #[tokio::test]
    async fn the_first_end_wins_and_fires_its_own_event() {
        let (_dir, s) = store().await;
        let mut c = check("c1", "l1");
        c.webhook_url = Some("https://hooks.example/lc".into());
        s.insert_check(&c).await.unwrap();
        let now = Utc::now();
        assert_eq!(cancel(&s, &c, now).await.unwrap(), Ended::Now);
        // The sweeper comes late: the check stays cancelled, with one event.
        assert_eq!(expire(&s, &c, now).await.unwrap(), Ended::Already);
        assert_eq!(cancel(&s, &c, now).await.unwrap(), Ended::Already);
        assert_eq!(
            s.check("c1").await.unwrap().unwrap().status,
            Status::Cancelled
        );
        let events: Vec<String> = s
            .deliveries("c1")
            .await
            .unwrap()
            .into_iter()
            .map(|(d, _)| d.event)
            .collect();
        assert_eq!(events, ["cancelled"]);

        let c = check("c2", "l2");
        s.insert_check(&c).await.unwrap();
        assert_eq!(expire(&s, &c, now).await.unwrap(), Ended::Now);
        assert_eq!(
            s.check("c2").await.unwrap().unwrap().status,
            Status::Expired
        );
        // No webhook URL, no event.
        assert!(s.deliveries("c2").await.unwrap().is_empty());
    }
}
