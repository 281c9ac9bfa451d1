//! Native outputs on the golden fixtures match `tests/golden/fixtures.json`, the file
//! the wasm test checks too. `LIVECHECK_UPDATE_GOLDEN=1` rewrites it.

#[path = "../golden/cases.rs"]
mod cases;

use cases::{differences, fingerprint, Fingerprint, GOLDEN_FILES};

use crate::helpers::{image, observe};

#[test]
fn native_outputs_match_the_golden_file_shared_with_wasm() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fixtures.json");
    let now: Vec<Fingerprint> = GOLDEN_FILES
        .iter()
        .map(|f| fingerprint(f, &observe(&image(f), 0, true)))
        .collect();
    if std::env::var_os("LIVECHECK_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap()).unwrap();
    }
    let golden: Vec<Fingerprint> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(golden.len(), now.len());
    let diffs: Vec<String> = golden
        .iter()
        .zip(&now)
        .flat_map(|(g, n)| differences(g, n))
        .collect();
    assert!(diffs.is_empty(), "{diffs:#?}");
}
