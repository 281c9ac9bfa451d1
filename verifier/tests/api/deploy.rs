//! The README's reverse proxy, `deploy/nginx.conf`, run as written (only its port,
//! certificate paths and upstream swapped for the test's) by Debian's nginx with a
//! self-signed certificate, in front of a verifier that trusts it: the API and capture
//! links over TLS, and the claim rate limit counting each client behind the proxy
//! instead of the proxy, which a client's own `X-Forwarded-For` cannot change.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{status_json, Verifier};

struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed (scripts/setup.sh installs Debian's nginx)")
}

impl Nginx {
    fn start(port: u16, upstream: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(d.join("privkey.pem"))
            .arg("-out")
            .arg(d.join("fullchain.pem"))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(made.success(), "openssl could not make a certificate");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut site = std::fs::read_to_string(root.join("deploy/nginx.conf")).unwrap();
        for (from, to) in [
            ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
            (
                "/etc/ssl/livecheck/fullchain.pem",
                d.join("fullchain.pem").display().to_string(),
            ),
            (
                "/etc/ssl/livecheck/privkey.pem",
                d.join("privkey.pem").display().to_string(),
            ),
            ("http://127.0.0.1:8080", upstream.to_string()),
        ] {
            assert!(
                site.contains(from),
                "deploy/nginx.conf no longer has {from:?}"
            );
            site = site.replace(from, &to);
        }
        let root_user =
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
        let conf = format!(
            // One process (no master and workers): stopping it leaves nothing behind.
            "{user}daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{site}\n}}\n",
            user = if root_user { "user root;\n" } else { "" },
            d = d.display()
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "nginx did not start: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, _dir: dir }
    }
}

/// A browser on `from` (a loopback address of its own), reaching the proxy over TLS.
fn client(from: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .local_address(Some(from.parse().unwrap()))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[test]
fn behind_the_documented_nginx_each_client_has_its_own_claim_limit() {
    let port = free_port();
    let public = format!("https://127.0.0.1:{port}");
    let v = Verifier::start_temp(&[
        ("LIVECHECK_SERVER_PUBLIC_URL", public.as_str()),
        ("LIVECHECK_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
        ("LIVECHECK_LIMITS_CLAIMS_PER_MINUTE", "2"),
    ]);
    let _nginx = Nginx::start(port, &v.base);

    // The customer's backend, through TLS: links point at the public origin.
    let backend = client("127.0.0.1");
    let mut links = Vec::new();
    for _ in 0..5 {
        let (s, created) = status_json(
            backend
                .post(format!("{public}/liveness_check"))
                .bearer_auth(&v.api_key)
                .json(&json!({"return_url": "https://shop.example/done"}))
                .send()
                .unwrap(),
        );
        assert_eq!(s, 201, "{created}");
        let url = created["url"].as_str().unwrap().to_string();
        assert!(url.starts_with(&format!("{public}/l/")), "{url}");
        links.push(url.replace("/l/", "/capture/") + "/claim");
    }
    let page = client("127.0.0.2")
        .get(links[0].replace("/capture/", "/l/").replace("/claim", ""))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);

    let claim = |from: &str, link: &str, spoof: Option<&str>| -> (u16, Value) {
        let mut r = client(from).post(link);
        if let Some(s) = spoof {
            r = r.header("x-forwarded-for", s);
        }
        status_json(r.send().unwrap())
    };
    // User A: two claims; the third is refused, and writing another address in its own
    // X-Forwarded-For does not make it someone else.
    assert_eq!(claim("127.0.0.2", &links[0], None).0, 200);
    assert_eq!(claim("127.0.0.2", &links[1], Some("198.51.100.1")).0, 200);
    let (s, e) = claim("127.0.0.2", &links[2], None);
    assert_eq!((s, e["code"].as_str()), (429, Some("rate_limited")), "{e}");
    let (s, e) = claim("127.0.0.2", &links[2], Some("198.51.100.2"));
    assert_eq!((s, e["code"].as_str()), (429, Some("rate_limited")), "{e}");
    // User B, behind the same proxy: a limit of its own.
    let (s, e) = claim("127.0.0.3", &links[3], None);
    assert_eq!(s, 200, "{e}");
}

#[test]
fn a_copied_binary_finds_its_models_and_sdk_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("livecheck-verifier");
    std::fs::copy(env!("CARGO_BIN_EXE_livecheck-verifier"), &bin).unwrap();
    // The models as a release would ship them next to the binary; an SDK folder whose
    // script says where it was read from.
    let models = std::env::var_os("LIVECHECK_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/cache"));
    std::os::unix::fs::symlink(models.canonicalize().unwrap(), dir.path().join("models")).unwrap();
    std::fs::create_dir(dir.path().join("sdk")).unwrap();
    std::fs::write(
        dir.path().join("sdk/livecheck_sdk.js"),
        "// the SDK beside the binary\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let v = Verifier::start_binary(&bin, &data, &[]);
    // Ready means the six models loaded from the folder beside it.
    let (s, ready) = v.get("/readyz");
    assert_eq!(s, 200, "{ready}");
    let js = v.http.get(v.url("/sdk/livecheck_sdk.js")).send().unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.text().unwrap(), "// the SDK beside the binary\n");
}

#[test]
fn models_that_fail_to_load_are_reported_as_failed_not_as_loading() {
    // A models folder without the models: the process stays up, unready for good, and
    // says which of the two it is instead of "still loading" for ever.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-models");
    std::fs::create_dir(&empty).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let v = Verifier::spawn_binary(
        Path::new(env!("CARGO_BIN_EXE_livecheck-verifier")),
        &data,
        &[("LIVECHECK_MODELS_DIR", empty.to_str().unwrap())],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, ready) = loop {
        let (status, ready) = v.readiness();
        if ready["models"] != "loading" && status.is_some() {
            break (status, ready);
        }
        assert!(Instant::now() < deadline, "still loading: {ready}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, Some(503), "{ready}");
    assert_eq!(
        ready,
        json!({"ready": false, "models": "failed", "models_loaded": false, "store_reachable": true})
    );
    // What needs the models answers 503 not_ready, saying they failed (and no path).
    let created = v.create(json!({"return_url": "https://customer.example/r"}));
    let mut png = Vec::new();
    image::RgbImage::from_pixel(64, 64, image::Rgb([128, 128, 128]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let (s, e) = v.put_reference(created["id"].as_str().unwrap(), "image/png", png);
    assert_eq!((s, e["code"].as_str()), (503, Some("not_ready")), "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("failed to load"), "{e}");
    assert!(!message.contains("no-models"), "a path in an answer: {e}");
}
