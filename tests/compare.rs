//! `atsbench compare` and `atsbench report` end to end, on results files made from real runs
//! (tests/fixtures/compare, see make.py there): the verdicts and their exit codes, one line per
//! error, the self-contained HTML, and plots that render (the change plots with their error bars).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compare").join(name).display().to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atsbench")).args(args).output().expect("run atsbench")
}

fn stderr_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn compare(cand: &str, extra: &[&str]) -> (Output, String) {
    let (b, c) = (fixture("base.json"), fixture(cand));
    let mut args = vec!["compare", b.as_str(), c.as_str()];
    args.extend_from_slice(extra);
    let out = run(&args);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (out, text)
}

#[test]
fn the_same_configuration_again_is_ok_or_inconclusive_never_a_regression() {
    // Six noisy 250 ms repeats of a temporary file: their intervals straddle the margins.
    let (out, text) = compare("same.json", &[]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.starts_with("atsbench compare: INCONCLUSIVE"), "{text}");
    assert!(text.contains("repeats per side"), "says what would decide it: {text}");
    assert!(stderr_line(&out).starts_with("atsbench: inconclusive: "));
    // A CI job that accepts inconclusive passes.
    let (out, text) = compare("same.json", &["--inconclusive", "ok"]);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(out.stderr.is_empty());
}

#[test]
fn an_honestly_slower_candidate_is_a_regression_with_exit_1() {
    // The same target measured open loop at a low --rate: lower IOPS, higher latency.
    let (out, text) = compare("slow.json", &[]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("atsbench compare: REGRESSION"), "{text}");
    assert!(text.contains("reason: iops -") && text.contains("beyond the margin 5%"), "{text}");
    assert!(text.contains("warning         rate"), "the rate differs and is a warning: {text}");
    let err = stderr_line(&out);
    assert!(err.starts_with("atsbench: regression: 4 of 4 points regressed"), "{err}");
}

#[test]
fn loose_thresholds_let_the_slower_candidate_pass() {
    let (out, text) = compare("slow.json", &["--max-regression", "iops=100%,p99=100000%,miscompare=100pp"]);
    assert_eq!(out.status.code(), Some(0), "{text}");
}

#[test]
fn one_violation_is_a_regression_whatever_the_thresholds() {
    let (out, text) = compare("violation.json", &["--max-regression", "iops=100%,latency=100000%,miscompare=100pp"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("violations 0 -> 1: the base had none (always a regression)"), "{text}");
}

#[test]
fn another_block_size_warns_and_nothing_is_comparable() {
    let (out, text) = compare("bs4096.json", &["--format", "markdown"]);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("| warning | block size | 512 | 4096 |"), "{text}");
    assert!(
        text.contains(": not comparable\n") && text.contains("block size 512 (base) vs 4096 (candidate)"),
        "{text}"
    );
    assert!(stderr_line(&out).contains("nothing comparable"));
}

