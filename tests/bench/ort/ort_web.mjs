// onnxruntime-web's single-thread SIMD wasm under Node on each model:
// `node ort_web.mjs ORT_WEB_PREFIX MODELS_DIR RUNS`, where ORT_WEB_PREFIX holds
// node_modules/onnxruntime-web (scripts/ort-compare.sh installs it there). Prints
// `ortweb NAME MEDIAN MIN` (ms) per model, on the input every runtime is fed.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const [prefix, modelsDir, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 21);
const ort = createRequire(join(prefix, "package.json"))("onnxruntime-web");
ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;

// Input shapes as models/manifest.json gives them; the dlib model is the server's only.
const SHAPES = {
  yunet: [1, 3, 320, 320],
  face_mesh: [1, 256, 256, 3],
  blendshapes: [1, 146, 2],
  minifasnet_v2: [1, 3, 80, 80],
  minifasnet_v1se: [1, 3, 80, 80],
  face_recognition: [1, 3, 150, 150],
};

/** Value i is (i·7919 mod 255) / 255 in f32, as core's `model::bench_input`. */
function benchInput(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.fround(((i * 7919) % 255) / 255);
  return a;
}

const manifest = JSON.parse(readFileSync(join(modelsDir, "..", "manifest.json"), "utf8"));
for (const [name, shape] of Object.entries(SHAPES)) {
  const entry = manifest.models.find((m) => m.name === name);
  const session = await ort.InferenceSession.create(readFileSync(join(modelsDir, entry.file)), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const size = shape.reduce((a, b) => a * b, 1);
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", benchInput(size), shape) };
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`ortweb ${name} ${times[runs >> 1].toFixed(3)} ${times[0].toFixed(3)}`);
  await session.release();
}
