// models/fetch.sh from public origins (no browser): a local HTTP server stands in for the
// upstream hosts (these machines reach only package registries), serving each origin
// file at its upstream path; the mirror is absent. The three files upstream ships as ONNX
// arrive and are checked; the conversions are named as missing, with the build to ask for; a file
// whose bytes differ from the manifest's sha256 is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, existsSync, readdirSync } from "node:fs";
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
function fetchModels(cache) {
  return new Promise((resolve) => {
    execFile(join(ROOT, "models", "fetch.sh"), [], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, LIVECHECK_MODEL_MIRROR: join(cache, "no-mirror"), LIVECHECK_MODEL_ORIGIN: origin,
        LIVECHECK_MODEL_CACHE: cache, LIVECHECK_MODEL_BUILD: "0" },
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
    if (m.origin.build) assert.match(r.stderr, /build models\/build\/mediapipe\.sh \(LIVECHECK_MODEL_BUILD=1\)/);
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
