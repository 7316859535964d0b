#!/usr/bin/env bash
# `alpha bench` on tiny shapes: the matmul, kernel and training tables, the JSON report (every field
# present, positive and finite; FLOP and byte counts by hand), the PyTorch peer beside every row
# (--vs-torch, the inference rows' too), --record/--check against a history CSV, and bad input ->
# one clear line, exit != 0; --tune saves a tile that later runs use.
# No test asserts a speed. Usage: test_bench.sh PATH/TO/alpha
set -u
alpha=$1
source "$(dirname "$0")/common.sh"

expect_fail "bad tile" "is not BMxBNxBKxTMxTN" "$alpha" bench --tile 64x64 --size 8
expect_fail "unknown op" "unknown op 'conv' (known: matmul, attention, layernorm, gelu, softmax_xent, adamw, train, infer, serve)" \
  "$alpha" bench --ops conv
expect_fail "bench bad model" "unknown model preset 'x7'" "$alpha" bench --ops train --model x7
expect_fail "bench bad shapes" "unknown model preset 'q1'" "$alpha" bench --ops layernorm --shapes q1

out=$("$alpha" bench --ops matmul --size 67 --iters 2 --warmup 1 --validate 2>&1)
rc=$?
err=$(sed -n 's/.*max rel err \([0-9.e+-]*\).*/\1/p' <<<"$out")
if [ $rc -eq 0 ] && grep -q "naive" <<<"$out" && [ -n "$err" ] && ! grep -q "validation" <<<"$out" &&
   /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 1e-4 else 1)" "$err"; then
  pass "bench runs tiled and naive matmul and they agree ($err)"
else
  fail "bench: $out"
fi

out=$("$alpha" bench --ops train --model d1 --batch 2 --seq 16 --vocab 64 --iters 2 --warmup 1 --validate 2>&1)
if [ $? -eq 0 ] && grep -Eq '^d1 +2 +16 +64 +[0-9.]+ +[0-9.]+ +[0-9]+' <<<"$out" && grep -q "memory: .* parameters" <<<"$out" &&
   ! grep -q "validation" <<<"$out"; then
  pass "bench runs a training step and reports tokens/s and memory"
else
  fail "bench train: $out"
fi

# Every op, with the torch peer, on d1 at B=2, T=16, V=64.
tmp=$(mktemp -d)
tiny=(--shapes d1 --model d1 --batch 2 --seq 16 --vocab 64 --iters 2 --warmup 1)
out=$(ALPHA_HISTORY=$tmp/history.csv "$alpha" bench "${tiny[@]}" --vs-torch --validate --json="$tmp/all.json" --record 2>&1)
if [ $? -eq 0 ] && ! grep -q "validation" <<<"$out" && grep -q "^ceilings: copy" <<<"$out" &&
   grep -Eq '^attention_backward +d1 +B2 T16 NH1 HS64 .* GFLOP/s .*x \(cpu' <<<"$out" &&
   grep -Eq '^adamw +d1 +P=70592 .* GB/s .*x \(cpu' <<<"$out" && /usr/bin/python3 -c '
import json, math, sys
j = json.load(open(sys.argv[1]))
def numbers(x):
    if isinstance(x, bool): return
    if isinstance(x, (int, float)): yield x
    elif isinstance(x, dict):
        for v in x.values(): yield from numbers(v)
    elif isinstance(x, list):
        for v in x: yield from numbers(v)
def positive(row, *keys):
    for k in keys:
        assert isinstance(row[k], (int, float)) and row[k] > 0 and math.isfinite(row[k]), (k, row)
assert all(math.isfinite(v) and v >= 0 for v in numbers(j)), "a number is negative or not finite"
c = j["ceilings"]
positive(c, "copy_bytes", "copy_median_ms", "copy_min_ms", "copy_max_ms", "copy_gbps", "copy_iters", "matmul_median_ms",
         "matmul_iters", "matmul_gflops")
