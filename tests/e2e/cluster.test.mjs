// Scaled out: scripts/cluster.sh runs PostgreSQL, two verifiers on one database and
// Debian's nginx balancing them round-robin on one port. A real capture in Chromium goes
// through the balancer, so its claim, frames and finish land on both verifiers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { launch, newPage, withDiagnostics, webhookReceiver, CLIPS, ROOT } from "./harness.mjs";

const VERIFIER = join(process.env.CARGO_TARGET_DIR || join(ROOT, "target"), "debug", "livecheck-verifier");

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

let cluster;
before(async () => {
  const port = await freePort();
  const child = spawn(join(ROOT, "scripts", "cluster.sh"), [String(port)], {
    env: { ...process.env, LIVECHECK_BIN: VERIFIER, LIVECHECK_WEBHOOKS_ALLOW_PRIVATE_TARGETS: "true" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const seen = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`cluster did not start: ${out}`)), 120_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`cluster.sh exited with ${code}: ${out}`));
    });
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const url = out.match(/listening on (http:\/\/\S+)/);
      const key = out.match(/demo api key: (\S+)/);
      const log = out.match(/access log: (\S+)/);
      if (url && key && log) {
        clearTimeout(timer);
        resolve({ url: url[1], key: key[1], log: log[1] });
      }
    });
  });
  cluster = {
    ...seen,
    async api(method, path, body) {
      const res = await fetch(seen.url + path, {
        method,
        headers: { authorization: `Bearer ${seen.key}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
    },
  };
  // Both verifiers' models loaded: round-robin reaches each in turn.
  for (let ready = 0, i = 0; ready < 4; i++) {
    assert.ok(i < 480, "the verifiers' models did not load");
    const r = await fetch(`${cluster.url}/readyz`);
    ready = r.ok ? ready + 1 : 0;
    if (!r.ok) await new Promise((r) => setTimeout(r, 250));
  }
});
after(async () => cluster?.stop());

test("d18 [BLINK, SMILE] through nginx round-robin over two verifiers on PostgreSQL: passed, one webhook", async () => {
  const hooks = await webhookReceiver();
  try {
    const created = await cluster.api("POST", "/liveness_check", {
      return_url: `${cluster.url}/healthz?shop=1`,
      webhook_url: hooks.url,
      challenges: ["BLINK", "SMILE"],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const check = created.body;
    assert.ok(check.url.startsWith(`${cluster.url}/l/`), check.url);
    const browser = await launch(CLIPS.d18);
    try {
      const page = await newPage(browser);
      await page.goto(check.url);
      await withDiagnostics(page, async () => {
        await page.click("#lc-start");
        await page.waitForURL(/\/healthz\?shop=1&lc_token=/, { timeout: 120_000 });
      });
    } finally {
      await browser.close();
    }
    const result = await cluster.api("GET", `/liveness_check/${check.id}`);
    assert.equal(result.body.status, "completed", JSON.stringify(result.body));
    assert.equal(result.body.passed, true);

    // The capture's requests went to both verifiers.
    const lines = readFileSync(cluster.log, "utf8").trim().split("\n").map((l) => l.split(" "));
    const served = (route) => new Set(lines.filter((l) => l[2] === route && l[3] < "300").map((l) => l[0]));
    assert.equal(served("capture_frames").size, 2, `frames served by ${[...served("capture_frames")]}`);
    assert.equal(served("capture_claim").size + served("capture_finish").size >= 2, true);

    // Decided once: one event, whichever verifier's outbox sent it.
    await hooks.waitFor((r) => JSON.parse(r.body).data?.check_id === check.id);
    await new Promise((r) => setTimeout(r, 1500));
    const events = hooks.received.map((r) => r.headers["webhook-id"]);
    assert.deepEqual(events.length, 1, `events: ${events}`);
  } finally {
    await hooks.close();
  }
});
