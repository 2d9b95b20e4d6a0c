#!/bin/sh
# The job of `scripts/guest.sh test`, run by the guest's init (busybox ash) in /out with the
# device variables (ATSBENCH_TEST_*, ATSBENCH_BIN, ATSBENCH_DEVICES_TEST) exported.
#   1. the `devices` integration test binary (libtest-mimic), with $GUEST_TEST_ARGS;
#   2. a short null_blk regression sweep written to /out/nullb-sweep.json;
#   3. the qualification sweep across implementations (ats and read, QD 1, 8, 64, locks 1 and
#      64) on scsi_debug, LIO and QEMU NVMe, written to /out/qualify-NAME.json;
#   4. the forced failure, when the host asked for one (ATSBENCH_GUEST_FORCE_FAIL=1).
# Exits with the first failure's status (the tests' first), 0 when all passed.
# shellcheck disable=SC3040 # busybox ash has pipefail
set -o pipefail

say() { echo "atsbench-guest: $*"; }
status=0

say "devices test: $ATSBENCH_DEVICES_TEST $GUEST_TEST_ARGS"
# shellcheck disable=SC2086 # GUEST_TEST_ARGS is a list of words on purpose
"$ATSBENCH_DEVICES_TEST" $GUEST_TEST_ARGS 2>&1 | tee /meta/devices-test.log
test_status=$?
if ! grep -q '^test result: ' /meta/devices-test.log; then
    say "WARNING: the devices test printed no 'test result:' line (a stub binary runs no test)"
fi
skipped=$(grep -c '^skipped: ' /meta/devices-test.log)
if [ "$skipped" -gt 0 ]; then
    say "WARNING: $skipped device tests were skipped although the guest has every device:"
    grep '^skipped: ' /meta/devices-test.log
fi
say "devices test exit status: $test_status"
[ "$test_status" -ne 0 ] && status=$test_status

sweep_status=skipped
if [ "$GUEST_SWEEP" = off ]; then
    say "sweep: off (ATSBENCH_GUEST_SWEEP=off)"
elif [ "$GUEST_SWEEP" = auto ] && ! atsbench sweep --help 2>&1 | grep -q sweep; then
    # No usage text that names the subcommand: an atsbench without `sweep` (or a stub main).
    say "sweep: SKIPPED: this atsbench has no 'sweep' subcommand (ATSBENCH_GUEST_SWEEP=auto)"
else
    set -- sweep /dev/nullb0 --workload ats,read --qd 1..16 --duration 0.2 \
        --format json --output /out/nullb-sweep.json
    say "sweep: atsbench $*"
    atsbench "$@"
    sweep_status=$?
    if [ "$sweep_status" -eq 0 ] && [ ! -s /out/nullb-sweep.json ]; then
        say "sweep FAILED: exit 0 but /out/nullb-sweep.json is missing or empty"
        sweep_status=1
    elif [ "$sweep_status" -ne 0 ]; then
        say "sweep FAILED: atsbench exited $sweep_status"
    else
        say "sweep: ok, /out/nullb-sweep.json has $(wc -c </out/nullb-sweep.json) bytes"
    fi
    [ "$status" -eq 0 ] && [ "$sweep_status" -ne 0 ] && status=$sweep_status
fi

# Qualification: the same sweep on three independently written implementations of compare and
# write. TCG makes absolute figures meaningless; the ratios between queue depths and between
# implementations are what README's test-bed section discusses.
qualify_status=skipped
if [ "$GUEST_SWEEP" != off ]; then
    qualify_status=0
    for pair in "scsi_debug $ATSBENCH_TEST_SG" "lio $ATSBENCH_TEST_LIO_A" "qemu_nvme $ATSBENCH_TEST_NVME"; do
        name=${pair%% *}
        dev=${pair#* }
        set -- sweep "$dev" --workload ats,read --qd 1,8,64 --locks 1,64 --duration 0.3 --force \
            --format json --output "/out/qualify-$name.json"
        say "qualify: atsbench $*"
        if ! atsbench "$@" || [ ! -s "/out/qualify-$name.json" ]; then
            say "qualify FAILED on $name ($dev)"
            qualify_status=1
        fi
    done
    [ "$status" -eq 0 ] && [ "$qualify_status" -ne 0 ] && status=$qualify_status
fi

if [ "$GUEST_FORCE_FAIL" = 1 ]; then
    say "FORCED FAILURE requested (ATSBENCH_GUEST_FORCE_FAIL=1): exiting 3"
    [ "$status" -eq 0 ] && status=3
fi

say "summary: devices test exit $test_status, sweep $sweep_status, qualify $qualify_status, job exit $status"
exit "$status"
