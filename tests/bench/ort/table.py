"""The table scripts/ort-compare.sh prints: from lines `ROUND RUNTIME MODEL MEDIAN MIN`,
each runtime's median over the rounds of its per-round medians (ms), the rounds' range,
and livecheck's time as a multiple of onnxruntime's on the same side."""

import statistics
import sys
from collections import defaultdict

MODELS = ["yunet", "face_mesh", "blendshapes", "minifasnet_v2", "minifasnet_v1se", "face_recognition"]
COLUMNS = [("ort", "ORT native"), ("native", "livecheck native"), ("ortweb", "ORT-web wasm"), ("wasm32", "livecheck wasm")]


def main():
    runs = defaultdict(list)
    for line in open(sys.argv[1]):
        parts = line.split()
        if len(parts) == 6 and parts[2] == "model":  # `ROUND wasm32 model NAME MEDIAN MIN`
            parts = [parts[0], parts[1]] + parts[3:]
        if len(parts) != 5:
            continue
        _, runtime, model, median, _ = parts
        runs[(runtime, model)].append(float(median))

    def cell(runtime, model):
        values = runs.get((runtime, model))
        if not values:
            return None, "–"
        m = statistics.median(values)
        return m, f"{m:.2f} ({min(values):.2f}–{max(values):.2f})"

    def ratio(a, b):
        return f"{a / b:.2f}×" if a is not None and b else "–"

    rounds = max((len(v) for v in runs.values()), default=0)
    print(f"medians of {rounds} rounds' medians, ms (range of the rounds); one thread")
    print("| model | " + " | ".join(title for _, title in COLUMNS[:2]) + " | ratio | "
          + " | ".join(title for _, title in COLUMNS[2:]) + " | ratio |")
    print("|---" * 7 + "|")
    for model in MODELS:
        (o, os_), (n, ns) = cell("ort", model), cell("native", model)
        (w, ws), (l, ls) = cell("ortweb", model), cell("wasm32", model)
        print(f"| {model} | {os_} | {ns} | {ratio(n, o)} | {ws} | {ls} | {ratio(l, w)} |")


if __name__ == "__main__":
    main()
