#!/usr/bin/env bash
# Puts the models listed in models/manifest.json into models/cache/ and checks every
# sha256, taking each file from the first source that has it:
#   1. a mirror: LIVECHECK_MODEL_MIRROR, a folder (default ../shared/models beside the
#      repository) or an https base URL (the fast path, and the only one for the three
#      conversions made for this project);
#   2. its public origin, where the upstream ships that exact ONNX file (`origin.url` in
#      the manifest: YuNet, both MiniFASNets). LIVECHECK_MODEL_ORIGIN=http://host:port
#      replaces the origin's scheme and host, which is how the tests serve them locally.
# The conversions name their recipe (`origin.build`, `origin.from`): models/build/
# reproduces the MediaPipe pair from PyPI with equal outputs, but not to the byte, so
# the sha256 pin (which the verifier and the SDK check again) keeps the mirror's files.
# A file no source gives, or one with a wrong checksum, is a hard error that names the
# file and the sources tried. Files already cached and verified are left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=${LIVECHECK_MODEL_MIRROR:-$here/../../shared/models}
origin_host=${LIVECHECK_MODEL_ORIGIN:-}
cache=${LIVECHECK_MODEL_CACHE:-$here/cache}
mkdir -p "$cache"

# Fetches $1 to $2; false when the source does not have it.
fetch_url() { curl -fsSL --retry 2 -o "$2" "$1" 2>/dev/null; }

# Whether $1 has sha256 $2.
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

status=0
while IFS='|' read -r file sha url build; do
  dest=$cache/$file
  sha_ok "$dest" "$sha" && continue
  tmp=$dest.part
  rm -f "$tmp"
  tried=()
  # 1. The mirror.
  case "$mirror" in
    https://*|http://*) fetch_url "${mirror%/}/$file" "$tmp" || true ;;
    *) [ -f "$mirror/$file" ] && cp "$mirror/$file" "$tmp" ;;
  esac
  tried+=("mirror $mirror")
  # 2. The public origin.
  if [ ! -f "$tmp" ] && [ -n "$url" ]; then
    if [ -n "$origin_host" ]; then
      url="${origin_host%/}/${url#https://*/}"
    fi
    fetch_url "$url" "$tmp" || rm -f "$tmp"
    tried+=("origin $url")
  fi
  if [ ! -f "$tmp" ] && [ -n "$build" ]; then
    tried+=("no public ONNX; $build reproduces it with equal outputs, not its sha256")
  fi
  if [ ! -f "$tmp" ]; then
    echo "models: no source has $file (tried: $(IFS=';'; echo "${tried[*]}"))" >&2
    status=1
    continue
  fi
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    rm -f "$tmp"
    echo "models: $file has sha256 $got, manifest says $sha (from: ${tried[-1]})" >&2
    status=1
    continue
  fi
  mv "$tmp" "$dest"
  echo "models: $file ok (${tried[-1]%% *})"
done < <(python3 -c '
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    o = m.get("origin", {})
    print(m["file"], m["sha256"], o.get("url", ""), o.get("build", ""), sep="|")
' "$here/manifest.json")
exit $status
