// The npm package as an integrator uses it: `npm pack`, installed into a plain site on
// another origin, imported through an import map, calling the verifier across origins.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync, cpSync } from "node:fs";
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

// The package's other ways in, each on its own page of the same site. Every page keeps
// the camera streams it was given (to check that destroy() stops them) and themes the
// SDK through a custom property.
const KEEP_STREAMS = `<script>
window.__streams = [];
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (c) => { const s = await gum(c); window.__streams.push(s); return s; };
window.__live = () => window.__streams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === "live").length;
</script>`;
const IMPORTS = `<script type="importmap">{"imports":{
"@livecheck/sdk":"/node_modules/@livecheck/sdk/livecheck_sdk.js",
"@livecheck/sdk/element":"/node_modules/@livecheck/sdk/element.js",
"@livecheck/react":"/node_modules/@livecheck/react/index.js",
"react":"/react-shim.js"}}</script>`;

// Livecheck.mount / destroy, preload, LivecheckError, theming.
const API_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>API</title>
${IMPORTS}${KEEP_STREAMS}</head><body><div id="liveness" style="--lc-warn: rgb(1, 2, 3)"></div>
<script type="module">
import init, { Livecheck, LivecheckError, preload } from "@livecheck/sdk";
await init();
window.__sdk = { Livecheck, LivecheckError, preload };
window.__ready = true;
</script></body></html>`;

// <livecheck-capture>.
const ELEMENT_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Element</title>
${IMPORTS}${KEEP_STREAMS}</head><body>
<script type="module">
import "@livecheck/sdk/element";
window.__prompts = [];
const el = document.createElement("livecheck-capture");
el.setAttribute("link", new URLSearchParams(location.search).get("link"));
el.setAttribute("language", "de");
document.body.addEventListener("livecheck-prompt", (e) => window.__prompts.push(e.detail.code));
document.body.addEventListener("livecheck-error", (e) => { window.__error = e.detail.code; });
document.body.append(el);
window.__element = el;
</script></body></html>`;