positive(c["torch"], "copy_gbps", "matmul_gflops")
assert c["copy_bytes"] == 2 * 64 * 2**20 and c["matmul_name"] == "square 1024", c
assert j["peak_gflops"] == c["matmul_gflops"]
assert j["torch"]["version"] and j["torch"]["device"].startswith("cpu"), j["torch"]
names = [m["name"] for m in j["matmul"]]
assert names == ["d1 qkv fwd (BT,3C)=(BT,C)·Wᵀ", "d1 fc fwd (BT,4C)=(BT,C)·Wᵀ", "d1 fc dW (4C,C)=dYᵀ·X",
                 "d1 fc dX (BT,C)=dY·W"], names
assert [(m["M"], m["N"], m["K"], m["layout"]) for m in j["matmul"]] == [
    (32, 192, 64, "NT"), (32, 256, 64, "NT"), (256, 64, 32, "TN"), (32, 64, 256, "NN")]
for m in j["matmul"]:
    positive(m, "median_ms", "min_ms", "max_ms", "iters", "gflops", "ceiling_fraction")
    positive(m["torch"], "median_ms", "min_ms", "max_ms", "speed_ratio")
    assert m["min_ms"] <= m["median_ms"] <= m["max_ms"], m
    assert abs(m["torch"]["speed_ratio"] - m["torch"]["median_ms"] / m["median_ms"]) < 1e-9 * m["torch"]["speed_ratio"]
ops = [k["op"] for k in j["kernels"]]
assert ops == ["attention_forward", "attention_backward", "layernorm_forward", "layernorm_backward",
               "gelu_forward", "gelu_backward", "softmax_xent", "grad_norm", "adamw"], ops
kernels = {k["op"]: k for k in j["kernels"]}
for k in j["kernels"]:
    positive(k, "bytes", "median_ms", "min_ms", "max_ms", "iters", "dispatches", "gbps", "ceiling_fraction")
    positive(k["torch"], "median_ms", "min_ms", "max_ms", "speed_ratio")
    assert k["torch"]["variant"].startswith("cpu"), k
    assert k["model"] == "d1" and k["shape"] and k["dims"], k
    assert k["bound"] == ("compute" if k["op"].startswith("attention") else "memory"), k
    if k["bound"] == "compute":
        positive(k, "flops", "gflops")
    else:
        assert "flops" not in k and "gflops" not in k, k
# By hand, d1 at B=2, T=16: C = 64, NH = 1, HS = 64; B*T = 32 rows.
# attention: B*NH*T*(T+1)/2 = 272 causal pairs; forward 4*HS per pair, backward 10*HS.
assert kernels["attention_forward"]["flops"] == 4 * 64 * 272 == 69632
assert kernels["attention_backward"]["flops"] == 10 * 64 * 272 == 174080
# forward reads qkv (32*192) and writes out (32*64) and lse (2*16): 8224 floats.
assert kernels["attention_forward"]["bytes"] == 4 * (32 * 192 + 32 * 64 + 2 * 16) == 32896
assert kernels["attention_backward"]["dispatches"] == 3
# layernorm forward: x and out (32*64 each), weight and bias (64 each), mean and rstd (32 each).
assert kernels["layernorm_forward"]["bytes"] == 4 * (2 * 32 * 64 + 2 * 64 + 2 * 32) == 17152
assert kernels["layernorm_backward"]["dispatches"] == 2
# gelu over (32, 256): forward reads and writes 8192 floats, backward reads two and writes one.
assert kernels["gelu_forward"]["bytes"] == 4 * 2 * 8192 and kernels["gelu_backward"]["bytes"] == 4 * 3 * 8192
# softmax cross-entropy over (32, 64): logits and dlogits, targets and losses.
assert kernels["softmax_xent"]["bytes"] == 4 * (2 * 32 * 64 + 2 * 32) == 16640
# P = 54208 (see the FLOPs check below) + wpe 256*64 = 70592 parameters; AdamW reads 4 and writes 3.
assert kernels["adamw"]["dims"] == {"P": 70592} and kernels["adamw"]["bytes"] == 28 * 70592
assert kernels["grad_norm"]["bytes"] == 4 * 70592
t, = j["train"]
positive(t, "ms_per_step", "spread_ms", "tokens_per_s", "mfu", "flops_per_step", "flops_per_s", "memory_total_bytes",
         "dispatches", "barriers")
