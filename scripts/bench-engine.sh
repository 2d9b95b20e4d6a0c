#!/usr/bin/env bash
# The engine's own cost, side by side with fio and t/io_uring: 4 KiB random reads (and
# host-emulated ATS) on two fast targets, runs interleaved, medians over rounds, one table.
#
#   sudo scripts/bench-engine.sh [--rounds N] [--secs S] [--cpus A,B] [--raw DIR] [--baseline BIN]
#   sudo scripts/bench-engine.sh --quick        smoke run: 1 round of 1 s runs (for CI)
#
# Targets: "shm", a 1 GiB file on /dev/shm opened with O_DIRECT, and "loop", a loop device
# (losetup --direct-io=on) over another 1 GiB tmpfs file. Both are made here and removed at exit.
#
# Per round, each case runs every tool once, their order rotated from round to round:
#   IOPS        QD 1, 32, 128 on both targets, one worker pinned to CPU A: atsbench, fio with its
#               best flags (io_uring, registered file and buffers, batched submit and complete,
#               hipri where the target polls, no SQ thread) and t/io_uring.
#   scaling     QD 32, two workers on CPUs A and B (atsbench --cpus A,B; fio numjobs=2 with
#               cpus_allowed_policy=split) against the one-worker runs.
#   ATS/read    atsbench --workload ats --locks 4096 at QD 32: ATS attempts/s over read IOPS.
#   CPU/op      utime+stime of each tool's whole process tree (wait4 rusage) over its operations.
#   latency     atsbench read p50/p99 beside fio's `lat` (submission to completion) percentiles,
#               and both times IOPS over QD (the same shape at equal throughput: ≈1).
#
# --baseline BIN runs a second atsbench binary (an earlier build, e.g. of the commit before a
# change) in every atsbench case, interleaved with the rest, and adds its medians ("before")
# and atsbench over it ("/before") to the table: "no lower than before" beside fio in one run.
#
# Ratios are atsbench over the anchor: t/io_uring for QD 1 on shm, fio elsewhere. The goal
# column is issue 9's target. On a shared machine the figures move; the ratios of interleaved
# runs are what to read, and the header gives the load average before and after.
#
# Needs root (losetup, apt-get), python3, and installs from Debian what is missing: fio, and the
# fio source package (a deb-src entry is added when apt has none) to build t/io_uring in
# .cache/bench/ (never committed). Environment: ATSBENCH=path skips the cargo build;
# TIOURING=path uses that t/io_uring.
#
# Exit status: 0 when every run worked, 1 when some failed (the table marks them), 2 usage,
# 3 a tool or the kernel is missing something, 4 not root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=$ROOT/.cache/bench
BS=4096
QDS=(1 32 128)
TARGETS=(shm loop)
export PATH=$PATH:/usr/sbin:/sbin

log() { printf 'bench-engine: %s\n' "$*" >&2; }
die() { # code message
    log "$2"
    exit "$1"
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

rounds=3 secs=5 cpus=0,1 raw="" baseline=""
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --secs) secs=${2:?--secs needs whole seconds}; shift ;;
    --cpus) cpus=${2:?--cpus needs two CPUs, A,B}; shift ;;
    --raw) raw=${2:?--raw needs a directory}; shift ;;
    --baseline) baseline=${2:?--baseline needs an atsbench binary}; shift ;;
    --quick) rounds=1 secs=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die 2 "--rounds must be a positive whole number"
[[ $secs =~ ^[1-9][0-9]*$ ]] || die 2 "--secs must be a positive whole number of seconds"
[[ $cpus =~ ^[0-9]+,[0-9]+$ ]] || die 2 "--cpus must be two CPUs, like 0,1"
cpu1=${cpus%,*}
if [ -n "$baseline" ]; then
    [ -x "$baseline" ] || die 2 "--baseline $baseline is not an executable; build the earlier atsbench and pass its path"
    baseline=$(cd "$(dirname "$baseline")" && pwd)/$(basename "$baseline")
fi
[ "$(id -u)" -eq 0 ] || die 4 "needs root (losetup, apt-get); run with sudo"

# ----- tools -----

apt_updated=0
apt_install() { # package...
    log "installing $* from Debian"
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq >/dev/null || die 3 "apt-get update failed"
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
        die 3 "apt-get install $* failed"
}

