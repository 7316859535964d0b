#!/usr/bin/env bash
# `alpha serve` and `alpha chat` on a tiny trained run (d1, a 300-token vocabulary with the chat tokens):
# the official OpenAI npm client gets `alpha sample`'s greedy text (openai_client.mjs); raw HTTP gets
# every error as a status and an OpenAI-shaped body; a client leaving mid-stream frees its slot; a full
# queue answers 503; `alpha chat` answers from a pipe; SIGTERM stops the server with exit 0, ending a
# stream in flight with an error event. Usage: test_serve.sh PATH/TO/alpha
set -u
alpha=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
source "$here/../cli/common.sh"

if [ ! -d "$here/node_modules/openai" ]; then
  echo "FAIL: the openai npm package is missing: run scripts/setup (npm install in tests/serve)"
  exit 1
fi
if ldd "$alpha" | grep -qi boost; then fail "alpha links a Boost library: $(ldd "$alpha" | grep -i boost)"; else pass "alpha links no Boost library"; fi

make_corpus "$work/corpus.txt"
runs=(--runs-dir "$work/runs")
"$alpha" train "${runs[@]}" --cache-dir "$work/cache" --data "$work/corpus.txt" --model d1 --batch 4 --seq 256 \
  --vocab 300 --warmup 5 --eval-every 0 --steps 30 --run tiny >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "training the run"; }

# start_server NAME ARGS...: starts `alpha serve` on a free port; sets $port and $base
start_server() {
  local name=$1
  shift
  "$alpha" serve "${runs[@]}" --run tiny --port 0 "$@" >"$work/$name.out" 2>"$work/$name.log" &
  server_pid=$!
  pids+=("$server_pid")
  listening() {
    port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/$name.out")
    [ -n "$port" ] || ! kill -0 "$server_pid" 2>/dev/null
  }
  wait_for 120 listening
  [ -n "$port" ] || { cat "$work/$name.log"; fail "$name: the server did not start"; summary; exit 1; }
  base=http://127.0.0.1:$port
}

# --- (a) the OpenAI client against alpha sample's greedy output ---
# expected CASE KIND INPUT PROMPT_TEXT MAX SPECIAL: alpha sample's continuation of PROMPT_TEXT as a JSON case
expected() {
  local kind=$1 input=$2 prompt=$3 max=$4 special=$5
  "$alpha" sample "${runs[@]}" --run tiny --prompt "$prompt" $special --temperature 0 --max-tokens "$max" \
    >"$work/sample.out" 2>"$work/sample.err"
  python3 - "$kind" "$input" "$prompt" "$max" "$work/sample.out" "$work/sample.err" <<'PY'
import json, re, sys
kind, text_in, prompt, max_tokens, out, err = sys.argv[1:]
max_tokens = int(max_tokens)
out, err = open(out, encoding="utf-8").read(), open(err).read()
assert out.startswith(prompt) and out.endswith("\n"), (out, prompt)
text = out[len(prompt):-1]  # sample prints the prompt, the new text and a newline
m = re.search(r"prompt (\d+) tokens: .*; (\d+) new tokens", err)
prompt_tokens, new_tokens = int(m.group(1)), int(m.group(2))
print(json.dumps({"kind": kind, "input": text_in, "max_tokens": max_tokens, "text": text,
                  "prompt_tokens": prompt_tokens, "completion_tokens": new_tokens,
                  "finish": "length" if new_tokens == max_tokens else "stop", "long_max_tokens": 120}))
PY
}
chat_prompt() { printf '<|bos|><|user_start|>%s<|user_end|><|assistant_start|>' "$1"; }
{
  echo "["
  expected chat "the quick brown fox" "$(chat_prompt 'the quick brown fox')" 24 --special
  echo ","
  expected completion "the lazy dog and the" "the lazy dog and the" 24 ""
  echo "]"
} >"$work/cases.json"
grep -q '"text"' "$work/cases.json" && pass "alpha sample --special gave the expected answers" || fail "expected answers: $(cat "$work/cases.json")"

start_server main --parallel 4
node "$here/openai_client.mjs" "$base/v1" tiny "$work/cases.json" >"$work/client.out" 2>&1
client_rc=$?
sed 's/^/   /' "$work/client.out"
passes=$((passes + $(grep -c '^ok:' "$work/client.out")))
failures=$((failures + $(grep -c '^FAIL:' "$work/client.out")))
[ $client_rc -eq 0 ] || grep -q '^FAIL:' "$work/client.out" || fail "the OpenAI client script failed: $(tail -5 "$work/client.out")"

