# Sourced by the CLI test scripts: pass/fail counting, the closing summary line, and a small
# generated corpus for training runs.
failures=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { failures=$((failures + 1)); echo "FAIL: $1"; }

# Prints "N passed, N failed" and returns non-zero when anything failed.
summary() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# A small corpus with structure to learn: repeated sentences over a few hundred words.
make_corpus() {
  for i in $(seq 1 300); do
    echo "the quick brown fox $((i % 17)) jumps over the lazy dog and the cat sat on mat number $((i % 11))."
  done >"$1"
}