// @livecheck/react under StrictMode (mount, unmount, mount), React 18's UMD build as the app's.
const REACT_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>React</title>
<script src="/node_modules/react/umd/react.production.min.js"></script>
<script src="/node_modules/react-dom/umd/react-dom.production.min.js"></script>
${IMPORTS}${KEEP_STREAMS}</head><body><div id="app"></div>
<script type="module">
import { createElement, StrictMode } from "react";
import { LivecheckCapture } from "@livecheck/react";
window.__prompts = [];
const root = ReactDOM.createRoot(document.getElementById("app"));
root.render(createElement(StrictMode, null, createElement(LivecheckCapture, {
  link: new URLSearchParams(location.search).get("link"),
  onPrompt: (p) => window.__prompts.push(p.code),
  onError: (e) => { window.__error = e.code; },
})));
window.__unmount = () => root.unmount();
</script></body></html>`;

const REACT_SHIM = "const R = window.React; export default R; export const { createElement, useEffect, useRef, StrictMode } = R;\n";

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

let verifier, site, siteUrl, tarball, reactFiles;
before(async () => {
  verifier = await startVerifier();
  const dir = mkdtempSync(join(tmpdir(), "lc-site-"));
  const packed = execFileSync("npm", ["pack", join(ROOT, "sdk-wasm", "pkg"), "--pack-destination", dir, "--json"], { encoding: "utf8" });
  tarball = JSON.parse(packed)[0];
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "shop", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", join(dir, tarball.filename)], { cwd: dir, stdio: "ignore" });
  const react = JSON.parse(execFileSync("npm", ["pack", join(ROOT, "sdk-wasm", "react"), "--pack-destination", dir, "--json"], { encoding: "utf8" }))[0];
  reactFiles = react.files.map((f) => f.path).sort();
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--offline", "--legacy-peer-deps", join(dir, react.filename)], { cwd: dir, stdio: "ignore" });
  // The app's own React (the UMD build a plain page loads), from the workspace's.
  for (const pkg of ["react", "react-dom"]) {
    cpSync(join(ROOT, "node_modules", pkg), join(dir, "node_modules", pkg), { recursive: true });
  }
  writeFileSync(join(dir, "index.html"), PAGE);
  writeFileSync(join(dir, "api.html"), API_PAGE);
  writeFileSync(join(dir, "element.html"), ELEMENT_PAGE);
  writeFileSync(join(dir, "react.html"), REACT_PAGE);
  writeFileSync(join(dir, "react-shim.js"), REACT_SHIM);
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
  for (const f of ["livecheck_sdk.js", "livecheck_sdk.d.ts", "livecheck_sdk_bg.wasm", "error.js", "element.js", "element.d.ts", "package.json", "README.md", "LICENSE"]) {
    assert.ok(files.includes(f), `${f} in ${files}`);
  }
  // The package's README stands alone: no links into a repository it is not in.
  const readme = readFileSync(join(ROOT, "sdk-wasm", "pkg", "README.md"), "utf8");
  assert.ok(!/\]\(\.\.?\//.test(readme), "a relative link in the package README");
  assert.ok(!files.some((f) => /\.(jpe?g|png|mjpeg|y4m|mp4|onnx)$/i.test(f)), files.join(" "));
  assert.deepEqual(reactFiles, ["LICENSE", "README.md", "index.d.ts", "index.js", "package.json"]);
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

/** Waits for the SDK's root in `page` to show `guidance`. */
const guided = (page, guidance) => page.waitForFunction(
  (g) => document.querySelector(".lc-root")?.dataset.guidance === g, guidance, { timeout: 60_000 });

test("mount, theme, destroy before the claim: the camera stops, the UI goes, the link stays usable; preload fetches the models once; LivecheckError is a class", async () => {
  const check = await verifier.create({ return_url: `${siteUrl}done` });
  const browser = await launch(null);
  const page = await newPage(browser);
  try {
    await page.goto(`${siteUrl}api.html`);
    await withDiagnostics(page, async () => {
      await page.waitForFunction(() => window.__ready, null, { timeout: 30_000 });
      // A real class: instanceof, for an error of the SDK's own making.
      const err = await page.evaluate(async () => {
        try { await window.__sdk.Livecheck.start({}); } catch (e) {
          return { cls: e instanceof window.__sdk.LivecheckError, error: e instanceof Error, name: e.name, code: e.code };
        }
        return null;
      });
      assert.deepEqual(err, { cls: true, error: true, name: "LivecheckError", code: "invalid_link" });

      await page.evaluate(async (link) => {
        await window.__sdk.preload(link);
        window.__capture = window.__sdk.Livecheck.mount({ link, container: "#liveness" });
        window.__capture.result.catch((e) => { window.__error = { cls: e instanceof window.__sdk.LivecheckError, code: e.code }; });
      }, check.url);
      await guided(page, "face_not_found");
      // Themed through a custom property on the container (the frame's colour eases in
      // over 0.6 s).
      await page.waitForFunction(
        () => getComputedStyle(document.querySelector(".lc-stage")).borderTopColor === "rgb(1, 2, 3)",
        null, { timeout: 5_000 });
      assert.equal(await page.evaluate(() => window.__live()), 1);

      await page.evaluate(() => window.__capture.destroy());
      assert.equal(await page.locator(".lc-root").count(), 0, "the UI is gone at once");
      assert.equal(await page.evaluate(() => window.__live()), 0, "the camera is stopped at once");
      await page.waitForFunction(() => window.__error, null, { timeout: 10_000 });
      assert.deepEqual(await page.evaluate(() => window.__error), { cls: true, code: "cancelled" });
      // The models came once: preload's download served the capture too.
      const models = await page.evaluate(() => performance.getEntriesByType("resource")
        .filter((r) => r.name.includes("/models/")).length);
      assert.equal(models, 3);

      // Not claimed, so not cancelled: the same link mounts again.
      await page.evaluate((link) => { window.__again = window.__sdk.Livecheck.mount({ link, container: "#liveness" }); }, check.url);
      await guided(page, "face_not_found");
      await page.evaluate(() => window.__again.destroy());
    });
  } finally {
    await browser.close();
  }
  const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
  assert.equal(result.body.status, "pending");
});

test("<livecheck-capture>: mounts on connect in its language, emits prompts, and removing it stops the camera", async () => {
  const check = await verifier.create({ return_url: `${siteUrl}done` });
  const browser = await launch(null);
  const page = await newPage(browser);
  try {
    await page.goto(`${siteUrl}element.html?link=${encodeURIComponent(check.url)}`);
    await withDiagnostics(page, async () => {
      await guided(page, "face_not_found");
      assert.ok((await page.evaluate(() => window.__prompts)).includes("face_not_found"));
      assert.equal(await page.locator("livecheck-capture .lc-root").getAttribute("lang"), "de");
      assert.equal(await page.evaluate(() => window.__live()), 1);
      await page.evaluate(() => window.__element.remove());
      assert.equal(await page.locator(".lc-root").count(), 0);
      assert.equal(await page.evaluate(() => window.__live()), 0);
    });
  } finally {
    await browser.close();
  }
});

test("@livecheck/react under StrictMode: the double mount leaves the link usable, and unmounting stops the camera", async () => {
  const check = await verifier.create({ return_url: `${siteUrl}done` });
  const browser = await launch(null);
  const page = await newPage(browser);
  try {
    await page.goto(`${siteUrl}react.html?link=${encodeURIComponent(check.url)}`);
    await withDiagnostics(page, async () => {
      await guided(page, "face_not_found");
      assert.equal(await page.locator(".lc-root").count(), 1, "one SDK mounted after StrictMode's second mount");
      assert.equal(await page.evaluate(() => window.__error), undefined);
      assert.equal(await page.evaluate(() => window.__live()), 1);
      await page.evaluate(() => window.__unmount());
      assert.equal(await page.locator(".lc-root").count(), 0);
      assert.equal(await page.evaluate(() => window.__live()), 0);
    });
  } finally {
    await browser.close();
  }
  const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
  assert.equal(result.body.status, "pending");
});
