# Sourced by the CLI test scripts (and tests/fleet, tests/serve): pass/fail counting, the closing summary
# line, expect_fail for bad input, wait_for for anything that happens in its own time, a small generated
# corpus for training runs, and skipping for a missing tool or npm package.
failures=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { failures=$((failures + 1)); echo "FAIL: $1"; }

# Prints "N passed, N failed" and returns non-zero when anything failed.
summary() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# expect_fail NAME PATTERN CMD...: CMD exits non-zero and prints one line on stderr matching PATTERN.
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -eq 0 ]; then fail "$name: exit 0, wanted non-zero"; return; fi
  if ! grep -q -- "$pattern" <<<"$err"; then fail "$name: stderr lacks '$pattern': $err"; return; fi
  if [ "$(wc -l <<<"$err")" -ne 1 ]; then fail "$name: stderr is not one line: $err"; return; fi
  pass "$name"
}

# wait_for SECONDS CMD...: runs CMD every 0.05 s until it succeeds (status 0) or SECONDS have passed
# (status 1). A check on something another process does in its own time waits with this for exactly the
# condition it then asserts, so a slow or loaded machine only makes it wait longer, never fail.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.05
  done
}

# steps_done FILE: the rows of a run's metrics.jsonl (one per step), 0 before it exists; has_steps FILE N:
# it has N or more (a condition for wait_for).
steps_done() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
has_steps() { [ "$(steps_done "$1")" -ge "$2" ]; }

# A small corpus with structure to learn: repeated sentences over a few hundred words.
make_corpus() {
  for i in $(seq 1 300); do
    echo "the quick brown fox $((i % 17)) jumps over the lazy dog and the cat sat on mat number $((i % 11))."
  done >"$1"
}

# skip MESSAGE: exit 77 (meson's "skipped"); with CI=true a missing tool is a failure instead.
skip() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL: $1" >&2
    exit 1
  fi
  echo "skip: $1" >&2
  exit 77
}

# npm_cached PACKAGE VERSION FILE: installs PACKAGE@VERSION once into a cache folder (ALPHA_NPM_CACHE, else
# ~/.cache/alpha/npm) unless it holds FILE (relative to the package) already, and prints the package's
# folder. Skips where node, npm or the package cannot be had.
npm_cached() {
  local name=$1 version=$2 file=$3
  local folder=${name#@}
  local cache=${ALPHA_NPM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/alpha/npm}/${folder//\//-}-$version
  local package=$cache/node_modules/$name
  command -v node >/dev/null 2>&1 || skip "node is missing (apt-get install nodejs npm)"
  if [ ! -f "$package/$file" ]; then
    command -v npm >/dev/null 2>&1 || skip "npm is missing (apt-get install npm)"
    mkdir -p "$(dirname "$cache")"
    local tmp log
    tmp=$(mktemp -d "$cache.tmp.XXXXXX")
    if timeout 300 npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
      "$name@$version" >"$tmp.log" 2>&1 && [ -f "$tmp/node_modules/$name/$file" ]; then
      mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"  # another test run may have won the race
      rm -f "$tmp.log"
    else
      log=$(tail -3 "$tmp.log" | tr '\n' ' ')
      rm -rf "$tmp" "$tmp.log"
      skip "cannot install $name@$version from the npm registry: $log"
    fi
  fi
  echo "$package"
}
