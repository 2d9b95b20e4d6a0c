#!/usr/bin/env bash
# Calibrate `atsbench compare`: false-alarm rate of A/A pairs and power on known effects.
#
#   scripts/calibrate-compare.sh [sim|loop|all] [DIR]
#
# Measures pairs of runs into DIR (default: a new directory under /tmp), then compares every
# pair and prints, per case, how many pairs came out regression / inconclusive / ok / better,
# with the figure the issue asks for (A/A: regression in at most 5 % of pairs; known drops:
# regression in at least 90 %), and the change in IOPS the pairs actually measured (the median
# over the pairs of candidate/base IOPS, in percent, with the smallest and largest: what drop a
# case applied, which on sim is not the nominal one). Cases, on each target:
#   aa1     40 pairs of single 2 s runs of the same configuration
#   aa3     20 pairs of --repeat 3 (1 s each)
#   drop25  20 pairs, 1 repeat of 5 s per side, the candidate 25 % slower (see measure())
#   drop10  20 pairs, 5 repeats of 1 s per side, the candidate 10 % slower
#   loaded  1 pair, 3+3 repeats of 1 s, four busy loops running during the candidate
#   slow975 1 pair of single 2 s runs, the candidate at 2.5 % of the base's IOPS
# Targets: `sim` with --sim-latency exp:500us at QD 4 (so runs vary, and the sim waits on its
# latency rather than on the CPU), and a loop device over a file in /dev/shm (needs root and
# losetup; skipped otherwise). Runs go at nice -10 when root (NICE=0 to keep the default): on a
# shared machine other work otherwise sets the noise (a CPU-bound sim at QD 16, exp:100us, on
# 2 CPUs at load 9-13 varied by 90 % between identical 2 s runs); the busy loops of the
# loaded case run at the same nice level, so that they do load the run.
# Environment: ATSBENCH (the binary, default target/release/atsbench), CASES (the cases to
# measure, default all), EFFECT (latency or rate: how the drops are made), PAIRS_SCALE (divide
# the pair counts, for a quick look), COMPARE_ARGS (extra compare options), PHASE (measure,
# judge or both: measure with one build and judge with another), SESSION (non-empty: also give
# every compare the noise as --session-noise, the conservative floor under repeats).
set -euo pipefail

which=${1:-sim}
dir=${2:-$(mktemp -d /tmp/calibrate-compare.XXXXXX)}
bin=${ATSBENCH:-target/release/atsbench}
scale=${PAIRS_SCALE:-1}
phase=${PHASE:-both}
mkdir -p "$dir"
common=(--workload ats --qd 4 --format json)
if [ "$(id -u)" = 0 ]; then nice=${NICE:--10}; else nice=${NICE:-0}; fi

iops() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["points"][0]["iops"])' "$1"; }

# run TARGET_ARGS... -- FILE RUN_ARGS...
run() {
    local out=$1
    shift
    [ -s "$out" ] && return 0
    local sim=()
    [ "${target[0]}" = sim:64MiB ] && sim=(--sim-latency "exp:${lat:-500}us")
    nice -n "$nice" "$bin" run "${target[@]}" "${sim[@]}" "${common[@]}" --output "$out" "$@" >/dev/null 2>&1
}

want() { [[ " ${CASES:-aa1 aa3 drop25 drop10 loaded slow975} " == *" $1 "* ]]; }

busy() { for _ in 1 2 3 4; do nice -n "$nice" sh -c 'while :; do :; done' & done; }

