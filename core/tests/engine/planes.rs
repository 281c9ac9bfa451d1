//! The browser's planes form of each of its models, as `models/fetch.sh` wrote it with
//! `models/planes.mjs`: core's decoder gives back the pinned file byte for byte, and
//! core's encoder writes what the script wrote (two implementations of one layout).

use livecheck_core::manifest::{self, ModelFiles};
use livecheck_core::model_planes;

#[test]
fn each_browser_models_planes_form_decodes_to_the_pinned_file() {
    let dir = ModelFiles::default_dir();
    let browser: Vec<_> = manifest::entries()
        .iter()
        .filter(|e| e.runs_in.iter().any(|r| r == "browser"))
        .collect();
    assert_eq!(browser.len(), 3);
    for e in browser {
        let onnx = std::fs::read(dir.join(&e.file)).unwrap();
        let planes = std::fs::read(dir.join(format!("{}.planes", e.file)))
            .unwrap_or_else(|err| panic!("{}.planes: {err}; run models/fetch.sh", e.file));
        assert_eq!(planes.len(), onnx.len(), "{}", e.file);
        assert_ne!(planes, onnx, "{}: nothing regrouped", e.file);
        let decoded = model_planes::decode(&planes).unwrap();
        assert!(decoded == onnx, "{}: decodes to other bytes", e.file);
        manifest::verify(&e.name, &decoded).unwrap();
        assert!(
            model_planes::encode(&onnx).unwrap() == planes,
            "{}: core's encoder and models/planes.mjs disagree",
            e.file
        );
    }
}
