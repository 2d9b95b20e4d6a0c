#!/usr/bin/env bash
# Where one worker's time goes at QD 1, beside t/io_uring: 4 KiB O_DIRECT random reads of a
# 1 GiB file on /dev/shm, one thread pinned to one CPU, the case in which t/io_uring is the
# anchor of scripts/bench-engine.sh (issue 22 asks for 0.95x of it).
#
#   sudo scripts/profile-qd1.sh [--rounds N] [--secs S] [--cpu C] [--callgrind]
#
# Per round, atsbench and t/io_uring (-d1 -s1 -c1 -B1 -F1 -n1, no polling) run S seconds each,
# their order alternating, under `perf stat` with software events and tracepoints only (no
# hardware counters are needed: virtual machines rarely have them). Per read, medians over the
# rounds: user and system CPU time (wait4 rusage of the tool), system calls, io_uring_enter
# calls, context switches and page faults, and IOPS with the ratio atsbench / t/io_uring.
# Counting system calls through tracepoints makes each one slower: compare the two columns
# with each other, not with scripts/bench-engine.sh's CPU per operation.
#
# --callgrind adds user-space instructions per read: each tool runs twice under valgrind's
# callgrind for two lengths, and the difference of their instruction counts over the difference
# of their reads is the cost per read without start-up (for atsbench this includes what it
# does per second rather than per read, its interval series, which callgrind's slowness makes
# weigh more per read); atsbench's top functions by inclusive cost are listed from the longer
# run. It takes a few minutes.
#
# Runs as any user who can write /dev/shm and count tracepoints with perf (root, or
# kernel.perf_event_paranoid low enough); tmpfs takes O_DIRECT from Linux 6.6.
# t/io_uring comes from the cache scripts/bench-engine.sh builds (.cache/bench/) or TIOURING=path;
# ATSBENCH=path skips the cargo build.
#
# Exit status: 0, 2 usage, 3 a tool is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf 'profile-qd1: %s\n' "$*" >&2; }
die() {
    log "$2"
    exit "$1"
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

rounds=5 secs=3 cpu=0 callgrind=0
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --secs) secs=${2:?--secs needs whole seconds}; shift ;;
    --cpu) cpu=${2:?--cpu needs a CPU number}; shift ;;
    --callgrind) callgrind=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown argument $1: see the usage above" ;;
    esac
    shift
done

