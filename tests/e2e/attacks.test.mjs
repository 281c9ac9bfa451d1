// Presentation and injection attacks: a printed photo held up to the camera, and a
// tampered client that skips the SDK's checks and uploads validly signed frames.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  startVerifier, launch, newPage, recordGuidance, guidance, withDiagnostics,
  photoFrames, writeClip, TESTDATA,
} from "./harness.mjs";

const PRINT = join(TESTDATA, "spoof", "silentface_F1_print_upright.jpg");
let verifier;
let frames;
before(async () => {
  verifier = await startVerifier();
  const browser = await launch(null);
  frames = await photoFrames(browser, PRINT);
  await browser.close();
});
after(async () => verifier?.stop());

test("a printed photo as the camera: not passed, with a reason, and the page shows the way back", async () => {
  const check = await verifier.create({
    return_url: `${verifier.url}/healthz?from=spoof`,
    challenges: ["BLINK", "SMILE"],
    // One attempt: should the print ever be refused for a missed challenge rather than as
    // a spoof, the page still ends here instead of offering another attempt.
    max_attempts: 1,
  });
  const browser = await launch(writeClip(frames));
  const page = await newPage(browser);
  await recordGuidance(page);
  try {
    await page.goto(check.url);
    await withDiagnostics(page, async () => {
      await page.click("#lc-start");
      const next = page.locator(".lc-continue");
      await next.waitFor({ state: "visible", timeout: 120_000 });
      const href = new URL(await next.getAttribute("href"));
      assert.ok(href.searchParams.get("error"), href.toString());
      assert.ok(href.searchParams.get("lc_token"));
      assert.equal(await page.locator(".lc-root").getAttribute("data-guidance"), "not_passed");
      assert.match(await page.locator(".lc-prompt").textContent(), /could not confirm/i);
      // Keyboard users land on the way back.
      assert.equal(await page.evaluate(() => document.activeElement?.className), "lc-continue");
    });
  } finally {
    await browser.close();
  }
  const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
  assert.equal(result.body.status, "failed");
  assert.equal(result.body.passed, false);
  assert.ok(["spoof_detected", "challenge_failed"].includes(result.body.failure_reason), result.body.failure_reason);
});

test("a tampered client: a burst is refused by the clock, and correctly signed frames of a photo sent in time are still not passed", async () => {
  const check = await verifier.create({
    return_url: `${verifier.url}/healthz?from=tampered`,
    challenges: ["BLINK", "SMILE"],
  });
  const browser = await launch(null);
  const page = await newPage(browser);
  try {
    await page.goto(check.url);
    const link = new URL(check.url).pathname.split("/").pop();
    // The injected script claims the link itself and signs with WebCrypto, following the
    // canonical layout documented in core/src/protocol.rs. First it sends a frame claiming
    // a time ahead of the verifier's clock; then the photo's frames at real speed, asking
    // for each challenge as the protocol says (a frame tagged with its index).
    const finished = await page.evaluate(async ({ link, frames }) => {
      const hex = (s) => Uint8Array.from(s.match(/../g).map((h) => parseInt(h, 16)));
      const toHex = (b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
      const cat = (...parts) => {
        const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) { out.set(p, o); o += p.length; }
        return out;
      };
      const int = (bytes, v) => {
        const b = new Uint8Array(bytes), d = new DataView(b.buffer);
        if (bytes === 2) d.setUint16(0, v); else if (bytes === 4) d.setUint32(0, v); else d.setBigUint64(0, BigInt(v));
        return b;
      };
      const post = (path, init = {}) => fetch(`/capture/${link}${path}`, { method: "POST", ...init });
      const claim = await (await post("/claim")).json();
      const start = performance.now();
      const auth = { authorization: `Bearer ${claim.client_token}` };
      const enc = new TextEncoder();
      const sid = enc.encode(claim.script.session_id);
      const key = await crypto.subtle.importKey("raw", hex(claim.frame_key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      let prev = new Uint8Array(await crypto.subtle.digest("SHA-256",
        cat(enc.encode("LCCHAIN1"), int(2, sid.length), sid, hex(claim.script.nonce))));
      let seq = 0;
      const send = async (bytes, t, index) => {
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        const layout = cat(enc.encode("LCFRAME1"), int(2, sid.length), sid, int(4, seq), int(8, t),
          int(2, index ?? 0xffff), digest, prev);
        const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, layout));
        const envelope = { session_id: claim.script.session_id, seq, t_ms: t, challenge_index: index,
          image_sha256: toHex(digest), mac: toHex(mac) };
        const r = await post("/frames", {
          headers: { ...auth, "content-type": "image/jpeg", "livecheck-envelope": JSON.stringify(envelope) },
          body: bytes,
        });
        const body = await r.json();
        if (r.status === 201) { prev = mac; seq += 1; }
        return { status: r.status, body };
      };
      const photo = (i) => Uint8Array.from(atob(frames[i % frames.length]), (c) => c.charCodeAt(0));
      const burst = await send(photo(0), 3000, null);
      let revealed = [];
      for (let i = 0; i < 60; i++) {
        const t = i * 100;
        await new Promise((r) => setTimeout(r, Math.max(0, start + t - performance.now())));
        // After the baseline ask for the first challenge, two seconds on for the next.
        const index = t < 1000 ? null : Math.min(revealed.length, t < 3000 ? 0 : 1);
        const r = await send(photo(i + 1), t, index);
        if (r.status !== 201) return { uploadRefused: t, body: r.body, burst };
        if (r.body.challenge && !revealed.includes(r.body.challenge.type)) revealed.push(r.body.challenge.type);
      }
      const fin = await (await post("/finish", { headers: auth })).json();
      return { ...fin, burst, revealed };
    }, { link, frames: frames.slice(0, 61).map((f) => f.toString("base64")) });
    assert.equal(finished.burst.status, 409, JSON.stringify(finished.burst));
    assert.equal(finished.burst.body.code, "frame_ahead_of_clock");
    assert.equal(finished.uploadRefused, undefined, JSON.stringify(finished));
    assert.deepEqual(finished.revealed, ["BLINK", "SMILE"]);
    assert.equal(finished.passed, false, JSON.stringify(finished));
    assert.ok(finished.failure_reason, JSON.stringify(finished));
    assert.match(finished.redirect_url, /error=/);
  } finally {
    await browser.close();
  }
  const result = await verifier.api("GET", `/liveness_check?token=${check.token}`);
  assert.equal(result.body.passed, false);
  assert.equal(result.body.frames, 60);
});
