#!/usr/bin/env bash
# alpha fleet end to end against a real OpenSSH server: sshd on 127.0.0.1 at a free port with a
# generated host key and user key, the "remote" deployDir in a temp folder (with spaces, quotes and
# a $(...) in its name). Deploy (and the skip by SHA-256), status, a tiny detached training run on
# lavapipe, logs, stop (a checkpoint), resume, download (identical files; a second download skips),
# run, sync-keys, bench, and the failures: closed port, wrong key, changed host key, malformed
# fleet.json, unknown instance, hostile names. Fails (CI=true) or skips (exit 77, locally) without sshd.
# Usage: test_fleet.sh PATH/TO/alpha
set -u
alpha=$(realpath "$1")
source "$(dirname "$0")/../cli/common.sh"
started=$SECONDS

sshd=/usr/sbin/sshd
for tool in "$sshd" ssh ssh-keygen; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
      echo "FAIL: $tool is missing (scripts/setup installs openssh-server and openssh-client)"
      exit 1
    fi
    echo "skip: $tool is missing (apt-get install openssh-server openssh-client)"
    exit 77
  fi
done

work=$(mktemp -d)
deploy="$work/deploy dir/it's \"quoted\" \$(touch $work/pwned)"
sshd_pid=
# Our trainers (by the pids in their fleet.pid files), our shared SSH connections, our sshd.
cleanup() {
  for pidfile in "$deploy"/runs/*/fleet.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = alpha ] && kill -9 "$pid"
  done
  for socket in "$work"/ctl/*; do
    [ -S "$socket" ] && ssh -o ControlPath="$socket" -O exit placeholder >/dev/null 2>&1
  done
  [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null && wait "$sshd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
closed_port=$(free_port)  # nothing listens there
for key in host_key user_key wrong_key third_key; do ssh-keygen -q -t ed25519 -N '' -C "$key" -f "$work/$key"; done
cp "$work/user_key.pub" "$work/authorized_keys"
[ "$(id -u)" -eq 0 ] && mkdir -p /run/sshd  # sshd's privilege separation folder, needed when run as root

start_sshd() {
  cat >"$work/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
EOF
  "$sshd" -D -e -f "$work/sshd_config" 2>>"$work/sshd.log" &
  sshd_pid=$!
  wait_for 30 eval '(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null' && return 0
  echo "FAIL: sshd did not start: $(cat "$work/sshd.log")"
  exit 1
}
start_sshd

/usr/bin/python3 - "$work" "$port" "$closed_port" "$deploy" "$(id -un)" >"$work/fleet.json" <<'PY'
import json, sys
work, port, closed_port, deploy, user = sys.argv[1:]
def instance(name, key, port=int(port)):
    return {"name": name, "host": "127.0.0.1", "port": port, "user": user, "key": f"{work}/{key}", "deployDir": deploy}
print(json.dumps({"instances": [instance("local", "user_key"), instance("wrong-key", "wrong_key"),
                                instance("third", "third_key"), instance("closed", "user_key", int(closed_port))]}))
PY
export ALPHA_FLEET="$work/fleet.json"
export ALPHA_FLEET_KNOWN_HOSTS="$work/known_hosts"
export ALPHA_FLEET_CONTROL_DIR="$work/ctl"
export ALPHA_FLEET_CONNECT_TIMEOUT=5
unset ALPHA_HISTORY

# check NAME EXPECTED_RC PATTERN -- alpha args: runs alpha, checks its exit status (any non-zero for
# "nonzero") and that its output matches the extended regex PATTERN.
check() {
  local name=$1 want=$2 pattern=$3
  shift 4
  out=$("$alpha" "$@" 2>&1)
  rc=$?
  local rc_ok=false
  if [ "$want" = nonzero ]; then [ $rc -ne 0 ] && rc_ok=true; else [ $rc -eq "$want" ] && rc_ok=true; fi
  if $rc_ok && grep -Eq -- "$pattern" <<<"$out"; then pass "$name"; else fail "$name: rc=$rc: $out"; fi
}
run_dir="$deploy/runs/tiny"

# --- help and setup's commands (installing packages would change this machine) ---
check "fleet --help lists the subcommands" 0 "deploy.*" -- fleet --help
check "fleet setup --help" 0 "--dry-run" -- fleet setup --help
check "setup --dry-run prints the install commands" 0 "apt-get install .*mesa-vulkan-drivers vulkan-tools" \
  -- fleet setup local --dry-run

# --- deploy ---
check "status before deploying: reachable, binary missing" 0 "^local +[^ ]+ +yes +missing" -- fleet status local
check "deploy uploads the binary" 0 "local: deployed .*alpha 0.1" -- fleet deploy local
cmp -s "$alpha" "$deploy/alpha" && pass "the deployed binary is identical" || fail "deployed binary differs"
check "deploy again is skipped by SHA-256" 0 "is up to date" -- fleet deploy local
ssh-keygen -F "[127.0.0.1]:$port" -f "$work/known_hosts" >/dev/null && pass "the host key was recorded (accept-new)" ||
  fail "known_hosts: $(cat "$work/known_hosts" 2>&1)"
check "status after deploying: binary current" 0 "^local +[^ ]+ +yes +current +- +- +- +- +- +-$" -- fleet status local

# --- train, detached ---
make_corpus "$work/corpus.txt"
check "train starts a detached run" 0 "local: started run tiny \(pid [0-9]+\)" -- fleet train local --run tiny \
  --upload-data "$work/corpus.txt" -- --model d1 --batch 4 --seq 32 --vocab 300 --warmup 5 --eval-every 0 \
  --steps 100000 --ckpt-every 20  # far more than the test lets it run: it is stopped, never finishes
cmp -s "$work/corpus.txt" "$deploy/data/corpus.txt" && pass "--upload-data copied the corpus" || fail "corpus upload"
pid=$(cat "$run_dir/fleet.pid" 2>/dev/null)
if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = alpha ] && [ "$(awk '{print $6}' /proc/"$pid"/stat)" = "$pid" ]; then
  pass "fleet.pid names the trainer, which leads its own session (setsid) after ssh has gone"
else
  fail "trainer pid '$pid': $(cat /proc/"$pid"/stat 2>&1)"
fi
wait_for 180 has_steps "$run_dir/metrics.jsonl" 30 && pass "the remote run trains" || fail "no steps: $(tail -5 "$run_dir/train.log")"
check "a second train is refused while one runs" nonzero "run tiny is training there now" \
  -- fleet train local --run other --data data/corpus.txt
check "status shows the run training" 0 "^local +[^ ]+ +yes +current +tiny +running +[0-9]+ +[0-9.]+ +- +-$" \
  -- fleet status local
# The log gets a progress line every 2000 steps (a 50th of --steps): what `logs -n 3` is checked for
# below, 3 whole lines the last of which is a progress line, is waited for first (metrics rows come
# sooner than log lines).
log_ends_in_step() {
  [ "$(wc -l <"$run_dir/train.log")" -ge 3 ] && [ "$(tail -c 1 "$run_dir/train.log")" = "" ] &&
    tail -n 1 "$run_dir/train.log" | grep -Eq "^step [0-9]+/100000 loss"
}
wait_for 300 log_ends_in_step || fail "train.log has no progress line after 300 s: $(tail -3 "$run_dir/train.log")"
check "logs -n 3" 0 "^step [0-9]+/100000 loss" -- fleet logs local -n 3
[ "$(wc -l <<<"$out")" -eq 3 ] && pass "logs -n 3 prints 3 lines" || fail "logs: $out"

# A changed binary replaces the running one through a rename: the trainer keeps going.
cp "$alpha" "$work/alpha-changed" && printf 'x' >>"$work/alpha-changed"
out=$("$work/alpha-changed" fleet deploy local 2>&1)
if [ $? -eq 0 ] && cmp -s "$work/alpha-changed" "$deploy/alpha" && kill -0 "$pid" 2>/dev/null; then
  pass "deploying over the running binary leaves the trainer running"
else
  fail "deploy over a running binary: $out"
fi
check "status compares the deployed binary with this one" 0 "^local +[^ ]+ +yes +differs " -- fleet status local
check "deploy restores this binary" 0 "local: deployed" -- fleet deploy local

# --- stop: SIGINT, checkpoint, exit ---
check "stop" 0 "local: run tiny stopped; newest checkpoint: step-[0-9]+\.ckpt" -- fleet stop local --run tiny
stopped_at=$(steps_done "$run_dir/metrics.jsonl")
if ! kill -0 "$pid" 2>/dev/null && [ -f "$(printf '%s/checkpoints/step-%08d.ckpt' "$run_dir" "$stopped_at")" ] &&
  grep -q "checkpoint saved" "$run_dir/train.log"; then
  pass "the trainer exited with a checkpoint at its last step ($stopped_at)"
else
  fail "after stop: steps=$stopped_at $(ls "$run_dir/checkpoints") $(tail -3 "$run_dir/train.log")"
fi
check "stop again: nothing to stop" 0 "run tiny is not training" -- fleet stop local
check "status shows the run stopped" 0 "^local +[^ ]+ +yes +current +tiny +stopped +$stopped_at " -- fleet status local

# --- resume ---
check "resume (the newest run by default)" 0 "local: resumed run tiny \(pid [0-9]+\)" -- fleet resume local
wait_for 180 has_steps "$run_dir/metrics.jsonl" $((stopped_at + 20)) && pass "the resumed run trains on" ||
  fail "resume: $(tail -5 "$run_dir/train.log")"
first_resumed=$(sed -n "$((stopped_at + 1))p" "$run_dir/metrics.jsonl" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])')
[ "$first_resumed" = $((stopped_at + 1)) ] && pass "it continues at step $((stopped_at + 1))" || fail "resumed at $first_resumed"
check "resume refuses a run that is training" nonzero "run tiny is training there now" -- fleet resume local --run tiny
check "stop the resumed run" 0 "stopped; newest checkpoint" -- fleet stop local

# --- download ---
files=$(find "$run_dir" -type f | wc -l)
check "download" 0 "copied $files files .*, 0 already complete" -- fleet download local --run tiny --to "$work/down"
diff -r "$run_dir" "$work/down" >/dev/null && pass "downloaded files are identical" ||
  fail "download differs: $(diff -r "$run_dir" "$work/down" 2>&1 | head -3)"
check "download again skips what is complete" 0 "copied 0 files .*, $files already complete" \
  -- fleet download local --run tiny --to "$work/down"
echo "damaged" >"$work/down/metrics.jsonl"
check "download again copies only a changed file" 0 "copied 1 file .*, $((files - 1)) already complete" \
  -- fleet download local --run tiny --to "$work/down"
diff -r "$run_dir" "$work/down" >/dev/null && pass "and the copies are identical again" || fail "re-download"
check "download of a missing run" nonzero "there is no run nope" -- fleet download local --run nope

# --- run, sync-keys, bench ---
check "run: every argument arrives as one word; the exit status comes back" 7 "^\[a b\]\[it's\]\[\\\$\(touch x\)\]\[\]$" \
  -- fleet run local -- sh -c 'for a; do printf "[%s]" "$a"; done; echo; exit 7' sh "a b" "it's" '$(touch x)' ""
check "run starts in the deployDir" 0 "^$(printf '%s' "$deploy" | sed 's/[][\.*^$()]/\\&/g')\$" -- fleet run local -- pwd
check "a key not yet installed is refused" nonzero "refused the key" -- fleet status third
check "sync-keys installs a public key" 0 "added .*third_key.pub" -- fleet sync-keys local \
  --public-key "$work/third_key.pub" --authorized-keys "$work/authorized_keys"
check "and then that key works" 0 "^third +[^ ]+ +yes +current" -- fleet status third
check "sync-keys again adds nothing" 0 "is already in" -- fleet sync-keys local \
  --public-key "$work/third_key.pub" --authorized-keys "$work/authorized_keys"
[ "$(grep -c third_key "$work/authorized_keys")" -eq 1 ] && pass "the key is there once" || fail "authorized_keys"
ALPHA_HISTORY="$work/history.csv" check "bench runs there and records here" 0 "recorded [0-9]+ rows in $work/history.csv" \
  -- fleet bench local --json "$work/bench.json" -- --ops train --iters 1 --warmup 0 --model d1 --batch 2 --seq 32 --vocab 300
recorded=$(sed -n 's/.*recorded \([0-9]*\) rows in .*history.csv.*/\1/p' <<<"$out" | tail -1)
if /usr/bin/python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); assert j["train"][0]["model"] == "d1"' "$work/bench.json" &&
  [ "$(head -1 "$work/history.csv")" = "time,commit,device,driver,config,metric,value" ] && [ -n "$recorded" ] &&
  [ "$(wc -l <"$work/history.csv")" -eq $((recorded + 1)) ] && grep -q ",train d1 .*,ms_per_step," "$work/history.csv"; then
  pass "the bench JSON came back and perf history has its rows"
