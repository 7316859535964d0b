#!/usr/bin/env bash
# The chat page and the runs dashboard in a real browser against a real `alpha serve`: trains a tiny
# run (validation and samples on), serves it on a free port, waits for /health, and runs test_web.mjs
# in Debian's headless Chromium through npm's playwright-core (pinned, fetched from the npm registry
# into a cache folder). Screenshots go to $ALPHA_WEB_ARTIFACTS (default: a temporary folder, removed).
# Skips (exit 77) where Chromium, node or the package cannot be had; fails instead with CI=true.
# Usage: test_web.sh PATH/TO/alpha
set -u
alpha=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../cli/common.sh"

chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || skip "$chromium is missing (apt-get install chromium)"
playwright=$(npm_cached playwright-core 1.65.1 index.mjs) || exit $?

work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
artifacts=${ALPHA_WEB_ARTIFACTS:-$work/artifacts}

make_corpus "$work/corpus.txt"
if "$alpha" train --runs-dir "$work/runs" --cache-dir "$work/cache" --data "$work/corpus.txt" --model d1 \
  --batch 2 --seq 64 --vocab 300 --warmup 2 --steps 12 --eval-every 4 --eval-batches 1 --sample-every 6 \
  --sample-tokens 16 --run tiny >"$work/train.log" 2>&1; then
  pass "a tiny run trains, with validation passes and samples"
else
  fail "training the run: $(tail -3 "$work/train.log")"
  summary
  exit
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
"$alpha" serve --run=tiny --runs-dir="$work/runs" --port="$port" >"$work/serve.log" 2>&1 &
server=$!
healthy() {
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' "$base" \
    2>/dev/null
}
healthy_or_gone() { healthy || ! kill -0 "$server" 2>/dev/null; }
wait_for 120 healthy_or_gone
if healthy; then
  pass "alpha serve answers /health"
  CHROMIUM=$chromium timeout 240 node "$here/test_web.mjs" "$playwright" "$base" tiny "$artifacts" &&
    pass "the pages in Chromium (screenshots in $artifacts)" || fail "the pages in Chromium"
else
  fail "alpha serve did not answer /health: $(tail -5 "$work/serve.log")"
fi
summary
