// The SDK's performance in headless Chromium on this machine (not a test: figures).
//   scripts/build-sdk.sh --release && node tests/bench/sdk.mjs [runs]
// Prints: link opened → first prompt (download, wasm init, models), first-pass cost per
// frame (positioning: detection + quality; capture: + mesh and blendshapes, the whole
// frame and the analysis alone, JPEG decode included), frames
// analysed per second, and the package's sizes.
import { readFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { startVerifier, launch, newPage, ROOT, CLIPS } from "../e2e/harness.mjs";

const runs = Number(process.argv[2] || 3);
const pkg = join(ROOT, "sdk-wasm", "pkg");
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, median: +q(0.5).toFixed(1), p90: +q(0.9).toFixed(1), min: +s[0].toFixed(1) };
};

const sizes = {};
for (const f of ["livecheck_sdk_bg.wasm", "livecheck_sdk.js"]) {
  const bytes = readFileSync(join(pkg, f));
  sizes[f] = { bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}
const manifest = JSON.parse(readFileSync(join(ROOT, "models", "manifest.json"), "utf8"));
const browserModels = manifest.models.filter((m) => m.runs_in.includes("browser"));
sizes.models = {
  files: browserModels.map((m) => m.file),
  bytes: browserModels.reduce((n, m) => n + statSync(join(ROOT, "models", "cache", m.file)).size, 0),
};
console.log(JSON.stringify({ sizes }, null, 1));

const verifier = await startVerifier();
try {
  for (let run = 0; run < runs; run++) {
    const check = await verifier.create({ return_url: `${verifier.url}/healthz`, challenges: ["BLINK", "SMILE"] });
    const browser = await launch(CLIPS.d18);
    const page = await newPage(browser);
    // A page of the verifier's origin with nothing cached: the SDK's module, wasm and
    // models are all fetched by this run.
    await page.goto(`${verifier.url}/healthz`);
    const r = await page.evaluate(async (link) => {
      const t0 = performance.now();
      const sdk = await import("/sdk/livecheck_sdk.js");
      await sdk.default();
      const tInit = performance.now() - t0;
      const frames = { positioning: [], capture: [], capture_analysis: [] };
      let firstGuidance = null, firstChallenge = null, captureStart = null, captureEnd = null;
      const result = await sdk.Livecheck.start({
        link,
        onPrompt: (p) => {
          const t = performance.now() - t0;
          if (firstGuidance === null && !["loading", "camera_starting"].includes(p.code)) firstGuidance = t;
          if (firstChallenge === null && p.challenge) firstChallenge = t;
        },
        onProgress: (p) => {
          if (p.phase === "capture" && captureStart === null) captureStart = performance.now();
          if (p.phase === "checking" && captureEnd === null) captureEnd = performance.now();
          if ((p.phase === "positioning" || p.phase === "capture") && p.frameMs > 0) frames[p.phase].push(p.frameMs);
          if (p.phase === "capture" && p.analysisMs > 0) frames.capture_analysis.push(p.analysisMs);
        },
      });
      return { tInit, firstGuidance, firstChallenge, frames, captureMs: captureEnd - captureStart, passed: result.passed };
    }, check.url);
    await browser.close();
    console.log(JSON.stringify({
      run,
      module_and_wasm_init_ms: +r.tInit.toFixed(0),
      ms_to_first_guidance: +r.firstGuidance.toFixed(0),
      ms_to_first_challenge_prompt: +r.firstChallenge.toFixed(0),
      positioning_frame_ms: stats(r.frames.positioning),
      capture_frame_ms: stats(r.frames.capture),
      capture_analysis_ms: stats(r.frames.capture_analysis),
      capture_frames_per_s: +(r.frames.capture.length / (r.captureMs / 1000)).toFixed(1),
      passed: r.passed,
    }));
  }
} finally {
  await verifier.stop();
}
