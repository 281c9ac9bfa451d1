// Every built-in language on the hosted page, picked from the browser's Accept-Language
// (and once from the check's `locale`, over the browser's): the page's texts, its `lang`
// and direction, and the SDK's buttons, progress label and prompts in the same language.
// Chromium's default fake camera shows no face, so the SDK stays at positioning and the
// link is never used. LIVECHECK_SCREENSHOTS=<dir> keeps a phone and a desktop screenshot
// of each language for a person to look at.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { startVerifier, launch, ROOT } from "./harness.mjs";

const LANGUAGES = ["en", "es", "fr", "de", "pt", "id", "ja", "ar"];
const page = (lang) => JSON.parse(readFileSync(join(ROOT, "verifier", "locales", `${lang}.json`), "utf8"));
// English is the SDK's built-in default; the others are its tables.
const ENGLISH_SDK = { progress_label: "Progress", button_back: "Back" };
const sdk = (lang) => (lang === "en" ? ENGLISH_SDK
  : JSON.parse(readFileSync(join(ROOT, "sdk-wasm", "locales", `${lang}.json`), "utf8")));
const shots = process.env.LIVECHECK_SCREENSHOTS;

let verifier;
let browser;
before(async () => {
  verifier = await startVerifier();
  browser = await launch(null);
  if (shots) mkdirSync(shots, { recursive: true });
});
after(async () => {
  await browser?.close();
  await verifier?.stop();
});

for (const lang of LANGUAGES) {
  // Japanese comes from the check's `locale` while the browser asks for English.
  const byLocale = lang === "ja";
  test(`${lang}: the hosted page and the SDK speak it${byLocale ? " (the check's locale over the browser's)" : ""}`, async () => {
    const check = await verifier.create({
      return_url: `${verifier.url}/healthz?lang=${lang}`,
      cancel_url: `${verifier.url}/healthz?cancelled=${lang}`,
      challenges: ["BLINK"],
      ...(byLocale ? { locale: "ja-JP" } : {}),
    });
    const phone = { width: 390, height: 844 };
    const context = await browser.newContext({ locale: byLocale ? "en-US" : lang, viewport: phone });
    const tab = await context.newPage();
    try {
      const texts = page(lang);
      await tab.goto(check.url);
      assert.equal(await tab.getAttribute("html", "lang"), lang);
      assert.equal(await tab.getAttribute("html", "dir"), lang === "ar" ? "rtl" : "ltr");
      assert.equal(await tab.title(), texts.page_title);
      assert.equal((await tab.textContent("#lc-start")).trim(), texts.start);
      assert.equal((await tab.textContent("#lc-status")).trim(), texts.js_intro_active);
      assert.equal((await tab.textContent("#lc-back button")).trim(), texts.back);
      if (shots) await tab.screenshot({ path: join(shots, `${lang}-phone-start.png`) });

      await tab.click("#lc-start");
      const root = tab.locator(".lc-root");
      await root.waitFor({ timeout: 30_000 });
      assert.equal(await root.getAttribute("lang"), lang);
      assert.equal(await root.getAttribute("dir"), lang === "ar" ? "rtl" : "ltr");
      const words = sdk(lang);
      assert.equal(await tab.getAttribute(".lc-progress", "aria-label"), words.progress_label);
      // The default camera shows no face: positioning says so, in this language.
      await tab.waitForFunction(() => document.querySelector(".lc-root")?.dataset.guidance === "face_not_found",
        null, { timeout: 60_000 });
      const prompt = (await tab.textContent(".lc-prompt")).trim();
      if (lang === "en") assert.match(prompt, /can't see a face/);
      else assert.equal(prompt, words.face_not_found);
      if (shots) {
        await tab.screenshot({ path: join(shots, `${lang}-phone-capture.png`) });
        await tab.setViewportSize({ width: 1280, height: 800 });
        await tab.screenshot({ path: join(shots, `${lang}-desktop-capture.png`) });
      }
    } finally {
      await context.close();
    }
  });
}

test("a locale that is not built in is refused at create, naming the built-in ones", async () => {
  const r = await verifier.api("POST", "/liveness_check", { return_url: `${verifier.url}/healthz`, locale: "xx" });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, "invalid_request");
  for (const lang of LANGUAGES) assert.match(r.body.message, new RegExp(`\\b${lang}\\b`));
});