# --- (b) errors over raw HTTP ---
# expect_error NAME STATUS PATTERN CURL_ARGS...: the status, and an OpenAI error body matching PATTERN
expect_error() {
  local name=$1 status=$2 pattern=$3
  shift 3
  local got
  got=$(curl -s -o "$work/body" -w '%{http_code}' "$@")
  if [ "$got" != "$status" ]; then fail "$name: status $got, wanted $status: $(head -c 300 "$work/body")"; return; fi
  if ! python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert set(e) == {"message", "type", "param", "code"} and e["message"] and e["type"], e' "$work/body" 2>/dev/null; then
    fail "$name: not an OpenAI error body: $(head -c 300 "$work/body")"
    return
  fi
  grep -q -- "$pattern" "$work/body" && pass "$name" || fail "$name: body lacks '$pattern': $(head -c 300 "$work/body")"
}
chat_url=$base/v1/chat/completions
json=(-H 'Content-Type: application/json')
expect_error "malformed JSON: 400" 400 '"code":"invalid_json"' "${json[@]}" -d '{"messages": [' "$chat_url"
expect_error "messages missing: 400 naming it" 400 '"param":"messages"' "${json[@]}" -d '{"model": "tiny"}' "$chat_url"
expect_error "messages of the wrong type: 400" 400 '"param":"messages"' "${json[@]}" -d '{"messages": "hi"}' "$chat_url"
expect_error "temperature of the wrong type: 400" 400 '"param":"temperature"' "${json[@]}" \
  -d '{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}' "$chat_url"
expect_error "max_tokens 0: 400" 400 '"param":"max_tokens"' "${json[@]}" \
  -d '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}' "$chat_url"
expect_error "an unknown role: 400" 400 '"param":"messages\[0\].role"' "${json[@]}" \
  -d '{"messages": [{"role": "wizard", "content": "hi"}]}' "$chat_url"
long=$(for i in $(seq 1 200); do printf 'zq%d xv ' "$i"; done)
expect_error "a prompt longer than the context: 400 context_length_exceeded" 400 '"code":"context_length_exceeded"' \
  "${json[@]}" -d "{\"messages\": [{\"role\": \"user\", \"content\": \"$long\"}]}" "$chat_url"
expect_error "the same for /v1/completions" 400 '"param":"prompt"' "${json[@]}" -d "{\"prompt\": \"$long\"}" \
  "$base/v1/completions"
expect_error "an unknown model: 404" 404 '"code":"model_not_found"' "${json[@]}" \
  -d '{"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}' "$chat_url"
expect_error "an unknown API route: 404" 404 '"code":"unknown_url"' "$base/v1/nothing"
expect_error "an unknown page: 404" 404 'GET /nope' "$base/nope"
expect_error "GET on a POST endpoint: 404" 404 'GET /v1/chat/completions' "$chat_url"
head -c 1100000 /dev/zero | tr '\0' 'a' >"$work/big.json"
expect_error "a body over 1 MiB: 413" 413 'larger than the limit' "${json[@]}" --data-binary @"$work/big.json" "$chat_url"
max_tokens_huge=$(curl -s "${json[@]}" -d '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000000000, "temperature": 0}' "$chat_url")
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert a["usage"]["prompt_tokens"]+a["usage"]["completion_tokens"] <= 256' "$max_tokens_huge" 2>/dev/null &&
  pass "a huge max_tokens is clamped to the context" || fail "huge max_tokens: $max_tokens_huge"
health=$(curl -s "$base/health")
grep -q '"status":"ok"' <<<"$health" && grep -q '"busy_slots":0' <<<"$health" && pass "/health: ok, no busy slot" ||
  fail "/health: $health"
grep -qE '^POST /v1/chat/completions 400 ' "$work/main.log" && pass "one log line per request" ||
  fail "no request log lines: $(tail -3 "$work/main.log")"

# --- (b) a client leaving mid-stream frees its slot ---
steps_before=$(curl -s "$base/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["decode_steps"])')
curl -sN "${json[@]}" -d '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 240, "stream": true}' \
  "$chat_url" | head -c 300 >/dev/null
# the slot frees before the connection's log line is written: wait for both
slot_freed() {
  health=$(curl -s "$base/health")
  grep -q '"busy_slots":0' <<<"$health" && grep -q "(client gone)" "$work/main.log"
}
freed=""
wait_for 60 slot_freed && freed=1
steps_after=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["decode_steps"])' "$health")
if [ -n "$freed" ] && [ $((steps_after - steps_before)) -lt 200 ] && grep -q "(client gone)" "$work/main.log"; then
  pass "a client gone mid-stream freed its slot after $((steps_after - steps_before)) of 240 steps"
