//! The harness: byte mutations of a corpus, outcome classes as a cheap stand-in for
//! coverage (an input with an outcome not seen before joins the corpus), panics and
//! broken properties caught and saved.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: reproducible from `LIVECHECK_FUZZ_SEED`.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [&[u8]; 10] = [
    &[0],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff],
    &[0, 0],
    &[0x7f, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0xff],
    b"-1",
    b"18446744073709551616",
];

/// One to four edits of `input`; `other` is another corpus entry to splice from.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next() as u8;
            }
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            3 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(16)).min(len);
                out.drain(from..to);
            }
            4 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(32)).min(len);
                let chunk = out[from..to].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, chunk);
            }
            5 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let at = rng.below(len + 1);
                let end = (at + v.len()).min(len);
                out.splice(at..end, v.iter().copied());
            }
            6 if !other.is_empty() => {
                let keep = rng.below(len + 1);
                let from = rng.below(other.len());
                out.truncate(keep);
                out.extend_from_slice(&other[from..]);
            }
            7 => {
                // A number in text (JSON fields, header values, boundaries): another one.
                let digits: Vec<usize> = (0..len).filter(|&i| out[i].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    let i = digits[rng.below(digits.len())];
                    let n = rng.next() >> rng.below(64);
                    out.splice(i..i + 1, n.to_string().into_bytes());
                }
            }
            8 if len > 0 => out.truncate(rng.below(len)),
            _ => {}
        }
    }
    out.truncate(max_len);
    out
}

/// What a target does with one input: `Ok(class)` names the outcome (for corpus
/// growth), `Err(message)` is a broken property.
pub trait Target {
    const NAME: &'static str;
    /// Longest input worth trying.
    const MAX_LEN: usize = 64 * 1024;
    fn seeds(&mut self) -> Vec<Vec<u8>>;
    fn run(&mut self, input: &[u8]) -> Result<String, String>;
}

/// An error message as an outcome class: numbers and quoted input dropped, so sizes,
/// offsets and echoed bytes do not make every input new.
pub fn class(message: &str) -> String {
    // Up to the first quote: parsers quote the input back.
    message
        .split(['"', '`', '\''])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .take(48)
        .collect()
}

pub struct Report {
    pub execs: u64,
    pub classes: usize,
    pub corpus: usize,
    pub cpu: Duration,
}

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(name)
}

/// CPU time of the calling thread (user and system), from /proc.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at `) `.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Runs `target` for `LIVECHECK_FUZZ_SECS` (default 3) seconds; panics with the saved
/// input's path on the first crash, hang or broken property.
pub fn fuzz<T: Target>(target: &mut T) -> Report {
    let secs: f64 = std::env::var("LIVECHECK_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    let seed: u64 = std::env::var("LIVECHECK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let save = std::env::var_os("LIVECHECK_FUZZ_SAVE").is_some();
    // Panics are caught and reported with their input; the default hook would print
    // each one with a backtrace (parsers that panic by the thousand stall the run).
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let dir = corpus_dir(T::NAME);
    let mut corpus = target.seeds();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        corpus.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
    }
    assert!(!corpus.is_empty(), "{}: no seeds", T::NAME);
    let mut rng = Rng::new(seed);
    let mut classes = HashSet::new();
    let cpu_start = thread_cpu();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut execs = 0u64;
    let mut i = 0;
    loop {
        // The corpus as it is first, then mutations until the time is up.
        let input = if i < corpus.len() {
            corpus[i].clone()
        } else {
            if Instant::now() >= deadline {
                break;
            }
            let a = &corpus[rng.below(corpus.len())];
            let b = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, a, b, T::MAX_LEN)
        };
        i += 1;
        execs += 1;
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target.run(&input)));
        let took = started.elapsed();
        let failure = match outcome {
            Ok(Ok(_)) if took > Duration::from_secs(2) => Some(format!("took {took:?}")),
            Ok(Ok(class)) => {
                if classes.insert(class) && i > corpus.len() {
                    if save {
                        let _ = std::fs::create_dir_all(&dir);
                        let name = format!("{:016x}", fnv(&input));
                        let _ = std::fs::write(dir.join(name), &input);
                    }
                    corpus.push(input.clone());
                }
                None
            }
            Ok(Err(broken)) => Some(broken),
            Err(panic) => Some(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        };
        if let Some(message) = failure {
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
            let _ = std::fs::create_dir_all(&out);
            let path = out.join(format!("{}-{:016x}", T::NAME, fnv(&input)));
            let _ = std::fs::write(&path, &input);
            let report = format!(
                "{}: {message} (seed {seed}; input saved at {})",
                T::NAME,
                path.display()
            );
            // The quiet hook prints no panic message: this is the report.
            eprintln!("{report}");
            panic!("{report}");
        }
    }
    let report = Report {
        execs,
        classes: classes.len(),
        corpus: corpus.len(),
        cpu: thread_cpu().saturating_sub(cpu_start),
    };
    println!(
        "fuzz {}: {} inputs, {} outcome classes, corpus {}, {:.1} s CPU, seed {seed}",
        T::NAME,
        report.execs,
        report.classes,
        report.corpus,
        report.cpu.as_secs_f64()
    );
    report
}

/// FNV-1a: a stable name for an input.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
