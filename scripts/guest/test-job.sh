#!/bin/sh
# The job of `scripts/guest.sh test`, run by the guest's init (busybox ash) in /out with the
# device variables (ATSBENCH_TEST_*, ATSBENCH_BIN, ATSBENCH_DEVICES_TEST) exported.
#   1. the `devices` integration test binary (libtest-mimic), with $GUEST_TEST_ARGS;
#   2. a short null_blk regression sweep written to /out/nullb-sweep.json;
#   3. the qualification sweep across implementations (ats and read, QD 1, 8, 64, locks 1 and
#      64) on scsi_debug, LIO and QEMU NVMe, written to /out/qualify-NAME.json;
#   4. the CI regression gate as users run it: the `ci-nullblk` profile twice on null_blk and
#      `atsbench compare` of the two (/out/ci-*.json, ci-compare.{md,json}): ok or inconclusive
#      passes, a regression fails; and a third run slowed by --rate, which must compare as a
#      regression (/out/ci-compare-slowed.md);
#   5. scsi_debug against QEMU NVMe and against LIO on the qualification sweep: `compare` and
#      an HTML report each (/out/cross-*.{md,html}); their verdicts do not fail the job (they
#      compare different devices on purpose), but each compare must run and each report exist;
#   6. the forced failure, when the host asked for one (ATSBENCH_GUEST_FORCE_FAIL=1).
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
        # Four interleaved repeats, the fewest with which the cross-device compare below can
        # judge IOPS and latency (a rank test's smallest p: 0.029), short to keep the guest
        # run well inside its timeout.
        set -- sweep "$dev" --workload ats,read --qd 1,8,64 --locks 1,64 --duration 0.1 --force \
            --repeat 4 --interleave --format json --output "/out/qualify-$name.json"
        say "qualify: atsbench $*"
        if ! atsbench "$@" || [ ! -s "/out/qualify-$name.json" ]; then
            say "qualify FAILED on $name ($dev)"
            qualify_status=1
        fi
    done
    [ "$status" -eq 0 ] && [ "$qualify_status" -ne 0 ] && status=$qualify_status
fi

# The CI gate, as docs/compare-verdicts.md recommends it: two runs of the same configuration on
# the same device must compare ok or inconclusive (exit 0 or 3), never regression; a third run
# slowed on purpose (open loop at --rate 100 operations per second in all, far below any point
# of the sweep) must compare regression (exit 1) against the same base in the same job. The
# default margins: the intervals absorb the run-to-run noise of a TCG guest, so no widened
# thresholds are needed to keep the A/A pair from failing.
ci_status=skipped
if [ "$GUEST_SWEEP" != off ]; then
    ci_status=0
    for side in base candidate slowed; do
        set -- sweep "$ATSBENCH_TEST_NULLB" --profile ci-nullblk --seed 1 --format json --output "/out/ci-$side.json"
        [ "$side" = slowed ] && set -- "$@" --rate 100
        say "ci: atsbench $*"
        if ! atsbench "$@" || [ ! -s "/out/ci-$side.json" ]; then
            say "ci FAILED: the $side run"
            ci_status=1
        fi
    done
    if [ "$ci_status" -eq 0 ]; then
        atsbench compare /out/ci-base.json /out/ci-candidate.json --format json --output /out/ci-compare.json
        set -- compare /out/ci-base.json /out/ci-candidate.json --format markdown --output /out/ci-compare.md
        say "ci: atsbench $*"
        atsbench "$@"
        aa=$?
        head -3 /out/ci-compare.md
        case $aa in
        0 | 3) say "ci: ok, two runs of ci-nullblk compare $(sed -n '1s/.*\*\*\(.*\)\*\*.*/\1/p' /out/ci-compare.md) (exit $aa)" ;;
        1)
            say "ci FAILED: two runs of the same configuration compare as a regression (/out/ci-compare.md)"
            ci_status=1
            ;;
        *)
            say "ci FAILED: compare of the A/A pair exited $aa"
            ci_status=$aa
            ;;
        esac
        set -- compare /out/ci-base.json /out/ci-slowed.json --format markdown --output /out/ci-compare-slowed.md
        say "ci: atsbench $*"
        atsbench "$@"
        ab=$?
        head -3 /out/ci-compare-slowed.md
        case $ab in
        1) say "ci: ok, the slowed candidate (--rate 100) compares as a regression" ;;
        *)
            say "ci FAILED: the slowed candidate (--rate 100) compared with exit $ab, not 1 (regression)"
            ci_status=1
            ;;
        esac
    fi
    [ "$status" -eq 0 ] && [ "$ci_status" -ne 0 ] && status=$ci_status
fi

# Different devices on the same sweep: the report must say what differs; any verdict is an
# answer, but compare must run (exit 0, 1 or 3) and the HTML report must be written.
cross_status=skipped
if [ "$GUEST_SWEEP" != off ] && [ "$qualify_status" -eq 0 ]; then
    cross_status=0
    for name in qemu_nvme lio; do
        base=/out/qualify-scsi_debug.json cand=/out/qualify-$name.json
        set -- compare "$base" "$cand" --format markdown --output "/out/cross-$name.md"
        say "cross: atsbench $*"
        atsbench "$@"
        rc=$?
        verdict=$(sed -n '1s/.*\*\*\(.*\)\*\*.*/\1/p' "/out/cross-$name.md" 2>/dev/null)
        if { [ "$rc" -gt 1 ] && [ "$rc" -ne 3 ]; } || [ ! -s "/out/cross-$name.md" ]; then
            say "cross FAILED: compare of scsi_debug and $name exited $rc"
            cross_status=1
        else
            say "cross: scsi_debug vs $name: verdict '$verdict' (exit $rc; different devices, not a failure)"
            grep -A12 '^## What differs' "/out/cross-$name.md" | grep '^|' | head -12
        fi
        if ! atsbench report "$cand" "$base" --html "/out/cross-$name.html" || [ ! -s "/out/cross-$name.html" ]; then
            say "cross FAILED: no HTML report of scsi_debug vs $name"
            cross_status=1
        fi
    done
    [ "$status" -eq 0 ] && [ "$cross_status" -ne 0 ] && status=$cross_status
fi

if [ "$GUEST_FORCE_FAIL" = 1 ]; then
    say "FORCED FAILURE requested (ATSBENCH_GUEST_FORCE_FAIL=1): exiting 3"
    [ "$status" -eq 0 ] && status=3
fi

say "summary: devices test exit $test_status, sweep $sweep_status, qualify $qualify_status, ci $ci_status, cross $cross_status, job exit $status"
exit "$status"