#[test]
fn json_is_the_compare_schema() {
    let (out, text) = compare("slow.json", &["-f", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON on stdout");
    assert_eq!(v["schema"], "atsbench-compare/2");
    assert_eq!(v["verdict"], "regression");
    let iops = &v["points"][0]["metrics"][0];
    assert_eq!(iops["name"], "iops");
    assert_eq!(iops["verdict"], "regression");
    assert!(iops["interval"][1].as_f64().unwrap() < -5.0, "wholly beyond the margin: {iops}");
    assert_eq!(iops["gated"], true);
    assert_eq!(iops["test"]["name"], "mann-whitney-u", "the rank test informs at 6 repeats");
}

/// The IOPS interval of the first point (percent change), from `compare -f json`.
fn iops_interval(text: &str) -> (f64, f64) {
    let v: serde_json::Value = serde_json::from_str(text).expect("JSON on stdout");
    let iv = &v["points"][0]["metrics"][0]["interval"];
    (iv[0].as_f64().unwrap(), iv[1].as_f64().unwrap())
}

/// `--run-noise` is the noise of single runs: with repeats on both sides the verdict rests on
/// their own spread and the stated noise changes nothing. `--session-noise` floors that spread:
/// the interval widens and a large one leaves the regression undecided.
#[test]
fn run_noise_is_for_single_runs_and_session_noise_floors_repeats() {
    let (_, plain) = compare("slow.json", &["-f", "json"]);
    let (out, stated) = compare("slow.json", &["-f", "json", "--run-noise", "50"]);
    assert_eq!(out.status.code(), Some(1), "{stated}");
    assert_eq!(iops_interval(&plain), iops_interval(&stated), "--run-noise must not touch repeats");
    let (out, floored) = compare("slow.json", &["-f", "json", "--session-noise", "100"]);
    let ((lo, hi), (flo, fhi)) = (iops_interval(&plain), iops_interval(&floored));
    assert!(fhi - flo > hi - lo, "a session floor widens the interval: [{lo}, {hi}] vs [{flo}, {fhi}]");
    assert!(out.status.code() == Some(1) || out.status.code() == Some(3), "{floored}");
    let (out, text) = compare("slow.json", &["--session-noise", "1000"]);
    assert_eq!(out.status.code(), Some(3), "a session noise of 1000 % decides nothing: {text}");
}

/// Without `--run-noise`, single runs rest on the `run-noise` of the shipped profile the results
/// record in `config.profile` (qualification states 27 %).
#[test]
fn single_runs_rest_on_the_profiles_run_noise() {
    let dir = tempfile::tempdir().unwrap();
    let measured = sim_sweep(dir.path(), "sim.json", &[]);
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(measured).unwrap()).unwrap();
    doc["config"]["profile"] = serde_json::json!({"name": "qualification", "sha256": "0"});
    doc["points"].as_array_mut().unwrap().truncate(1);
    let path = dir.path().join("q.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    let p = path.to_str().unwrap();
    let out = run(&["compare", p, p, "--inconclusive", "ok"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("run noise 27% (profile qualification)"), "{text}");
    assert!(text.contains("noise 27%"), "the point's intervals rest on it: {text}");
}

#[test]
fn wrong_inputs_are_one_line_with_their_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("notes.txt");
    std::fs::write(&not_json, "hello").unwrap();
    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, r#"{"schema": "fio/3"}"#).unwrap();
    let base = fixture("base.json");
    for (args, code, words) in [
        (vec!["compare", base.as_str(), "/nonexistent/cand.json"], 2, "no such file"),
        (vec!["compare", base.as_str(), not_json.to_str().unwrap()], 2, "not JSON"),
        (vec!["compare", foreign.to_str().unwrap(), base.as_str()], 2, "not atsbench results"),
        (vec!["compare", base.as_str(), base.as_str(), "--max-regression", "iops=5"], 2, "give a percentage"),
        (vec!["compare", base.as_str(), base.as_str(), "-f", "xml"], 2, "xml"),
        (vec!["report", base.as_str()], 2, "--html"),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let err = stderr_line(&out);
        assert!(err.contains(words), "{args:?}: `{words}` missing from {err}");
    }
}

#[test]
fn the_html_report_is_self_contained_with_the_verdict_first() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let (cand, base) = (fixture("slow.json"), fixture("base.json"));
    let out = run(&["report", &cand, &base, "--html", html.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "report exits 0 whatever the verdict: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    let verdict = page.find("class=\"verdict v-regression\"").expect("verdict");
    assert!(verdict < page.find("<h2>Target</h2>").unwrap(), "the verdict comes first");
    for section in ["<h2>Configuration</h2>", "<h2>Results</h2>", "<h2>Plots</h2>", "<svg"] {
        assert!(page.contains(section), "{section} missing");
    }
    let change = page.find("<summary>Change plots: ").expect("the change plots of the comparison");
    assert!(change < page.find("<h2>Target</h2>").unwrap(), "with the comparison");
    assert!(page.contains("<figure id=\"change-ats-t1-c1-bs512-iops\">"), "IOPS is gated");
    assert!(!page.contains("<figure id=\"change-ats-t1-c1-bs512-ats-p50\">"), "p50 informs: not drawn there");
    for external in ["<script", "<link", " src=", "url(", "@import"] {
        assert!(!page.contains(external), "{external} in a self-contained page");
    }
}

/// Render an SVG with resvg and count the pixels near `rgb`.
fn pixels_of(svg: &Path, fonts: &resvg::usvg::Options, rgb: (u8, u8, u8)) -> usize {
    let data = std::fs::read(svg).unwrap();
    let tree = resvg::usvg::Tree::from_data(&data, fonts).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, resvg::tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let near = |a: u8, b: u8| a.abs_diff(b) < 24;
    pixmap.pixels().iter().filter(|p| near(p.red(), rgb.0) && near(p.green(), rgb.1) && near(p.blue(), rgb.2)).count()
}

#[test]
fn compare_plots_render_with_both_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (base, cand) = (fixture("base.json"), fixture("slow.json"));
    let out = run(&["compare", &base, &cand, "--plot", dir.path().to_str().unwrap(), "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(1));
    let mut svgs: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    svgs.sort();
    let names: Vec<String> = svgs.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for prefix in ["iops-", "latency-", "miscompares-", "miscompares-by-contention-", "spectrum-", "change-"] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "no {prefix}* in {names:?}");
    }
    // Each figure's change with its interval: the error bars' ends are in the SVG, and the
    // margin (red) is drawn.
    let iops = std::fs::read_to_string(dir.path().join("change-ats-t1-c1-bs512-iops.svg")).unwrap();
    assert!(iops.contains("margin -5%") && iops.contains("interval"), "{iops}");
    assert!(
        pixels_of(&dir.path().join("change-ats-t1-c1-bs512-iops.svg"), &resvg::usvg::Options::default(), (214, 39, 40))
            > 50
    );
    let opts = resvg::usvg::Options::default();
    for svg in &svgs {
        // Every plot overlays the base (blue) and the candidate (orange).
        assert!(pixels_of(svg, &opts, (31, 119, 180)) > 50, "{}: no base line", svg.display());
        assert!(pixels_of(svg, &opts, (230, 85, 13)) > 50, "{}: no candidate line", svg.display());
    }
}

/// Runs on the simulated device, seeded and counted in operations, one repeat: IOPS and latency
/// are shown but not judged, so the verdicts depend only on counts, never on timing.
fn sim_sweep(dir: &Path, name: &str, extra: &[&str]) -> String {
    let path = dir.join(name).display().to_string();
    let mut args = vec!["sweep", "sim", "--qd", "1,4", "--ops", "3000", "--seed", "1", "-f", "json", "-o", &path];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.code() == Some(0) || out.status.code() == Some(9), "{}", String::from_utf8_lossy(&out.stderr));
    path
}

