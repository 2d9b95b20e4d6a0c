#!/usr/bin/env bash
# Read IOPS of `atsbench run --workload read` against fio's io_uring engine with its best
# flags, on the same loop device over tmpfs, one pinned worker each, runs interleaved.
#
#   sudo scripts/fio-compare.sh [SECONDS_PER_RUN] [ROUNDS]
#
# Needs root (losetup), fio and python3. This is a benchmark, not a test: the figures depend
# on the machine; compare the ratios, which come from runs side by side.
set -euo pipefail

secs=${1:-5}
rounds=${2:-3}
qds=(${QDS:-1 32 128})
cpu=${CPU:-0}
bs=4096
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${ATSBENCH:-$here/target/release/atsbench}

[ "$(id -u)" -eq 0 ] || { echo "fio-compare: needs root for losetup; run with sudo" >&2; exit 4; }
command -v fio >/dev/null || { echo "fio-compare: fio is not installed; apt-get install fio" >&2; exit 3; }
[ -n "${ATSBENCH:-}" ] || (cd "$here" && cargo build --release --quiet)

img=/dev/shm/atsbench-fio-compare.img
truncate -s 1G "$img"
dd if=/dev/zero of="$img" bs=1M count=1024 conv=notrunc status=none
dev=$(losetup -f --show --direct-io=on "$img")
out=$(mktemp -d)
trap 'losetup -d "$dev"; rm -f "$img"; rm -rf "$out"' EXIT

run_fio() { # qd file
  fio --name=randread --filename="$dev" --ioengine=io_uring --direct=1 --rw=randread --bs=$bs \
    --iodepth="$1" --registerfiles=1 --fixedbufs=1 --iodepth_batch_submit="$1" \
    --iodepth_batch_complete_min=1 --iodepth_batch_complete_max="$1" --norandommap --randrepeat=0 \
    --cpus_allowed="$cpu" --numjobs=1 --time_based --runtime="$secs" --ramp_time=1 \
    --output-format=json --output="$2" >/dev/null
}

run_atsbench() { # qd file
  "$bin" run "$dev" --workload read --bs $bs --qd "$1" --cpus "$cpu" --duration "$secs" \
    --format json --output "$2" 2>/dev/null
}

echo "device $dev (loop over tmpfs, direct I/O), bs $bs, ${secs}s per run, $rounds rounds, CPU $cpu"
for qd in "${qds[@]}"; do
  for r in $(seq 1 "$rounds"); do
    # Alternate who goes first, so drift on a shared machine hits both alike.
    if [ $((r % 2)) -eq 1 ]; then
      run_fio "$qd" "$out/fio-$qd-$r.json"; run_atsbench "$qd" "$out/ats-$qd-$r.json"
    else
      run_atsbench "$qd" "$out/ats-$qd-$r.json"; run_fio "$qd" "$out/fio-$qd-$r.json"
    fi
  done
done

python3 - "$out" "$rounds" "${qds[@]}" <<'PY'
import json, statistics, sys
out, rounds, qds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"{'qd':>4} {'fio IOPS':>12} {'atsbench IOPS':>14} {'ratio':>6}   (medians of {rounds} interleaved runs; atsbench p99 us)")
for qd in qds:
    f = [json.load(open(f"{out}/fio-{qd}-{r}.json"))["jobs"][0]["read"]["iops"] for r in range(1, rounds + 1)]
    a = [json.load(open(f"{out}/ats-{qd}-{r}.json"))["points"][0] for r in range(1, rounds + 1)]
    fi, ai = statistics.median(f), statistics.median(p["iops"] for p in a)
    p99 = statistics.median(p["latency_ns"]["read"]["p99"] for p in a) / 1000
    print(f"{qd:>4} {fi:>12.0f} {ai:>14.0f} {ai / fi:>6.2f}   {p99:.1f}")
PY
