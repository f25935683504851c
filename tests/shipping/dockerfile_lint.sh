#!/usr/bin/env bash
# Lints docker/Dockerfile with dockerfile-utils (npm; the validator behind the Dockerfile language
# server): no error and no warning may remain. Installed once with npm into
# ${XDG_CACHE_HOME:-~/.cache}/fakecloud/, atomically (temp dir, then rename). Usage: dockerfile_lint.sh DOCKERFILE
set -euo pipefail
DOCKERFILE=$1
VERSION=0.16.3
cache=${XDG_CACHE_HOME:-$HOME/.cache}/fakecloud
tool=$cache/dockerfile-utils-$VERSION
if [[ ! -x $tool/node_modules/.bin/dockerfile-utils ]]; then
  command -v npm >/dev/null || { echo "FAIL: npm is missing (run scripts/install-deps)" >&2; exit 1; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/dockerfile-utils.tmp-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-audit --no-fund --no-save "dockerfile-utils@$VERSION" >"$tmp.log" 2>&1 \
    || { cat "$tmp.log" >&2; rm -f "$tmp.log"; echo "FAIL: npm install dockerfile-utils@$VERSION" >&2; exit 1; }
  rm -f "$tmp.log"
  mv -T "$tmp" "$tool" 2>/dev/null || true  # another run may have won the race: its copy is as good
fi
out=$("$tool/node_modules/.bin/dockerfile-utils" lint "$DOCKERFILE" 2>&1) || true
if [[ -n $out ]]; then
  echo "$out"
  echo "FAIL: dockerfile-utils lint $DOCKERFILE reports problems" >&2
  exit 1
fi
echo "ok - dockerfile-utils $VERSION finds nothing in $DOCKERFILE"
