//! Throughput of release verifiers on SQLite and on PostgreSQL, one or two of them on
//! one store (requests alternating between the two, as round-robin balancing sends
//! them):
//! - creates: `LOAD_CREATE_CLIENTS` (default 16) clients creating checks for 5 s;
//!   creates a second, p50/p99;
//! - decisions: N captures of the d18 clip ([BLINK, SMILE], every third frame, so 10 a
//!   second) uploaded at real speed at once, then all finished at once; sessions
//!   decided a second, the finishes' p50/p99 and the verifiers' CPU per judged frame.
//!
//! `cargo bench -p livecheck-verifier --bench decide_load`; `LOAD_STORES` (default
//! `sqlite,postgres`; PostgreSQL needs `LIVECHECK_TEST_POSTGRES_URL`, a cluster from
//! `scripts/postgres.sh`), `LOAD_REPLICAS` (default `1,2`), `LOAD_SESSIONS` (default 8),
//! `LOAD_ROUNDS` (default 3); `LOAD_BIN` runs another verifier binary instead (to compare
//! two builds, run alternately).

#![allow(clippy::unwrap_used)] // a bench's helpers panic on purpose, as the tests' do

#[allow(dead_code)]
#[path = "../tests/api/harness.rs"]
mod harness;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use harness::{clip_frames, Capture, Verifier};
use serde_json::json;

/// A process's user + system CPU time so far (from `/proc`, Linux only).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    // Fields after the command name (which may hold spaces) start after its ')'.
    let rest = &stat[stat.rfind(')').expect("stat") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `replicas` verifiers on one new store.
fn start(store: &str, replicas: usize, dir: &std::path::Path) -> Vec<Verifier> {
    let url = match store {
        "postgres" => Some(harness::postgres_database().expect("LIVECHECK_TEST_POSTGRES_URL")),
        _ => None,
    };
    let mut env = vec![
        ("LIVECHECK_LIMITS_CREATES_PER_MINUTE", "0"),
        ("LIVECHECK_LIMITS_CLAIMS_PER_MINUTE", "0"),
    ];
    if let Some(url) = &url {
        env.push(("LIVECHECK_STORE_URL", url.as_str()));
    }
    // Another build to compare with (`LOAD_BIN`, e.g. a copy of an earlier commit's
    // release binary), else this one.
    let bin = std::env::var_os("LOAD_BIN").map(std::path::PathBuf::from);
    (0..replicas)
        .map(|_| match &bin {
            Some(bin) => Verifier::start_binary(bin, dir, &env),
            None => Verifier::start(dir, &env),
        })
        .collect()
}

fn creates(vs: &[Verifier], clients: usize) {
    let stop = AtomicBool::new(false);
    let latencies = Mutex::new(Vec::new());
    let secs = 5.0;
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            let (stop, latencies) = (&stop, &latencies);
            s.spawn(move || {
                let mut mine = Vec::new();
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let v = &vs[i % vs.len()];
                    i += 1;
                    let t = Instant::now();
                    let (status, body) = v.post(
                        "/liveness_check",
                        &json!({"return_url": "https://c.example/r"}),
                    );
                    assert_eq!(status, 201, "{body}");
                    mine.push(t.elapsed().as_secs_f64() * 1e3);
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut ms = latencies.into_inner().unwrap();
    ms.sort_by(f64::total_cmp);
    println!(
        "  creates: {:.0} a second ({clients} clients), p50 {:.1} ms, p99 {:.1} ms",
        ms.len() as f64 / elapsed,
        percentile(&ms, 0.5),
        percentile(&ms, 0.99)
    );
}

fn decisions(vs: &[Verifier], n: usize, rounds: usize) {
    let frames = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    for round in 1..=rounds {
        let barrier = Barrier::new(n + 1);
        let (wall, cpu, results) = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|k| {
                    let (barrier, frames) = (&barrier, &frames);
                    s.spawn(move || {
                        let created = vs[k % vs.len()].create(json!({
                            "return_url": "https://customer.example/r",
                            "challenges": ["BLINK", "SMILE"],
                            "max_attempts": 1,
                        }));
                        // Claimed on one verifier, frames alternating, finished on one.
                        let mut cap = Capture::claim(&vs[k % vs.len()], &created);
                        let order: Vec<&Verifier> =
                            (0..vs.len()).map(|j| &vs[(k + j) % vs.len()]).collect();
                        cap.play_across(&order, frames, &[1000, 3500]);
                        cap.v = &vs[(k + 1) % vs.len()];
                        barrier.wait();
                        let t = Instant::now();
                        let (status, body) = cap.finish();
                        (t.elapsed(), status, body["passed"].as_bool())
                    })
                })
                .collect();
            barrier.wait();
            let cpu = || -> Duration { vs.iter().map(|v| cpu_time(v.child.id())).sum() };
            let (t0, cpu0) = (Instant::now(), cpu());
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            (t0.elapsed(), cpu() - cpu0, results)
        });
        let passed = results
            .iter()
            .filter(|r| r.1 == 200 && r.2 == Some(true))
            .count();
        let mut ms: Vec<f64> = results.iter().map(|r| r.0.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "  decisions, round {round}: {:.2} sessions a second ({:.2} per core), finish p50 {:.0} ms, \
             p99 {:.0} ms, CPU {:.1} ms a frame, {passed}/{n} passed",
            n as f64 / wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64() / cores as f64,
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            cpu.as_secs_f64() * 1e3 / (n * frames.len()) as f64,
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments of its own.
    let n: usize = var("LOAD_SESSIONS", 8);
    let rounds: usize = var("LOAD_ROUNDS", 3);
    let clients: usize = var("LOAD_CREATE_CLIENTS", 16);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!("decide_load: {cores} cores; {n} d18 sessions at once per round, {rounds} rounds");
    for store in list("LOAD_STORES", "sqlite,postgres") {
        for replicas in list("LOAD_REPLICAS", "1,2") {
            let replicas: usize = replicas.parse().expect("LOAD_REPLICAS: numbers");
            let dir = tempfile::tempdir().unwrap();
            let vs = start(&store, replicas, dir.path());
            println!("{store}, {replicas} verifier(s):");
            creates(&vs, clients);
            decisions(&vs, n, rounds);
        }
    }
}
