// A camera that stops changing (a still image fed as a camera, a paused or hung one):
// the hosted page says what happened instead of "we can't see a face", and ends with
// one way on, never both "reload" and an automatic return.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startVerifier, launch, newPage, recordGuidance, guidance, withDiagnostics, writeClip, CLIPS } from "./harness.mjs";

let verifier;
before(async () => {
  verifier = await startVerifier();
});
after(async () => verifier?.stop());

/** d18's first frame, again and again: a face, in pixels that never change. */
function frozenClip() {
  const clip = readFileSync(CLIPS.d18);
  const end = clip.indexOf(Buffer.from([0xff, 0xd9])) + 2;
  return writeClip(Array(30).fill(clip.subarray(0, end)));
}

test("a frozen camera: camera_frozen, not face_not_found, then back to the service without a reload request", async () => {
  const check = await verifier.create({
    return_url: `${verifier.url}/healthz?from=frozen`,
    cancel_url: `${verifier.url}/healthz?from=frozen-back`,
  });
  const browser = await launch(frozenClip());
  const page = await newPage(browser);
  await recordGuidance(page);
  try {
    await page.goto(check.url);
    await withDiagnostics(page, async () => {
      await page.click("#lc-start");
      await page.waitForFunction(
        () => document.getElementById("lc-capture")?.dataset.error,
        null,
        { timeout: 60_000 },
      );
    });
    const code = await page.evaluate(() => document.getElementById("lc-capture").dataset.error);
    const said = await page.locator("#lc-status").textContent();
    const seen = await guidance(page);
    assert.equal(code, "camera_frozen", `${said} | ${seen.join(" ")}`);
    assert.ok(seen.includes("camera_frozen"), seen.join(" "));
    assert.ok(!seen.includes("face_not_found"), seen.join(" "));
    assert.match(said, /stopped changing/);
    assert.match(said, /Taking you back/);
    assert.doesNotMatch(said, /reload/i);
    // One live region speaks, the specific message has the focus, and the frame's
    // warning shows in shape too (a dashed border and a "!" badge), not colour alone.
    const a11y = await page.evaluate(() => ({
      speaking: [...document.querySelectorAll("[aria-live]")]
        .filter((e) => !e.hidden && e.textContent.trim())
        .map((e) => e.textContent.trim()),
      focused: document.activeElement?.id,
      border: getComputedStyle(document.querySelector(".lc-stage")).borderTopStyle,
      badge: getComputedStyle(document.querySelector(".lc-badge"), "::after").content,
    }));
    assert.deepEqual(a11y.speaking, [said.trim()], JSON.stringify(a11y));
    assert.equal(a11y.focused, "lc-status");
    assert.equal(a11y.border, "dashed");
    assert.equal(a11y.badge, '"!"');
    await page.waitForURL(/\/healthz\?from=frozen-back/, { timeout: 20_000 });
  } finally {
    await browser.close();
  }
  // It ended before the capture: the Back path cancelled the unused link.
  const result = await verifier.api("GET", `/liveness_check/${check.id}`);
  assert.equal(result.body.status, "cancelled", JSON.stringify(result.body));
});
