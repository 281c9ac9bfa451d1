//! `livecheck-heic MAX_SIDE MAX_PIXELS`: one HEIC on stdin, its JPEG on stdout, or the
//! reason on stderr (exit 2). The verifier runs it under `prlimit` (memory and CPU
//! capped) for each HEIC upload, so a damaged or hostile file that makes libheif
//! allocate or compute without bound costs a child process, not the service.

use std::io::{Read, Write};
use std::process::ExitCode;

use livecheck_core::decode::SizeLimit;

/// Larger than any upload the verifier accepts.
const MAX_INPUT: u64 = 64 << 20;

fn main() -> ExitCode {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let [max_side, max_pixels] = args[..] else {
        eprintln!("usage: livecheck-heic MAX_SIDE MAX_PIXELS < photo.heic > photo.jpg");
        return ExitCode::from(64);
    };
    let limit = SizeLimit {
        max_side: u32::try_from(max_side).unwrap_or(u32::MAX),
        max_pixels,
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_INPUT).read_to_end(&mut input) {
        eprintln!("cannot read the photo: {e}");
        return ExitCode::from(2);
    }
    match livecheck_verifier::heic::to_jpeg(&input, limit) {
        Ok(jpeg) => match std::io::stdout().write_all(&jpeg) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot write the JPEG: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
