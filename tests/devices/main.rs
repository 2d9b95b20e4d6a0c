//! Tests against real kernel devices. Each test names what it needs; where that is missing it
//! is reported as skipped (libtest "ignored", with the reason printed) and counted, never
//! passed. In the QEMU guest (`scripts/guest.sh test`) every device is present.
//!
//! | env var                    | device |
//! |----------------------------|--------|
//! | ATSBENCH_TEST_NULLB        | a null_blk device, e.g. /dev/nullb0 |
//! | ATSBENCH_TEST_NVME         | an NVMe generic char device with 512 B blocks, e.g. /dev/ng0n1 |
//! | ATSBENCH_TEST_NVME_4K      | an NVMe generic char device with 4 KiB blocks, e.g. /dev/ng0n2 |
//! | ATSBENCH_TEST_NVME_BLOCK   | the block device of the 512 B namespace, e.g. /dev/nvme0n1 |
//! | ATSBENCH_TEST_SG           | a scsi_debug SCSI generic device, e.g. /dev/sg0 |
//! | ATSBENCH_TEST_LIO_A, _B    | the two sg nodes (two paths) of one LIO LUN |
//! | ATSBENCH_TEST_LIO_BLOCK_A, _B | their disks (sdX) |
//! | ATSBENCH_TEST_MPATH        | a dm-multipath device over those two disks (/dev/mapper/NAME) |
//! | ATSBENCH_TEST_NVMET        | an nvmet namespace's generic char device (no Compare), e.g. /dev/ng1n1 |
//! | ATSBENCH_TEST_NVMET_BLOCK  | its block device, e.g. /dev/nvme1n1 |
//! | ATSBENCH_TEST_ISCSI        | the LIO LUN as an `iscsi://` URL (libiscsi's own initiator) |
//! | ATSBENCH_TEST_ISCSI_A, _B  | the sg nodes of that LUN through two kernel iSCSI sessions (iscsi_tcp) |
//! | ATSBENCH_TEST_ISCSI_BLOCK_A, _B | their disks (sdX) |
//! | ATSBENCH_BIN               | the atsbench binary (default: the one cargo built) |
//!
//! Loop-device tests need root and losetup; they build their loop device over /dev/shm.

mod check;
mod common;
mod device_faults;
mod device_gone;
mod lio;
mod lio_abort;
mod loopdev;
mod multihost;
mod multipath;
mod nullb;
mod nvme;
mod nvmet;
mod path_faults;
mod scsi;
mod scsi_debug_faults;
mod stale_cache;

use libtest_mimic::{Arguments, Trial};

fn main() {
    let args = Arguments::from_args();
    let mut tests: Vec<common::DeviceTest> = Vec::new();
    tests.extend(loopdev::tests());
    tests.extend(nullb::tests());
    tests.extend(nvme::tests());
    tests.extend(scsi::tests());
    tests.extend(lio::tests());
    tests.extend(multipath::tests());
    tests.extend(nvmet::tests());
    tests.extend(multihost::tests());
    tests.extend(stale_cache::tests());
    tests.extend(scsi_debug_faults::tests());
    tests.extend(device_faults::tests());
    tests.extend(device_gone::tests());
    tests.extend(path_faults::tests());
    tests.extend(lio_abort::tests());
    tests.extend(check::tests());

    let mut skipped: Vec<(&'static str, String)> = Vec::new();
    let trials: Vec<Trial> = tests
        .into_iter()
        .map(|(need, name, f)| {
            let missing = need.missing();
            if let Some(why) = &missing {
                skipped.push((name, why.clone()));
            }
            Trial::test(name, move || f().map_err(Into::into)).with_ignored_flag(missing.is_some())
        })
        .collect();
    for (name, why) in &skipped {
        println!("skipped: {name}: {why}");
    }
    let total = trials.len();
    let conclusion = libtest_mimic::run(&args, trials);
    println!(
        "device tests: {} ran, {} skipped (not passed) of {total}",
        conclusion.num_passed + conclusion.num_failed,
        skipped.len()
    );
    conclusion.exit();
}
