// The light challenge end to end: the hosted page paints the verifier's colours around
// the preview, and a camera that reacts to them decides the result. Chromium's fake
// camera cannot react to the screen, so these tests feed the page a scripted stream
// (harness `scriptedCamera`): d18's frames, the face lit by the colour on screen with
// core's documented reflection model, in time, late, or not at all.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startVerifier, launch, newPage, recordGuidance, guidance, withDiagnostics, clipFrames,
  scriptedCamera, CLIPS,
} from "./harness.mjs";

/** Where d18's face sits in its 640×480 frames (the detector's box, rounded). */
const D18_FACE = { x: 176, y: 150, width: 292, height: 350 };

let verifier;
let frames;
before(async () => {
  verifier = await startVerifier();
  frames = clipFrames(CLIPS.d18);
});
after(async () => verifier?.stop());

/** A passive check with the light challenge, captured with the camera lighting the face `delayMs` late (null: never). */
async function lightCapture(delayMs, { optOut = false } = {}) {
  const check = await verifier.create({
    return_url: `${verifier.url}/healthz?light=1`,
    mode: "passive",
    light_challenge: true,
  });
  const browser = await launch(null);
  const page = await newPage(browser);
  await recordGuidance(page);
  const light = delayMs === null ? null : { face: D18_FACE, delayMs };
  await scriptedCamera(page, frames, { light });
  const painted = [];
  await page.exposeFunction("__lcLight", (c) => painted.push(c));
  await page.addInitScript(() => {
    new MutationObserver((ms) => {
      for (const m of ms) window.__lcLight(m.target.getAttribute("data-light"));
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-light"] });
  });
  try {
    await page.goto(check.url);
    await withDiagnostics(page, async () => {
      // The page says what will happen and offers a way round it.
      assert.match(await page.locator("#lc-status").textContent(), /five colours/);
      assert.equal(await page.locator("#lc-start-plain").isVisible(), true);
      await page.click(optOut ? "#lc-start-plain" : "#lc-start");
      await Promise.race([
        page.waitForURL(/\/healthz\?light=1&lc_token=/, { timeout: 120_000 }),
        page.locator(".lc-continue").waitFor({ state: "visible", timeout: 120_000 }),
      ]);
    });
    const seen = await guidance(page).catch(() => []);
    const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
    return { result: result.body, seen, painted: painted.filter(Boolean) };
  } finally {
    await browser.close();
  }
}

test("light challenge: a face lit by the screen's colours in time passes", async () => {
  const { result, seen, painted } = await lightCapture(0);
  assert.equal(result.passed, true, JSON.stringify({ ...result, models: undefined }));
  assert.equal(result.light_challenge.result.passed, true);
  assert.equal(result.light_challenge.result.steps_measured, 5);
  // Five colours were painted, none a saturated red, and the user was told to hold still.
  assert.equal(new Set(painted).size, 5, painted.join(" "));
  for (const c of painted) {
    const [r, g, b] = c.split(",").map(Number);
    assert.ok(r / (r + g + b) < 0.8, c);
  }
  assert.ok(seen.includes("light"), seen.join(" "));
});

test("light challenge: the same clip without the response fails", async () => {
  const { result } = await lightCapture(null);
  assert.equal(result.passed, false);
  assert.equal(result.failure_reason, "light_not_reflected", JSON.stringify(result.light_challenge));
});

test("light challenge: the response 1.5 s late fails", async () => {
  const { result } = await lightCapture(1500);
  assert.equal(result.passed, false);
  assert.equal(result.failure_reason, "light_not_reflected", JSON.stringify(result.light_challenge));
});

test("light challenge: declined on the page, no colours are shown and the result says so", async () => {
  const { result, painted } = await lightCapture(null, { optOut: true });
  assert.deepEqual(painted, []);
  assert.equal(result.passed, true, JSON.stringify({ ...result, models: undefined }));
  assert.deepEqual(result.light_challenge, { opted_out: true, result: null });
});
