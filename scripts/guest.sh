#!/usr/bin/env bash
# Real kernel devices for atsbench: boots a QEMU (TCG) guest with a Debian 6.12 kernel that has
# null_blk, scsi_debug (sg), a QEMU NVMe controller with two namespaces (512 B and 4096 B), and
# storage stacks written by others: a LIO LUN on two tcm_loop paths, dm-multipath over those two
# paths, and an nvmet namespace over nvme-loop (no Compare); the LIO LUN is also exported
# through LIO's iSCSI target on 127.0.0.1 (for libiscsi's iscsi-test-cu), and logged in to by
# the kernel's iSCSI initiator (iscsi_tcp, open-iscsi's iscsid) as two hosts: two more paths.
#
#   scripts/guest.sh test            device tests, the null_blk regression sweep and the
#                                    qualification sweeps; exits with their status
#   scripts/guest.sh exec -- CMD...  runs CMD in the guest (cwd /out, atsbench on PATH, devices up,
#                                    ATSBENCH_TEST_* set); prints its output, exits with its status.
#                                    One argument is a shell command line ('ls /dev | grep ng'),
#                                    several are a command and its exact arguments.
#
# Files the guest writes under /out come back to target/guest/out/ (guest logs: target/guest/meta/,
# the serial console: target/guest/serial.log). Downloads are cached in .cache/guest/.
# Helpers beside this script: scripts/guest/init (the guest's PID 1), scripts/guest/test-job.sh.
#
# Knobs (environment):
#   ATSBENCH_GUEST_TIMEOUT=1500       seconds for the whole QEMU run (exit 124 when it expires)
#   ATSBENCH_GUEST_TEST_ARGS="--test-threads 1"   arguments for the devices test binary
#   ATSBENCH_GUEST_SWEEP=require|auto|off   the null_blk sweep must pass (default); auto skips
#                                     it when atsbench has no `sweep` subcommand; off skips it
#                                     and the qualification sweeps
#   ATSBENCH_GUEST_FORCE_FAIL=1       the test job exits 3 after the tests (proves CI fails)
#   ATSBENCH_GUEST_LIBC=musl|gnu      guest binaries: static musl (default; falls back to gnu) or
#                                     glibc with its libraries packed at the same paths
#   ATSBENCH_GUEST_APPEND="..."       extra kernel command line (e.g. nvme.poll_queues=2)
#   ATSBENCH_GUEST_KERNEL_PKG=linux-image-6.12-amd64   Debian kernel package (meta or concrete)
#
# Exit status: the guest job's status; 124 when QEMU timed out; 1 when the guest ended without
# reporting a status (crash, panic, power-off) or the host side failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/scripts/guest
CACHE=$ROOT/.cache/guest
WORK=$ROOT/target/guest
KERNEL_PKG=${ATSBENCH_GUEST_KERNEL_PKG:-linux-image-6.12-amd64}
MODULES=(null_blk scsi_debug sg sd_mod nvme nvme-core loop virtio_blk virtio_pci
    target_core_mod target_core_file target_core_iblock tcm_loop nvmet nvme-loop dm_mod dm_multipath dm_round_robin
    scsi_dh_alua iscsi_target_mod crc32c_generic iscsi_tcp dm_delay)
# The references of `atsbench check` (libiscsi-bin, sg3-utils) and the iSCSI initiator's daemon
# and its tool (open-iscsi) are packed with their libraries too.
HOST_TOOLS=(losetup dmsetup iscsi-test-cu sg_compare_and_write iscsid iscsiadm)
TIMEOUT=${ATSBENCH_GUEST_TIMEOUT:-1500}
RUST_MUSL=x86_64-unknown-linux-musl
CACHE_VERSION=1
export PATH=$PATH:/usr/sbin:/sbin

