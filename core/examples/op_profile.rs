//! Where a model's time goes, op by op, as core loads and optimises it:
//! `cargo run --release -p livecheck-core --example op_profile -- MODEL.onnx 1,3,320,320 [RUNS]`.
//! Prints each op kind's mean milliseconds per run (one thread), slowest first.

use livecheck_core::model::op_costs;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(shape)) = (args.first(), args.get(1)) else {
        eprintln!("usage: op_profile MODEL.onnx DIMS(comma-separated) [RUNS]");
        std::process::exit(2);
    };
    let shape: Vec<usize> = match shape.split(',').map(|d| d.trim().parse()).collect() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bad dims {shape}: {e}");
            std::process::exit(2);
        }
    };
    let runs = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(50);
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    let start = std::time::Instant::now();
    let clock_ms = || start.elapsed().as_secs_f64() * 1000.0;
    match op_costs(&bytes, &shape, runs, &clock_ms) {
        Ok(costs) => {
            for c in &costs {
                println!("{:>8.3} ms  {:>4} nodes  {}", c.ms, c.nodes, c.op);
            }
            let total: f64 = costs.iter().map(|c| c.ms).sum();
            println!("{total:>8.3} ms  all ops, mean of {runs} runs");
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