measure() {
    local t=$1 n
    mkdir -p "$dir/$t"
    n=$((40 / scale))
    want aa1 || n=0
    for i in $(seq 1 "$n"); do
        run "$dir/$t/aa1-$i-a.json" --duration 2
        run "$dir/$t/aa1-$i-b.json" --duration 2
    done
    n=$((20 / scale))
    for i in $(seq 1 "$n"); do
        want aa3 || break
        run "$dir/$t/aa3-$i-a.json" --duration 1 --repeat 3
        run "$dir/$t/aa3-$i-b.json" --duration 1 --repeat 3
    done
    # The known drops: on sim, closed loop with the service time raised by 1/0.75 and 1/0.9
    # (EFFECT=latency, the default there: IOPS fall, latency rises by the same factor); else open
    # loop at 75 % and 90 % of the base's IOPS (--rate; latency is then counted from each
    # operation's intended start, so a candidate that cannot keep the rate also shows it there).
    local effect=${EFFECT:-rate} r
    [ "$t" = sim ] && effect=${EFFECT:-latency}
    for i in $(seq 1 "$n"); do
        want drop25 || break
        run "$dir/$t/drop25-$i-a.json" --duration 5
        if [ "$effect" = latency ]; then
            lat=667 run "$dir/$t/drop25-$i-b.json" --duration 5
        else
            r=$(python3 -c "print(round($(iops "$dir/$t/drop25-$i-a.json") * 0.75))")
            run "$dir/$t/drop25-$i-b.json" --duration 5 --rate "$r"
        fi
    done
    for i in $(seq 1 "$n"); do
        want drop10 || break
        run "$dir/$t/drop10-$i-a.json" --duration 1 --repeat 5
        if [ "$effect" = latency ]; then
            lat=556 run "$dir/$t/drop10-$i-b.json" --duration 1 --repeat 5
        else
            r=$(python3 -c "print(round($(iops "$dir/$t/drop10-$i-a.json") * 0.90))")
            run "$dir/$t/drop10-$i-b.json" --duration 1 --repeat 5 --rate "$r"
        fi
    done
    want loaded && run "$dir/$t/loaded-1-a.json" --duration 1 --repeat 3
    if want loaded && [ ! -s "$dir/$t/loaded-1-b.json" ]; then
        busy
        run "$dir/$t/loaded-1-b.json" --duration 1 --repeat 3 || true
        kill $(jobs -p) 2>/dev/null || true
        wait 2>/dev/null || true
    fi
    want slow975 || return 0
    run "$dir/$t/slow975-1-a.json" --duration 2
    r=$(python3 -c "print(max(1, round($(iops "$dir/$t/slow975-1-a.json") * 0.025)))")
    run "$dir/$t/slow975-1-b.json" --duration 2 --rate "$r"
}

# The run noise every case is judged with (--run-noise, percent), measured by A/A runs as a
# profile's would be: the first 1 s repeat of each aa3 pair's two runs is a pair of single runs
# in two sessions; the noise is the standard deviation of log(b/a) over those pairs, divided
# by sqrt(2), as a percentage. These are not the pairs judged in aa1 (and 1 s runs are noisier
# than aa1's 2 s and drop25's 5 s runs). Or $NOISE (a percentage, or `none`: plain compare).
noise() {
    python3 - "$@" <<'PY'
import json, math, statistics, sys
d = []
for a in sys.argv[1:]:
    try:
        ra = json.load(open(a))["points"][0]["repeats"][0]["iops"]
        rb = json.load(open(a[: -len("-a.json")] + "-b.json"))["points"][0]["repeats"][0]["iops"]
        d.append(math.log(rb / ra))
    except (OSError, ValueError, KeyError, IndexError, ZeroDivisionError):
        pass
print(round(100 * math.expm1(statistics.stdev(d) / math.sqrt(2)), 1) if len(d) > 2 else 10)
PY
}

# The change in IOPS the pairs of a case measured: median (min..max) over the pairs of the
# candidate's IOPS over the base's (each side's merged IOPS over its repeats), in percent.
measured() {
    python3 - "$@" <<'PY'
import json, math, statistics, sys
d = []
for a in sys.argv[1:]:
    try:
        ia = json.load(open(a))["points"][0]["iops"]
        ib = json.load(open(a[: -len("-a.json")] + "-b.json"))["points"][0]["iops"]
        d.append(math.log(ib / ia))
    except (OSError, ValueError, KeyError, IndexError, ZeroDivisionError):
        pass
pct = lambda x: f"{100 * math.expm1(x):+.1f}"
print(f"{pct(statistics.median(d))} ({pct(min(d))}..{pct(max(d))})" if d else "-")
PY
}