else
  fail "disconnect: freed=$freed steps=$((steps_after - steps_before)) health=$health"
fi
answer=$(curl -s "${json[@]}" -d '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}' "$chat_url")
# a whole answer: 3 tokens, or fewer when the sampled reply ends itself
grep -qE '"finish_reason":"(length|stop)"' <<<"$answer" && grep -q '"role":"assistant"' <<<"$answer" &&
  pass "the server still answers afterwards" || fail "after: $answer"

# --- (c) alpha chat from a pipe: the greedy reply, twice around /clear, equal to the server's ---
printf 'the quick brown fox\n/clear\nthe quick brown fox\n' |
  "$alpha" chat "${runs[@]}" --run tiny --temperature 0 --max-tokens 24 >"$work/chat.out" 2>"$work/chat.err"
chat_rc=$?
if [ $chat_rc -eq 0 ] && python3 - "$work/cases.json" "$work/chat.out" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))[0]["text"]
got = open(sys.argv[2], encoding="utf-8").read()
sys.exit(0 if got == want + "\n" + want + "\n" else f"got {got!r}, want {want!r} twice")
PY
then
  pass "alpha chat from a pipe answers (the same text as the server), /clear starts over, EOF ends it"
else
  fail "alpha chat: rc=$chat_rc $(cat "$work/chat.err")"
fi
expect_fail "alpha chat: an unknown run" "no such run" "$alpha" chat "${runs[@]}" --run nope
expect_fail "alpha serve: a bad --parallel" "--parallel" "$alpha" serve "${runs[@]}" --run tiny --parallel 0
expect_fail "alpha serve: a bad --host" "--host" "$alpha" serve "${runs[@]}" --run tiny --host nowhere

# --- (d) SIGTERM mid-stream: the stream ends with an error event, the server exits 0 ---
curl -sN "${json[@]}" -d '{"prompt": "the", "max_tokens": 250, "stream": true}' "$base/v1/completions" \
  >"$work/stream.txt" &
curl_pid=$!
wait_for 60 test -s "$work/stream.txt" || fail "SIGTERM: the stream did not start within 60 s"
kill -TERM "$server_pid"
wait "$server_pid"
rc=$?
wait "$curl_pid"
if [ $rc -eq 0 ] && grep -q "shutting down" "$work/main.log"; then pass "SIGTERM: exit 0"; else fail "SIGTERM: rc=$rc"; fi
if grep -q '"error"' "$work/stream.txt" && ! grep -q '\[DONE\]' "$work/stream.txt"; then
  pass "SIGTERM: the stream in flight ended with an error event"
elif grep -q '\[DONE\]' "$work/stream.txt"; then
  echo "   (the stream had finished before SIGTERM: nothing to interrupt)"
else
  fail "SIGTERM stream: $(tail -c 300 "$work/stream.txt")"
fi

# --- API key, and a full queue (1 slot, no queue) ---
start_server keyed --api-key sesame --parallel 1 --queue 0
models=$base/v1/models
expect_error "no API key: 401" 401 '"code":"invalid_api_key"' "$models"
expect_error "a wrong API key: 401" 401 'Incorrect API key' -H 'Authorization: Bearer nope' "$models"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer sesame' "$models")" == 200 ] &&
  pass "the right API key: 200" || fail "the right key was refused"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/health")" == 200 ] && pass "/health needs no key" ||
  fail "/health asked for a key"
for i in $(seq 1 6); do
  curl -s -o "$work/q$i" -w '%{http_code}\n' -H 'Authorization: Bearer sesame' "${json[@]}" \
    -d '{"prompt": "the", "max_tokens": 200}' "$base/v1/completions" >"$work/q$i.status" &
done
wait $(jobs -p | grep -v "^$server_pid$") 2>/dev/null
statuses=$(cat "$work"/q*.status | sort | uniq -c | tr -s ' ' | tr '\n' ';')
if grep -q 200 "$work"/q*.status && grep -l 503 "$work"/q*.status >/dev/null && grep -q queue_full "$work"/q*; then
  pass "6 requests at 1 slot with no queue: some answered, the rest 503 queue_full ($statuses)"
else
  fail "queue full: $statuses"
fi
kill -INT "$server_pid"
wait "$server_pid" && pass "SIGINT: exit 0" || fail "SIGINT: non-zero exit"

summary
