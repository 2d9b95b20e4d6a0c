//! Wrong input, across the subcommands: each gets one line on stderr naming the cause and the
//! fix, its documented exit code (see `src/error.rs`), no panic, and nothing created. Every
//! row runs in a fresh folder (as the current directory and TMPDIR) holding only the inputs;
//! all failures are listed together.

mod common;
use common::bin;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One wrong input: the arguments, the exit codes allowed (one but for a documented change in
/// flight) and words the line must hold.
struct Row {
    args: &'static [&'static str],
    codes: &'static [i32],
    words: &'static [&'static str],
}

const fn row(args: &'static [&'static str], code: &'static [i32], words: &'static [&'static str]) -> Row {
    Row { args, codes: code, words }
}

/// The inputs every row may name: a results file, damaged and foreign JSON, small targets.
fn fixtures(dir: &Path) {
    let good = Command::new(bin()).args(["run", "sim", "--ops", "50", "-f", "json"]).output().expect("a results file");
    assert!(good.status.success());
    std::fs::write(dir.join("good.json"), &good.stdout).unwrap();
    std::fs::write(dir.join("trunc.json"), &good.stdout[..good.stdout.len() / 2]).unwrap();
    std::fs::write(dir.join("foreign.json"), br#"{"name": "fio", "jobs": []}"#).unwrap();
    std::fs::write(dir.join("old.json"), br#"{"schema": "atsbench/0", "points": []}"#).unwrap();
    std::fs::write(dir.join("corrupt.txt"), b"not json at all\n").unwrap();
    std::fs::write(dir.join("empty.json"), b"").unwrap();
    std::fs::write(dir.join("array.json"), b"[1, 2, 3]").unwrap();
    std::fs::write(dir.join("binary.json"), [0xff, 0xfe, 0, 0x80, 0x41]).unwrap();
    std::fs::write(dir.join("f.img"), vec![0u8; 1 << 20]).unwrap();
    std::fs::write(dir.join("small.img"), vec![0u8; 8192]).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
}

const USAGE: &[i32] = &[2];
const TARGET: &[i32] = &[3];
const UNSUPPORTED: &[i32] = &[7];

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // run: numbers and ranges
    row(&["run", "--qd", "0"], USAGE, &["--qd 0", "at least 1"]),
    row(&["run", "--qd", "99999999999"], USAGE, &["too large", "32768"]),
    row(&["run", "--qd", "1..8"], USAGE, &["sweep --qd 1..8"]),
    row(&["run", "--qd", "1,2"], USAGE, &["sweep"]),
    row(&["run", "--qd", "-1"], USAGE, &["not a whole number"]),
    row(&["run", "--qd", "eight"], USAGE, &["not a whole number", "e.g. 8"]),
    row(&["run", "--threads", "99999999999"], USAGE, &["too large"]),
    row(&["run", "--threads", "4096"], USAGE, &["CPUs"]),
    row(&["run", "--bs", "1000"], USAGE, &["multiple of"]),
    row(&["run", "--bs", "0"], USAGE, &["multiple of 512"]),
    row(&["run", "--bs", "32M"], USAGE, &["at most 16M"]),
    row(&["run", "--duration", "-3"], USAGE, &["not a duration"]),
    row(&["run", "--duration", "0"], USAGE, &["not a duration"]),
    row(&["run", "--duration", "soon"], USAGE, &["not a duration", "500ms"]),
    row(&["run", "--ops", "0"], USAGE, &["--ops 0"]),
    row(&["run", "--ops", "-5"], USAGE, &["not a whole number"]),
    row(&["run", "--ops", "10", "--duration", "1"], USAGE, &["--duration", "--ops"]),
    row(&["run", "--rate", "0"], USAGE, &["--rate", "positive"]),
    row(&["run", "--rate", "fast"], USAGE, &["not a number"]),
    row(&["run", "--repeat", "0"], USAGE, &["--repeat 0"]),
    row(&["run", "--interleave"], USAGE, &["--repeat"]),
    row(&["run", "--locks", "0"], USAGE, &["--locks 0"]),
    row(&["run", "--contention", "0"], USAGE, &["--contention 0"]),
    row(&["run", "--contention", "64", "--qd", "4"], USAGE, &["--contention 64", "4 actors", "--contention 4 or less"]),
    row(&["run", "--locks", "4", "--contention", "2"], USAGE, &["--locks", "--contention"]),
    row(&["run", "f.img", "--locks", "100000"], USAGE, &["--locks", "widen --region"]),
    row(&["run", "-w", "bogus"], USAGE, &["bogus"]),
    row(&["run", "--miscompare-fraction", "2"], USAGE, &["between 0 and 1"]),
    row(&["run", "--max-error-rate", "2"], USAGE, &["--max-error-rate", "between 0 and 1"]),
    row(&["run", "--max-error-rate", "lots"], USAGE, &["not a number"]),
    row(&["run", "--max-duration", "5"], USAGE, &["--max-duration", "--ops"]),
    row(&["run", "--ops", "5", "--max-duration", "-1"], USAGE, &["not a duration"]),
    row(&["run", "--timeout", "soon"], USAGE, &["not a whole number"]),
    row(&["run", "--hdr-interval", "1s"], USAGE, &["--hdr-log"]),
    row(&["run", "--hdr-log", "x.hlog", "--hdr-interval", "10us"], USAGE, &["at least 1ms"]),
    row(&["run", "--heartbeat-interval", "never"], USAGE, &["not a duration"]),
    row(&["run", "--cpus", "9999"], USAGE, &["9999"]),
    row(&["run", "--seed", "x"], USAGE, &["not a whole number"]),
    // run: options that do not fit the target
    row(&["run", "--workload", "compare"], UNSUPPORTED, &["compare", "NVMe"]),
    row(&["run", "f.img", "--timeout", "5"], UNSUPPORTED, &["--timeout", "host-emulated"]),
    row(&["run", "f.img", "--transport", "sg"], USAGE, &["--transport", "/dev/sgN", "drop --transport"]),
    row(&["run", "sim", "--ats-blocks", "2"], USAGE, &["--ats-blocks", "drop --ats-blocks"]),
    row(&["run", "--dpo"], USAGE, &["--dpo", "SCSI"]),
    row(&["run", "f.img", "--fua"], USAGE, &["--fua", "SCSI"]),
    row(&["run", "--fused"], USAGE, &["--fused", "NVMe"]),
    row(&["run", "f.img", "--backend", "nvme"], USAGE, &["does not fit"]),
    row(&["run", "--backend", "scsi"], USAGE, &["needs a TARGET"]),
    row(&["run", "sim", "--sim-latency", "slow"], USAGE, &["slow"]),
    row(&["run", "sim", "--inject", "tear=0.1"], USAGE, &["not a fault kind", "medium-error"]),
    row(&["run", "sim", "--inject", "lost-write=2"], USAGE, &["between 0 and 1"]),
    row(&["run", "sim", "--inject", "medium-error"], USAGE, &["KIND=RATE"]),
    row(&["run", "sim", "--sim-protocol", "nvme", "--inject", "own-write=0.1"], USAGE, &["own-write", "scsi"]),
    row(&["run", "f.img", "--sim-qd", "4"], USAGE, &["--sim-qd", "sim"]),
    row(&["run", "sim", "--expected-from", "cache"], USAGE, &["page cache"]),
    row(&["run", "sim:lots"], USAGE, &["lots"]),
    row(&["run", "f.img", "--hosts", "2"], USAGE, &["--seed"]),
    row(&["run", "f.img", "--hosts", "2", "--seed", "1", "--host-id", "5"], USAGE, &["--host-id"]),
    // run: targets and outputs
    row(&["run", "/nonexistent/atsbench"], TARGET, &["no such file", "omit TARGET"]),
    row(&["run", "sub"], TARGET, &["directory"]),
    row(&["run", "/dev/null"], TARGET, &["character device"]),
    row(&["run", "small.img", "--qd", "32"], USAGE, &["32 lock blocks are needed", "16 blocks", "widen --region"]),
    row(&["run", "f.img", "--region", "0..2M"], TARGET, &["beyond"]),
    row(&["run", "f.img", "--region", "100..4096"], TARGET, &["aligned"]),
    row(&["run", "f.img", "--region", "here"], USAGE, &["here"]),
    row(&["run", "sim", "-o", "nodir/x.json"], USAGE, &["-o nodir/x.json", "does not exist", "mkdir -p nodir"]),
    row(&["run", "sim", "-o", "sub"], USAGE, &["-o sub", "is a directory", "sub/results.json"]),
    row(&["run", "sim", "-f", "yaml"], USAGE, &["yaml"]),
    // sweep
    row(&["sweep", "--qd", "3..9"], USAGE, &["powers of two"]),
    row(&["sweep", "--qd", "256..1"], USAGE, &["256..1"]),
    row(&["sweep", "--qd", "0"], USAGE, &["at least 1"]),
    row(&["sweep", "--workload", "ats,bogus"], USAGE, &["bogus"]),
    row(&["sweep", "--qd", "1", "--contention", "0"], USAGE, &["--contention 0"]),
    row(&["sweep", "--qd", "1", "--max-error-rate", "-1"], USAGE, &["--max-error-rate"]),
    row(&["sweep", "--profile", "no-such-profile"], &[2, 3], &["no-such-profile"]),
    // probe
    row(&["probe", "/dev/sdz"], TARGET, &["/dev/sdz", "no such file or device", "check the path"]),
    row(&["probe", "sub"], TARGET, &["directory"]),
    row(&["probe", "/dev/null"], TARGET, &["character device"]),
    row(&["profiles", "show", "no-such-profile"], &[2, 3], &["no-such-profile"]),
    // compare: damaged, truncated and foreign files (a missing file: 3, or 2 once compare's own
    // file errors move there)
    row(&["compare", "good.json", "trunc.json"], USAGE, &["trunc.json", "not JSON"]),
    row(&["compare", "good.json", "foreign.json"], USAGE, &["foreign.json", "not atsbench results"]),
    row(&["compare", "good.json", "corrupt.txt"], USAGE, &["corrupt.txt", "not JSON"]),
    row(&["compare", "empty.json", "good.json"], USAGE, &["empty.json", "not JSON"]),
    row(&["compare", "good.json", "array.json"], USAGE, &["array.json", "not atsbench results"]),
    row(&["compare", "binary.json", "good.json"], USAGE, &["binary.json", "not JSON"]),
    row(&["compare", "good.json", "old.json"], USAGE, &["old.json", "atsbench/0"]),
    row(&["compare", "good.json", "missing.json"], &[2, 3], &["missing.json"]),
    // report
    row(&["report", "trunc.json", "--html", "r.html"], USAGE, &["trunc.json", "not JSON"]),
    row(&["report", "foreign.json", "--html", "r.html"], USAGE, &["foreign.json"]),
    row(&["report", "good.json", "corrupt.txt", "--html", "r.html"], USAGE, &["corrupt.txt", "not JSON"]),
    row(&["report", "binary.json", "--plot", "plots"], USAGE, &["binary.json"]),
    row(&["report", "good.json"], USAGE, &["--html", "--plot"]),
    // merge
    row(&["merge", "trunc.json", "good.json"], TARGET, &["trunc.json", "not JSON"]),
    row(&["merge", "foreign.json", "good.json"], TARGET, &["foreign.json", "not atsbench results"]),
    row(&["merge", "empty.json", "good.json"], TARGET, &["empty.json", "not JSON"]),
    row(&["merge", "good.json", "good.json"], TARGET, &["good.json", "single host"]),
    row(&["merge", "binary.json"], TARGET, &["binary.json", "not JSON"]),
    row(&["merge", "missing.json", "good.json"], TARGET, &["missing.json", "cannot read"]),
];

fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.insert(p);
        }
    }
    out
}