#[test]
fn real_runs_on_the_simulated_device_same_is_ok_lost_writes_regress() {
    let dir = tempfile::tempdir().unwrap();
    let a = sim_sweep(dir.path(), "a.json", &[]);
    let b = sim_sweep(dir.path(), "b.json", &[]);
    let lossy = sim_sweep(dir.path(), "lossy.json", &["--inject", "lost-write=0.01"]);
    let out = run(&["compare", &a, &b]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0) | Some(3)), "ok or inconclusive, never a regression: {text}");
    assert!(text.contains("measured once per side: their verdicts rest on the stated run-to-run noise"), "{text}");
    let out = run(&["compare", &a, &lossy]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the base had none (always a regression)"), "{text}");
}

#[test]
fn every_shipped_profile_repeats_and_states_its_run_noise() {
    let out = run(&["profiles"]);
    let list = String::from_utf8_lossy(&out.stdout).to_string();
    let names: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(names.len() >= 4, "{list}");
    for name in names {
        let shown = String::from_utf8(run(&["profiles", "show", name]).stdout).unwrap();
        let repeat: usize =
            shown.lines().find_map(|l| l.strip_prefix("repeat = ")).map_or(1, |r| r.trim().parse().unwrap());
        assert!(repeat >= 3, "{name}: {repeat} repeats per side: the between-repeat variance needs 3 or more");
        let noise: f64 = shown
            .lines()
            .find_map(|l| l.strip_prefix("run-noise = "))
            .unwrap_or_else(|| panic!("{name} states no run-noise"))
            .trim()
            .parse()
            .unwrap();
        assert!(noise > 0.0 && noise < 100.0, "{name}: run-noise {noise}");
    }
}