log() { printf 'guest.sh: %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

# Runs "$@" with its output in LOGFILE; prints the tail of that log when it fails.
quietly() {
    local logfile=$1
    shift
    if ! "$@" >"$logfile" 2>&1; then
        tail -n 30 "$logfile" >&2
        die "failed: $* (log: ${logfile#"$ROOT"/})"
    fi
}

APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED == 0 ]]; then
        log "apt-get update"
        quietly "$WORK/apt-update.log" apt-get update
        APT_UPDATED=1
    fi
}

ensure_host_tools() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    { command -v depmod && command -v modprobe; } >/dev/null || missing+=(kmod)
    command -v cpio >/dev/null || missing+=(cpio)
    # Packed into the guest with its libraries (the multipath device's table and path failures).
    command -v dmsetup >/dev/null || missing+=(dmsetup)
    # The references `atsbench check` is held against in the guest.
    command -v iscsi-test-cu >/dev/null || missing+=(libiscsi-bin)
    command -v sg_compare_and_write >/dev/null || missing+=(sg3-utils)
    command -v iscsiadm >/dev/null || missing+=(open-iscsi)
    [[ ${#missing[@]} == 0 ]] && return 0
    [[ $(id -u) == 0 ]] ||
        die "missing ${missing[*]}: run 'apt-get install -y --no-install-recommends ${missing[*]}' as root"
    apt_update_once
    log "installing ${missing[*]} (installing qemu-system-x86 7.2 may remove a newer qemu-utils)"
    quietly "$WORK/apt-install.log" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -o DPkg::Lock::Timeout=300 -y --no-install-recommends "${missing[@]}"
}

# Crates that build C code (criterion's alloca, for the tests) need a musl C compiler.
ensure_musl_cc() {
    command -v x86_64-linux-musl-gcc >/dev/null && return 0
    [[ $(id -u) == 0 ]] || return 1
    apt_update_once
    log "installing musl-tools (a musl C compiler for the static guest binaries)"
    env DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=300 -y --no-install-recommends musl-tools \
        >"$WORK/apt-musl.log" 2>&1 && command -v x86_64-linux-musl-gcc >/dev/null
}

# Decompresses a kernel module in place (name.ko.xz -> name.ko) so busybox can load it.
decompress_module() {
    case $1 in
    *.ko.xz) if command -v xz >/dev/null; then xz -d "$1"; else "$CACHE/busybox" unxz "$1"; fi ;;
    *.ko.zst) zstd -q -d --rm "$1" ;;
    *.ko) ;;
    *) die "unknown module compression: $1" ;;
    esac
}

