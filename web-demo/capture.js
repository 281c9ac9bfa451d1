// The hosted capture page: runs the browser SDK on the single-use link this page was
// opened at, then follows the verifier's redirect back to the customer.
import init, { Livecheck } from "/sdk/livecheck_sdk.js";

const messages = {
  permission_denied: "Camera access was refused. Allow the camera for this site in your browser's settings, then reload this page.",
  no_camera: "No camera was found. Connect a camera, or open this link on a phone.",
  camera_in_use: "The camera is in use by another application. Close it, then reload this page.",
  insecure_context: "This page must be opened over https.",
  unsupported_browser: "This browser cannot run the check. Try a recent Chrome, Edge, Firefox or Safari.",
  session_expired: "This link has expired. Ask the service that sent you for a new one.",
  link_already_used: "This link was already used. Ask the service that sent you for a new one.",
  network: "The connection was lost. Check your network and try again with a new link.",
  timeout: "We could not see a face in time. Make sure your face is well lit and in view.",
  camera_frozen: "Your camera's picture stopped changing: it may be paused, covered, or showing a still image. Check the camera, or choose another one.",
  cancelled: "Cancelled.",
};
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
  status.textContent = messages[code] || `Something went wrong (${code}).`;
  status.tabIndex = -1;
  status.focus();
  if (detail) console.warn("livecheck:", code, detail);
  // The way back to the service stays open after a failure.
  if (back) back.hidden = false;
}

status.textContent = root.dataset.mode === "passive"
  ? "When you are ready, press Start. We will ask for your camera; then just look at it and hold still for a few seconds."
  : "When you are ready, press Start. We will ask for your camera and guide you through a few short actions.";
if (light) {
  // The light challenge: say what will happen before it does, and offer a way round it.
  status.textContent += " At the start, the screen around your picture will show five colours for "
    + "about four seconds (at most two changes a second, no red flashes). If flashing light affects "
    + "you, choose Start without the colours.";
  if (plain) plain.hidden = false;
}
start.hidden = false;
start.focus();

start.addEventListener("click", () => run(false));
plain?.addEventListener("click", () => run(true));

async function run(lightOptOut) {
  start.hidden = true;
  if (plain) plain.hidden = true;
  status.textContent = "";
  try {
    await init();
  } catch (e) {
    fail("unsupported_browser", e);
    return;
  }
  // The SDK shows its own Back button when the link allows cancelling.
  if (back) back.hidden = true;
  try {
    await Livecheck.start({ link: root.dataset.link, container: root, redirect: true, lightOptOut });
  } catch (e) {
    if (e.code === "cancelled") return;
    fail(e.code || "internal", e.message);
    // Nowhere to go on here: when the service gave a way back, take the user there (the
    // link is cancelled, so the service learns the attempt ended); otherwise say how to
    // try again. Never both.
    if (back && [...retryable, "session_expired"].includes(e.code)) {
      status.textContent += " Taking you back…";
      setTimeout(() => back.requestSubmit(), 4000);
    } else if (retryable.includes(e.code)) {
      status.textContent += " Then reload this page to try again.";
    }
  }
}