else
  fail "bench results: $(cat "$work/history.csv" 2>&1)"
fi

# --- failures: each a clear message and a non-zero exit ---
t0=$SECONDS
check "closed port: bounded retries, then a clear message" nonzero "closed: cannot reach .*:$closed_port after 3 tries: .*Connection refused" \
  -- fleet status closed
[ $((SECONDS - t0)) -le 20 ] && pass "the retries are bounded ($((SECONDS - t0)) s)" || fail "closed port took $((SECONDS - t0)) s"
check "wrong key" nonzero "wrong-key: .* refused the key .*wrong_key" -- fleet deploy wrong-key
check "unknown instance" nonzero "no instance named \"nope\" .*known: local, wrong-key, third, closed" -- fleet deploy nope
check "a hostile instance name on the command line is just unknown" nonzero "no instance named" \
  -- fleet run "local; touch $work/pwned-cli" -- true
printf '{"instances": [{"name": "ok", "host": "h",}]}' >"$work/malformed.json"
check "malformed fleet.json" nonzero "malformed.json is not valid JSON: parse error at line 1" \
  -- fleet --fleet "$work/malformed.json" status
printf '{"instances": [{"name": "a", "host": "h", "port": "22", "user": "u", "key": "k", "deployDir": "d"}]}' >"$work/port.json"
check "a bad field is named" nonzero "instances\[0\] \(\"a\"\): \"port\" must be an integer" -- fleet --fleet "$work/port.json" status
printf '{"instances": [{"name": "x; touch %s/pwned-name", "host": "h", "user": "u", "key": "k", "deployDir": "d"}]}' "$work" >"$work/hostile.json"
check "a hostile instance name in fleet.json is refused" nonzero "\"name\" \"x; touch .*\" may hold only" \
  -- fleet --fleet "$work/hostile.json" status
