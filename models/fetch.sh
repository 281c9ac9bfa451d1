#!/usr/bin/env bash
# Copies the models listed in models/manifest.json from a mirror into models/cache/
# and checks every sha256. The mirror is LIVECHECK_MODEL_MIRROR: a folder (default
# ../shared/models beside the repository) or an https base URL. A missing file or a
# wrong checksum is a hard error that names the file. Files already cached and
# verified are left alone.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=${LIVECHECK_MODEL_MIRROR:-$here/../../shared/models}
cache=$here/cache
mkdir -p "$cache"
status=0
while IFS=$'\t' read -r file sha; do
  dest=$cache/$file
  if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sha" ]; then
    continue
  fi
  tmp=$dest.part
  case "$mirror" in
    https://*) curl -fsSL --retry 2 -o "$tmp" "${mirror%/}/$file" || { echo "models: cannot download $file from $mirror" >&2; status=1; continue; } ;;
    *) [ -f "$mirror/$file" ] || { echo "models: $file is missing from $mirror" >&2; status=1; continue; }
       cp "$mirror/$file" "$tmp" ;;
  esac
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    rm -f "$tmp"
    echo "models: $file has sha256 $got, manifest says $sha" >&2
    status=1
    continue
  fi
  mv "$tmp" "$dest"
  echo "models: $file ok"
done < <(python3 -c 'import json,sys; [print(m["file"], m["sha256"], sep="\t") for m in json.load(open(sys.argv[1]))["models"]]' "$here/manifest.json")
exit $status
