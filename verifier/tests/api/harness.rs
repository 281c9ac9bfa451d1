//! The real verifier binary on port 0 with a temporary SQLite store, a webhook receiver
//! on 127.0.0.1:0, and a client that signs frames the way the SDK does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use livecheck_core::protocol::{ChallengeScript, FrameSigner};
use livecheck_core::timeline::Cue;
use serde_json::{json, Value};

/// A new, empty PostgreSQL database on the test cluster (`LIVECHECK_TEST_POSTGRES_URL`,
/// which `scripts/check.sh` starts with `scripts/postgres.sh`), as a URL; `None` when no
/// cluster is configured outside CI. In CI a missing cluster fails the test: PostgreSQL
/// tests never skip there.
pub fn postgres_database() -> Option<String> {
    let Ok(admin) = std::env::var("LIVECHECK_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the PostgreSQL tests: set LIVECHECK_TEST_POSTGRES_URL (scripts/check.sh does)"
        );
        eprintln!("no LIVECHECK_TEST_POSTGRES_URL: this PostgreSQL test does not run");
        return None;
    };
    let name = format!("lc_{}", hex::encode(rand_bytes()));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .expect("the test cluster answers");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
    Some(format!("{base}/{name}"))
}

fn rand_bytes() -> [u8; 8] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (t ^ (n << 48) ^ u64::from(std::process::id()) << 32).to_be_bytes()
}

/// With `LIVECHECK_TEST_STORE=postgres` every verifier the tests start keeps its checks
/// in PostgreSQL: a database of its own per data directory (a restart on the same
/// directory finds the same database), unless the test names one itself.
fn store_env(data_dir: &Path, env: &[(&str, &str)]) -> Option<String> {
    if std::env::var("LIVECHECK_TEST_STORE").as_deref() != Ok("postgres")
        || env.iter().any(|(k, _)| *k == "LIVECHECK_STORE_URL")
    {
        return None;
    }
    let kept = data_dir.join("test-postgres-url");
    if let Ok(url) = std::fs::read_to_string(&kept) {
        return Some(url);
    }
    let url = postgres_database().expect("LIVECHECK_TEST_STORE=postgres needs a cluster");
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(&kept, &url).unwrap();
    Some(url)
}

/// The PostgreSQL database the verifiers on `data_dir` keep their checks in, when the
/// tests run on PostgreSQL (`store_env`); the command line's `keys` needs it too.
pub fn postgres_of(data_dir: &Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join("test-postgres-url")).ok()
}

/// Runs one statement on `url`'s database.
pub fn postgres_execute(
    url: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.execute(sql, params).await.unwrap()
    })
}

pub fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(rel)
}