ALPHA_FLEET="$work/nothing.json" check "no fleet file" nonzero "no fleet file at .*nothing.json: copy fleet.json.example" -- fleet status
check "a hostile run name" nonzero "run name \"../x\" may hold only" -- fleet logs local --run ../x
check "train without data" nonzero "no training data" -- fleet train local --run nodata
check "train with data that is not there" nonzero "the data missing.txt does not exist there" \
  -- fleet train local --run nodata --data missing.txt
check "alpha fleet's own flags are refused after --" nonzero "--runs-dir is set by alpha fleet" \
  -- fleet train local --data data/corpus.txt -- --runs-dir /
check "a trainer that fails at once is reported" nonzero "the trainer of run badmodel stopped at once" \
  -- fleet train local --run badmodel --data data/corpus.txt -- --model d99
grep -q "unknown model preset 'd99'" <<<"$out" && pass "with the end of its log" || fail "no log in: $out"
check "an existing run name" nonzero "run tiny already exists there" -- fleet train local --run tiny --data data/corpus.txt

# The machine gets a new host key (rebuilt): refused, with the command that forgets the old key.
for socket in "$work"/ctl/*; do ssh -o ControlPath="$socket" -O exit placeholder >/dev/null 2>&1; done
kill "$sshd_pid" && wait "$sshd_pid" 2>/dev/null
rm -f "$work/host_key" "$work/host_key.pub" && ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
start_sshd
check "changed host key" nonzero "local: the host key of 127.0.0.1:$port has changed .*ssh-keygen -f .*known_hosts -R '\[127.0.0.1\]:$port'" \
  -- fleet status local

ls "$work" | grep -q pwned && fail "a quoted name ran a command: $(ls "$work")" || pass "no name or path ran a command"
echo "fleet test took $((SECONDS - started)) s"
summary
