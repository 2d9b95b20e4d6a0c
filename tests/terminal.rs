//! What a user sees without a terminal (pipes, files, CI logs): the sweep's one line of
//! expected time on stderr (none with -q), no progress drawing, a table within 100 columns,
//! and every column with -v / --format wide. The drawing on a terminal is checked by eye in
//! tmux (see the closing note); these check that none of it leaks into pipes.

use std::process::{Command, Output};

fn atsbench(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_atsbench")).args(args).output().expect("run atsbench");
    assert!(out.status.success(), "atsbench {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_piped_sweep_says_how_long_it_measures_and_draws_nothing() {
    let out = atsbench(&["sweep", "sim", "--qd", "1,2,4", "--repeat", "2", "--duration", "0.05"]);
    let err = text(&out.stderr);
    assert_eq!(err.trim_end(), "atsbench: 3 points x 2 repeats x 0.05 s = 0.3 s of measuring (plus set-up)");
    assert!(!err.contains('\r') && !err.contains('\x1b'), "progress drawn into a pipe: {err:?}");
    let table = text(&out.stdout);
    assert!(!table.contains('\x1b'), "{table:?}");
    assert_eq!(table.lines().filter(|l| l.starts_with("ats      ")).count(), 3, "{table}");
    for line in table.lines().filter(|l| !l.starts_with("device ") && !l.starts_with("target ")) {
        assert!(line.chars().count() <= 100, "a line of {} columns: {line}", line.chars().count());
    }
    assert!(!table.contains("ats_mode") && table.contains("ats mode device"), "{table}");
}

#[test]
fn quiet_says_nothing_but_errors() {
    let out = atsbench(&["sweep", "sim", "--qd", "1,2", "--ops", "50", "-q"]);
    assert_eq!(text(&out.stderr), "");
    let out = atsbench(&["sweep", "sim", "--qd", "1,2", "--ops", "50"]);
    assert!(text(&out.stderr).contains("2 points x 1 repeat, each until 50 operations"));
}

#[test]
fn wide_and_verbose_keep_every_column_and_json_is_the_same() {
    for flags in [&["-v"][..], &["--format", "wide"][..]] {
        let mut args = vec!["run", "sim", "--ops", "50", "-q"];
        args.extend_from_slice(flags);
        let table = text(&atsbench(&args).stdout);
        for column in ["ats_mode", "ops", "max_us", "acq_p50", "cont/own/corr/stale/false"] {
            assert!(table.contains(column), "{flags:?}: no {column}:\n{table}");
        }
    }
    // -v changes tables only.
    let plain = atsbench(&["run", "sim", "--ops", "50", "--seed", "3", "-f", "json", "-q"]);
    let verbose = atsbench(&["run", "sim", "--ops", "50", "--seed", "3", "-f", "json", "-q", "-v"]);
    let keys = |o: &Output| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["points"][0].as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys(&plain), keys(&verbose));
}