judge() {
    local t=$1 case a verdict noise_pct extra json
    noise_pct=${NOISE:-$(noise "$dir/$t"/aa3-*-a.json)}
    if [ "$noise_pct" = none ]; then
        echo "no --run-noise: plain compare (single runs on the default noise, repeats on their own variance)"
    else
        local aa3
        aa3=$(find "$dir/$t" -name 'aa3-*-b.json' 2>/dev/null | wc -l)
        local from="A/A: first repeats of the $aa3 aa3 pairs"
        [ -n "${NOISE:-}" ] && from="NOISE"
        [ -z "${NOISE:-}" ] && [ "$aa3" -lt 3 ] && from="fewer than 3 aa3 pairs: the script's fallback"
        echo "run noise: $noise_pct % ($from), given to every compare as --run-noise (single runs rest on it)"
        [ -n "${SESSION:-}" ] && echo "and as --session-noise (a floor under the spread of repeats)"
    fi
    printf '%-6s %-8s %5s %10s %12s %4s %6s  %-26s %s\n' target case pairs regression inconclusive ok better \
        "IOPS change % (min..max)" want
    for case in aa1 aa3 drop25 drop10 loaded slow975; do
        local reg=0 inc=0 ok=0 bet=0 pairs=0 judged=()
        extra="--run-noise $noise_pct"
        [ -n "${SESSION:-}" ] && extra="$extra --session-noise $noise_pct"
        [ "${NOISE:-}" = none ] && extra=
        for a in "$dir/$t/$case"-*-a.json; do
            [ -e "$a" ] || continue
            local b=${a%-a.json}-b.json
            [ -s "$b" ] || continue
            judged+=("$a")
            # shellcheck disable=SC2086 # extra and COMPARE_ARGS are lists of words on purpose
            json=$("$bin" compare "$a" "$b" --format json $extra ${COMPARE_ARGS:-} 2>/dev/null) || true
            verdict=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"])' <<<"$json" 2>/dev/null) ||
                verdict=error
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
        local change=-
        [ "$pairs" -gt 0 ] && change=$(measured "${judged[@]}")
        printf '%-6s %-8s %5s %10s %12s %4s %6s  %-26s %s\n' "$t" "$case" "$pairs" "$reg" "$inc" "$ok" "$bet" \
            "$change" "$want"
    done
}

targets=()
case $which in
    sim) targets=(sim) ;;
    loop) targets=(loop) ;;
    all) targets=(sim loop) ;;
    *) echo "usage: $0 [sim|loop|all] [DIR]" >&2; exit 2 ;;
esac

echo "calibrate-compare: $dir; nice $nice; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for t in "${targets[@]}"; do
    loopdev=
    case $t in
        sim) target=(sim:64MiB) ;;
        loop)
            target=(loop)
            [ "$phase" = judge ] && continue_judge=1 || continue_judge=0
            if [ "$continue_judge" = 0 ]; then
                if [ "$(id -u)" != 0 ] || ! command -v losetup >/dev/null; then
                    echo "calibrate-compare: loop skipped (needs root and losetup)"
                    continue
                fi
                img=/dev/shm/calibrate-compare-$$.img
                truncate -s 256M "$img"
                loopdev=$(losetup --find --show "$img")
                target=("$loopdev" --force)
            fi
            ;;
    esac
    if [ "$phase" != judge ]; then measure "$t"; fi
    if [ -n "$loopdev" ]; then losetup -d "$loopdev" && rm -f "$img"; fi
    if [ "$phase" != measure ]; then judge "$t"; fi
done
echo "calibrate-compare: load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
