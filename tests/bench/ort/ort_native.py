"""onnxruntime natively on one thread on each model:
`python ort_native.py MODELS_DIR RUNS`. Prints `ort NAME MEDIAN MIN` (ms) per model, on
the input every runtime of scripts/ort-compare.sh is fed."""

import json
import pathlib
import sys
import time

import numpy as np
import onnxruntime as ort

# Input shapes as models/manifest.json gives them.
SHAPES = {
    "yunet": [1, 3, 320, 320],
    "face_mesh": [1, 256, 256, 3],
    "blendshapes": [1, 146, 2],
    "minifasnet_v2": [1, 3, 80, 80],
    "minifasnet_v1se": [1, 3, 80, 80],
    "face_recognition": [1, 3, 150, 150],
}


def bench_input(shape):
    """Value i is (i*7919 mod 255) / 255 in f32, as core's `model::bench_input`."""
    n = int(np.prod(shape))
    values = ((np.arange(n, dtype=np.int64) * 7919) % 255).astype(np.float32)
    return (values / np.float32(255)).reshape(shape)


def main():
    models = pathlib.Path(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 21
    manifest = json.loads((models.parent / "manifest.json").read_text())
    files = {m["name"]: m["file"] for m in manifest["models"]}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    for name, shape in SHAPES.items():
        session = ort.InferenceSession(
            str(models / files[name]), options, providers=["CPUExecutionProvider"]
        )
        feeds = {session.get_inputs()[0].name: bench_input(shape)}
        for _ in range(5):
            session.run(None, feeds)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            session.run(None, feeds)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(f"ort {name} {times[runs // 2]:.3f} {times[0]:.3f}", flush=True)


if __name__ == "__main__":
    main()
