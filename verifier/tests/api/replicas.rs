//! Two verifier processes on one store, as replicas behind a load balancer: what
//! coordinates them is in the store (the capture's chain and clock, the finish lease,
//! the outbox's delivery leases, the rate-limit windows), never in one process. Each
//! test runs on both back ends: one SQLite file in a shared data directory, and one
//! PostgreSQL database (the test cluster).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{clip_frames, Capture, Receiver, Verifier};

const ENV: &[(&str, &str)] = &[("LIVECHECK_LIMITS_CREATES_PER_MINUTE", "0")];

/// Where the replicas keep their checks.
#[derive(Clone)]
enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// A fresh PostgreSQL database, or `None` where no cluster runs (never in CI).
    fn postgres() -> Option<Self> {
        crate::harness::postgres_database().map(Backend::Postgres)
    }

    /// `env` with this back end's store.
    fn env<'a>(&'a self, env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all = env.to_vec();
        match self {
            Backend::Sqlite => {}
            Backend::Postgres(url) => all.push(("LIVECHECK_STORE_URL", url.as_str())),
        }
        all
    }
}

/// `#[test]`s of `$name` on SQLite and on PostgreSQL.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Backend::Sqlite);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(b) = super::Backend::postgres() {
                    super::$name(b);
                }
            })*
        }
    };
}

on_both_stores!(
    a_capture_moves_between_replicas_frame_by_frame_and_is_decided_once,
    each_event_is_delivered_by_one_replica,
    the_rate_limit_holds_across_replicas,
    a_killed_replicas_delivery_goes_out_from_the_other,
    a_check_whose_replica_died_mid_decision_is_decided_once_by_the_other,
);

/// Two processes on one store (and one data directory: the second reuses the first's
/// demo key).
fn pair(backend: &Backend, dir: &std::path::Path, env: &[(&str, &str)]) -> (Verifier, Verifier) {
    let env = backend.env(env);
    let a = Verifier::start(dir, &env);
    let b = Verifier::start(dir, &env);
    assert_eq!(a.api_key, b.api_key);
    (a, b)
}

/// Every request the receiver got after `settle` more, by `webhook-id`.
fn received_by_id(hooks: &Receiver, n: usize, settle: Duration) -> HashMap<String, usize> {
    hooks.wait_for(n, Duration::from_secs(30));
    std::thread::sleep(settle);
    let mut by_id = HashMap::new();
    for r in hooks.received.lock().unwrap().iter() {
        *by_id
            .entry(r.header("webhook-id").unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    by_id
}

fn a_capture_moves_between_replicas_frame_by_frame_and_is_decided_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = pair(&backend, dir.path(), ENV);
    let hooks = Receiver::start(vec![]);
    let created = a.create(json!({
        "return_url": "https://customer.example/r",
        "webhook_url": hooks.url,
        "challenges": ["BLINK", "SMILE"],
        "max_attempts": 1,
    }));
    // Claimed on A; then each frame goes to the other replica than the last.
    let mut cap = Capture::claim(&a, &created);
    cap.play_across(
        &[&b, &a],
        &clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3),
        &[1000, 3500],
    );
    cap.v = &b;
    let (s, finished) = cap.finish();
    assert_eq!(s, 200, "{finished}");
    assert_eq!(finished["passed"], true, "{finished}");
    // A second finish on the other replica finds it decided.
    cap.v = &a;
    let (s, again) = cap.finish();
    assert_eq!(s, 409, "{again}");

    let id = created["id"].as_str().unwrap();
    let (s, r) = a.get(&format!("/liveness_check/{id}"));
    assert_eq!(s, 200);
    assert_eq!(r["status"], "completed", "{r}");
    let by_id = received_by_id(&hooks, 1, Duration::from_secs(2));
    assert_eq!(by_id.len(), 1, "one event: {by_id:?}");
    assert!(by_id.values().all(|&n| n == 1), "sent once: {by_id:?}");
}