/// Seeded sim runs, stored (make_sim_pairs.py): an A/A pair and an A/B pair whose candidate
/// runs at half the base's IOPS, 3 repeats per side.
#[test]
fn seeded_sim_pairs_are_known_answers() {
    let (a, aa, ab) = (fixture("sim-aa-a.json"), fixture("sim-aa-b.json"), fixture("sim-ab-b.json"));
    let out = run(&["compare", &a, &aa]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(matches!(out.status.code(), Some(0) | Some(3)), "A/A: ok or inconclusive, never regression: {text}");
    let out = run(&["compare", &a, &ab, "-f", "json"]);
    assert_eq!(out.status.code(), Some(1), "A/B: the halving is a regression");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let iops = &v["points"][0]["metrics"][0];
    assert_eq!((iops["name"].as_str(), iops["verdict"].as_str()), (Some("iops"), Some("regression")), "{iops}");
    // Seeded: the same files give the same report, byte for byte.
    assert_eq!(out.stdout, run(&["compare", &a, &ab, "-f", "json"]).stdout);
}

#[test]
fn csv_is_one_row_per_point_and_figure() {
    let (out, text) = compare("slow.json", &["-f", "csv"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let figure = header.iter().position(|h| h == "figure").unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(rows.iter().all(|x| &x[0] == "regression"));
    assert!(rows.iter().filter(|x| &x[figure] == "iops").count() == 4, "{text}");
}

/// The report a vendor attaches: `sweep --profile qualification` (shortened: 20 ms points, two
/// repeats) on a file, then `report --html`. The page starts with the summary (date, host,
/// CPU, kernel, version, command line, profile and its SHA-256, repeats, duration), warns that
/// ATS was host-emulated, calls rmw's lost updates expected, keeps the details collapsed, has
/// at most three charts per workload and stays under 1 MB.
#[test]
fn the_qualification_report_starts_with_a_summary_and_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let (target, json, html) = (dir.path().join("lun.img"), dir.path().join("q.json"), dir.path().join("q.html"));
    std::fs::write(&target, vec![0u8; 16 << 20]).unwrap();
    let (t, j) = (target.to_str().unwrap(), json.to_str().unwrap());
    let shortcut = dir.path().join("shortcut.html");
    let s = shortcut.to_str().unwrap();
    let args =
        ["--profile", "qualification", "--duration", "20ms", "--repeat", "2", "-f", "json", "-o", j, "--html", s];
    let out = run(&[&["sweep", t][..], &args[..]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&shortcut).unwrap().contains("<dt>Date</dt>"), "sweep --html wrote the report");
    let out = run(&["report", j, "--html", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    eprintln!("qualification report: {} bytes, {} charts", page.len(), page.matches("<svg").count());
    assert!(page.len() <= 1 << 20, "{} bytes", page.len());
    let details = page.find("<details>").expect("collapsed details");
    let summary = &page[..details];
    for fact in
        ["<dt>Date</dt>", "<dt>Host</dt>", "<dt>CPU</dt>", "<dt>Kernel</dt>", "<dt>atsbench</dt>", "<dt>Command</dt>"]
    {
        assert!(summary.contains(fact), "{fact} missing from the summary");
    }
    assert!(summary.contains("qualification") && summary.contains("SHA-256"), "the profile and its hash");
    assert!(summary.contains("<dt>Repeats</dt><dd>2</dd>") && summary.contains("measured, 72 points"));
    assert!(summary.contains("Host-emulated ATS."), "the host-emulated warning");
    assert!(summary.contains("lost updates: <span class=\"s-expected\">expected</span>"), "rmw's answer is expected");
    assert!(summary.contains("<b>ats</b> (host-emulated ATS)") && summary.contains("IOPS peak"));
    assert!(page.matches("<svg").count() <= 3 * 4, "one chart per figure per workload");
    for external in ["<script", "<link", " src=", "url(", "@import"] {
        assert!(!page.contains(external), "{external} in a self-contained page");
    }
}
