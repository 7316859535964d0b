#!/usr/bin/env bash
# LAB: disassembles the lavapipe JIT code a running process is executing (no IR dumps in Debian's
# release Mesa). Usage: jit_dump.sh PID OUT.s   (attaches gdb, finds threads whose pc lies in an
# anonymous executable mapping, dumps that mapping, disassembles it with objdump).
set -euo pipefail
pid=$1 out=$2
pcs=$(gdb -p "$pid" -batch -ex "thread apply all p/x \$pc" 2>/dev/null | grep -oE '0x[0-9a-f]+$' || true)
: >"$out"
for pc in $pcs; do
  while read -r range perms _ _ _ path; do
    [[ "$perms" == *x* ]] || continue
    [ -z "${path:-}" ] || continue
    lo=$((16#${range%-*})) hi=$((16#${range#*-}))
    if (( pc >= lo && pc < hi )); then
      echo "# pc $pc in $range" >>"$out"
      gdb -p "$pid" -batch -ex "dump memory /tmp/jit.$lo.bin $lo $hi" >/dev/null 2>&1
      objdump -D -b binary -m i386:x86-64 --adjust-vma="$lo" "/tmp/jit.$lo.bin" >>"$out"
    fi
  done </proc/"$pid"/maps
done
echo "pcs: $pcs"