# d1, V=64, T=16: N = wte 64*64 + block 12*64^2+13*64 + ln_f 2*64 = 54208 (wpe not counted);
# per token 6N + 12*L*H*Q*T = 325248 + 12*1*1*64*16 = 337536; per step (B*T = 32) 10801152.
assert t["flops_per_step"] == 10801152, t["flops_per_step"]
assert abs(t["mfu"] - t["flops_per_s"] / (c["matmul_gflops"] * 1e9)) < 1e-9
assert t["memory_total_bytes"] == sum(t["memory_bytes"].values()) and t["memory_bytes"]["parameters"] > 0
positive(t["torch"], "ms_per_step", "tokens_per_s", "speed_ratio")
assert t["torch"]["variant"] in t["torch"]["variants"], t["torch"]
# inference: d1 with the KV cache, a T/2 = 8-token prompt, then 8 decode steps
i, = j["inference"]
positive(i, "prefill_ms", "prefill_tokens_per_s", "decode_ms", "decode_tokens_per_s", "memory_bytes")
assert (i["model"], i["prompt_tokens"], i["decode_tokens"], i["vocab_size"]) == ("d1", 8, 8, 64), i
assert abs(i["prefill_tokens_per_s"] - 8 / (i["prefill_ms"] / 1000)) < 1e-6 * i["prefill_tokens_per_s"]
assert abs(i["decode_tokens_per_s"] - 1000 / i["decode_ms"]) < 1e-6 * i["decode_tokens_per_s"]
for figure, tokens in (("prefill", 8), ("decode", 1)):
    peer = i["torch"][figure]
    positive(peer, "median_ms", "min_ms", "max_ms", "tokens_per_s", "speed_ratio")
    assert peer["variant"].startswith("cpu"), peer
    assert abs(peer["tokens_per_s"] - tokens / (peer["median_ms"] / 1000)) < 1e-6 * peer["tokens_per_s"], peer
    assert abs(peer["speed_ratio"] - peer["median_ms"] / i[figure + "_ms"]) < 1e-9 * peer["speed_ratio"], peer
' "$tmp/all.json" && [ "$(grep -Ec ',"?kernel ' "$tmp/history.csv")" -eq 27 ] &&
   [ "$(grep -c ',infer d1 L1 H1 C64 V64 prompt 8,' "$tmp/history.csv")" -eq 6 ] &&
   [ "$(grep -c ',infer d1 .*,torch_\(prefill\|decode\)_ms,' "$tmp/history.csv")" -eq 2 ] &&
   [ "$(grep -c ',torch_' "$tmp/history.csv")" -eq 16 ] && [ "$(grep -c ',ceiling ' "$tmp/history.csv")" -eq 2 ]; then
  pass "bench --vs-torch: every op beside its peer; --json has every field (positive, finite, counts by hand)"
else
  fail "bench --vs-torch --json: $out $(cat "$tmp/all.json" "$tmp/history.csv" 2>&1)"
fi

# --mlp=swiglu: the MLP's matmuls at its widths, the swiglu kernel rows in the gelu group, the step and
# inference of a swiglu model, each beside the torch peer's same work.
out=$("$alpha" bench --ops matmul,gelu,train,infer "${tiny[@]}" --mlp swiglu --vs-torch --validate \
  --json="$tmp/swiglu.json" 2>&1)
if [ $? -eq 0 ] && ! grep -q "validation" <<<"$out" && /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
# d1: C = 64, H = 64*ceil(8*64/192) = 192, c_fc 2H = 384 wide; B*T = 32 rows
assert [(m["name"], m["M"], m["N"], m["K"]) for m in j["matmul"]][1:] == [
    ("d1 fc fwd (BT,2H)=(BT,C)·Wᵀ", 32, 384, 64), ("d1 fc dW (2H,C)=dYᵀ·X", 384, 64, 32),
    ("d1 fc dX (BT,C)=dY·W", 32, 64, 384)], j["matmul"]
