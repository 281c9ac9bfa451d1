//! `livecheck-verifier evaluate`: a labelled folder in, the rates and a report out.

use std::process::Command;

use crate::harness::testdata;

#[test]
fn evaluate_reports_rates_per_species_and_writes_the_signals() {
    let dir = tempfile::tempdir().unwrap();
    let labels = format!(
        "[[item]]\nfile = \"{}\"\nlabel = \"live\"\nactions = [\"BLINK\", \"SMILE\"]\n\
         [[item]]\nfile = \"{}\"\nlabel = \"print\"\n\
         [[item]]\nfile = \"{}\"\nlabel = \"live\"\n",
        testdata("video/lp_d18_actions_640x480_30fps.mjpeg").display(),
        testdata("spoof/silentface_F1_print_upright.jpg").display(),
        testdata("live/silentface_T1_live_upright.jpg").display(),
    );
    std::fs::write(dir.path().join("labels.toml"), labels).unwrap();
    let report = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_livecheck-verifier"))
        .arg("evaluate")
        .arg(dir.path())
        .arg("--out")
        .arg(&report)
        .args(["--step", "6"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d18 = stdout.lines().next().unwrap();
    assert!(d18.contains("\tlive\tpass\t"), "{stdout}");
    assert!(d18.contains("found Blink,Smile"), "{stdout}");
    assert!(stdout.contains("print\trefused\t"), "{stdout}");
    assert!(
        stdout.contains("BPCER 0.0 % (0 of 2 live refused)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("APCER print 0.0 % (0 of 1 accepted)"),
        "{stdout}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("<svg") && html.contains("<polyline"),
        "{html}"
    );
    assert!(html.contains("anti-spoof"));

    // A labels file that names no file is refused with its path.
    std::fs::write(
        dir.path().join("labels.toml"),
        "[[item]]\nlabel = \"live\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_livecheck-verifier"))
        .arg("evaluate")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("labels.toml"));
}