# Downloads the guest kernel and busybox-static (apt-get download, dpkg -x: never installed on
# the host), stages the needed modules decompressed with their dependencies. Cached.
fetch_guest_kernel() {
    local stamp="v$CACHE_VERSION $KERNEL_PKG ${MODULES[*]}"
    if [[ -f $CACHE/stamp && $(<"$CACHE/stamp") == "$stamp" ]]; then
        log "guest kernel $(<"$CACHE/kver") (cached in .cache/guest)"
        return 0
    fi
    rm -rf "$CACHE"
    mkdir -p "$CACHE/debs"
    apt_update_once
    local kpkg
    kpkg=$(apt-cache depends "$KERNEL_PKG" | awk '/Depends: linux-image-/{print $2; exit}')
    kpkg=${kpkg:-$KERNEL_PKG}
    log "downloading $kpkg busybox-static"
    (cd "$CACHE/debs" && quietly "$WORK/apt-download.log" \
        apt-get download -o APT::Sandbox::User=root "$kpkg" busybox-static)
    local kroot=$CACHE/kroot deb
    for deb in "$CACHE"/debs/*.deb; do dpkg -x "$deb" "$kroot"; done
    cp "$kroot/bin/busybox" "$CACHE/busybox"
    local kver
    kver=$(basename "$(find "$kroot/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -n 1)")
    [[ -n $kver && -f $kroot/boot/vmlinuz-$kver ]] || die "no kernel image in $kpkg"
    cp "$kroot/boot/vmlinuz-$kver" "$CACHE/vmlinuz"
    depmod -b "$kroot" "$kver"

    local stage=$CACHE/modules mods=() m kind path rest
    for m in "${MODULES[@]}"; do
        while read -r kind path rest; do
            [[ $kind == insmod ]] && mods+=("${path#"$kroot"/}")
        done < <(modprobe -d "$kroot" -S "$kver" --show-depends "$m")
    done
    mkdir -p "$stage/lib/modules/$kver"
    for f in modules.order modules.builtin modules.builtin.modinfo; do
        cp "$kroot/lib/modules/$kver/$f" "$stage/lib/modules/$kver/"
    done
    for m in $(printf '%s\n' "${mods[@]}" | sort -u); do
        mkdir -p "$stage/$(dirname "$m")"
        cp "$kroot/$m" "$stage/$m"
        decompress_module "$stage/$m"
    done
    depmod -b "$stage" "$kver"
    rm -rf "$kroot" "$CACHE/debs"
    echo "$kver" >"$CACHE/kver"
    echo "$stamp" >"$CACHE/stamp"
    log "guest kernel $kver with $(printf '%s\n' "${mods[@]}" | sort -u | wc -l) modules staged"
}

# artifact_exe CARGO_JSON NAME: the executable cargo built for target NAME, or nothing.
artifact_exe() {
    grep '"reason":"compiler-artifact"' <<<"$1" | grep "\"name\":\"$2\"" |
        grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4 || true
}

# Builds atsbench and the `devices` test binary; sets ATSBENCH_EXE, DEVICES_EXE, LIBC.
build_binaries() {
    LIBC=${ATSBENCH_GUEST_LIBC:-musl}
    local target_args=()
    if [[ $LIBC == musl ]]; then
        if ! rustup target list --installed 2>/dev/null | grep -qx "$RUST_MUSL" &&
            ! rustup target add "$RUST_MUSL" >"$WORK/rustup.log" 2>&1; then
            log "rustup cannot add $RUST_MUSL (see target/guest/rustup.log): using glibc binaries"
            LIBC=gnu
        elif ! ensure_musl_cc; then
            log "no musl C compiler (musl-tools) for crates that build C: using glibc binaries"
            LIBC=gnu
        else
            target_args=(--target "$RUST_MUSL")
        fi
    fi
    [[ $LIBC == musl || $LIBC == gnu ]] || die "ATSBENCH_GUEST_LIBC must be musl or gnu"
    # One cargo run builds both: an integration test makes cargo build the package's binaries.
    log "cargo test --release --no-run --test devices ${target_args[*]}"
    # The image gets stripped binaries, so the musl build (a target dir of its own) skips the
    # release profile's debug info: about 15% less compile time from cold.
    local artifacts debug_env=()
    [[ $LIBC == musl ]] && debug_env=(CARGO_PROFILE_RELEASE_DEBUG=0)
    artifacts=$(cd "$ROOT" && env "${debug_env[@]}" cargo test --release --no-run --test devices \
        "${target_args[@]}" --message-format=json-render-diagnostics) || die "cargo build failed"
    ATSBENCH_EXE=$(artifact_exe "$artifacts" atsbench)
    DEVICES_EXE=$(artifact_exe "$artifacts" devices)
    [[ -n $ATSBENCH_EXE && -x $ATSBENCH_EXE ]] || die "cargo printed no executable for bin 'atsbench'"
    [[ -n $DEVICES_EXE && -x $DEVICES_EXE ]] || die "cargo printed no executable for test 'devices'"
}

# Single-quotes a value for the guest's ash.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# Copies a binary into the image without debug info; for a dynamic one also the shared libraries
# that ldd names, at the same paths.
pack_binary() {
    local src=$1 dst=$2 lib
    mkdir -p "$(dirname "$dst")"
    strip --strip-debug -o "$dst" "$src" 2>/dev/null || cp "$src" "$dst"
    if ldd "$src" >/dev/null 2>&1; then
        for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
            mkdir -p "$STAGE$(dirname "$lib")"
            cp -L "$lib" "$STAGE$lib"
        done
    fi
}

# pack_initramfs MODE JOBFILE: builds target/guest/initrd.gz.
pack_initramfs() {
    local mode=$1 jobfile=$2 kver
    kver=$(<"$CACHE/kver")
    STAGE=$WORK/initramfs
    rm -rf "$STAGE"
    mkdir -p "$STAGE"/{bin,dev,etc/atsbench-guest,lib,root}
    cp "$CACHE/busybox" "$STAGE/bin/busybox"
    ln -s busybox "$STAGE/bin/sh"
    cp -a "$CACHE/modules/lib/modules" "$STAGE/lib/"
    install -m 0755 "$HERE/init" "$STAGE/init"
    cp "$jobfile" "$STAGE/etc/atsbench-guest/job"
    local job_timeout=$((TIMEOUT - 45))
    ((job_timeout >= 30)) || job_timeout=30
    {
        echo "GUEST_MODE=$(shq "$mode")"
        echo "GUEST_JOB_TIMEOUT=$job_timeout"
        echo "GUEST_TEST_ARGS=$(shq "${ATSBENCH_GUEST_TEST_ARGS---test-threads 1}")"
        echo "GUEST_SWEEP=$(shq "${ATSBENCH_GUEST_SWEEP:-require}")"
        echo "GUEST_FORCE_FAIL=$(shq "${ATSBENCH_GUEST_FORCE_FAIL:-0}")"
    } >"$STAGE/etc/atsbench-guest/config"
    pack_binary "$ATSBENCH_EXE" "$STAGE/usr/local/bin/atsbench"
    pack_binary "$DEVICES_EXE" "$STAGE/usr/local/libexec/atsbench/devices"
    # Host tools whose busybox versions lack options the tests use (losetup --show --direct-io).
    local tool
    for tool in "${HOST_TOOLS[@]}"; do
        if command -v "$tool" >/dev/null; then
            pack_binary "$(command -v "$tool")" "$STAGE/usr/local/bin/$tool"
        else
            log "WARNING: no host $tool to pack; the guest has busybox's"
        fi
    done
    mknod "$STAGE/dev/console" c 5 1 2>/dev/null || true
    (cd "$STAGE" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) |
        gzip -1 >"$WORK/initrd.gz"
    log "initramfs: $(du -h "$WORK/initrd.gz" | cut -f1) ($LIBC binaries, kernel $kver)"
}

# Prints the serial console; in exec mode only the job's lines go to stdout, the rest to stderr.
console_filter() {
    if [[ $1 == exec ]]; then
        awk 'job && (i = index($0, "ATSBENCH-GUEST-JOB-END")) {
                 if (i > 1) print substr($0, 1, i - 1)
                 job = 0; fflush(); next }
             job { print; fflush(); next }
             { print > "/dev/stderr"; fflush("/dev/stderr") }
             /^ATSBENCH-GUEST-JOB-BEGIN/ { job = 1 }'
    else
        cat
    fi
}

# boot MODE: runs QEMU, brings /out back, exits with the guest's status.
boot() {
    local mode=$1
    rm -rf "$WORK/out" "$WORK/meta" "$WORK"/*.img
    truncate -s 128M "$WORK/nvme-ns1.img" "$WORK/nvme-ns2.img"
    truncate -s 256M "$WORK/results.img"
    # shellcheck disable=SC2054 # commas separate QEMU sub-options, not array elements
    local qemu=(
        qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2G
        -nodefaults -display none -monitor none -serial stdio -no-reboot
        -kernel "$CACHE/vmlinuz" -initrd "$WORK/initrd.gz"
        -append "console=ttyS0 panic=-1 quiet mitigations=off ${ATSBENCH_GUEST_APPEND:-}"
        -device isa-debug-exit,iobase=0xf4,iosize=0x04
        -device nvme-subsys,id=atsb-subsys,nqn=atsbench-subsys0
        -device nvme,id=nvme0,serial=atsb0001,subsys=atsb-subsys
        -drive "file=$WORK/nvme-ns1.img,if=none,id=ns1,format=raw"
        -device nvme-ns,drive=ns1,bus=nvme0,nsid=1,logical_block_size=512,physical_block_size=512
        -drive "file=$WORK/nvme-ns2.img,if=none,id=ns2,format=raw"
        -device nvme-ns,drive=ns2,bus=nvme0,nsid=2,logical_block_size=4096,physical_block_size=4096
        -drive "file=$WORK/results.img,if=none,id=res,format=raw"
        -device virtio-blk-pci,drive=res,serial=atsb-results
    )
    log "booting the guest (TCG, timeout ${TIMEOUT}s)"
    local t0=$SECONDS rcs
    set +e
    timeout --kill-after=10 "$TIMEOUT" "${qemu[@]}" </dev/null 2>"$WORK/qemu.stderr" |
        tr -d '\r' | tee "$WORK/serial.log" | console_filter "$mode"
    rcs=("${PIPESTATUS[@]}")
    set -e
    local qrc=${rcs[0]} boot_secs=$((SECONDS - t0))
    [[ -s $WORK/qemu.stderr ]] && sed 's/^/qemu: /' "$WORK/qemu.stderr" >&2

    if tar -xf "$WORK/results.img" -C "$WORK" 2>/dev/null && [[ -d $WORK/out ]]; then
        log "guest files: target/guest/out/ ($(find "$WORK/out" -type f | wc -l) files)"
    fi
    local marker
    marker=$(sed -n 's/^ATSBENCH-GUEST-STATUS: \([0-9]*\)$/\1/p' "$WORK/serial.log" | tail -n 1)
    if [[ $qrc == 124 || $qrc == 137 ]]; then
        log "FAILED: QEMU timed out after ${TIMEOUT}s (ATSBENCH_GUEST_TIMEOUT)"
        exit 124
    fi
    if ((qrc % 2 == 0)) || [[ -z $marker ]]; then
        log "FAILED: the guest ended without reporting a status (QEMU exit $qrc; crash, panic or" \
            "QEMU error; serial log: target/guest/serial.log)"
        exit 1
    fi
    local port=$(((qrc - 1) / 2)) want=$marker
    ((want > 127)) && want=127
    if ((port != want)); then
        log "FAILED: status mismatch: console says $marker, isa-debug-exit says $port"
        exit 1
    fi
    if [[ $mode == exec ]]; then
        log "guest exec: the command exited with status $marker (guest run ${boot_secs}s)"
    elif ((marker == 0)); then
        log "guest test: ok (status 0, guest run ${boot_secs}s)"
    else
        log "guest test: FAILED with status $marker (guest run ${boot_secs}s)"
    fi
    exit "$marker"
}

main() {
    local mode=${1:-} jobfile
    case $mode in
    test)
        shift
        (($# == 0)) || die "'test' takes no arguments"
        jobfile=$HERE/test-job.sh
        ;;
    exec)
        shift
        [[ ${1:-} == -- ]] && shift
        (($# > 0)) || die "usage: scripts/guest.sh exec -- CMD..."
        ;;
    -h | --help | help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
    [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "ATSBENCH_GUEST_TIMEOUT must be a number of seconds"
    mkdir -p "$WORK"
    exec 9>"$WORK/.lock"
    flock -w 900 9 || die "another scripts/guest.sh holds target/guest/.lock"
    if [[ $mode == exec ]]; then
        # One argument is a shell command line; several are a command and its exact arguments.
        jobfile=$WORK/exec-job.sh
        if (($# == 1)); then
            printf '%s\n' "$1" >"$jobfile"
        else
            local arg line=""
            for arg in "$@"; do line+="$(shq "$arg") "; done
            printf '%s\n' "$line" >"$jobfile"
        fi
    fi
    local t0=$SECONDS
    ensure_host_tools
    fetch_guest_kernel
    local t1=$SECONDS
    build_binaries
    local t2=$SECONDS
    pack_initramfs "$mode" "$jobfile"
    log "host steps: tools+kernel $((t1 - t0))s, cargo $((t2 - t1))s, initramfs $((SECONDS - t2))s"
    boot "$mode"
}

main "$@"