k = {k["op"]: k for k in j["kernels"]}
assert list(k) == ["swiglu_forward", "swiglu_backward"], list(k)
assert k["swiglu_forward"]["dims"] == {"N": 32, "H": 192} and k["swiglu_forward"]["bytes"] == 4 * 3 * 32 * 192
assert k["swiglu_backward"]["bytes"] == 4 * 5 * 32 * 192
assert all(r["torch"]["median_ms"] > 0 for r in j["matmul"] + j["kernels"])
t, = j["train"]
# N = wte 64*64 + block (qkv 3*64*64+192, proj 64*64+64, c_fc 384*64+384, c_proj 64*192+64, ln 4*64) + ln_f 128
#   = 4096 + 54208 + 128 = 58432; per token 6N + 12*64*16 = 362880; per step (32 tokens) 11612160
assert t["model"] == "gpt2-swiglu-d1" and t["flops_per_step"] == 11612160, (t["model"], t["flops_per_step"])
assert t["torch"]["ms_per_step"] > 0 and j["inference"][0]["torch"]["decode"]["median_ms"] > 0
assert j["config"]["mlp"] == "swiglu"
' "$tmp/swiglu.json"; then
  pass "bench --mlp=swiglu: matmul, swiglu kernel, train and inference rows beside the torch peer"
else
  fail "bench --mlp=swiglu: $out $(cat "$tmp/swiglu.json" 2>&1)"
fi
expect_fail "bench unknown --mlp" "unknown MLP 'bogus'" "$alpha" bench --ops train --model d1 --mlp bogus

# The inference rows alone: alpha's prefill and decode, torch's tokens/s and both ratios on the row.
out=$("$alpha" bench --ops infer "${tiny[@]}" --vs-torch 2>&1)
if [ $? -eq 0 ] && grep -Eq '^d1 +64 +8 +8 +[0-9.]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ MiB +[0-9]+ +[0-9.]+  prefill [0-9.]+x.*, decode [0-9.]+x .*\(cpu' <<<"$out"; then
  pass "bench --ops infer --vs-torch prints torch's prefill and decode tokens/s and alpha/torch"
else
  fail "bench --ops infer --vs-torch: $out"
fi

# --json, --record and --check on a tiny run (no speed asserted: only shapes, signs and messages).
bench_small=("$alpha" bench --ops matmul,train --size 67 --model d1 --batch 2 --seq 16 --vocab 64 --iters 2 --warmup 1)
out=$(ALPHA_HISTORY=$tmp/history.csv "${bench_small[@]}" --json="$tmp/out.json" --record 2>&1)
if [ $? -eq 0 ] && /usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert len(j["commit"]) >= 7 and j["time"]
assert all(j["device"][k] for k in ("name", "type", "driver", "driver_info"))
assert j["config"]["size"] == 67 and j["config"]["models"] == "d1" and j["torch"] is None
assert [m["kernel"].split()[0] for m in j["matmul"]] == ["tiled", "naive"] and j["kernels"] == []
assert all(m["torch"] is None for m in j["matmul"]) and j["train"][0]["torch"] is None
' "$tmp/out.json" && [ "$(grep -c ',train d1 L1 H1 C64 V64 B2 T16,' "$tmp/history.csv")" -eq 7 ] &&
   [ "$(head -1 "$tmp/history.csv")" = "time,commit,device,driver,config,metric,value" ] &&
   [ "$(grep -c ',matmul 67x67x67 NN ' "$tmp/history.csv")" -eq 4 ]; then
  pass "bench --json without the peer and --record appends rows to the same history"
else
  fail "bench --json/--record: $out $(cat "$tmp/out.json" "$tmp/history.csv" 2>&1)"
fi

# An immediate rerun may pass or fail on timing noise; a failure must name a metric and the margin.
err=$(ALPHA_HISTORY=$tmp/history.csv "${bench_small[@]}" --check 2>&1 >/dev/null)
rc=$?
if { [ $rc -eq 0 ] && [ -z "$err" ]; } ||
   { [ $rc -ne 0 ] && grep -Eq -- '--check: (median_ms|gflops|gbps|ms_per_step|tokens_per_s) of .*margin 15%' <<<"$err"; }; then
  pass "bench --check on an immediate rerun passes or names the regressed metric (rc $rc)"
else
  fail "bench --check rerun (rc $rc): $err"
fi

