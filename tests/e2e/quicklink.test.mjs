// Azure's Quick Link in a real browser: the link opens the hosted page once; a capture
// lands on the callback with the session id; a capture that times out takes the user
// back to the callback too, and the session records the attempts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startVerifier, launch, newPage, withDiagnostics, CLIPS } from "./harness.mjs";

let verifier;
before(async () => {
  verifier = await startVerifier();
});
after(async () => verifier?.stop());

async function session(attempts) {
  const created = await verifier.api("POST", "/face/v1.2/detectLiveness-sessions", {
    livenessOperationMode: "Passive",
    numberOfClientAttemptsAllowed: attempts,
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  return created.body;
}

async function quickLink(authToken, callbackUrl) {
  const res = await fetch(`${verifier.url}/api/s`, {
    method: "POST",
    headers: { authorization: `Bearer ${authToken}`, "content-type": "application/json" },
    body: JSON.stringify({ callbackUrl }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).url;
}

test("Quick Link: a timed-out attempt returns to the callback, a retry with d18 succeeds", async () => {
  const { sessionId, authToken } = await session(2);
  const callback = `${verifier.url}/healthz?from=azure`;

  // Attempt 1: Chromium's default fake camera shows no face until the SDK gives up.
  let browser = await launch(null);
  let page = await newPage(browser);
  try {
    await page.goto(verifier.url + (await quickLink(authToken, callback)));
    await withDiagnostics(page, async () => {
      await page.click("#lc-start");
      await page.waitForURL(/\/healthz\?from=azure&sessionId=/, { timeout: 120_000 });
    });
    const back = new URL(page.url());
    assert.equal(back.searchParams.get("sessionId"), sessionId);
    assert.equal(back.searchParams.get("outcome"), "canceled");
  } finally {
    await browser.close();
  }

  // Attempt 2: d18 looks at the camera.
  browser = await launch(CLIPS.d18);
  page = await newPage(browser);
  try {
    await page.goto(verifier.url + (await quickLink(authToken, callback)));
    await withDiagnostics(page, async () => {
      await page.click("#lc-start");
      await page.waitForURL(/\/healthz\?from=azure&sessionId=.*&lc_token=/, { timeout: 120_000 });
    });
  } finally {
    await browser.close();
  }
  const got = await verifier.api("GET", `/face/v1.2/detectLiveness-sessions/${sessionId}`);
  assert.equal(got.body.status, "Succeeded", JSON.stringify(got.body));
  const [first, second] = got.body.results.attempts;
  assert.equal(first.attemptStatus, "Failed");
  assert.equal(second.attemptStatus, "Succeeded");
  assert.equal(second.result.livenessDecision, "realface");
});

test("Quick Link with its callback on the link (no /api/s body): the capture, then the reused link, land on the callback", async () => {
  const { sessionId, authToken } = await session(1);
  const callback = `${verifier.url}/healthz?from=link`;
  const res = await fetch(`${verifier.url}/api/s`, {
    method: "POST",
    headers: { authorization: `Bearer ${authToken}` },
  });
  assert.equal(res.status, 200);
  const link = `${verifier.url}${(await res.json()).url}&callbackUrl=${encodeURIComponent(callback)}`;

  const browser = await launch(CLIPS.d18);
  const page = await newPage(browser);
  try {
    await page.goto(link);
    await withDiagnostics(page, async () => {
      await page.click("#lc-start");
      await page.waitForURL(/\/healthz\?from=link&sessionId=.*&lc_token=/, { timeout: 120_000 });
    });
    let back = new URL(page.url());
    assert.equal(back.searchParams.get("sessionId"), sessionId);
    assert.equal(back.searchParams.get("outcome"), "completed");
    assert.equal(back.searchParams.get("error"), null);

    // The same link again: straight back to the callback, saying it was used.
    await page.goto(link);
    await page.waitForURL(/\/healthz\?from=link&sessionId=/);
    back = new URL(page.url());
    assert.equal(back.searchParams.get("sessionId"), sessionId);
    assert.equal(back.searchParams.get("outcome"), "used");
    assert.equal(back.searchParams.get("error"), "link_already_used");
  } finally {
    await browser.close();
  }
});

test("a capture link already used in another browser: the page leads back to return_url with error=link_already_used", async () => {
  const check = await verifier.create({ return_url: `${verifier.url}/healthz?from=native` });
  const linkPath = new URL(check.url).pathname.replace(/^\/l\//, "");
  const claim = await fetch(`${verifier.url}/capture/${linkPath}/claim`, { method: "POST" });
  assert.equal(claim.status, 200);

  const browser = await launch(null);
  const page = await newPage(browser);
  try {
    const res = await page.goto(check.url);
    assert.equal(res.status(), 409);
    await page.getByRole("link", { name: "Return to the service" }).click();
    await page.waitForURL(/\/healthz\?from=native/);
    const back = new URL(page.url());
    assert.equal(back.searchParams.get("error"), "link_already_used");
  } finally {
    await browser.close();
  }
});
