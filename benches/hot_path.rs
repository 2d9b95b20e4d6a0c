//! Benchmarks of the per-I/O path: the lock-record codec, classification, histogram
//! recording and SQE preparation (each per call), and the whole engine loop (prepare, submit,
//! reap, complete, record) on a tmpfs file, timed per point of a fixed number of operations.
//! Run: `cargo bench --bench hot_path`.

use atsbench::backend::block::{self, BlockOptions};
use atsbench::backend::{Backend, Factory, IoReq, Op};
use atsbench::engine::{run_point, LockPlan, PointSpec, StopAt};
use atsbench::spec::Region;
use atsbench::stats::{Kind, Latencies, Recorder};
use atsbench::verify::classify::{classify, Context};
use atsbench::workload::record::{Owner, Record};
use atsbench::workload::Workload;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn record(r: u64) -> Record {
    Record { lock: 7, generation: r, owner: Owner { host: 99, worker: 1, seq: r } }
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    for bs in [512usize, 4096] {
        let mut buf = vec![0u8; bs];
        g.bench_with_input(BenchmarkId::new("encode", bs), &bs, |b, _| {
            let mut i = 0;
            b.iter(|| {
                i += 1;
                record(i).encode(black_box(&mut buf));
            })
        });
        record(3).encode(&mut buf);
        g.bench_with_input(BenchmarkId::new("decode_and_check", bs), &bs, |b, _| {
            b.iter(|| Record::decode(black_box(&buf)))
        });
    }
    let (mut e, mut n, mut r) = (vec![0u8; 512], vec![0u8; 512], vec![0u8; 512]);
    record(4).encode(&mut e);
    record(5).encode(&mut n);
    Record { owner: Owner { host: 99, worker: 0, seq: 77 }, ..record(5) }.encode(&mut r);
    let ctx = Context { lock: 7, host: 99, hosts: &[], workers: 2, max_seen_at_issue: 4 };
    g.bench_function("classify_contention_512", |b| b.iter(|| classify(black_box(&r), &e, &n, &ctx)));
    g.finish();
}

/// One latency recorded: into HdrHistogram directly (`Latencies`, used off the per-I/O path)
/// and into the workers' `Recorder`, side by side.
fn histogram(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram");
    let mut h = Latencies::new();
    let mut v = 1u64;
    g.bench_function("hdrhistogram_record", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            h.record(Kind::Read, black_box((v >> 40) + 1000));
        })
    });
    let mut r = Recorder::new();
    g.bench_function("recorder_record", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            r.record(Kind::Read, black_box((v >> 40) + 1000));
        })
    });
    g.finish();
}

fn prepare(c: &mut Criterion) {
    let mut be = block::open(BlockOptions { fd: 3, slots: 64, iopoll: false, expected: Default::default() })
        .make(0)
        .expect("block backend");
    let mut i = 0u64;
    c.bench_function("backend/block_prepare", |b| {
        b.iter(|| {
            i = (i + 1) % 64;
            let req = IoReq { op: Op::Read, offset: i * 4096, len: 4096, addr: 0x1000_0000, user_data: i };
            be.prepare(black_box(&req), &mut |sqe| {
                black_box(sqe);
            });
        })
    });
}

/// The whole loop: one point of a fixed number of operations (200k reads at QD 32, 20k ATS
/// attempts at QD 8), one worker, on a file in /dev/shm. Criterion's time is per point, so the
/// names say how many operations a point has; its throughput line gives operations per second.
fn engine(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("atsbench-bench-{}.img", std::process::id()));
    let shm = std::path::Path::new("/dev/shm").join(path.file_name().unwrap());
    let path = if std::path::Path::new("/dev/shm").is_dir() { shm } else { path };
    std::fs::write(&path, vec![0u8; 64 << 20]).expect("bench target");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .expect("O_DIRECT on the bench target");
    let fd = file.as_raw_fd();
    let stop = AtomicBool::new(false);
    let mut g = c.benchmark_group("engine");
    g.measurement_time(Duration::from_secs(5)).sample_size(10);
    for (workload, qd, ops) in [(Workload::Read, 32u32, 200_000u64), (Workload::Ats, 8, 20_000)] {
        let spec = PointSpec {
            qd,
            cpus: vec![atsbench::sys::affinity::allowed_cpus().first().copied()],
            lock_plan: LockPlan::Locks(4),
            bs: 4096,
            region: Region { start: 0, end: 64 << 20 },
            stop: StopAt::Ops(ops),
            max_duration_s: 600.0,
            expected_from: Default::default(),
            ..PointSpec::example(workload)
        };
        g.throughput(Throughput::Elements(ops));
        // One iteration is a whole point of `ops` operations; the throughput line gives ops/s.
        let factory = block::open(BlockOptions { fd, slots: qd as usize, iopoll: false, expected: Default::default() });
        g.bench_function(format!("{}_qd{qd}_{}k_ops", workload.name(), ops / 1000), |b| {
            b.iter(|| run_point(&spec, None, &factory, &stop, 100_000_000, None).expect("point"))
        });
    }
    g.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, codec, histogram, prepare, engine);
criterion_main!(benches);
