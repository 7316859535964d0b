# Sourced by the CLI test scripts: pass/fail counting, the closing summary line, expect_fail for bad
# input, and a small generated corpus for training runs.
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

# A small corpus with structure to learn: repeated sentences over a few hundred words.
make_corpus() {
  for i in $(seq 1 300); do
    echo "the quick brown fox $((i % 17)) jumps over the lazy dog and the cat sat on mat number $((i % 11))."
  done >"$1"
}
