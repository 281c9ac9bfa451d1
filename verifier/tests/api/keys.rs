//! Keys: with `LIVECHECK_SECRETS_KEY` the store holds the signing key, frame keys and
//! webhook secrets sealed (the database file holds none of them in the clear), and a
//! verifier started without the key refuses to run; `keys rotate` under a running
//! verifier publishes the new key beside the old, and tokens signed before still verify.

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::harness::{clip_frames, Capture, Receiver, Verifier};

const BIN: &str = env!("CARGO_BIN_EXE_livecheck-verifier");

/// Every byte the store wrote: the SQLite database and its journal, or everything
/// PostgreSQL's own `pg_dump` reads out of the database.
fn stored_bytes(dir: &std::path::Path) -> Vec<u8> {
    if let Some(url) = crate::harness::postgres_of(dir) {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .flatten()
            .map(|e| e.path().join("bin/pg_dump"))
            .filter(|p| p.exists())
            .max()
            .expect("pg_dump");
        let out = Command::new(bin)
            .arg("--data-only")
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return out.stdout;
    }
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("livecheck.sqlite3")
        {
            all.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    all
}

/// The store the verifiers on `dir` use, for the command line's own runs.
fn store(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    crate::harness::postgres_of(dir)
        .map(|url| ("LIVECHECK_STORE_URL", url))
        .into_iter()
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn kids(v: &Verifier) -> Vec<String> {
    let (_, jwks) = v.get("/.well-known/jwks.json");
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn secrets_are_sealed_at_rest_and_the_signing_key_rotates_under_a_running_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let env = [("LIVECHECK_SECRETS_KEY", key.as_str())];
    let v = Verifier::start(dir.path(), &env);
    let hook = Receiver::start(vec![]);
    let created = v.create(json!({
        "return_url": "https://c.example/r", "webhook_url": hook.url, "mode": "passive"
    }));
    let secret = created["secret"].as_str().unwrap().to_string();
    let mut cap = Capture::claim(&v, &created);
    for (t, jpeg) in clip_frames("video/lp_d18_actions_640x480_30fps.mjpeg", 6)
        .into_iter()
        .take(4)
    {
        assert_eq!(cap.upload(t, &jpeg).0, 201);
    }
    let (s, fin) = cap.finish();
    assert_eq!(s, 200, "{fin}");
    let redirect = url::Url::parse(fin["redirect_url"].as_str().unwrap()).unwrap();
    let lc_token = redirect
        .query_pairs()
        .find(|(k, _)| k == "lc_token")
        .unwrap()
        .1
        .into_owned();

    // The webhook is signed with the secret as given: the sealed copy opened.
    let got = hook.wait_for(1, Duration::from_secs(20));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&got[0].body);
    assert_eq!(
        got[0].header("signature").unwrap(),
        hex::encode(mac.finalize().into_bytes())
    );

    // At rest: none of the secrets in the clear, each sealed (signing key, the check's
    // secret and frame key, the delivery's secret).
    let stored = stored_bytes(dir.path());
    assert_eq!(
        contains(&stored, secret.as_bytes()),
        0,
        "webhook secret in the clear"
    );
    assert_eq!(
        contains(&stored, cap.frame_key.as_bytes()),
        0,
        "frame key in the clear"
    );
    let sealed = contains(&stored, b"sealed:v1:");
    assert!(sealed >= 4, "{sealed} sealed values");

    // A rotation by the command line while the verifier runs.
    let before = kids(&v);
    assert_eq!(before.len(), 1);
    let out = Command::new(BIN)
        .args(["keys", "rotate", "--data-dir"])
        .arg(dir.path())
        .env("LIVECHECK_SECRETS_KEY", &key)
        .envs(store(dir.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_kid = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while kids(&v) != [new_kid.clone(), before[0].clone()] {
        assert!(Instant::now() < deadline, "JWKS: {:?}", kids(&v));
        std::thread::sleep(Duration::from_millis(100));
    }
    // The token signed with the previous key still redeems.
    let (s, red) = v.post("/liveness_check/redeem", &json!({ "lc_token": lc_token }));
    assert_eq!(s, 200, "{red}");
    assert_eq!(red["id"], created["id"]);
    drop(v);

    // Without the key (or with another) the verifier does not start, and says why.
    let other = base64::engine::general_purpose::STANDARD.encode([8u8; 32]);
    for key in [None, Some(other.as_str())] {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .envs(store(dir.path()))
            .env_remove("LIVECHECK_SECRETS_KEY");
        if let Some(k) = key {
            cmd.env("LIVECHECK_SECRETS_KEY", k);
        }
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{key:?}: the verifier started");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key:?}: exited 0");
        let expected = if key.is_none() {
            "LIVECHECK_SECRETS_KEY"
        } else {
            "does not open with this key"
        };
        assert!(err.contains(expected), "{key:?}: {err}");
    }
}

fn keys(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(store(dir))
        .env("LIVECHECK_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn keys_are_listed_and_revoked_and_the_demo_keeps_its_key_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let v = Verifier::start(dir.path(), &[]);
    let demo = v.api_key.clone();
    let (ok, app_key, _) = keys(dir.path(), &["create", "--name", "shop"]);
    assert!(ok);
    let app_key = app_key.trim().to_string();
    let create = |key: &str| {
        v.http
            .post(v.url("/liveness_check"))
            .bearer_auth(key)
            .json(&json!({"return_url": "https://c.example/r"}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(create(&app_key), 201);

    // Listed by id and name; the key itself is never shown.
    let (ok, list, _) = keys(dir.path(), &["list"]);
    assert!(ok);
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!((rows[0][1], rows[0][3]), ("demo", "active"), "{list}");
    assert_eq!((rows[1][1], rows[1][3]), ("shop", "active"), "{list}");
    assert!(!list.contains(&app_key) && !list.contains(&demo));

    // Revoked: refused by the running verifier from its next request.
    let (ok, _, _) = keys(dir.path(), &["revoke", rows[1][0]]);
    assert!(ok);
    assert_eq!(create(&app_key), 401);
    assert_eq!(create(&demo), 201);
    let (_, list, _) = keys(dir.path(), &["list"]);
    assert!(
        list.lines().nth(1).unwrap().contains("\trevoked 20"),
        "{list}"
    );
    let (ok, _, err) = keys(dir.path(), &["revoke", "no-such-id"]);
    assert!(
        !ok && err.contains("no API key has the id no-such-id"),
        "{err}"
    );

    // A restarted demo prints the key it printed before, and adds no key.
    drop(v);
    let v = Verifier::start(dir.path(), &[]);
    assert_eq!(v.api_key, demo);
    let (_, list, _) = keys(dir.path(), &["list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("demo-api-key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // Once revoked, the next start makes a new one.
    let demo_id = list
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_string();
    keys(dir.path(), &["revoke", &demo_id]);
    drop(v);
    let v = Verifier::start(dir.path(), &[]);
    assert_ne!(v.api_key, demo);
    assert_eq!(
        v.http
            .post(v.url("/liveness_check"))
            .bearer_auth(&v.api_key)
            .json(&json!({"return_url": "https://c.example/r"}))
            .send()
            .unwrap()
            .status(),
        201
    );
}
