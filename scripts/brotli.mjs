// Writes FILE.br beside each FILE named: brotli at its densest (quality 11, 16 MB window),
// which the verifier serves to browsers that take `br` (api/assets.rs, after checking
// that it decodes to FILE). Too slow to do per start (15 s for the SDK's wasm on one
// core here), so the SDK's release build and models/fetch.sh do it once. A FILE.br that
// already decodes to FILE is left alone; with LIVECHECK_BROTLI_CACHE set (a folder), a
// form made before for the same bytes is copied from there (the SDK's build writes its
// folder afresh each time).
import { brotliCompressSync, brotliDecompressSync, constants } from "node:zlib";
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";

const cache = process.env.LIVECHECK_BROTLI_CACHE;

for (const file of process.argv.slice(2)) {
  const raw = readFileSync(file);
  const br = `${file}.br`;
  if (existsSync(br)) {
    try {
      if (brotliDecompressSync(readFileSync(br)).equals(raw)) continue;
    } catch {
      // Not brotli: written afresh below.
    }
  }
  const cached = cache && join(cache, `${createHash("sha256").update(raw).digest("hex")}.br`);
  if (cached && existsSync(cached)) {
    copyFileSync(cached, `${br}.part`);
    renameSync(`${br}.part`, br);
    continue;
  }
  const packed = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_LGWIN]: 24,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  writeFileSync(`${br}.part`, packed);
  renameSync(`${br}.part`, br);
  if (cached) {
    mkdirSync(cache, { recursive: true });
    writeFileSync(`${cached}.part`, packed);
    renameSync(`${cached}.part`, cached);
  }
  console.error(`brotli: ${file} ${raw.length} → ${packed.length} bytes`);
}
