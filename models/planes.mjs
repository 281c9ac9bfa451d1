// Writes each model's planes form beside it (FILE.planes), the form the browser
// downloads: every FLOAT initializer's raw_data regrouped by byte position (all bytes 0,
// then 1, 2, 3), everything else as it was. The byte layout, and the decoder the SDK
// runs, are in core/src/model_planes.rs; this is a second implementation of it, and
// core's tests hold each to the other on the real models.
//   node models/planes.mjs FILE.onnx...
import { existsSync, readFileSync, writeFileSync, renameSync } from "node:fs";

/** Reads a varint at `at.pos`, moving it on. */
function varint(buf, at, end) {
  let value = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (at.pos >= end) throw new Error("a number runs past its message");
    const byte = buf[at.pos++];
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return value;
  }
  throw new Error("a number longer than ten bytes");
}

/** The fields of the message in `buf[start, end)`: [field, wire, value or [from, to)]. */
function* fields(buf, start, end) {
  const at = { pos: start };
  while (at.pos < end) {
    const key = varint(buf, at, end);
    const wire = Number(key & 7n);
    const field = Number(key >> 3n);
    if (wire === 0) yield [field, wire, varint(buf, at, end)];
    else if (wire === 1 || wire === 5) at.pos += wire === 1 ? 8 : 4;
    else if (wire === 2) {
      const len = Number(varint(buf, at, end));
      const from = at.pos;
      at.pos += len;
      if (at.pos > end) throw new Error("a field runs past its message");
      yield [field, wire, [from, at.pos]];
    } else throw new Error(`wire type ${wire}`);
    if (at.pos > end) throw new Error("a fixed field runs past its message");
  }
}

export function planes(onnx) {
  const out = Buffer.from(onnx);
  for (const [f, w, graph] of fields(onnx, 0, onnx.length)) {
    if (f !== 7 || w !== 2) continue;
    for (const [g, gw, tensor] of fields(onnx, ...graph)) {
      if (g !== 5 || gw !== 2) continue;
      let dataType = null;
      let raw = null;
      for (const [t, tw, v] of fields(onnx, ...tensor)) {
        if (t === 2 && tw === 0) dataType = v;
        if (t === 9 && tw === 2) raw = v;
      }
      if (dataType !== 1n || raw === null || (raw[1] - raw[0]) % 4 !== 0) continue;
      const n = (raw[1] - raw[0]) / 4;
      for (let i = 0; i < n; i++) {
        for (let b = 0; b < 4; b++) out[raw[0] + b * n + i] = onnx[raw[0] + 4 * i + b];
      }
    }
  }
  return out;
}

// Rewritten only when it changes, so the verifier's cache of it (by length and
// modification time) and the brotli form stay valid.
for (const file of process.argv.slice(2)) {
  const out = planes(readFileSync(file));
  const dest = `${file}.planes`;
  if (existsSync(dest) && readFileSync(dest).equals(out)) continue;
  writeFileSync(`${dest}.part`, out);
  renameSync(`${dest}.part`, dest);
}
