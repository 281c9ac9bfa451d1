#!/usr/bin/env bash
# Anti-spoof on live faces under the conditions a user's room and camera bring: each
# development clip (../shared/testdata/video, 10 frames a second, scaled to 640 on its
# long side, JPEG as the SDK uploads) plain, darkened, in warm dim light, blurred, at
# JPEG quality ~30, and with sensor-like noise (ffmpeg's `noise`, in each channel, at
# 4, 8 and 12, after darkening, and before scaling). Per clip and condition: the
# frames' mean anti-spoof score, how many fall under the pass mark of 70, and the
# face's measured noise (σ, `quality::face_noise`; median and range).
#
#   scripts/antispoof-conditions.sh [CLIP...]      (default: every mp4 of the video folder)
#
# Needs ffmpeg. Frames go to $WORK (default /var/tmp/livecheck-antispoof-conditions).
set -euo pipefail
cd "$(dirname "$0")/.."
TESTDATA=${LIVECHECK_TESTDATA:-../shared/testdata}
WORK=${WORK:-/var/tmp/livecheck-antispoof-conditions}
TARGET=${CARGO_TARGET_DIR:-target}
command -v ffmpeg >/dev/null || { echo "needs ffmpeg (apt-get install ffmpeg)" >&2; exit 1; }
cargo build -q --release -p livecheck-core --example analyze
ANALYZE="$TARGET/release/examples/analyze"
clips=("$@")
[ ${#clips[@]} -gt 0 ] || clips=("$TESTDATA"/video/*.mp4)
fit="fps=10,scale='if(gt(iw,ih),640,-2)':'if(gt(iw,ih),-2,640)'"
conditions=(
  "plain|$fit|2"
  "dark|$fit,eq=gamma=0.6:contrast=0.85|2"
  "warm_dim|$fit,eq=contrast=0.75:brightness=-0.06:saturation=0.85,colortemperature=temperature=3500|2"
  "blur|$fit,gblur=sigma=1.5|2"
  "jpeg_30|$fit|12"
  "noise_4|$fit,noise=alls=4:allf=t|2"
  "noise_8|$fit,noise=alls=8:allf=t|2"
  "noise_12|$fit,noise=alls=12:allf=t|2"
  "dark_noise_12|$fit,eq=gamma=0.6,noise=alls=12:allf=t|2"
  "noise_12_then_scaled|fps=10,eq=gamma=0.7,noise=alls=12:allf=t,scale='if(gt(iw,ih),640,-2)':'if(gt(iw,ih),-2,640)'|2"
)
printf '%-32s %-22s %6s %9s %18s\n' clip condition mean "under 70" "noise med [range]"
for clip in "${clips[@]}"; do
  name=$(basename "$clip" .mp4)
  for c in "${conditions[@]}"; do
    IFS='|' read -r cond filter q <<<"$c"
    dir="$WORK/$name/$cond"
    if [ ! -d "$dir" ]; then
      mkdir -p "$dir.tmp"
      ffmpeg -loglevel error -y -i "$clip" -vf "$filter" -q:v "$q" "$dir.tmp/%04d.jpg"
      mv "$dir.tmp" "$dir"
    fi
    "$ANALYZE" --fps 10 --trace "$dir" 2>&1 >/dev/null | python3 -c '
import re, sys
clip, cond = sys.argv[1:]
rows = [(float(l), float(z)) for l, z in re.findall(r" live (\S+) .* noise (\S+)", sys.stdin.read()) if float(l) >= 0]
if not rows:
    sys.exit(print(f"{clip:32} {cond:22} no face"))
live, noise = [r[0] for r in rows], sorted(r[1] for r in rows)
low = sum(v < 0.7 for v in live)
print(f"{clip:32} {cond:22} {100 * sum(live) / len(live):6.1f} {low:5}/{len(live):<3} {noise[len(noise) // 2]:5.2f} [{noise[0]:.2f}–{noise[-1]:.2f}]")
' "$name" "$cond"
  done
done
