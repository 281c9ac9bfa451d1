// The hosted capture page: runs the browser SDK on the single-use link this page was
// opened at, then follows the verifier's redirect back to the customer.

// The page's texts, in the language the verifier picked (the check's `locale`, else the
// browser's), handed over as JSON in the page.
const texts = JSON.parse(document.getElementById("lc-texts")?.textContent || "{}");
const text = (code) => texts[code] || "";
// Ended before the link was used: the user may try again, here or through the service.
const retryable = ["timeout", "camera_frozen"];

const root = document.getElementById("lc-capture");
const status = document.getElementById("lc-status");
const start = document.getElementById("lc-start");
const plain = document.getElementById("lc-start-plain");
const back = document.getElementById("lc-back");
const light = root.dataset.light === "on";

function fail(code, detail) {
  root.dataset.error = code;
  // One message, in one live region: the SDK's generic prompt gives way to the page's
  // specific one, and focus moves to it so a screen reader reads it first.
  const prompt = root.querySelector(".lc-prompt");
  if (prompt) {
    prompt.textContent = "";
    prompt.removeAttribute("aria-live");
    prompt.removeAttribute("role");
    prompt.hidden = true;
  }
  status.textContent = texts[code] || text("other").replace("{code}", code);
  status.tabIndex = -1;
  status.focus();
  if (detail) console.warn("livecheck:", code, detail);
  // The way back to the service stays open after a failure.
  if (back) back.hidden = false;
}

status.textContent = text(root.dataset.mode === "passive" ? "intro_passive" : "intro_active");
if (light) {
  // The light challenge: say what will happen before it does, and offer a way round it.
  status.textContent += " " + text("light_notice");
  if (plain) plain.hidden = false;
}
start.hidden = false;
start.focus();

// The SDK, by the URLs that name its content (the browser keeps them until the SDK
// changes), and its models load while the user reads the page, so Start waits for
// little or nothing. Loading touches neither the camera nor the link.
const loading = (async () => {
  const sdk = await import(root.dataset.sdk || "/sdk/livecheck_sdk.js");
  await sdk.default(root.dataset.wasm ? { module_or_path: root.dataset.wasm } : undefined);
  return sdk;
})();
const preloading = loading.then((sdk) => sdk.preload(root.dataset.link));
// Failures are Start's to report: it waits for the SDK, and its start for the models
// still loading (or loads them again, saying why if they fail).
loading.catch(() => {});
preloading.catch(() => {});

start.addEventListener("click", () => run(false));
plain?.addEventListener("click", () => run(true));

async function run(lightOptOut) {
  start.hidden = true;
  if (plain) plain.hidden = true;
  status.textContent = "";
  let Livecheck;
  try {
    ({ Livecheck } = await loading);
  } catch (e) {
    fail("unsupported_browser", e);
    return;
  }
  // The SDK shows its own Back button when the link allows cancelling.
  if (back) back.hidden = true;
  try {
    await Livecheck.start({
      link: root.dataset.link, container: root, redirect: true, lightOptOut, language: root.dataset.lang,
    });
  } catch (e) {
    if (e.code === "cancelled") return;
    fail(e.code || "internal", e.message);
    // Nowhere to go on here: when the service gave a way back, take the user there (the
    // link is cancelled, so the service learns the attempt ended); otherwise say how to
    // try again. Never both.
    if (back && [...retryable, "session_expired"].includes(e.code)) {
      status.textContent += " " + text("taking_back");
      setTimeout(() => back.requestSubmit(), 4000);
    } else if (retryable.includes(e.code)) {
      status.textContent += " " + text("reload");
    }
  }
}
