#!/usr/bin/env bash
# A long run, to see what hours do to atsbench and the device: memory, throughput, latency.
#
#   scripts/soak.sh DURATION TARGET        e.g. scripts/soak.sh 60m /dev/loop3
#
# Two atsbench processes run side by side for DURATION on TARGET, each on its own half of the
# first 64 MiB (nothing outside it is written), each with --hdr-log:
#   ats        --workload ats --threads 1 --qd 8, open loop at SOAK_ATS_RATE attempts/s (2000)
#   heartbeat  --workload heartbeat --threads 1 --qd 4, beats every 1 s, background I/O at
#              SOAK_HB_RATE operations/s (1000)
# Every SOAK_SAMPLE seconds (10) the resident set size of both is written to rss.tsv. At the
# end, each hdr-log is summarised in 5-minute windows (examples/hdr_windows.rs) and the lines
# the soak is judged by are printed: RSS at 1 minute and at the end, ops/s and p99 in the first
# and last 5 minutes, the size of the hdr-logs.
#
# Output goes to SOAK_DIR (default .cache/soak/<date>; never committed): ats.json, hb.json,
# ats.hlog, hb.hlog, rss.tsv, windows-*.tsv, summary.txt. ATSBENCH=path skips the cargo build.
# One CPU is spared for the rest of the machine: both workers are open loop at modest rates.
#
# A block device TARGET must hold no data that matters (atsbench refuses one with a filesystem
# unless SOAK_FORCE=1 adds --force). For a loop device:
#   truncate -s 256M /tmp/soak.img && losetup --direct-io=on -f --show /tmp/soak.img
#
# Exit status: 0 when both runs ended 0, else the first non-zero exit code of the two; 2 usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
[ $# -eq 2 ] || { usage >&2; exit 2; }
duration=$1 target=$2
out=${SOAK_DIR:-$ROOT/.cache/soak/$(date -u +%Y%m%dT%H%M%SZ)}
sample=${SOAK_SAMPLE:-10}
mkdir -p "$out"

if [ -z "${ATSBENCH:-}" ]; then
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin atsbench --example hdr_windows
    ATSBENCH=$ROOT/target/release/atsbench
fi
windows=${HDR_WINDOWS:-$(dirname "$ATSBENCH")/examples/hdr_windows}
force=()
[ "${SOAK_FORCE:-0}" = 1 ] && force=(--force)

log() { printf 'soak: %s\n' "$*" >&2; }
log "$duration on $target; output in $out"

"$ATSBENCH" run "$target" "${force[@]}" --workload ats --threads 1 --qd 8 --region 0..32M \
    --rate "${SOAK_ATS_RATE:-2000}" --duration "$duration" --hdr-log "$out/ats.hlog" --hdr-interval 10s \
    -f json -o "$out/ats.json" 2>"$out/ats.err" &
ats=$!
"$ATSBENCH" run "$target" "${force[@]}" --workload heartbeat --threads 1 --qd 4 --region 32M..64M \
    --heartbeat-interval 1s --rate "${SOAK_HB_RATE:-1000}" --duration "$duration" --hdr-log "$out/hb.hlog" \
    --hdr-interval 10s -f json -o "$out/hb.json" 2>"$out/hb.err" &
hb=$!
trap 'kill $ats $hb 2>/dev/null || true' INT TERM

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
start=$(date +%s)
printf 't_s\tats_rss_kib\thb_rss_kib\n' >"$out/rss.tsv"
while kill -0 $ats 2>/dev/null || kill -0 $hb 2>/dev/null; do
    printf '%s\t%s\t%s\n' $(($(date +%s) - start)) "$(rss $ats)" "$(rss $hb)" >>"$out/rss.tsv"
    sleep "$sample"
done
ats_rc=0 hb_rc=0
wait $ats || ats_rc=$?
wait $hb || hb_rc=$?
rc=$ats_rc
[ $rc -ne 0 ] || rc=$hb_rc

for k in ats hb; do
    "$windows" "$out/$k.hlog" 300 >"$out/windows-$k.tsv" || true
done

{
    echo "soak $duration on $target (exit codes: ats $ats_rc, heartbeat $hb_rc)"
    awk -F'\t' 'NR > 1 && $2 != "" { if (!first && $1 >= 60) { first = 1; print "RSS at ~1 min (" $1 " s): ats " $2 " KiB, heartbeat " $3 " KiB" } last = $0 }
        END { split(last, f, "\t"); print "RSS at the end (" f[1] " s): ats " f[2] " KiB, heartbeat " f[3] " KiB" }' "$out/rss.tsv"
    for k in ats hb; do
        # Whole windows only (the last interval of a run may open a window of a few seconds).
        awk -F'\t' -v k=$k 'NR > 1 && $3 >= 270 { n[$1]++; row[$1, n[$1]] = $0 }
            END { for (t in n) { split(row[t, 1], a, "\t"); split(row[t, n[t]], b, "\t");
                printf "%s %-8s first 5 min: %s ops/s, p99 %s us | last 5 min (from %s s): %s ops/s, p99 %s us\n",
                    k, t, a[5], a[7], b[2], b[5], b[7] } }' "$out/windows-$k.tsv"
    done
    echo "hdr-log sizes: ats $(stat -c %s "$out/ats.hlog") bytes, heartbeat $(stat -c %s "$out/hb.hlog") bytes"
} | tee "$out/summary.txt"
exit $rc
