//! Durable webhook delivery: retries on the configured schedule, every attempt logged,
//! and an event queued before a restart is still delivered after it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{link_of, status_json, Receiver, Verifier};

fn cancel(v: &Verifier, created: &Value) -> Value {
    let r = v
        .http
        .post(v.url(&format!("/capture/{}/cancel", link_of(created))))
        .send()
        .unwrap();
    let (s, body) = status_json(r);
    assert_eq!(s, 200, "{body}");
    body
}

#[test]
fn a_receiver_failing_twice_gets_the_event_on_the_third_try() {
    let v = Verifier::start_temp(&[("LIVECHECK_WEBHOOKS_RETRY_SCHEDULE", "200ms,200ms,200ms")]);
    let hook = Receiver::start(vec![500, 500]);
    let created = v.create(json!({
        "return_url": "https://c.example/r",
        "cancel_url": "https://c.example/back",
        "webhook_url": hook.url,
    }));
    let body = cancel(&v, &created);
    assert_eq!(body["redirect_url"], "https://c.example/back");

    let got = hook.wait_for(3, Duration::from_secs(20));
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "one event, one id: {ids:?}"
    );
    let event: Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!(event["type"], "cancelled");

    // The attempts are logged; after the success nothing more is sent.
    let id = created["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let deliveries = loop {
        let (_, d) = v.get(&format!("/liveness_check/{id}/deliveries"));
        if d[0]["state"] == "delivered" {
            break d;
        }
        assert!(std::time::Instant::now() < deadline, "{d}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let statuses: Vec<u64> = deliveries[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(hook.received.lock().unwrap().len(), 3);

    // A manual retry sends it once more.
    let delivery = deliveries[0]["id"].as_str().unwrap();
    let (s, _) = v.post(
        &format!("/liveness_check/{id}/deliveries/{delivery}/retry"),
        &json!({}),
    );
    assert_eq!(s, 202);
    hook.wait_for(4, Duration::from_secs(10));
    let (s, e) = v.post(
        &format!("/liveness_check/{id}/deliveries/nope/retry"),
        &json!({}),
    );
    assert_eq!((s, e["code"].as_str()), (404, Some("not_found")));
}

#[test]
fn an_event_survives_a_restart_mid_retry() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("LIVECHECK_WEBHOOKS_RETRY_SCHEDULE", "2s,2s,2s")];
    let hook = Receiver::start(vec![500]);
    let first = Verifier::start(dir.path(), &env);
    let created =
        first.create(json!({"return_url": "https://c.example/r", "webhook_url": hook.url}));
    cancel(&first, &created);
    hook.wait_for(1, Duration::from_secs(10));
    let id = created["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while first.get(&format!("/liveness_check/{id}/deliveries")).1[0]["attempts"]
        .as_array()
        .map_or(0, |a| a.len())
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "attempt never logged");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Killed hard between the failed attempt and its retry.
    let api_key = first.api_key.clone();
    drop(first);

    let mut second = Verifier::start(dir.path(), &env);
    second.api_key = api_key;
    let got = hook.wait_for(2, Duration::from_secs(20));
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(*hook.answered.lock().unwrap(), [500, 200]);
    let (_, d) = second.get(&format!("/liveness_check/{id}/deliveries"));
    assert_eq!(d[0]["attempts"].as_array().unwrap().len(), 2);
}

#[test]
fn an_expired_check_fires_expired() {
    let v = Verifier::start_temp(&[]);
    let hook = Receiver::start(vec![]);
    let created = v.create(json!({"return_url": "https://c.example/r", "webhook_url": hook.url}));
    v.expire_now(created["id"].as_str().unwrap());
    let got = hook.wait_for(1, Duration::from_secs(10));
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "expired");
    assert_eq!(event["data"]["check_id"], created["id"]);
}

#[test]
fn a_receiver_that_never_answers_does_not_delay_another_receivers_events() {
    let v = Verifier::start_temp(&[]);
    // Accepts connections and never answers (until the test ends).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for s in silent.incoming().flatten() {
            h.lock().unwrap().push(s);
        }
    });
    let hook = Receiver::start(vec![]);
    for _ in 0..64 {
        let created =
            v.create(json!({"return_url": "https://c.example/r", "webhook_url": silent_url}));
        cancel(&v, &created);
    }
    std::thread::sleep(Duration::from_millis(500));
    let created = v.create(json!({"return_url": "https://c.example/r", "webhook_url": hook.url}));
    let started = std::time::Instant::now();
    cancel(&v, &created);
    hook.wait_for(1, Duration::from_secs(20));
    let waited = started.elapsed();
    let connections = held.lock().unwrap().len();
    println!("the other receiver's event came after {waited:?}; the silent one holds {connections} connections");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // The silent receiver is sent a few at a time, not the whole backlog.
    assert!((1..=4).contains(&connections), "{connections} connections");
}

#[test]
fn demo_mode_delivers_webhooks_to_a_receiver_on_this_machine() {
    // Even with private targets switched off in the configuration, `--demo` is a
    // developer's machine: a receiver on 127.0.0.1 gets its events.
    let v = Verifier::start_temp(&[("LIVECHECK_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "false")]);
    let hook = Receiver::start(vec![]);
    let created = v.create(json!({
        "return_url": "https://c.example/r",
        "webhook_url": hook.url,
    }));
    cancel(&v, &created);
    let got = hook.wait_for(1, Duration::from_secs(20));
    let event: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event["type"], "cancelled");
}