# An earlier row with an absurdly good figure: for tokens/s it must fail --check, naming tokens_per_s
# (it is the only row of that history, so timing noise in the other metrics cannot be what gets
# named); for the torch peer it must not (the peer's speed is not ours to regress).
fake_history() {  # fake_history METRIC VALUE OUT: the newest row of METRIC from the history, dated 2000
  /usr/bin/python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
row = [r for r in rows if r[5] == sys.argv[2]][-1]
row[0], row[6] = "2000-01-01T00:00:00Z", sys.argv[3]
csv.writer(open(sys.argv[4], "w", newline="")).writerows([rows[0], row])
' "$tmp/history.csv" "$@"
}
fake_history tokens_per_s 1e15 "$tmp/fake.csv"
expect_fail "bench --check names a regressed metric" "--check: tokens_per_s of 'train d1 .* lower .*margin 15%" \
  env ALPHA_HISTORY="$tmp/fake.csv" "${bench_small[@]}" --check
[ "$(wc -l <"$tmp/fake.csv")" -eq 2 ] && pass "--check without --record leaves the history alone" ||
  fail "--check wrote to the history"
fake_history torch_median_ms 1e-9 "$tmp/fake_peer.csv"
grep -q ',kernel adamw d1 .*,torch_median_ms,' "$tmp/fake_peer.csv" &&
  out=$(ALPHA_HISTORY=$tmp/fake_peer.csv "$alpha" bench --ops adamw "${tiny[@]}" --vs-torch --check 2>&1) &&
  grep -q "^check: no metric" <<<"$out" && pass "bench --check leaves the torch peer's figures unchecked" ||
  fail "bench --check of a torch figure: $out"
rows_before=$(wc -l <"$tmp/history.csv")

cp "$tmp/history.csv" "$tmp/broken.csv"
echo 'not,a,row' >>"$tmp/broken.csv"
cp "$tmp/broken.csv" "$tmp/broken.orig"
expect_fail "bench malformed history" "broken.csv:$((rows_before + 1)): 3 fields instead of 7" \
  env ALPHA_HISTORY="$tmp/broken.csv" "${bench_small[@]}" --record
cmp -s "$tmp/broken.csv" "$tmp/broken.orig" && pass "a malformed history is left as it was" ||
  fail "a malformed history was changed"
expect_fail "bench unwritable --json" "folder $tmp/missing does not exist or is not writable" \
  "${bench_small[@]}" --json="$tmp/missing/out.json"
[ ! -e "$tmp/missing" ] && [ -z "$(ls -A "$tmp" | grep '\.tmp\.')" ] && pass "no temporary files left behind" ||
  fail "temporary files left: $(ls -A "$tmp")"

# A row budget below one iteration's time still times 3 (the least a median needs); 0 times them all.
small_shapes=(--shapes d1 --batch 2 --seq 16 --vocab 64 --warmup 0)
out=$("$alpha" bench --ops layernorm "${small_shapes[@]}" --iters 5 --row-budget 1e-9 2>&1) &&
  [ "$(grep -Ec '^layernorm_(forward|backward) +d1 +\(BT,C\)=\(32,64\) +3 ' <<<"$out")" -eq 2 ] &&
  out=$("$alpha" bench --ops layernorm "${small_shapes[@]}" --iters 5 --row-budget 0 2>&1) &&
  [ "$(grep -Ec '^layernorm_(forward|backward) +d1 +\(BT,C\)=\(32,64\) +5 ' <<<"$out")" -eq 2 ] &&
  pass "bench --row-budget bounds a row's timed iterations (at least 3)" || fail "bench --row-budget: $out"
expect_fail "bench negative budget" "--row-budget must not be negative" "$alpha" bench --row-budget -1

# Without python or torch the bench goes on and says why.
out=$(ALPHA_TORCH_PYTHON=/nonexistent/python3 "$alpha" bench --ops layernorm "${tiny[@]}" --vs-torch 2>&1)
if [ $? -eq 0 ] && grep -q "torch peer failed" <<<"$out" && grep -Eq '^layernorm_forward +d1 .* -  *$' <<<"$out"; then
  pass "bench --vs-torch without a working python reports it and runs alpha's rows alone"
else
  fail "bench --vs-torch without python: $out"
fi

