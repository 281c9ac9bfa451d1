//! Decision throughput under load: N captures of the d18 clip ([BLINK, SMILE], every
//! third frame, so 10 a second) uploaded at real speed at once, then all finished at
//! once against a release verifier. Prints sessions decided per second, the finishes'
//! p50/p99 and the verifier's CPU per judged frame:
//!
//! `cargo bench -p livecheck-verifier --bench decide_load` (`LOAD_SESSIONS`, default 8;
//! `LOAD_ROUNDS`, default 3).

#![allow(clippy::unwrap_used)] // a bench's helpers panic on purpose, as the tests' do

#[allow(dead_code)]
#[path = "../tests/api/harness.rs"]
mod harness;

use std::sync::Barrier;
use std::time::{Duration, Instant};

use harness::{clip_frames, Capture, Verifier};
use serde_json::json;

/// The verifier's user + system CPU time so far (from `/proc`, Linux only).
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

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments of its own.
    let n: usize = std::env::var("LOAD_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let rounds: usize = std::env::var("LOAD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let v = Verifier::start_temp(&[
        ("LIVECHECK_LIMITS_CREATES_PER_MINUTE", "0"),
        ("LIVECHECK_LIMITS_CLAIMS_PER_MINUTE", "0"),
    ]);
    let frames = clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 3);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "decide_load: {n} sessions at once, {} frames each (d18 [BLINK, SMILE]), {cores} cores, {rounds} rounds",
        frames.len()
    );
    for round in 1..=rounds {
        let barrier = Barrier::new(n + 1);
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    s.spawn(|| {
                        let created = v.create(json!({
                            "return_url": "https://customer.example/r",
                            "challenges": ["BLINK", "SMILE"],
                            "max_attempts": 1,
                        }));
                        let mut cap = Capture::claim(&v, &created);
                        cap.play(&frames, &[1000, 3500]);
                        barrier.wait();
                        let t = Instant::now();
                        let (status, body) = cap.finish();
                        (t.elapsed(), status, body["passed"].as_bool())
                    })
                })
                .collect();
            barrier.wait();
            let (t0, cpu0) = (Instant::now(), cpu_time(v.child.id()));
            let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            (t0.elapsed(), cpu_time(v.child.id()) - cpu0, results)
        });
        let (wall, cpu, results) = results;
        let passed = results
            .iter()
            .filter(|r| r.1 == 200 && r.2 == Some(true))
            .count();
        let mut ms: Vec<f64> = results.iter().map(|r| r.0.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "round {round}: {:.2} sessions/s ({:.2} per core), finish p50 {:.0} ms, p99 {:.0} ms, \
             CPU {:.1} ms a frame, {passed}/{n} passed",
            n as f64 / wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64() / cores as f64,
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            cpu.as_secs_f64() * 1e3 / (n * frames.len()) as f64,
        );
    }
}
