#!/usr/bin/env bash
# Calibrate `atsbench compare`: false-alarm rate of A/A pairs and power on known effects.
#
#   scripts/calibrate-compare.sh [sim|loop|all] [DIR]
#
# Measures pairs of runs into DIR (default: a new directory under /tmp), then compares every
# pair and prints, per case, how many pairs came out regression / inconclusive / ok / better,
# with the figure the issue asks for (A/A: regression in at most 5 % of pairs; known drops:
# regression in at least 90 %). Cases, on each target:
#   aa1     40 pairs of single 2 s runs of the same configuration
#   aa3     20 pairs of --repeat 3 (1 s each)
#   drop25  20 pairs, 1 repeat of 5 s per side, the candidate open loop at 75 % of the base's IOPS
#   drop10  20 pairs, 5 repeats of 1 s per side, the candidate at 90 % of the base's IOPS
#   loaded  1 pair, 3+3 repeats of 1 s, four busy loops running during the candidate
#   slow975 1 pair of single 2 s runs, the candidate at 2.5 % of the base's IOPS
# Targets: `sim` with --sim-latency exp:100us (so runs vary), and a loop device over a file in
# /dev/shm (needs root and losetup; skipped otherwise).
# Environment: ATSBENCH (the binary, default target/release/atsbench), PAIRS_SCALE (divide
# the pair counts, for a quick look), COMPARE_ARGS (extra compare options), PHASE (measure,
# judge or both: measure with one build and judge with another).
set -euo pipefail

which=${1:-sim}
dir=${2:-$(mktemp -d /tmp/calibrate-compare.XXXXXX)}
bin=${ATSBENCH:-target/release/atsbench}
scale=${PAIRS_SCALE:-1}
phase=${PHASE:-both}
mkdir -p "$dir"
common=(--workload ats --qd 16 --format json)

iops() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["points"][0]["iops"])' "$1"; }

# run TARGET_ARGS... -- FILE RUN_ARGS...
run() {
    local out=$1
    shift
    [ -s "$out" ] && return 0
    "$bin" run "${target[@]}" "${common[@]}" --output "$out" "$@" >/dev/null 2>&1
}

busy() { for _ in 1 2 3 4; do (while :; do :; done) & done; }

measure() {
    local t=$1 n
    mkdir -p "$dir/$t"
    n=$((40 / scale))
    for i in $(seq 1 "$n"); do
        run "$dir/$t/aa1-$i-a.json" --duration 2
        run "$dir/$t/aa1-$i-b.json" --duration 2
    done
    n=$((20 / scale))
    for i in $(seq 1 "$n"); do
        run "$dir/$t/aa3-$i-a.json" --duration 1 --repeat 3
        run "$dir/$t/aa3-$i-b.json" --duration 1 --repeat 3
    done
    for i in $(seq 1 "$n"); do
        run "$dir/$t/drop25-$i-a.json" --duration 5
        local r
        r=$(python3 -c "print(round($(iops "$dir/$t/drop25-$i-a.json") * 0.75))")
        run "$dir/$t/drop25-$i-b.json" --duration 5 --rate "$r"
    done
    for i in $(seq 1 "$n"); do
        run "$dir/$t/drop10-$i-a.json" --duration 1 --repeat 5
        r=$(python3 -c "print(round($(iops "$dir/$t/drop10-$i-a.json") * 0.90))")
        run "$dir/$t/drop10-$i-b.json" --duration 1 --repeat 5 --rate "$r"
    done
    run "$dir/$t/loaded-1-a.json" --duration 1 --repeat 3
    if [ ! -s "$dir/$t/loaded-1-b.json" ]; then
        busy
        run "$dir/$t/loaded-1-b.json" --duration 1 --repeat 3 || true
        kill $(jobs -p) 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    run "$dir/$t/slow975-1-a.json" --duration 2
    r=$(python3 -c "print(max(1, round($(iops "$dir/$t/slow975-1-a.json") * 0.025)))")
    run "$dir/$t/slow975-1-b.json" --duration 2 --rate "$r"
}

judge() {
    local t=$1 case a verdict
    printf '%-6s %-8s %5s %10s %12s %4s %6s  %s\n' target case pairs regression inconclusive ok better want
    for case in aa1 aa3 drop25 drop10 loaded slow975; do
        local reg=0 inc=0 ok=0 bet=0 pairs=0
        for a in "$dir/$t/$case"-*-a.json; do
            [ -e "$a" ] || continue
            local b=${a%-a.json}-b.json
            [ -s "$b" ] || continue
            # shellcheck disable=SC2086 # COMPARE_ARGS is a list of words on purpose
            verdict=$("$bin" compare "$a" "$b" --format json ${COMPARE_ARGS:-} 2>/dev/null |
                python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])') || verdict=error
            pairs=$((pairs + 1))
            case $verdict in
                regression) reg=$((reg + 1)) ;;
                inconclusive) inc=$((inc + 1)) ;;
                ok) ok=$((ok + 1)) ;;
                better) bet=$((bet + 1)) ;;
            esac
        done
        local want
        case $case in
            aa*) want="regression <= 5 %" ;;
            drop*) want="regression >= 90 %" ;;
            *) want="regression" ;;
        esac
        printf '%-6s %-8s %5s %10s %12s %4s %6s  %s\n' "$t" "$case" "$pairs" "$reg" "$inc" "$ok" "$bet" "$want"
    done
}

targets=()
case $which in
    sim) targets=(sim) ;;
    loop) targets=(loop) ;;
    all) targets=(sim loop) ;;
    *) echo "usage: $0 [sim|loop|all] [DIR]" >&2; exit 2 ;;
esac

echo "calibrate-compare: $dir; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for t in "${targets[@]}"; do
    loopdev=
    case $t in
        sim) target=(sim:64MiB --sim-latency exp:100us) ;;
        loop)
            if [ "$(id -u)" != 0 ] || ! command -v losetup >/dev/null; then
                echo "calibrate-compare: loop skipped (needs root and losetup)"
                continue
            fi
            truncate -s 256M "$dir/loop.img"
            loopdev=$(losetup --find --show "$dir/loop.img")
            target=("$loopdev" --force)
            ;;
    esac
    if [ "$phase" != judge ]; then measure "$t"; fi
    if [ -n "$loopdev" ]; then losetup -d "$loopdev"; fi
    if [ "$phase" != measure ]; then judge "$t"; fi
done
echo "calibrate-compare: load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
