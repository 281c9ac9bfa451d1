// The npm package as an integrator uses it: `npm pack`, installed into a plain site on
// another origin, imported through an import map, calling the verifier across origins.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, extname, normalize } from "node:path";
import { startVerifier, launch, newPage, withDiagnostics, ROOT, CLIPS } from "./harness.mjs";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A shop</title>
<script type="importmap">{"imports":{"@livecheck/sdk":"/node_modules/@livecheck/sdk/livecheck_sdk.js"}}</script>
</head><body><h1>Verify it's you</h1><div id="liveness"></div>
<script type="module">
import init, { Livecheck, defaultTexts, version } from "@livecheck/sdk";
const q = new URLSearchParams(location.search);
window.__prompts = [];
await init();
window.__info = { version: version(), blink: defaultTexts().blink };
try {
  window.__result = await Livecheck.start({
    link: q.get("link"),
    container: "#liveness",
    faceTimeoutMs: Number(q.get("timeout") || 30000),
    locale: { blink: "Clignez des yeux." },
    onPrompt: (p) => window.__prompts.push(p),
  });
} catch (e) {
  window.__error = { name: e.name, code: e.code, message: e.message };
}
</script></body></html>`;

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

let verifier, site, siteUrl, tarball;
before(async () => {
  verifier = await startVerifier();
  const dir = mkdtempSync(join(tmpdir(), "lc-site-"));
  const packed = execFileSync("npm", ["pack", join(ROOT, "sdk-wasm", "pkg"), "--pack-destination", dir, "--json"], { encoding: "utf8" });
  tarball = JSON.parse(packed)[0];
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "shop", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", join(dir, tarball.filename)], { cwd: dir, stdio: "ignore" });
  writeFileSync(join(dir, "index.html"), PAGE);
  site = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url, "http://x").pathname)));
    const file = path.endsWith("/") ? join(path, "index.html") : path;
    if (!file.startsWith(dir) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": TYPES[extname(file)] || "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  siteUrl = `http://127.0.0.1:${site.address().port}/`;
});
after(async () => {
  site?.close();
  await verifier?.stop();
});

test("the packed tarball holds the module, its types, the wasm and its licence, and no test media", () => {
  const files = tarball.files.map((f) => f.path).sort();
  for (const f of ["livecheck_sdk.js", "livecheck_sdk.d.ts", "livecheck_sdk_bg.wasm", "package.json", "README.md", "LICENSE"]) {
    assert.ok(files.includes(f), `${f} in ${files}`);
  }
  // The package's README stands alone: no links into a repository it is not in.
  const readme = readFileSync(join(ROOT, "sdk-wasm", "pkg", "README.md"), "utf8");
  assert.ok(!/\]\(\.\.?\//.test(readme), "a relative link in the package README");
  assert.ok(!files.some((f) => /\.(jpe?g|png|mjpeg|y4m|mp4|onnx)$/i.test(f)), files.join(" "));
  const types = readFileSync(join(ROOT, "sdk-wasm", "pkg", "livecheck_sdk.d.ts"), "utf8");
  for (const t of ["StartOptions", "LivecheckResult", "LivecheckError", "ErrorCode", "GuidanceCode", "Promise<LivecheckResult>"]) {
    assert.ok(types.includes(t), `${t} in the .d.ts`);
  }
});

test("a plain page on another origin imports the package and completes a check (d18)", async () => {
  const check = await verifier.create({ return_url: `${siteUrl}done`, challenges: ["BLINK", "SMILE"] });
  const browser = await launch(CLIPS.d18);
  const page = await newPage(browser);
  try {
    await page.goto(`${siteUrl}?link=${encodeURIComponent(check.url)}`);
    const outcome = await withDiagnostics(page, async () => {
      await page.waitForFunction(() => window.__result || window.__error, null, { timeout: 120_000 });
      return page.evaluate(() => ({ result: window.__result, error: window.__error, prompts: window.__prompts, info: window.__info }));
    });
    assert.equal(outcome.error, undefined, JSON.stringify(outcome.error));
    assert.equal(outcome.result.status, "completed");
    assert.equal(outcome.result.passed, true);
    assert.equal(outcome.result.lcToken.split(".").length, 3);
    assert.equal(outcome.info.version, "0.1.0");
    // The locale replaced one text; the others stay English.
    const blink = outcome.prompts.find((p) => p.code === "blink");
    assert.equal(blink?.text, "Clignez des yeux.");
    assert.equal(blink.challenge, "BLINK");
    assert.equal(outcome.prompts.find((p) => p.code === "smile")?.text, "Smile, then relax.");
    // The integrator's backend redeems the token once.
    const redeemed = await verifier.api("POST", "/liveness_check/redeem", { lc_token: outcome.result.lcToken });
    assert.equal(redeemed.status, 200);
    assert.equal(redeemed.body.passed, true);
  } finally {
    await browser.close();
  }
});

test("Chromium's default fake camera (no face): face_not_found guidance, then a clean timeout, link unused", async () => {
  const check = await verifier.create({ return_url: `${siteUrl}done` });
  const browser = await launch(null);
  const page = await newPage(browser);
  try {
    await page.goto(`${siteUrl}?timeout=4000&link=${encodeURIComponent(check.url)}`);
    const outcome = await withDiagnostics(page, async () => {
      await page.waitForFunction(() => window.__result || window.__error, null, { timeout: 60_000 });
      return page.evaluate(() => ({ error: window.__error, prompts: window.__prompts }));
    });
    assert.ok(outcome.prompts.some((p) => p.code === "face_not_found"), JSON.stringify(outcome.prompts));
    assert.equal(outcome.error.code, "timeout");
    assert.equal(outcome.error.name, "LivecheckError");
    assert.equal(await page.locator(".lc-root").getAttribute("data-guidance"), "error");
  } finally {
    await browser.close();
  }
  const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
  assert.equal(result.body.status, "pending", "a check that never saw a face does not use up its link");
});