command -v perf >/dev/null || die 3 "perf is missing: apt-get install linux-perf"
tiouring=${TIOURING:-$ROOT/.cache/bench/fio-3.33/t/io_uring}
[ -x "$tiouring" ] || die 3 "no t/io_uring at $tiouring: run scripts/bench-engine.sh --quick once, or pass TIOURING=path"
if [ -z "${ATSBENCH:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet) || die 3 "cargo build --release failed"
fi
bin=${ATSBENCH:-$ROOT/target/release/atsbench}

img=/dev/shm/atsbench-profile-$$.img
tmp=$(mktemp -d)
trap 'rm -f "$img"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
dd if=/dev/zero of="$img" bs=1M count=1024 status=none || die 3 "cannot write 1 GiB in /dev/shm"

events=task-clock,context-switches,page-faults,raw_syscalls:sys_enter,syscalls:sys_enter_io_uring_enter

atsbench_cmd() { # seconds json
    echo "$bin" run "$img" --workload read --bs 4096 --qd 1 --cpus "$cpu" --duration "$1" --format json --output "$2"
}
tiouring_cmd() { # seconds (it stops at -r without printing the last second: one more)
    echo taskset -c "$cpu" "$tiouring" -d1 -s1 -c1 -b4096 -B1 -F1 -p0 -n1 -r $(($1 + 1)) "$img"
}

for r in $(seq 1 "$rounds"); do
    order=(atsbench tiouring)
    if [ $((r % 2)) = 0 ]; then order=(tiouring atsbench); fi
    for tool in "${order[@]}"; do
        id=$tool-$r
        if [ "$tool" = atsbench ]; then
            cmd=$(atsbench_cmd "$secs" "$tmp/$id.json")
        else
            cmd=$(tiouring_cmd "$secs")
        fi
        # shellcheck disable=SC2086 # the command is a word list made above
        perf stat -x, -e "$events" -o "$tmp/$id.perf" -- python3 "$ROOT/scripts/lib/rusage.py" "$tmp/$id.cpu" $cmd >"$tmp/$id.out" 2>"$tmp/$id.err" ||
            die 3 "$tool failed: $(tail -n 3 "$tmp/$id.err" | tr '\n' ' ')"
    done
    log "round $r of $rounds done"
done

if [ "$callgrind" = 1 ]; then
    command -v valgrind >/dev/null || die 3 "valgrind is missing: apt-get install valgrind"
    for tool in atsbench tiouring; do
        for s in 2 6; do
            id=cg-$tool-$s
            pin=()
            if [ "$tool" = atsbench ]; then
                cmd=$(atsbench_cmd "$s" "$tmp/$id.json")
            else
                # taskset outside: valgrind follows no exec unless told to.
                cmd=$(tiouring_cmd "$s")
                cmd=${cmd#taskset -c "$cpu" }
                pin=(taskset -c "$cpu")
            fi
            # shellcheck disable=SC2086
            "${pin[@]}" valgrind --tool=callgrind --callgrind-out-file="$tmp/$id.cg" $cmd >"$tmp/$id.out" 2>"$tmp/$id.err" ||
                die 3 "$tool under callgrind failed: $(tail -n 3 "$tmp/$id.err" | tr '\n' ' ')"
        done
        log "callgrind: $tool done"
    done
    callgrind_annotate --inclusive=yes "$tmp/cg-atsbench-6.cg" 2>/dev/null | sed -n '/^Ir/,$p' | head -40 >"$tmp/cg-top.txt" || true
fi

python3 - "$tmp" "$rounds" "$callgrind" <<'EOF'
import json, re, statistics, sys, pathlib
tmp, rounds, cg = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"

def ops_of(tool, out, js):
    if tool == "atsbench":
        return json.loads(js.read_text())["points"][0]["ops"]
    # t/io_uring prints "IOPS=194.34K, ..." once a second; the reads are their sum.
    unit = {"": 1, "K": 1e3, "M": 1e6}
    return round(sum(float(v) * unit[u] for v, u in re.findall(r"^IOPS=([\d.]+)([KM]?)", out.read_text(), re.M)))

def perf(path):
    got = {}
    for line in path.read_text().splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0] and not line.startswith("#"):
            try:
                got[f[2]] = float(f[0])
            except ValueError:
                pass
    return got

rows = {}
for tool in ("atsbench", "tiouring"):
    per = []
    for r in range(1, rounds + 1):
        i = f"{tool}-{r}"
        ops = ops_of(tool, tmp / f"{i}.out", tmp / f"{i}.json")
        ut, st, _ = map(float, (tmp / f"{i}.cpu").read_text().split())
        p = perf(tmp / f"{i}.perf")
        per.append({
            "ops": ops,
            "user ns/read": ut * 1e9 / ops,
            "system ns/read": st * 1e9 / ops,
            "syscalls/read": p["raw_syscalls:sys_enter"] / ops,
            "io_uring_enter/read": p["syscalls:sys_enter_io_uring_enter"] / ops,
            "context switches/read": p["context-switches"] / ops,
            "page faults/1k reads": p["page-faults"] * 1e3 / ops,
        })
    rows[tool] = per

print("QD 1, 4 KiB O_DIRECT random reads of a 1 GiB file on /dev/shm, one pinned thread")
print(f"{rounds} rounds, interleaved; medians; ratio = atsbench / t/io_uring\n")
print(f"{'per read':26} {'atsbench':>10} {'t/io_uring':>10} {'ratio':>6}")
keys = [k for k in rows["atsbench"][0] if k != "ops"]
for k in keys:
    a = statistics.median(x[k] for x in rows["atsbench"])
    t = statistics.median(x[k] for x in rows["tiouring"])
    ratio = f"{a / t:6.2f}" if t else "     -"
    print(f"{k:26} {a:10.2f} {t:10.2f} {ratio}")
a_cpu = statistics.median(x["user ns/read"] + x["system ns/read"] for x in rows["atsbench"])
t_cpu = statistics.median(x["user ns/read"] + x["system ns/read"] for x in rows["tiouring"])
print(f"{'CPU ns/read':26} {a_cpu:10.0f} {t_cpu:10.0f} {a_cpu / t_cpu:6.2f}")
ratios = [a["ops"] / t["ops"] for a, t in zip(rows["atsbench"], rows["tiouring"])]
print(f"{'reads, ratio per round':26} {' '.join(f'{x:.2f}' for x in ratios)} (median {statistics.median(ratios):.2f})")

if cg:
    def ir(path):
        for line in path.read_text().splitlines():
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
        raise SystemExit(f"no instruction total in {path}")
    print("\nuser-space instructions per read (callgrind, two lengths, difference over difference)")
    for tool in ("atsbench", "tiouring"):
        o2 = ops_of(tool, tmp / f"cg-{tool}-2.out", tmp / f"cg-{tool}-2.json")
        o6 = ops_of(tool, tmp / f"cg-{tool}-6.out", tmp / f"cg-{tool}-6.json")
        i2, i6 = ir(tmp / f"cg-{tool}-2.cg"), ir(tmp / f"cg-{tool}-6.cg")
        per = (i6 - i2) / (o6 - o2) if o6 > o2 else float("nan")
        print(f"  {tool:10} {per:8.0f} instructions/read ({o2} and {o6} reads)")
    top = (tmp / "cg-top.txt")
    if top.exists():
        print("\natsbench, inclusive instruction counts, longer run:")
        print(top.read_text())
EOF
