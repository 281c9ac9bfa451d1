// Passive checks through the hosted page: no prompts, a 3 s hold; a live face passes,
// a printed photo held up to the camera does not.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  startVerifier, launch, newPage, recordGuidance, guidance, withDiagnostics,
  photoFrames, writeClip, TESTDATA, CLIPS,
} from "./harness.mjs";

const CHALLENGE_PROMPTS = ["blink", "turn_left", "turn_right", "look_up", "smile", "open_mouth"];
let verifier;
before(async () => {
  verifier = await startVerifier();
});
after(async () => verifier?.stop());

async function passive(clip, tag) {
  const check = await verifier.create({ return_url: `${verifier.url}/healthz?from=${tag}`, mode: "passive" });
  const browser = await launch(clip);
  const page = await newPage(browser);
  await recordGuidance(page);
  try {
    await page.goto(check.url);
    assert.match(await page.locator("#lc-status").textContent(), /hold still/);
    await withDiagnostics(page, async () => {
      await page.click("#lc-start");
      await Promise.race([
        page.waitForURL(new RegExp(`/healthz\\?from=${tag}&lc_token=`), { timeout: 120_000 }),
        page.locator(".lc-continue").waitFor({ state: "visible", timeout: 120_000 }),
      ]);
    });
    const seen = await guidance(page).catch(() => []);
    const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
    return { seen, result: result.body, url: page.url() };
  } finally {
    await browser.close();
  }
}

test("passive, d18 as the camera: no challenge prompted, passed, back at return_url", async () => {
  const { seen, result, url } = await passive(CLIPS.d18, "live");
  assert.ok(seen.includes("hold_steady"), seen.join(" "));
  assert.ok(!seen.some((g) => CHALLENGE_PROMPTS.includes(g)), seen.join(" "));
  assert.equal(result.mode, "passive");
  assert.deepEqual(result.script, []);
  assert.equal(result.passed, true, JSON.stringify(result));
  assert.equal(result.live_signs.present, true);
  assert.ok(new URL(url).searchParams.get("lc_token"));
});

test("passive, a printed photo held up to the camera: not passed", async () => {
  const browser = await launch(null);
  const frames = await photoFrames(browser, join(TESTDATA, "spoof", "silentface_F1_print_upright.jpg"));
  await browser.close();
  const { result } = await passive(writeClip(frames), "print");
  assert.equal(result.passed, false, JSON.stringify(result));
  assert.ok(["spoof_detected", "no_live_motion"].includes(result.failure_reason), result.failure_reason);
  assert.equal(result.live_signs.present, false, JSON.stringify(result.live_signs));
});