# --tune: every candidate timed at the --shapes linear layers, the fastest saved for the device in
# the cache directory (read by python's json), shown by alpha devices and used by later runs; a
# damaged file is ignored with a warning, never an error.
cache=$tmp/cache
out=$(ALPHA_CACHE_DIR=$cache "$alpha" bench --tune --shapes d1 --batch 2 --seq 24 --iters 2 --warmup 1 2>&1)
tuning=$(ls "$cache"/matmul-tile-*.json 2>/dev/null | head -1)
winner=$(sed -n 's/^saved \([0-9x]*\) in .*/\1/p' <<<"$out")
if [ $? -eq 0 ] && [ -n "$winner" ] && grep -q "<- fastest" <<<"$out" && [ -f "$tuning" ] &&
   /usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["tile"] == sys.argv[2]
assert len(j["candidates"]) >= 3 and all(c["total_ms"] > 0 for c in j["candidates"])' "$tuning" "$winner"; then
  pass "bench --tune times the candidates and saves the fastest ($winner)"
else
  fail "bench --tune: $out"
fi
out=$(ALPHA_CACHE_DIR=$cache "$alpha" devices 2>&1)
grep -q "matmul tile     $winner (tuned on d1 at B·T 48" <<<"$out" && pass "alpha devices shows the tuned tile" ||
  fail "devices after --tune: $out"
out=$(ALPHA_CACHE_DIR=$cache ALPHA_DISABLE_TEXEL=1 "$alpha" bench --ops matmul --shapes d1 --batch 2 --seq 24 --iters 1 \
  --warmup 0 --no-naive 2>&1)
grep -q "tiled $winner" <<<"$out" && pass "later runs use the tuned tile" || fail "bench after --tune: $out"
echo '{"tile": "64x6' >"$tuning"
out=$(ALPHA_CACHE_DIR=$cache "$alpha" devices 2>&1)
if [ $? -eq 0 ] && grep -q "warning: ignoring the matmul tuning" <<<"$out" && grep -q "matmul tile     the default" <<<"$out"; then
  pass "a damaged tuning file is ignored with a warning"
else
  fail "devices with a damaged tuning file: $out"
fi

# alpha train --tune: "on" tunes at the model's shapes before training and saves the tile; "auto"
# tunes only on a GPU without a saved tile, so never on lavapipe; a bad mode is one clear line.
make_corpus "$tmp/corpus.txt"
train=(train --runs-dir "$tmp/runs" --cache-dir "$tmp/tokens" --data "$tmp/corpus.txt" --model d1 --batch 2
  --seq 24 --vocab 300 --eval-every 0 --steps 2)
fresh=$tmp/fresh-cache
out=$(ALPHA_CACHE_DIR=$fresh "$alpha" "${train[@]}" --tune on --run tuned 2>&1)
saved=$(sed -n 's/^tuned: matmul tile \([0-9x]*\) saved in .*/\1/p' <<<"$out")
if [ -n "$saved" ] && grep -q "^tuning the matmul tile for .* at d1's linear layers (--tune=on" <<<"$out" &&
   ls "$fresh"/matmul-tile-*.json >/dev/null 2>&1 && grep -q "^run saved in" <<<"$out"; then
  pass "train --tune=on tunes at the model's shapes, saves $saved, then trains"
else
  fail "train --tune=on: $out"
fi
out=$(ALPHA_CACHE_DIR=$tmp/auto-cache "$alpha" "${train[@]}" --run auto 2>&1)
if ! grep -q "tuning the matmul tile" <<<"$out" && ! ls "$tmp"/auto-cache/matmul-tile-*.json >/dev/null 2>&1; then
  pass "train --tune=auto leaves a CPU device untuned"
else
  fail "train --tune=auto on lavapipe: $out"
fi
expect_fail "train --tune bogus" "--tune is 'sometimes': expected auto, on or off" "$alpha" "${train[@]}" --tune sometimes \
  --run bad-tune

out=$("$alpha" bench --help) && grep -q "15% slower" <<<"$out" && grep -q -- "--record" <<<"$out" &&
  grep -q -- "--shapes" <<<"$out" && grep -q -- "--tune" <<<"$out" && pass "bench --help states the --check margin and the options" ||
  fail "bench --help: $out"
rm -rf "$tmp"

summary
