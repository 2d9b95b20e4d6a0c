//! `atsbench report RESULTS [BASE] --html FILE`: one self-contained HTML page, for a
//! qualification report: inline CSS and SVG, no script, nothing fetched.
//!
//! The first screen is the summary (`summary.rs`): what, where, when, how, and the verdicts in
//! words. With a base the comparison and its verdict follow. The details come collapsed: the
//! target's identity and the configuration, the results table with each point's diagnosis,
//! and one chart per figure per workload.

use super::summary::esc;
use crate::compare::doc::{ResultPoint, Results, RunConfig, TargetDesc};
use crate::compare::{CompareReport, MetricVerdict, PointComparison, Verdict};
use std::fmt::Write;

const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif; margin: 0 auto;
  max-width: 1200px; padding: 24px; color: #1a1a1a; line-height: 1.4; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 20px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.sub { color: #555; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { background: #f2f2f2; white-space: nowrap; } small { color: #666; }
.wide { overflow-x: auto; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.first td { border-top: 2px solid #999; }
.verdict { padding: 14px 18px; border-radius: 6px; margin: 16px 0; font-size: 18px; }
.verdict b { font-size: 22px; text-transform: uppercase; margin-right: 12px; }
.v-ok { background: #e6f4ea; border: 1px solid #7cc48a; } .v-regression { background: #fde8e8; border: 1px solid #e07b7b; }
.v-not { background: #f3f3f3; border: 1px solid #bbb; }
.t-regression { color: #b00020; font-weight: bold; } .t-better { color: #1e7b34; font-weight: bold; }
.t-inconclusive { color: #8a6d00; } .t-not { color: #666; }
.l-warning { color: #8a6d00; font-weight: bold; } .l-not { color: #b00020; font-weight: bold; }
ul.notes { margin: 6px 0 12px; padding-left: 20px; font-size: 14px; }
figure { margin: 12px 0 24px; } figure svg { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
details { margin: 4px 0 10px; } summary { cursor: pointer; font-size: 14px; }
code { font-size: 13px; }
";

fn opt(v: &Option<String>) -> String {
    esc(v.as_deref().unwrap_or("-"))
}

fn list<T: ToString>(v: &[T]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
    }
}

fn us(ns: u64) -> String {
    crate::compare::render_value(ns as f64, crate::compare::Unit::Ns, "µs")
}

/// The page: `results` alone, or compared with a base (`comparison` of base and `results`).
pub fn page(
    results: &Results,
    base: Option<&Results>,
    comparison: Option<&CompareReport>,
) -> crate::error::Result<String> {
    let mut h = String::new();
    let t = &results.target;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>atsbench report: {}</title><style>{CSS}{}</style></head><body>\n",
        esc(&t.path),
        super::summary::CSS
    );
    let what =
        results.config.profile.as_ref().map_or("atsbench report".to_string(), |p| format!("atsbench {}", p.name));
    let device = match (&t.model, &t.firmware) {
        (Some(m), Some(f)) => format!("{m} {f}"),
        (Some(m), None) => m.clone(),
        _ => t.path.clone(),
    };
    let _ = writeln!(h, "<h1>{}: {}</h1>", esc(&what), esc(&device));
    let _ = writeln!(
        h,
        "<p class=\"sub\">{} &middot; atsbench {} ({})</p>",
        esc(&results.file.display().to_string()),
        esc(&results.version),
        esc(&results.schema)
    );
    super::summary::section(&mut h, results);
    if let (Some(base), Some(c)) = (base, comparison) {
        comparison_section(&mut h, base, c)?;
    }
    h.push_str("<details><summary>Target and configuration</summary>\n");
    identity_section(&mut h, results, base);
    config_section(&mut h, results, base);
    h.push_str("</details>\n");
    conformance_section(&mut h, results);
    let _ =
        writeln!(h, "<details><summary>Results: {} points, each with its diagnosis</summary>", results.points.len());
    results_section(&mut h, "Results", results);
    if let Some(b) = base {
        results_section(&mut h, "Results of the base", b);
    }
    h.push_str("</details>\n");
    charts_section(&mut h, results)?;
    h.push_str("</body></html>\n");
    Ok(h)
}

/// The conformance checks the run carried (`--checks`, the qualification profile), beside the
/// performance figures: one row per check with its clause and evidence.
fn conformance_section(h: &mut String, results: &Results) {
    let Some(c) = &results.conformance else { return };
    let _ = writeln!(h, "<h2>Conformance</h2>");
    let Some(r) = &c.report else {
        let _ = writeln!(h, "<p>Skipped: {}</p>", esc(c.skipped.as_deref().unwrap_or("no reason recorded")));
        return;
    };
    let n = &r.counts;
    let _ = writeln!(
        h,
        "<p>{} pass, {} fail, {} skip, {} n/a (<code>atsbench check</code>, {})</p>",
        n.pass,
        n.fail,
        n.skip,
        n.not_applicable,
        esc(&r.device.paths.join(" + "))
    );
    h.push_str("<table><tr><th>check</th><th>result</th><th>clause</th><th>evidence</th></tr>\n");
    for x in &r.checks {
        let class = match x.result {
            crate::results::conformance::Verdict::Pass => "t-ok",
            crate::results::conformance::Verdict::Fail => "t-regression",
            _ => "t-not",
        };
        let mut ev: Vec<String> = x.reason.iter().map(|w| format!("why: {w}")).collect();
        ev.extend(x.evidence.iter().cloned());
        let ev: Vec<String> = ev.iter().map(|e| esc(e)).collect();
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.id),
            x.result.name(),
            esc(&x.clause),
            ev.join("<br>")
        );
    }
    h.push_str("</table>\n");
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "t-ok",
        Verdict::Better => "t-better",
        Verdict::Regression => "t-regression",
        Verdict::Inconclusive => "t-inconclusive",
        Verdict::NotComparable => "t-not",
    }
}

// long: writes the HTML of the comparison section top to bottom
fn comparison_section(h: &mut String, base: &Results, c: &CompareReport) -> crate::error::Result<()> {
    let class = match c.verdict {
        Verdict::Regression => "v-regression",
        Verdict::NotComparable => "v-not",
        _ => "v-ok",
    };
    let _ = writeln!(
        h,
        "<div class=\"verdict {class}\"><b>{}</b>{} against the base <code>{}</code></div>",
        esc(c.verdict.name()),
        esc(&crate::compare::tally_line(c)),
        esc(&base.file.display().to_string())
    );
    let _ = writeln!(
        h,
        "<p>Margins <code>{}</code>; {} gated figures; run noise {}% ({}). Each figure shows its change with \
         an interval: the wider of a hierarchical bootstrap and a random-effects t interval, two-sided at 90% for \
         the family of gated figures (Bonferroni). A gated figure regresses when its interval lies wholly beyond \
         its margin, is ok when wholly short of it, inconclusive when it straddles it; a miscompare class, \
         violation or lost update the base never had is always a regression.</p>",
        esc(&c.thresholds.to_string()),
        c.gated,
        c.run_noise_pct,
        esc(&c.run_noise_source)
    );
    if !c.notes.is_empty() {
        h.push_str("<ul class=\"notes\">");
        for n in &c.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>\n");
    }
    if !c.differences.is_empty() {
        h.push_str(
            "<h3>What differs between the runs</h3>\n<table><tr><th>level</th><th>what</th><th>base</th>\
                    <th>candidate</th><th>meaning</th></tr>\n",
        );
        for d in &c.differences {
            let class = match d.level {
                crate::compare::Level::Info => "",
                crate::compare::Level::Warning => "l-warning",
                crate::compare::Level::NotComparable => "l-not",
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.level.name(),
                esc(&d.what),
                esc(&d.base),
                esc(&d.candidate),
                esc(&d.note)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str(
        "<h3>Points</h3>\n<table><tr><th>point</th><th>ATS mode</th><th>repeats</th><th>IOPS base</th>\
                <th>IOPS candidate</th><th>change</th><th>verdict</th><th>why</th></tr>\n",
    );
    for p in &c.points {
        point_row(h, p);
    }
    h.push_str("</table>\n");
    for p in c.points.iter().filter(|p| !p.metrics.is_empty()) {
        point_details(h, p);
    }
    // Each gated figure's change with its interval as error bars, against its margin.
    let charts = crate::plot::change_charts(c, true);
    if !charts.is_empty() {
        let _ = writeln!(
            h,
            "<details><summary>Change plots: {} (each gated figure's change with its interval, by queue depth)\
             </summary>",
            charts.len()
        );
        for (name, chart) in charts {
            if let Some(svg) = crate::plot::draw(&name, &chart)? {
                let svg = svg.trim_start_matches(|c: char| c != '<');
                let _ = writeln!(h, "<figure id=\"{}\">{svg}</figure>", esc(&name));
            }
        }
        h.push_str("</details>\n");
    }
    Ok(())
}

fn point_row(h: &mut String, p: &PointComparison) {
    let iops = p.metrics.iter().find(|m| m.name == "iops");
    let mode = match (&p.ats_mode.base, &p.ats_mode.candidate) {
        (b, c) if b == c => opt(b),
        (b, c) => format!("{} / {}", opt(b), opt(c)),
    };
    let mut why: Vec<String> = p.reasons.iter().map(|r| esc(r)).collect();
    why.extend(
        p.notes
            .iter()
            .filter(|n| n.starts_with("inconclusive") || n.starts_with("ATS mode"))
            .map(|n| format!("<span class=\"t-inconclusive\">{}</span>", esc(n))),
    );
    let _ = writeln!(
        h,
        "<tr><td>{}</td><td>{mode}</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
        esc(&p.title()),
        p.repeats.base,
        p.repeats.candidate,
        iops.map_or("-".into(), |m| format!("{:.0}", m.base)),
        iops.map_or("-".into(), |m| format!("{:.0}", m.candidate)),
        iops.map_or("-".into(), crate::compare::render_change),
        verdict_class(p.verdict),
        esc(p.verdict.name()),
        why.join("<br>")
    );
}

fn point_details(h: &mut String, p: &PointComparison) {
    let _ = writeln!(
        h,
        "<details><summary>{}: <span class=\"{}\">{}</span></summary>\n<table><tr><th>figure</th><th>base</th>\
         <th>candidate</th><th>change [interval]</th><th>margin</th><th>basis</th><th>gated</th><th>verdict</th>\
         <th>repeats base / candidate</th><th>MWU p</th></tr>",
        esc(&p.title()),
        verdict_class(p.verdict),
        esc(p.verdict.name())
    );
    for m in &p.metrics {
        let class = match m.verdict {
            MetricVerdict::Regression => "t-regression",
            MetricVerdict::Better => "t-better",
            MetricVerdict::Inconclusive => "t-inconclusive",
            MetricVerdict::Ok => "",
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td></tr>",
            esc(&m.name),
            crate::compare::render_value(m.base, m.unit, "µs"),
            crate::compare::render_value(m.candidate, m.unit, "µs"),
            esc(&crate::compare::change_with_interval(m)),
            esc(&crate::compare::render_margin(m)),
            m.basis.map_or("-".into(), |b| esc(&b.short())),
            if m.gated { "yes" } else { "no" },
            crate::compare::metric_verdict(m.verdict).to_lowercase(),
            esc(&crate::compare::render_spread(m, "µs")),
            m.test.map_or("-".into(), |t| crate::compare::p_value(t.p)),
        );
    }
    h.push_str("</table>");
    if !p.notes.is_empty() {
        h.push_str("<ul class=\"notes\">");
        for n in &p.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul>");
    }
    h.push_str("</details>\n");
}

fn target_rows(t: &TargetDesc) -> Vec<(String, String)> {
    let mut rows = vec![
        ("path".to_string(), esc(&t.path)),
        ("backend".into(), esc(&t.backend)),
        ("model".into(), opt(&t.model)),
        ("firmware".into(), opt(&t.firmware)),
        ("serial".into(), opt(&t.serial)),
        ("driver".into(), opt(&t.driver)),
        ("kernel".into(), esc(&t.kernel)),
        ("size".into(), format!("{} bytes", t.size_bytes)),
        ("logical block size".into(), format!("{} bytes", t.logical_block_size)),
        ("temporary file".into(), if t.temporary { "yes" } else { "no" }.into()),
    ];
    // The device's own description, one level deep (nested values shown as JSON).
    if let Some(serde_json::Value::Object(probe)) = t.probe.as_ref().and_then(|p| serde_json::to_value(p).ok()) {
        for (k, v) in &probe {
            let v = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            rows.push((format!("probe: {k}"), esc(&v)));
        }
    }
    rows
}

/// Rows of one or two columns (the results, then the base), the label escaped here.
fn two_column_table(h: &mut String, rows: Vec<(String, String)>, base_rows: Option<Vec<(String, String)>>) {
    match base_rows {
        None => {
            h.push_str("<table>");
            for (k, v) in rows {
                let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(&k));
            }
        }
        Some(b) => {
            h.push_str("<table><tr><th></th><th>base</th><th>candidate</th></tr>");
            let mut keys: Vec<String> = b.iter().map(|r| r.0.clone()).collect();
            for (k, _) in &rows {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            let get = |rows: &[(String, String)], k: &str| {
                rows.iter().find(|r| r.0 == k).map_or("-".to_string(), |r| r.1.clone())
            };
            for k in keys {
                let _ = writeln!(h, "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", esc(&k), get(&b, &k), get(&rows, &k));
            }
        }
    }
    h.push_str("</table>\n");
}

fn identity_section(h: &mut String, r: &Results, base: Option<&Results>) {
    h.push_str("<h2>Target</h2>\n");
    two_column_table(h, target_rows(&r.target), base.map(|b| target_rows(&b.target)));
}

fn config_rows(r: &Results) -> Vec<(String, String)> {
    let c: &RunConfig = &r.config;
    let stop = match c.stop {
        Some(crate::compare::doc::StopDesc::Seconds(s)) => format!("{s} s per point"),
        Some(crate::compare::doc::StopDesc::Ops(n)) => format!("{n} operations per point"),
        None => "-".into(),
    };
    let optf = |v: Option<String>| esc(&v.unwrap_or_else(|| "-".into()));
    vec![
        ("command".to_string(), esc(&c.command)),
        ("workloads".into(), esc(&list(&c.workloads))),
        ("queue depths".into(), list(&c.qd)),
        ("threads".into(), list(&c.threads)),
        ("contention (actors per lock)".into(), list(&c.contention)),
        ("lock blocks".into(), list(&c.locks)),
        ("block size".into(), format!("{} bytes", c.bs)),
        ("region".into(), c.region.map_or("-".into(), |g| format!("{}..{}", g.start, g.end))),
        ("stop".into(), stop),
        ("rate".into(), optf(c.rate.map(|x| format!("{x} ops/s")))),
        ("verify".into(), c.verify.to_string()),
        ("seed".into(), c.seed.to_string()),
        ("atsbench".into(), format!("{} ({})", esc(&r.version), esc(&r.schema))),
    ]
}

fn config_section(h: &mut String, r: &Results, base: Option<&Results>) {
    h.push_str("<h2>Configuration</h2>\n");
    two_column_table(h, config_rows(r), base.map(config_rows));
}

fn axis(p: &ResultPoint) -> String {
    match (p.contention, p.locks) {
        (Some(k), _) => format!("contention&nbsp;{k}"),
        (None, 0) => "-".into(),
        (None, n) => format!("{n} locks"),
    }
}

fn results_section(h: &mut String, title: &str, r: &Results) {
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<p class=\"sub\">{}: {} B blocks; latency per operation kind; miscompares as a share of \
         operations, then by class: contention / own_write / corrupt / stale / false / split.</p>",
        esc(title),
        esc(&r.file.display().to_string()),
        r.config.bs
    );
    h.push_str(
        "<div class=\"wide\"><table><tr><th>workload</th><th>qd</th><th>thr</th><th>locks</th><th>ops</th>\
         <th>IOPS</th><th>kind</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th><th>miscompares</th>\
         <th>viol.</th><th>lost</th><th>err.</th></tr>\n",
    );
    for p in &r.points {
        let kinds: Vec<(&String, &crate::compare::doc::LatencySummary)> = p.latency_ns.iter().collect();
        let n = kinds.len().max(1);
        let m = &p.miscompares;
        let (viol, lost) = p
            .verification
            .as_ref()
            .map_or(("-".into(), "-".into()), |v| (v.violations.to_string(), v.lost_updates.to_string()));
        for i in 0..n {
            let lat =
                kinds.get(i).map_or("<td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>".to_string(), |(k, s)| {
                    format!(
                        "<td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                     <td class=\"n\">{}</td>",
                        esc(k),
                        us(s.p50),
                        us(s.p99),
                        us(s.p999),
                        us(s.max)
                    )
                });
            if i > 0 {
                let _ = writeln!(h, "<tr>{lat}</tr>");
                continue;
            }
            let bs = if p.bs == r.config.bs { String::new() } else { format!(" · {} B", p.bs) };
            let _ = writeln!(
                h,
                "<tr class=\"first\"><td rowspan=\"{n}\">{}<br><small>{}{bs}</small></td>\
                 <td class=\"n\" rowspan=\"{n}\">{}</td><td class=\"n\" rowspan=\"{n}\">{}</td>\
                 <td rowspan=\"{n}\">{}</td><td class=\"n\" rowspan=\"{n}\">{}</td>\
                 <td class=\"n\" rowspan=\"{n}\">{:.0}</td>{lat}\
                 <td class=\"n\" rowspan=\"{n}\">{:.3}%<br><small>{}/{}/{}/{}/{}/{}</small></td>\
                 <td class=\"n\" rowspan=\"{n}\">{viol}</td><td class=\"n\" rowspan=\"{n}\">{lost}</td>\
                 <td class=\"n\" rowspan=\"{n}\">{}</td></tr>",
                esc(p.workload.name()),
                opt(&p.ats_mode.map(|m| m.name().to_string())),
                p.qd,
                p.threads,
                axis(p),
                p.ops,
                p.iops,
                p.miscompare_rate("total") * 100.0,
                m.contention,
                m.own_write,
                m.corrupt,
                m.stale,
                m.false_,
                m.split,
                p.errors
            );
        }
        if !p.diagnosis.is_empty() {
            let lines: Vec<String> = crate::diagnose::lines(&p.diagnosis).iter().map(|l| esc(l)).collect();
            let _ = writeln!(h, "<tr><td colspan=\"15\"><small>{}</small></td></tr>", lines.join("<br>"));
        }
    }
    h.push_str("</table></div>\n");
}

/// One chart per figure per workload (of the results; a base is compared in numbers above).
fn charts_section(h: &mut String, r: &Results) -> crate::error::Result<()> {
    let charts = super::summary::charts(r);
    let _ = writeln!(
        h,
        "<details><summary>Charts: {} (one per figure per workload)</summary>\n<h2>Plots</h2>",
        charts.len()
    );
    for (name, c) in charts {
        if let Some(svg) = crate::plot::draw(&name, &c)? {
            // The SVG goes in as it is: plotters writes no XML prolog, and its text is escaped.
            let svg = svg.trim_start_matches(|c: char| c != '<');
            let _ = writeln!(h, "<figure id=\"{}\">{svg}</figure>", esc(&name));
        }
    }
    h.push_str("</details>\n");
    Ok(())
}