fn each_event_is_delivered_by_one_replica(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = pair(&backend, dir.path(), ENV);
    // Each attempt stays in flight 0.3 s: both outboxes poll the store every 100 ms
    // meanwhile, and see the event still pending.
    let hooks = Receiver::start_slow(Duration::from_millis(300));
    let replicas = [&a, &b];
    // 200 checks created on one replica and cancelled at their link on the other,
    // alternately: each ends with one `cancelled` event.
    let n = 200;
    for i in 0..n {
        let v = replicas[i % 2];
        let created = v.create(json!({
            "return_url": "https://customer.example/r",
            "webhook_url": hooks.url,
        }));
        let link = crate::harness::link_of(&created);
        let (s, body) = replicas[(i + 1) % 2].post(&format!("/capture/{link}/cancel"), &json!({}));
        assert_eq!(s, 200, "{body}");
    }
    let by_id = received_by_id(&hooks, n, Duration::from_secs(2));
    let twice: Vec<_> = by_id.iter().filter(|(_, &k)| k > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(by_id.len(), n, "every event: {by_id:?}");
}

fn the_rate_limit_holds_across_replicas(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = pair(
        &backend,
        dir.path(),
        &[("LIVECHECK_LIMITS_CREATES_PER_MINUTE", "3")],
    );
    let create = |v: &Verifier| -> (u16, Value) {
        v.post(
            "/liveness_check",
            &json!({"return_url": "https://customer.example/r"}),
        )
    };
    // Three in the minute between the two, not three each.
    let statuses: Vec<u16> = [&a, &b, &a, &b].iter().map(|v| create(v).0).collect();
    assert_eq!(statuses, [201, 201, 201, 429]);
    let (s, body) = create(&a);
    assert_eq!(s, 429, "{body}");
    assert_eq!(body["code"], "rate_limited");
}

fn a_killed_replicas_delivery_goes_out_from_the_other(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("LIVECHECK_LIMITS_CREATES_PER_MINUTE", "0"),
        ("LIVECHECK_WEBHOOKS_TIMEOUT", "2s"),
    ];
    // The receiver holds each request 1 s: A is killed while its attempt is in flight.
    let hooks = Receiver::start_slow(Duration::from_secs(1));
    let env = backend.env(&env);
    let mut a = Verifier::start(dir.path(), &env);
    let created = a.create(json!({
        "return_url": "https://customer.example/r",
        "webhook_url": hooks.url,
    }));
    let link = crate::harness::link_of(&created);
    let (s, body) = a.post(&format!("/capture/{link}/cancel"), &json!({}));
    assert_eq!(s, 200, "{body}");
    let first = hooks.wait_for(1, Duration::from_secs(10));
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed_at = std::time::Instant::now();
    let id = first[0].header("webhook-id").unwrap().to_string();

    // B finds the delivery leased, then sends it once A's lease (2 s + 5 s) runs out.
    let b = Verifier::start(dir.path(), &env);
    let again = hooks.wait_for(2, Duration::from_secs(30));
    assert_eq!(again[1].header("webhook-id"), Some(id.as_str()));
    assert!(
        killed_at.elapsed() >= Duration::from_secs(5),
        "sent again before the lease ran out: {:?}",
        killed_at.elapsed()
    );
    let check = created["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, d) = b.get(&format!("/liveness_check/{check}/deliveries"));
        if d[0]["state"] == "delivered" {
            // A's attempt never got recorded; B's did.
            assert_eq!(d[0]["attempts"].as_array().unwrap().len(), 1, "{d}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never delivered: {d}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hooks.received.lock().unwrap().len(), 2, "no third send");
}

fn a_check_whose_replica_died_mid_decision_is_decided_once_by_the_other(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("LIVECHECK_LIMITS_CREATES_PER_MINUTE", "0"),
        ("LIVECHECK_CHECKS_FINISH_LEASE", "4s"),
    ];
    let (a, b) = pair(&backend, dir.path(), &env);
    let hooks = Receiver::start(vec![]);
    let created = a.create(json!({
        "return_url": "https://customer.example/r",
        "webhook_url": hooks.url,
        "challenges": ["BLINK", "SMILE"],
        "max_attempts": 1,
    }));
    let mut cap = Capture::claim(&a, &created);
    cap.play(
        &clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3),
        &[1000, 3500],
    );
    // A takes the finish lease and starts judging (seconds for ~110 frames); it is
    // killed 0.3 s in, before any decision.
    let finish_on_a = a
        .http
        .post(a.url(&format!("/capture/{}/finish", cap.link)))
        .bearer_auth(&cap.client_token);
    let pending = std::thread::spawn(move || finish_on_a.send().map(|r| r.status().as_u16()));
    std::thread::sleep(Duration::from_millis(300));
    let pid = a.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let leased_at = std::time::Instant::now();
    assert!(pending.join().unwrap().is_err(), "A answered the finish");
    let id = created["id"].as_str().unwrap();
    let (_, r) = b.get(&format!("/liveness_check/{id}"));
    assert_eq!(r["status"], "in_progress", "{r}");

    // While A's lease holds, B refuses a second finish; once it runs out, B decides.
    cap.v = &b;
    let (s, e) = cap.finish();
    assert_eq!((s, e["code"].as_str()), (409, Some("invalid_state")), "{e}");
    std::thread::sleep(Duration::from_secs(4).saturating_sub(leased_at.elapsed()));
    let (s, finished) = cap.finish();
    assert_eq!(s, 200, "{finished}");
    assert_eq!(finished["passed"], true, "{finished}");
    let (_, r) = b.get(&format!("/liveness_check/{id}"));
    assert_eq!(r["status"], "completed", "{r}");
    let by_id = received_by_id(&hooks, 1, Duration::from_secs(2));
    assert_eq!(by_id.len(), 1, "one decision, one event: {by_id:?}");
}