/// What is wrong with `r`'s run, if anything.
fn check(r: &Row) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    fixtures(dir.path());
    let before = listing(dir.path());
    let out = Command::new(bin()).args(r.args).current_dir(dir.path()).env("TMPDIR", dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut wrong = Vec::new();
    if !out.status.code().is_some_and(|c| r.codes.contains(&c)) {
        wrong.push(format!("exit {:?}, documented {:?}", out.status.code(), r.codes));
    }
    if lines.len() != 1 {
        wrong.push(format!("{} lines", lines.len()));
    }
    if err.contains("panicked") || out.status.code() == Some(101) {
        wrong.push("panicked".into());
    }
    wrong.extend(r.words.iter().filter(|w| !err.contains(*w)).map(|w| format!("no `{w}`")));
    let created: Vec<_> = listing(dir.path()).difference(&before).cloned().collect();
    if !created.is_empty() {
        wrong.push(format!("created {created:?}"));
    }
    (!wrong.is_empty()).then(|| format!("atsbench {}: {}\n    {}", r.args.join(" "), wrong.join(", "), err.trim()))
}

#[test]
fn every_wrong_input_gets_one_line_its_exit_code_and_creates_nothing() {
    assert!(ROWS.len() >= 60, "{} rows", ROWS.len());
    let failures: Vec<String> = ROWS.iter().filter_map(check).collect();
    assert!(failures.is_empty(), "{} of {} rows:\n{}", failures.len(), ROWS.len(), failures.join("\n"));
}
