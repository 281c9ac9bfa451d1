// Shared by the end-to-end tests: the real verifier binary on a free port, Debian's
// Chromium driven by playwright-core with a fake camera, a webhook receiver, and the
// customer API calls a backend makes.
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const TESTDATA = process.env.LIVECHECK_TESTDATA || join(ROOT, "..", "shared", "testdata");
export const CLIPS = {
  d18: join(TESTDATA, "video", "lp_d18_actions_640x480_30fps.mjpeg"),
  s32: join(TESTDATA, "video", "lp_s32_turns_640x480_30fps.mjpeg"),
  s20: join(TESTDATA, "video", "lp_s20_woman_outdoor_portrait.mp4"),
};
const VERIFIER = join(process.env.CARGO_TARGET_DIR || join(ROOT, "target"), "debug", "livecheck-verifier");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** Starts `livecheck-verifier serve --demo` on a free port with its own data dir. */
export async function startVerifier(env = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "lc-e2e-"));
  const child = spawn(VERIFIER, ["serve", "--demo", "--bind", "127.0.0.1:0", "--data-dir", dataDir], {
    // This checkout's SDK and models, named: the binary's own default is the source
    // folder it was compiled from, which another checkout sharing the build cache moves.
    env: {
      LIVECHECK_SDK_DIR: join(ROOT, "sdk-wasm", "pkg"),
      LIVECHECK_MODELS_DIR: join(ROOT, "models", "cache"),
      ...process.env,
      LIVECHECK_WEBHOOKS_ALLOW_PRIVATE_TARGETS: "true",
      LIVECHECK_LOG: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const seen = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`verifier did not start: ${out}`)), 60_000);
    child.on("exit", (code) => reject(new Error(`verifier exited with ${code}: ${out}`)));
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const url = out.match(/listening on (http:\/\/\S+)/);
      const key = out.match(/demo api key: (\S+)/);
      if (url && key) {
        clearTimeout(timer);
        resolve({ url: url[1], key: key[1] });
      }
    });
  });
  const verifier = {
    ...seen,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
    async api(method, path, body) {
      const res = await fetch(verifier.url + path, {
        method,
        headers: { authorization: `Bearer ${seen.key}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    async create(body) {
      const r = await verifier.api("POST", "/liveness_check", body);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async ready() {
      for (let i = 0; i < 240; i++) {
        const r = await fetch(verifier.url + "/readyz");
        if (r.ok) return;
        // Models that failed to load never will (the verifier's stderr says why).
        const body = await r.json().catch(() => ({}));
        if (body.models === "failed") throw new Error(`verifier models failed to load: ${JSON.stringify(body)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error("verifier models did not load");
    },
  };
  await verifier.ready();
  return verifier;
}

/** Chromium headless with a fake camera: a clip file, or its built-in pattern when `clip` is null. */
export async function launch(clip) {
  const args = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
  ];
  if (clip) args.push(`--use-file-for-fake-video-capture=${clip}`);
  return chromium.launch({ executablePath: CHROMIUM, args, headless: true });
}

/** A page that records the console (printed if a test fails) and the SDK's prompts. */
export async function newPage(browser) {
  const page = await browser.newPage();
  const log = [];
  page.on("console", (m) => log.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => log.push(`[pageerror] ${e.message}`));
  page.log = log;
  return page;
}

/** Records every request body and header sent to it. */
export async function webhookReceiver() {
  const received = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    received,
    async waitFor(pred, ms = 30_000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const hit = received.find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no matching webhook within ${ms} ms; got ${received.length}`);
    },
    close: () => new Promise((r) => server.close(r)),
  };
}

/** The JPEG frames of an MJPEG file (ffmpeg's output: no embedded thumbnails). */
function mjpegFrames(bytes) {
  const starts = [];
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd8 && bytes[i + 2] === 0xff) starts.push(i);
  }
  return starts.map((s, k) => bytes.subarray(s, starts[k + 1] ?? bytes.length));
}

/** Records the SDK's guidance codes (`data-guidance`) on every page the tab shows. */
export async function recordGuidance(page) {
  page.guidance = [];
  page.steps = [];
  await page.exposeFunction("__lcGuidance", (code) => page.guidance.push(code));
  // The progress bar's words too ("Challenge 1 of 2"), each once in a row.
  await page.exposeFunction("__lcStep", (step) => {
    if (page.steps.at(-1) !== step) page.steps.push(step);
  });
  await page.addInitScript(() => {
    new MutationObserver((ms) => {
      for (const m of ms) {
        if (m.attributeName === "data-guidance") window.__lcGuidance(m.target.getAttribute("data-guidance"));
        else window.__lcStep(m.target.getAttribute("aria-valuetext"));
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-guidance", "aria-valuetext"] });
  });
}

export const guidance = async (page) => page.guidance || [];

/** Prints what the browser said when a test failed. */
export async function withDiagnostics(page, fn) {
  try {
    return await fn();
  } catch (e) {
    console.error(page.log.join("\n"));
    console.error("guidance:", (await guidance(page).catch(() => [])).join(" "));
    throw e;
  }
}

/**
 * A presentation attack as a camera: a photo held up to it, drawn into 640×480 frames
 * with a pixel or two of hand tremor (a real camera never sends two identical frames).
 * Returns the JPEG frames; Chromium encodes them.
 */
export async function photoFrames(browser, photo, count = 90) {
  const page = await browser.newPage();
  try {
    const b64 = readFileSync(photo).toString("base64");
    const frames = await page.evaluate(async ({ b64, count }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const img = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
      const canvas = new OffscreenCanvas(640, 480);
      const ctx = canvas.getContext("2d");
      const scale = Math.min(640 / img.width, 480 / img.height);
      const out = [];
      for (let i = 0; i < count; i++) {
        ctx.fillStyle = "#777";
        ctx.fillRect(0, 0, 640, 480);
        const w = img.width * scale, h = img.height * scale;
        ctx.drawImage(img, (640 - w) / 2 + Math.sin(i / 5) * 1.5, (480 - h) / 2 + Math.cos(i / 7), w, h);
        const blob = await canvas.convertToBlob({ type: "image/jpeg", quality: 0.9 });
        const bytes = new Uint8Array(await blob.arrayBuffer());
        let bin = "";
        for (let k = 0; k < bytes.length; k += 8192) bin += String.fromCharCode(...bytes.subarray(k, k + 8192));
        out.push(btoa(bin));
      }
      return out;
    }, { b64, count });
    return frames.map((f) => Buffer.from(f, "base64"));
  } finally {
    await page.close();
  }
}

/** Frames of an MJPEG clip. */
export const clipFrames = (path) => mjpegFrames(readFileSync(path));

/** Frames of an mp4 clip at 30 fps, decoded by Debian's ffmpeg (`scripts/setup.sh`). */
export const mp4Frames = (path) =>
  mjpegFrames(execFileSync("ffmpeg", ["-v", "error", "-i", path, "-vf", "fps=30", "-q:v", "3", "-f", "mjpeg", "pipe:1"],
    { maxBuffer: 256 << 20 }));

/**
 * JPEG frames decoded and encoded again by Chromium at `quality` (new bytes, same scene).
 * With `stamp`, frame k also gets a small block of its own colour in the top-left corner,
 * numbered from `stamp`: frames shown more than once then never repeat a picture, as a
 * real camera's noise never does.
 */
export async function reencode(browser, frames, quality, stamp) {
  const page = await browser.newPage();
  try {
    const out = await page.evaluate(async ({ frames, quality, stamp }) => {
      const res = [];
      for (const [k, b64] of frames.entries()) {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const img = await createImageBitmap(new Blob([bytes], { type: "image/jpeg" }));
        const canvas = new OffscreenCanvas(img.width, img.height);
        const ctx = canvas.getContext("2d");
        ctx.drawImage(img, 0, 0);
        if (stamp !== undefined) {
          // Steps of 16 levels per channel survive JPEG; 4096 distinct colours.
          const n = stamp + k;
          ctx.fillStyle = `rgb(${(n % 16) * 16}, ${(Math.floor(n / 16) % 16) * 16}, ${(Math.floor(n / 256) % 16) * 16})`;
          ctx.fillRect(0, 0, 8, 8);
        }
        const enc = new Uint8Array(await (await canvas.convertToBlob({ type: "image/jpeg", quality })).arrayBuffer());
        let bin = "";
        for (let k = 0; k < enc.length; k += 8192) bin += String.fromCharCode(...enc.subarray(k, k + 8192));
        res.push(btoa(bin));
      }
      return res;
    }, { frames: frames.map((f) => Buffer.from(f).toString("base64")), quality, stamp });
    return out.map((f) => Buffer.from(f, "base64"));
  } finally {
    await page.close();
  }
}

export function writeClip(frames) {
  const path = join(mkdtempSync(join(tmpdir(), "lc-clip-")), "photo.mjpeg");
  writeFileSync(path, Buffer.concat(frames));
  return path;
}

/**
 * A scripted camera, for tests that need a camera that reacts to the page (Chromium's
 * fake camera plays a file and cannot): `getUserMedia` is replaced, before any page
 * script runs, by a canvas stream playing `frames` (JPEG buffers) at 30 fps. It plays
 * the clip from frame 0 while the user is being positioned, and from `startAt` again
 * when the capture starts (the SDK's first capture prompt), so the capture sees the
 * clip from a known point. With `light`, it lights the face the way the screen would:
 * the colour the SDK paints around the preview (`.lc-root[data-light]`, "r,g,b"),
 * `light.delayMs` late (0: in time), applied with core's reflection model
 * (`light::light_face`): every channel scaled by `1 + strength · m · colour/255`, `m`
 * 1 over an ellipse filling the face box (`light.face`, frame pixels) and falling to 0 at
 * 1.4 times its size; `strength` 0.2 (a phone at arm's length in a dim room).
 */
export async function scriptedCamera(page, frames, { startAt = 0, light = null } = {}) {
  await page.route("**/__camera/*", (route) => {
    const i = Number(new URL(route.request().url()).pathname.split("/").pop());
    route.fulfill({ status: 200, contentType: "image/jpeg", body: Buffer.from(frames[i]) });
  });
  await page.addInitScript(({ count, startAt, light }) => {
    navigator.mediaDevices.getUserMedia = async () => {
      const bitmaps = await Promise.all(Array.from({ length: count }, async (_, i) =>
        createImageBitmap(await (await fetch(`/__camera/${i}`)).blob())));
      const canvas = document.createElement("canvas");
      canvas.width = bitmaps[0].width;
      canvas.height = bitmaps[0].height;
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      const history = [{ at: 0, colour: null }];
      let origin = performance.now();
      let from = 0;
      let capturing = false;
      const tick = () => {
        const now = performance.now();
        const root = document.querySelector(".lc-root");
        const guidance = root?.getAttribute("data-guidance");
        if (!capturing && ["light", "hold_steady"].includes(guidance)) {
          capturing = true;
          origin = now;
          from = startAt;
        }
        const colour = root?.getAttribute("data-light") || null;
        if (colour !== history[history.length - 1].colour) history.push({ at: now, colour });
        const i = Math.min(from + Math.floor((now - origin) / (1000 / 30)), count - 1);
        ctx.drawImage(bitmaps[capturing ? i : i % count], 0, 0);
        const shown = light && [...history].reverse().find((h) => h.at <= now - light.delayMs)?.colour;
        if (shown) {
          const gain = shown.split(",").map((c) => 0.2 * Number(c) / 255);
          const { x, y, width, height } = light.face;
          const [cx, cy, rx, ry] = [x + width / 2, y + height / 2, width * 0.5, height * 0.6];
          const x0 = Math.max(0, Math.floor(cx - 1.4 * rx)), y0 = Math.max(0, Math.floor(cy - 1.4 * ry));
          const x1 = Math.min(canvas.width, Math.ceil(cx + 1.4 * rx)), y1 = Math.min(canvas.height, Math.ceil(cy + 1.4 * ry));
          const img = ctx.getImageData(x0, y0, x1 - x0, y1 - y0);
          const d = img.data;
          for (let py = y0; py < y1; py++) {
            for (let px = x0; px < x1; px++) {
              const r = Math.hypot((px + 0.5 - cx) / rx, (py + 0.5 - cy) / ry);
              const m = Math.min(1, Math.max(0, (1.4 - r) / 0.4));
              if (m === 0) continue;
              const k = ((py - y0) * (x1 - x0) + (px - x0)) * 4;
              for (let c = 0; c < 3; c++) d[k + c] = Math.min(255, Math.round(d[k + c] * (1 + gain[c] * m)));
            }
          }
          ctx.putImageData(img, x0, y0);
        }
      };
      tick();
      setInterval(tick, 1000 / 30);
      return canvas.captureStream(30);
    };
  }, { count: frames.length, startAt, light });
}