pub struct Verifier {
    pub child: Child,
    pub base: String,
    pub api_key: String,
    pub data_dir: PathBuf,
    pub http: reqwest::blocking::Client,
    /// The PostgreSQL database it keeps its checks in, if not SQLite.
    store_url: Option<String>,
    /// Removed after the process is stopped (fields drop after `Drop::drop`).
    _temp: Option<tempfile::TempDir>,
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Verifier {
    /// As `start`, in a data directory of its own that goes with it.
    pub fn start_temp(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Self::start(dir.path(), env);
        v._temp = Some(dir);
        v
    }

    /// Starts `livecheck-verifier serve --demo` on port 0 and waits until it is ready.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_binary(
            Path::new(env!("CARGO_BIN_EXE_livecheck-verifier")),
            data_dir,
            env,
        )
    }

    /// As `start`, with the binary at `bin` (a copy elsewhere).
    pub fn start_binary(bin: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let v = Self::spawn_binary(bin, data_dir, env);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, ready) = v.readiness();
            if status == Some(200) {
                break;
            }
            // Models that failed to load never will: say so now, with the verifier's log.
            assert!(
                ready["models"] != "failed",
                "the verifier's models failed to load: {ready}\n{}",
                std::fs::read_to_string(data_dir.join("verifier.log")).unwrap_or_default()
            );
            assert!(
                Instant::now() < deadline,
                "verifier never became ready: {ready}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        v
    }

    /// `/readyz`'s status and body (no status while the verifier does not answer).
    pub fn readiness(&self) -> (Option<u16>, Value) {
        match self.http.get(self.url("/readyz")).send() {
            Ok(r) => (Some(r.status().as_u16()), r.json().unwrap_or(Value::Null)),
            Err(_) => (None, Value::Null),
        }
    }

    /// Starts the binary at `bin` and returns once it listens, ready or not.
    pub fn spawn_binary(bin: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--demo", "--data-dir"])
            .arg(data_dir)
            .env("LIVECHECK_WEBHOOKS_POLL_INTERVAL", "100ms")
            .env("LIVECHECK_CHECKS_SWEEP_INTERVAL", "300ms")
            .env("LIVECHECK_LOG", "warn")
            // The test's webhook receiver listens on 127.0.0.1.
            .env("LIVECHECK_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data_dir.join("verifier.log")).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let store_url = store_env(data_dir, env).or_else(|| {
            env.iter()
                .find(|(k, _)| *k == "LIVECHECK_STORE_URL")
                .map(|(_, v)| v.to_string())
        });
        if let Some(url) = &store_url {
            cmd.env("LIVECHECK_STORE_URL", url);
        }
        let mut child = cmd.spawn().expect("start livecheck-verifier");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let listen = lines.next().unwrap().unwrap();
        let base = listen
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line was {listen:?}"))
            .to_string();
        let key_line = lines.next().unwrap().unwrap();
        let api_key = key_line
            .strip_prefix("demo api key: ")
            .unwrap_or_else(|| panic!("second line was {key_line:?}"))
            .to_string();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            child,
            base,
            api_key,
            data_dir: data_dir.to_path_buf(),
            http,
            store_url,
            _temp: None,
        }
    }

    /// This verifier's PostgreSQL database, when it keeps its checks there.
    pub fn postgres(&self) -> Option<String> {
        self.store_url.clone()
    }

    /// Ends an Azure session's auth-token lifetime now, in the store itself.
    pub fn expire_session(&self, session_id: &str) {
        let n = match self.postgres() {
            Some(url) => postgres_execute(
                &url,
                "UPDATE liveness_sessions SET body = jsonb_set(body::jsonb, '{expires_at}', \
                 '\"2001-01-01T00:00:00Z\"')::text WHERE id = $1",
                &[&session_id],
            ),
            None => {
                let db =
                    rusqlite::Connection::open(self.data_dir.join("livecheck.sqlite3")).unwrap();
                db.busy_timeout(Duration::from_secs(5)).unwrap();
                db.execute(
                    "UPDATE liveness_sessions SET body = json_set(body, '$.expires_at', \
                     '2001-01-01T00:00:00Z') WHERE id = ?1",
                    [session_id],
                )
                .unwrap() as u64
            }
        };
        assert_eq!(n, 1);
    }

    /// The verifier process's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.api_key)
            .send()
            .unwrap();
        status_json(r)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .unwrap();
        status_json(r)
    }

    /// `PUT /liveness_check/{id}/reference` with raw image bytes.
    pub fn put_reference(
        &self,
        check_id: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> (u16, Value) {
        let r = self
            .http
            .put(self.url(&format!("/liveness_check/{check_id}/reference")))
            .bearer_auth(&self.api_key)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .unwrap();
        status_json(r)
    }

    pub fn create(&self, body: Value) -> Value {
        let (s, v) = self.post("/liveness_check", &body);
        assert_eq!(s, 201, "{v}");
        v
    }

    /// Moves a check's link expiry into the past, as if its validity ran out.
    pub fn expire_now(&self, check_id: &str) {
        let past = chrono::Utc::now().timestamp_millis() - 1000;
        if let Some(url) = self.postgres() {
            let n = postgres_execute(
                &url,
                "UPDATE checks SET expires_at = $1 WHERE id = $2",
                &[&past, &check_id],
            );
            assert_eq!(n, 1);
            return;
        }
        let db = rusqlite::Connection::open(self.data_dir.join("livecheck.sqlite3")).unwrap();
        db.busy_timeout(Duration::from_secs(5)).unwrap();
        let n = db
            .execute(
                "UPDATE checks SET expires_at = ?1 WHERE id = ?2",
                rusqlite::params![past, check_id],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}

pub fn status_json(r: reqwest::blocking::Response) -> (u16, Value) {
    let s = r.status().as_u16();
    let text = r.text().unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if s >= 400 {
        // Every error has the one shape.
        assert!(v["code"].is_string(), "{v}");
        assert!(v["message"].is_string(), "{v}");
        assert!(!v["request_id"].as_str().unwrap_or("").is_empty(), "{v}");
    }
    (s, v)
}

/// A browser holding a claimed link: a client that follows the documented protocol
/// (signed frames, real time, challenges asked for one at a time), as the SDK does but
/// without a browser. Attack tests use it to send what they like.
pub struct Capture<'a> {
    pub v: &'a Verifier,
    pub link: String,
    pub client_token: String,
    /// The session's frame-signing key, hex, as the claim gave it.
    pub frame_key: String,
    pub script: ChallengeScript,
    pub signer: FrameSigner,
    /// The client's clock: it starts as the claim answers, as the SDK's does.
    pub start: Instant,
    /// When the claim was sent: the verifier's clock starts between this and `start`.
    pub claim_sent: Instant,
    /// Frames are tagged with this challenge index (how the next one is asked for).
    pub index: Option<u16>,
    /// The verifier's latest answer to a frame.
    pub cue: Cue,
}

pub fn link_of(created: &Value) -> String {
    created["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

impl<'a> Capture<'a> {
    pub fn claim(v: &'a Verifier, created: &Value) -> Self {
        Self::claim_with(v, created, None)
    }

    /// Claims with a JSON body (e.g. `{"light_opt_out": true}`).
    pub fn claim_with(v: &'a Verifier, created: &Value, body: Option<Value>) -> Self {
        let link = link_of(created);
        let mut req = v.http.post(v.url(&format!("/capture/{link}/claim")));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let claim_sent = Instant::now();
        let (s, body) = status_json(req.send().unwrap());
        let start = Instant::now();
        assert_eq!(s, 200, "{body}");
        let script: ChallengeScript = serde_json::from_value(body["script"].clone()).unwrap();
        let key = hex::decode(body["frame_key"].as_str().unwrap()).unwrap();
        let signer = FrameSigner::new(&key, &script.session_id, &script.nonce).unwrap();
        Self {
            v,
            link,
            client_token: body["client_token"].as_str().unwrap().to_string(),
            frame_key: body["frame_key"].as_str().unwrap().to_string(),
            script,
            signer,
            start,
            claim_sent,
            index: None,
            cue: Cue::default(),
        }
    }

    /// Waits until `t_ms` has passed on the client's clock.
    pub fn wait_until(&self, t_ms: u64) {
        let due = self.start + Duration::from_millis(t_ms);
        if let Some(left) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(left);
        }
    }

    /// Challenges revealed so far.
    pub fn revealed(&self) -> u16 {
        self.cue.challenge.map(|c| c.index + 1).unwrap_or(0)
    }

    pub fn send_raw(&self, envelope: &Value, bytes: Vec<u8>, content_type: &str) -> (u16, Value) {
        status_json(
            self.v
                .http
                .post(self.v.url(&format!("/capture/{}/frames", self.link)))
                .bearer_auth(&self.client_token)
                .header("content-type", content_type)
                .header("livecheck-envelope", envelope.to_string())
                .body(bytes)
                .send()
                .unwrap(),
        )
    }

    /// Signs and uploads one JPEG frame taken at `t_ms`, once that time has come (a
    /// camera cannot send a frame before it took it).
    pub fn upload(&mut self, t_ms: u64, jpeg: &[u8]) -> (u16, Value) {
        self.wait_until(t_ms);
        self.upload_now(t_ms, jpeg)
    }

    /// Signs and uploads at once, whatever the time (as an attacker may). The signer
    /// moves on only when the verifier accepts the frame, as its chain does.
    pub fn upload_now(&mut self, t_ms: u64, jpeg: &[u8]) -> (u16, Value) {
        let mut signer = self.signer.clone();
        let env = signer.sign(t_ms, self.index, jpeg).unwrap();
        let (s, body) = self.send_raw(&json!(env), jpeg.to_vec(), "image/jpeg");
        if s == 201 {
            self.signer = signer;
            self.cue = serde_json::from_value(body.clone()).unwrap();
        }
        (s, body)
    }

    /// Plays frames at real speed, asking for challenge `i` once `ask_at[i]` ms have
    /// passed (and the one before it was revealed), as the SDK moves on when it has
    /// seen an action. Like the SDK, a frame that would go out more than 1.5 s after
    /// it was taken (the uploads fell behind) is dropped, not sent late. Every frame
    /// sent must be accepted.
    pub fn play(&mut self, frames: &[(u64, Vec<u8>)], ask_at: &[u64]) {
        let v = self.v;
        self.play_across(&[v], frames, ask_at);
    }

    /// As `play`, frame `i` sent to `verifiers[i % n]` (replicas behind a round-robin
    /// balancer); the capture stays on the last one used.
    pub fn play_across(
        &mut self,
        verifiers: &[&'a Verifier],
        frames: &[(u64, Vec<u8>)],
        ask_at: &[u64],
    ) {
        for (i, (t, jpeg)) in frames.iter().enumerate() {
            self.v = verifiers[i % verifiers.len()];
            self.wait_until(*t);
            let elapsed = self.start.elapsed().as_millis() as u64;
            if elapsed > t + 1500 {
                continue;
            }
            // By the clock, not by the frame's time: when the uploads fall behind, the
            // next challenge is still asked for when the recording is about to act.
            self.ask(elapsed, ask_at);
            let (s, body) = self.upload_now(*t, jpeg);
            assert_eq!(s, 201, "frame at {t} ms: {body}");
        }
    }

    /// Tags the next frames with the challenge `ask_at` calls for at `ms` after the
    /// claim, never more than one past those revealed.
    pub fn ask(&mut self, ms: u64, ask_at: &[u64]) {
        let wanted = ask_at.iter().filter(|&&a| a <= ms).count() as u16;
        self.index = wanted.min(self.revealed() + 1).checked_sub(1);
    }

    /// Starts the next attempt the last finish offered: a new script and nonce (so a
    /// new signer) and a new clock, under the same client token and frame key.
    pub fn retry(&mut self) -> (u16, Value) {
        let (s, body) = status_json(
            self.v
                .http
                .post(self.v.url(&format!("/capture/{}/retry", self.link)))
                .bearer_auth(&self.client_token)
                .send()
                .unwrap(),
        );
        if s == 200 {
            self.start = Instant::now();
            self.script = serde_json::from_value(body["script"].clone()).unwrap();
            let key = hex::decode(&self.frame_key).unwrap();
            self.signer =
                FrameSigner::new(&key, &self.script.session_id, &self.script.nonce).unwrap();
            self.index = None;
            self.cue = Cue::default();
        }
        (s, body)
    }

    pub fn finish(&self) -> (u16, Value) {
        status_json(
            self.v
                .http
                .post(self.v.url(&format!("/capture/{}/finish", self.link)))
                .bearer_auth(&self.client_token)
                .send()
                .unwrap(),
        )
    }
}

/// Frames of an MJPEG clip, every `step`-th, with their capture times at 30 fps.
pub fn clip_frames(rel: &str, step: usize) -> Vec<(u64, Vec<u8>)> {
    clip_frames_from(rel, 0, step)
}

/// Every `step`-th frame from frame `first` (another take of the same clip: a camera
/// never sends the same bytes twice).
pub fn clip_frames_from(rel: &str, first: usize, step: usize) -> Vec<(u64, Vec<u8>)> {
    let bytes = std::fs::read(testdata(rel)).unwrap();
    livecheck_core::decode::split_mjpeg(&bytes)
        .iter()
        .enumerate()
        .skip(first)
        .step_by(step)
        .map(|(i, f)| ((i as u64 * 1000) / 30, f.to_vec()))
        .collect()
}

/// A still photo as a camera would deliver it: the same picture as a fresh JPEG each
/// frame (a corner block of sensor noise makes the bytes differ), 10 per second.
pub fn still_frames(rel: &str, seconds: u64) -> Vec<(u64, Vec<u8>)> {
    let img = image::open(testdata(rel)).unwrap().to_rgb8();
    (0..seconds * 10)
        .map(|i| {
            let mut frame = img.clone();
            for y in 0..8 {
                for x in 0..8 {
                    frame.put_pixel(
                        x,
                        y,
                        image::Rgb([(i * 6) as u8, (x * 9) as u8, (y * 9) as u8]),
                    );
                }
            }
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
                .encode_image(&frame)
                .unwrap();
            (i * 100, out)
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver: answers each POST with the next status of `script` (then 200).
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub answered: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    pub fn start(script: Vec<u16>) -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    pub fn start_on(listener: TcpListener, script: Vec<u16>) -> Self {
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(Mutex::new(Vec::new()));
        let (r, a) = (received.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                let status = script.next().unwrap_or(200);
                r.lock().unwrap().push(req);
                a.lock().unwrap().push(status);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Self {
            url,
            received,
            answered,
        }
    }

    /// A receiver that takes `delay` to answer each request (each on its own thread, all
    /// 200): an attempt stays in flight that long, as with a real receiver's work.
    pub fn start_slow(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(Mutex::new(Vec::new()));
        let (r, a) = (received.clone(), answered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (r, a) = (r.clone(), a.clone());
                std::thread::spawn(move || {
                    let Some(req) = read_request(&mut stream) else {
                        return;
                    };
                    r.lock().unwrap().push(req);
                    std::thread::sleep(delay);
                    a.lock().unwrap().push(200);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                });
            }
        });
        Self {
            url,
            received,
            answered,
        }
    }

    /// Waits until `n` requests arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} webhook requests arrived",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Received { headers, body })
}

/// A picture as a camera pointed at it would send it, the `i`-th time: shifted by a
/// pixel or so, with fresh noise (±4), through JPEG at quality 90. What an injecting
/// client sends to make one picture look like many frames.
pub fn camera_copy(img: &image::RgbImage, i: u64) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let dx = ((i as f32 / 5.0).sin() * 1.5).round() as i64;
    let dy = (i as f32 / 7.0).cos().round() as i64;
    let mut seed = (i as u32 + 7).wrapping_mul(2_654_435_761);
    let frame = image::RgbImage::from_fn(w, h, |x, y| {
        let sx = (x as i64 - dx).clamp(0, w as i64 - 1) as u32;
        let sy = (y as i64 - dy).clamp(0, h as i64 - 1) as u32;
        let p = img.get_pixel(sx, sy).0;
        image::Rgb(p.map(|c| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            c.saturating_add((seed % 9) as u8).saturating_sub(4)
        }))
    });
    jpeg(&frame, 90)
}

pub fn jpeg(img: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

pub fn rgb(rel: &str) -> image::RgbImage {
    image::open(testdata(rel)).unwrap().to_rgb8()
}

/// A recorded frame lit by the screen's `colour` with core's reflection model
/// (`light::light_face`, strength 0.2) over the face `bbox`, as JPEG at the SDK's quality.
pub fn lit(
    jpeg_bytes: &[u8],
    bbox: &livecheck_core::geometry::BoundingBox,
    colour: [u8; 3],
) -> Vec<u8> {
    let mut img = livecheck_core::decode::decode(jpeg_bytes).unwrap();
    livecheck_core::light::light_face(&mut img, bbox, colour, 0.2);
    let rgba = image::RgbaImage::from_raw(img.width, img.height, img.data).unwrap();
    jpeg(&image::DynamicImage::ImageRgba8(rgba).to_rgb8(), 92)
}
