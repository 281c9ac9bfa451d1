"""Runs each built MediaPipe model and its pinned counterpart on the same inputs with
onnxruntime and fails if any output differs by more than TOLERANCE.

Inputs: 16 random crops (uniform 0..1, the mesh's input scale) and 16 random landmark
sets over a 640-pixel frame for the blendshapes. Usage: compare.py BUILT_DIR PINNED_DIR
"""

import sys

import numpy as np
import onnxruntime as ort

TOLERANCE = 1e-6
MODELS = {
    "mediapipe_face_landmarks_detector.onnx": ("input_12", (1, 256, 256, 3), 1.0),
    "mediapipe_face_blendshapes.onnx": ("serving_default_input_points:0", (1, 146, 2), 640.0),
}


def session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def main(built_dir, pinned_dir):
    rng = np.random.default_rng(2026)
    failed = False
    for name, (input_name, shape, scale) in MODELS.items():
        built, pinned = session(f"{built_dir}/{name}"), session(f"{pinned_dir}/{name}")
        worst = 0.0
        for _ in range(16):
            feed = {input_name: (rng.random(shape, dtype=np.float32) * scale).astype(np.float32)}
            for a, b in zip(built.run(None, feed), pinned.run(None, feed)):
                worst = max(worst, float(np.max(np.abs(a - b))))
        ok = worst <= TOLERANCE
        failed |= not ok
        print(f"{name}: max |built - pinned| = {worst:g} over 16 inputs ({'ok' if ok else 'FAIL'}, tolerance {TOLERANCE:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
