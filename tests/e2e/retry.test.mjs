// A retry within one check, on the hosted page: d18 never turns its head, so TURN_LEFT is
// missed; the SDK says so (not "could not confirm a live person"), offers Try again with the
// focus on it, and the second attempt, refused the same way, ends the check with both
// attempts in the result.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startVerifier, launch, newPage, recordGuidance, guidance, withDiagnostics, CLIPS,
} from "./harness.mjs";

let verifier;
before(async () => {
  verifier = await startVerifier();
});
after(async () => verifier?.stop());

test("a missed challenge: the reason, Try again, a second attempt, both attempts in the result", async () => {
  const check = await verifier.create({
    return_url: `${verifier.url}/healthz?from=retry`,
    cancel_url: `${verifier.url}/healthz?from=retry-cancelled`,
    challenges: ["TURN_LEFT"],
    max_attempts: 2,
  });
  const browser = await launch(CLIPS.d18);
  const page = await newPage(browser);
  await recordGuidance(page);
  try {
    await page.goto(check.url);
    await withDiagnostics(page, async () => {
      await page.click("#lc-start");
      const again = page.locator(".lc-again");
      await again.waitFor({ state: "visible", timeout: 120_000 });
      const root = page.locator(".lc-root");
      assert.equal(await root.getAttribute("data-guidance"), "retry_challenge_missed");
      assert.match(await page.locator(".lc-prompt").textContent(), /did not see one of the actions/i);
      assert.equal(await page.evaluate(() => document.activeElement?.className), "lc-again");
      assert.equal(await page.locator(".lc-continue").isVisible(), false);
      // Between attempts the user may also leave.
      assert.equal(await page.locator(".lc-cancel").isVisible(), true);
      const between = await verifier.api("GET", `/liveness_check?token=${check.token}`);
      assert.equal(between.body.status, "in_progress");
      assert.equal(between.body.attempts.length, 1);

      await again.click();
      await page.locator(".lc-continue").waitFor({ state: "visible", timeout: 120_000 });
      assert.equal(await again.isVisible(), false);
      assert.equal(await root.getAttribute("data-guidance"), "not_passed");
      // After the result only the way on remains: no Back button (the SDK's or the page's)
      // that could no longer cancel anything.
      assert.equal(await page.locator(".lc-cancel").isVisible(), false);
      assert.equal(await page.locator("#lc-back").isVisible(), false);
      const seen = await guidance(page);
      const turns = seen.filter((g) => g === "turn_left").length;
      assert.ok(turns >= 2, seen.join(" "));
      assert.ok(seen.indexOf("retry_challenge_missed") < seen.lastIndexOf("turn_left"), seen.join(" "));
    });
  } finally {
    await browser.close();
  }
  const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
  assert.equal(result.body.status, "failed");
  assert.equal(result.body.failure_reason, "challenge_failed");
  assert.deepEqual(result.body.attempts.map((a) => [a.attempt, a.passed, a.failure_reason]),
    [[1, false, "challenge_failed"], [2, false, "challenge_failed"]]);
});