# The $(...) in apt's --format are apt's own placeholders, not the shell's.
# shellcheck disable=SC2016
have_deb_src() { apt-get indextargets --format '$(CREATED_BY)' | grep -qx Sources; }

# One deb-src line beside each binary archive apt knows, signed by the same Debian keyring.
# shellcheck disable=SC2016
add_deb_src() {
    local list=/etc/apt/sources.list.d/atsbench-deb-src.list opts="" uri suite comp
    if [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        opts="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    fi
    apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' |
        sort -u | while read -r uri suite comp; do
        echo "deb-src $opts$uri $suite $comp"
    done >"$list"
    [ -s "$list" ] || die 3 "apt lists no binary archive to take a deb-src entry from; add one by hand"
    log "added $list (deb-src entries for the fio source package)"
    apt-get update -qq >/dev/null || die 3 "apt-get update failed"
}

# t/io_uring from the Debian fio source, built once into .cache/bench/.
build_tiouring() {
    local src
    src=$(find "$CACHE" -maxdepth 1 -type d -name 'fio-*' 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$src" ]; then
        command -v dpkg-source >/dev/null || apt_install dpkg-dev
        have_deb_src || add_deb_src
        mkdir -p "$CACHE"
        log "fetching the fio source package into ${CACHE#"$ROOT"/}"
        (cd "$CACHE" && apt-get source -qq -o APT::Sandbox::User=root fio >/dev/null) ||
            die 3 "apt-get source fio failed"
        src=$(find "$CACHE" -maxdepth 1 -type d -name 'fio-*' | sort -V | tail -n 1)
        [ -n "$src" ] || die 3 "apt-get source fio left no fio-* directory in $CACHE"
    fi
    if [ ! -x "$src/t/io_uring" ]; then
        if ! command -v cc >/dev/null || ! command -v make >/dev/null; then
            apt_install gcc make
        fi
        log "building t/io_uring in ${src#"$ROOT"/}"
        make -C "$src" -j"$(nproc)" t/io_uring >"$CACHE/build.log" 2>&1 ||
            { tail -n 20 "$CACHE/build.log" >&2; die 3 "make t/io_uring failed"; }
    fi
    echo "$src/t/io_uring"
}

command -v python3 >/dev/null || apt_install python3
command -v losetup >/dev/null || apt_install mount
command -v fio >/dev/null || apt_install fio
tiouring=${TIOURING:-$(build_tiouring)}
[ -x "$tiouring" ] || die 3 "t/io_uring not found at $tiouring"
if [ -z "${ATSBENCH:-}" ]; then
    command -v cargo >/dev/null || die 3 "cargo is not on root's PATH; build first and pass ATSBENCH=target/release/atsbench"
    (cd "$ROOT" && cargo build --release --quiet) || die 3 "cargo build --release failed"
fi
bin=${ATSBENCH:-$ROOT/target/release/atsbench}

# ----- targets, cleaned up on any exit -----

shm_img=/dev/shm/atsbench-bench-$$.img
loop_img=/dev/shm/atsbench-bench-$$-loop.img
loopdev=""
tmp=$(mktemp -d)
out=${raw:-$tmp}
cleanup() {
    [ -z "$loopdev" ] || losetup -d "$loopdev" || log "could not detach $loopdev"
    rm -f "$shm_img" "$loop_img"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$out"

for img in "$shm_img" "$loop_img"; do
    # Written, not sparse: reads of holes in tmpfs would skip the page cache lookup.
    dd if=/dev/zero of="$img" bs=1M count=1024 status=none || die 3 "cannot write 1 GiB in /dev/shm"
done
dd if="$shm_img" of=/dev/null bs=$BS count=1 iflag=direct status=none 2>/dev/null ||
    die 3 "/dev/shm refuses O_DIRECT (tmpfs has it from Linux 6.6)"
loopdev=$(losetup -f --show --direct-io=on "$loop_img") || die 3 "losetup failed"
[ "$(cat "/sys/block/${loopdev#/dev/}/loop/dio" 2>/dev/null)" = 1 ] ||
    log "warning: $loopdev did not get direct I/O; the loop figures include the page cache"
declare -A path=([shm]=$shm_img [loop]=$loopdev)

# fio's hipri (and atsbench --iopoll, t/io_uring -p1) only where the target completes polled I/O.
declare -A poll
for t in "${TARGETS[@]}"; do
    if fio --name=probe --filename="${path[$t]}" --ioengine=io_uring --direct=1 --rw=randread \
        --bs=$BS --hipri=1 --size=16M --io_size=1M --output-format=json >/dev/null 2>&1; then
        poll[$t]=1
    else
        poll[$t]=0
    fi
done

# ----- runners: one run each, its output in $out/ID.{json,txt}, its CPU time in $out/ID.cpu -----

# Runs a command, stdin from /dev/null, and writes "utime stime wall" of its whole process tree.
timed() { python3 "$ROOT/scripts/lib/rusage.py" "$@"; }

run_atsbench() { # id target qd workers(1|2) workload
    local cpu=$cpu1 extra=()
    if [ "$4" = 2 ]; then cpu=$cpus; fi
    if [ "${poll[$2]}" = 1 ]; then extra+=(--iopoll); fi
    if [ "$5" = ats ]; then extra+=(--locks 4096); fi
    timed "$out/$1.cpu" "$bin" run "${path[$2]}" --workload "$5" --bs $BS --qd "$3" --cpus "$cpu" \
        --duration "$secs" "${extra[@]}" --format json --output "$out/$1.json"
}

run_baseline() { # the same as run_atsbench, with the --baseline binary
    local bin=$baseline
    run_atsbench "$@"
}

run_fio() { # id target qd workers(1|2)
    local cpu=$cpu1 extra=()
    if [ "$4" = 2 ]; then
        cpu=$cpus
        extra+=(--cpus_allowed_policy=split --group_reporting=1)
    fi
    if [ "${poll[$2]}" = 1 ]; then extra+=(--hipri=1); fi
    timed "$out/$1.cpu" fio --name=randread --filename="${path[$2]}" --ioengine=io_uring --direct=1 \
        --rw=randread --bs=$BS --iodepth="$3" --registerfiles=1 --fixedbufs=1 --sqthread_poll=0 \
        --iodepth_batch_submit="$3" --iodepth_batch_complete_min=1 \
        --iodepth_batch_complete_max="$3" --norandommap --randrepeat=0 --numjobs="$4" \
        --cpus_allowed="$cpu" "${extra[@]}" --time_based --runtime="$secs" --lat_percentiles=1 \
        --eta=never --output-format=json --output="$out/$1.json"
}

run_tiouring() { # id target qd
    # Batches of a quarter of the depth (32 at QD 128, as its author runs it); one at QD 1.
    local batch=$(($3 / 4 > 0 ? $3 / 4 : 1))
    # It prints IOPS once a second and stops at -r without printing the last one: one more second.
    timed "$out/$1.cpu" taskset -c "$cpu1" "$tiouring" -d "$3" -s "$batch" -c "$batch" -b $BS \
        -B1 -F1 -p"${poll[$2]}" -n1 -r $((secs + 1)) "${path[$2]}" >"$out/$1.txt"
}

failed=0
run() { # tool id args...
    local tool=$1 id=$2
    shift 2
    if ! "run_$tool" "$id" "$@" 2>"$out/$id.err"; then
        log "FAILED: $tool $* (stderr: $(tail -n 3 "$out/$id.err" | tr '\n' ' '))"
        failed=$((failed + 1))
    fi
}

# Every case once per round, each tool in turn, the order rotated each round so that a drift
# of the machine's load falls on all tools alike.
one_case() { # round case-name tools(space separated) args...
    local r=$1 name=$2 tools
    read -r -a tools <<<"$3"
    shift 3
    local n=${#tools[@]} i
    for ((i = 0; i < n; i++)); do
        local tool=${tools[$(((i + r) % n))]}
        run "${tool%:*}" "$name-${tool%:*}-$r" "$@" "${tool#*:}"
    done
}

# Load and CPU pressure (the share of time something waited for a CPU) say how quiet the
# machine was: other users' work shares the CPUs with the tools and the kernel's workers.
quiet() { echo "$(cut -d' ' -f1-3 /proc/loadavg)|$(sed -n 's/^some avg10=\([0-9.]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null)"; }
# The 1-minute load average decays slowly: after a build or an earlier benchmark, wait (up to
# three minutes) until it is below half the CPUs, so that "before" says whether others are busy.
settle=0
while awk -v n="$(nproc)" '{ exit !($1 > n / 2) }' /proc/loadavg && [ "$settle" -lt 180 ]; do
    [ "$settle" -eq 0 ] && log "waiting for the load average ($(cut -d' ' -f1 /proc/loadavg)) to settle"
    sleep 10
    settle=$((settle + 10))
done
load_before=$(quiet)
log "shm $shm_img, loop $loopdev; $rounds round(s) of ${secs}s runs; CPUs $cpus; load ${load_before%|*}"
before=""
if [ -n "$baseline" ]; then
    before=" baseline"
    log "baseline: $baseline"
fi
for ((r = 1; r <= rounds; r++)); do
    log "round $r/$rounds"
    for t in "${TARGETS[@]}"; do
        for qd in "${QDS[@]}"; do
            # tool:extra-arg; atsbench takes the workload, the others ignore it.
            one_case "$r" "iops-$t-$qd" "atsbench:read fio: tiouring:${before:+ baseline:read}" "$t" "$qd" 1
        done
        one_case "$r" "scale-$t-32" "atsbench:read fio:${before:+ baseline:read}" "$t" 32 2
        one_case "$r" "ats-$t-32" "atsbench:ats${before:+ baseline:ats}" "$t" 32 1
    done
done
load_after=$(quiet)

# ----- the table -----

python3 - "$out" "$rounds" "$secs" "$load_before" "$load_after" "$cpus" "${poll[shm]}${poll[loop]}" \
    "${QDS[*]}" "${TARGETS[*]}" "${baseline:+1}" <<'PY'
import json, os, platform, statistics as st, sys

out, rounds, secs, load0, load1, cpus, poll, qds, targets, has_base = sys.argv[1:]
has_base = has_base == "1"
rounds, qds, targets = int(rounds), [int(q) for q in qds.split()], targets.split()

def cpu(id):
    u, s, wall = map(float, open(f"{out}/{id}.cpu").read().split())
    return u + s, wall

def one(tool, id):
    """(iops, cpu seconds per op, p50 ns, p99 ns, mean ns) of one run, or None when it failed."""
    try:
        cpu_s, wall = cpu(id)
        if tool in ("atsbench", "baseline"):
            p = json.load(open(f"{out}/{id}.json"))["points"][0]
            lat = p["latency_ns"].get("ats" if p["workload"] == "ats" else "read", {})
            if tool == "atsbench":
                ring.update(p.get("ring", {}))
            return p["iops"], cpu_s / p["ops"], lat.get("p50"), lat.get("p99"), lat.get("mean")
        if tool == "fio":
            j = json.load(open(f"{out}/{id}.json"))["jobs"][0]["read"]
            pct = j["lat_ns"]["percentile"]
            return (j["iops"], cpu_s / j["total_ios"], pct["50.000000"], pct["99.000000"],
                    j["lat_ns"]["mean"])
        per_s = []
        for line in open(f"{out}/{id}.txt"):
            if line.startswith("IOPS="):
                v = line[5:].split(",")[0]
                per_s.append(float(v[:-1]) * {"K": 1e3, "M": 1e6}[v[-1]] if v[-1] in "KM" else float(v))
        iops = st.mean(per_s)
        return iops, cpu_s / (iops * wall), None, None, None
    except (OSError, KeyError, IndexError, ValueError, ZeroDivisionError, st.StatisticsError):
        return None

def runs(case, tool):
    return [one(tool, f"{case}-{tool}-{r}") for r in range(1, rounds + 1)]

def med(rs, i):
    v = [x[i] for x in rs if x is not None and x[i] is not None]
    return st.median(v) if v else None

rows, ring = [], {}
def row(metric, target, qd, a, f, t, anchor, goal, better="higher", fmt="{:.0f}", b=None):
    """a, f, t, b: medians of atsbench, fio, t/io_uring, the baseline; anchor names the one
    the ratio is over."""
    base = {"fio": f, "t/io_uring": t}.get(anchor)
    ratio = a / base if a is not None and base else None
    ok = ""
    if ratio is not None and goal is not None:
        met = {"higher": ratio >= goal, "lower": ratio <= goal, "near": 0.8 <= ratio <= 1.25}[better]
        ok = "yes" if met else "NO"
    cell = lambda v: "-" if v is None else fmt.format(v)
    sign = {"higher": "≥", "lower": "≤", "near": "≈"}[better]
    vs = a / b if a is not None and b else None
    rows.append([metric, target, str(qd), cell(a), cell(b), "-" if vs is None else f"{vs:.2f}", cell(f),
                 cell(t), "-" if ratio is None else f"{ratio:.2f}", anchor or "-",
                 "-" if goal is None else f"{sign}{goal:g}", ok])

iops, cpuop = {}, {}
for t in targets:
    for q in qds:
        case = f"iops-{t}-{q}"
        r = {tool: runs(case, tool) for tool in ("atsbench", "fio", "tiouring", "baseline")}
        iops[t, q] = {tool: med(v, 0) for tool, v in r.items()}
        cpuop[t, q] = {tool: med(v, 1) for tool, v in r.items()}
        iops[t, q]["runs"] = r
        anchor = "t/io_uring" if (t, q) == ("shm", 1) else "fio"
        m = iops[t, q]
        row("IOPS, 1 worker", t, q, m["atsbench"], m["fio"], m["tiouring"], anchor,
            0.95 if anchor == "t/io_uring" else 1.0, fmt="{:.0f}", b=m["baseline"])
for t in targets:
    r = {tool: runs(f"scale-{t}-32", tool) for tool in ("atsbench", "fio", "baseline")}
    two = {tool: med(v, 0) for tool, v in r.items()}
    gain = {tool: (two[tool] / iops[t, 32][tool] if two[tool] and iops[t, 32][tool] else None)
            for tool in two}
    row("IOPS, 2 workers", t, 32, two["atsbench"], two["fio"], None, "fio", 1.0, b=two["baseline"])
    row("gain 1->2 workers", t, 32, gain["atsbench"], gain["fio"], None, "fio", 1.0, fmt="{:.2f}x",
        b=gain["baseline"])
    cpu2 = {tool: med(v, 1) for tool, v in r.items()}
    cpuop[t, "2w"] = cpu2
for t in targets:
    for q in qds:
        c = cpuop[t, q]
        us = {x: None if c[x] is None else c[x] * 1e6 for x in c}
        row("CPU us/op, 1 worker", t, q, us["atsbench"], us["fio"], us["tiouring"], "fio", 1.0,
            better="lower", fmt="{:.2f}", b=us["baseline"])
    us = {x: None if v is None else v * 1e6 for x, v in cpuop[t, "2w"].items()}
    row("CPU us/op, 2 workers", t, 32, us["atsbench"], us["fio"], None, "fio", 1.0, better="lower",
        fmt="{:.2f}", b=us["baseline"])
for t in targets:
    ats, ats_b = med(runs(f"ats-{t}-32", "atsbench"), 0), med(runs(f"ats-{t}-32", "baseline"), 0)
    rd = iops[t, 32]["atsbench"]
    ratio = ats / rd if ats and rd else None
    cell = lambda v: "-" if v is None else f"{v:.0f}"
    rows.append(["ATS/read, 4096 locks", t, "32", cell(ats), cell(ats_b),
                 f"{ats / ats_b:.2f}" if ats and ats_b else "-", "-", "-",
                 "-" if ratio is None else f"{ratio:.2f}", "read IOPS", "≥0.5",
                 "" if ratio is None else ("yes" if ratio >= 0.5 else "NO")])
for t in targets:
    for q in (1, 32):
        r = iops[t, q]["runs"]
        for i, p in ((2, "p50"), (3, "p99")):
            a, f, b = med(r["atsbench"], i), med(r["fio"], i), med(r["baseline"], i)
            row(f"read lat {p} us (fio: lat)", t, q, None if a is None else a / 1e3,
                None if f is None else f / 1e3, None, "fio", 1.0, better="near", fmt="{:.1f}",
                b=None if b is None else b / 1e3)
def lat_x_iops(r, i, q):
    """Per tool, the median over its runs of latency field i (ns) times IOPS over QD."""
    out = {}
    for tool in ("atsbench", "fio", "baseline"):
        v = [x[i] * 1e-9 * x[0] / q for x in r[tool] if x is not None and x[i]]
        out[tool] = st.median(v) if v else None
    return out

# Where the two tools' IOPS differ, so must their latencies (with QD in flight, latency is
# about QD / IOPS): a percentile times IOPS over QD takes the throughput out and compares the
# shapes of the two distributions.
for t in targets:
    for q in (1, 32):
        for i, p in ((2, "p50"), (3, "p99")):
            norm = lat_x_iops(iops[t, q]["runs"], i, q)
            row(f"read lat {p} x IOPS / QD", t, q, norm["atsbench"], norm["fio"], None, "fio", 1.0,
                better="near", fmt="{:.2f}", b=norm["baseline"])
# Little's law: with QD always in flight, mean latency x IOPS = QD when the timestamps cover
# the whole time an I/O is outstanding; below 1, the latency misses part of it.
for t in targets:
    for q in qds:
        little = lat_x_iops(iops[t, q]["runs"], 4, q)
        row("mean lat x IOPS / QD", t, q, little["atsbench"], little["fio"], None, None, None,
            fmt="{:.2f}", b=little["baseline"])

# Per-round spread of the atsbench/anchor IOPS ratio, to judge the noise.
spread = []
for t in targets:
    for q in qds:
        r = iops[t, q]["runs"]
        base = r["tiouring"] if (t, q) == ("shm", 1) else r["fio"]
        v = [a[0] / b[0] for a, b in zip(r["atsbench"], base) if a and b]
        if v:
            spread.append(f"{t}/{q}: {min(v):.2f}-{max(v):.2f}")
        v = [a[0] / b[0] for a, b in zip(r["atsbench"], r["baseline"]) if a and b]
        if v:
            spread.append(f"{t}/{q} over before: {min(v):.2f}-{max(v):.2f}")

head = ["metric", "target", "QD", "atsbench", "before", "/before", "fio", "t/io_uring", "ratio", "over",
        "goal", "met"]
if not has_base:
    # No --baseline: drop the two empty columns.
    rows = [x[:4] + x[6:] for x in rows]
    head = head[:4] + head[6:]
w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
print(f"atsbench engine benchmark: {platform.node()}, Linux {platform.release()}, "
      f"{os.cpu_count()} CPUs, workers on CPU {cpus.split(',')[0]} (two: {cpus})")
(load0, psi0), (load1, psi1) = load0.split("|"), load1.split("|")
psi = f"; CPU pressure (some, avg10) {psi0}% before, {psi1}% after" if psi0 and psi1 else ""
print(f"4 KiB random reads; {rounds} round(s) of {secs} s runs, interleaved; medians; "
      f"load average before {load0}, after {load1}{psi}")
# Only the load before says whether others were busy: the load after is mostly the benchmark's
# own (up to two busy workers and the kernel's workers for their I/O).
busy = float(load0.split()[0]) > os.cpu_count() / 2
if busy:
    print("NOT A QUIET MACHINE: the load average before the runs was above half the CPUs, so other "
          "work shared the CPUs with the tools; read the per-round spread below before the ratios")
print("(the load after is mostly the benchmark's own: up to two busy workers and the kernel's workers)")
print("shm: 1 GiB file on /dev/shm, O_DIRECT; loop: loop device, direct I/O, over a tmpfs file; "
      f"hipri/iopoll: shm {'on' if poll[0] == '1' else 'off'}, loop {'on' if poll[1] == '1' else 'off'} "
      "(on only where the target polls)")
print(f"atsbench ring: {', '.join(ring.get('flags', [])) or '?'}; fixed buffers "
      f"{'yes' if ring.get('fixed_buffers') else 'no'}; pinned {'yes' if ring.get('pinned') else 'no'}")
print("ratio = atsbench / the 'over' column; CPU us/op: utime+stime of the process tree per operation;")
if has_base:
    print("before: the --baseline atsbench in the same rounds; /before = atsbench / before")
print("latency: atsbench from queueing to reaping, fio's lat from submission to completion; ≈1 means 0.8-1.25;")
print("  where the IOPS differ the latencies must too (about QD / IOPS): the 'x IOPS / QD' rows compare them at equal throughput")
print()
print("  ".join(h.ljust(w[i]) if i < 2 else h.rjust(w[i]) for i, h in enumerate(head)))
for x in rows:
    print("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(x)))
print()
print("per-round IOPS ratios (min-max): " + ", ".join(spread))
PY
[ "$failed" -eq 0 ] || die 1 "$failed run(s) failed; their stderr is in $out/*.err (--raw DIR keeps it)"
