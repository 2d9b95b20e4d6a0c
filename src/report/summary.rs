//! The first screen of `report --html`: what was measured, where, when and how (device, date,
//! host, CPU, kernel, version, command line, profile and its SHA-256, repeats, duration), a
//! warning where ATS was host-emulated, and the verdicts in words per workload (its diagnosis,
//! the IOPS knee across queue depth, latency, violations; rmw's lost updates marked expected).
//! Then one chart per figure per workload, a line per lock axis, for the details.

use crate::compare::doc::{LockAxis, ResultPoint, Results};
use crate::diagnose::Strength;
use crate::plot::{Chart, Series, XAxis, YAxis, MARKERS, PALETTE};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Escape text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub const CSS: &str = "
.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 14px; font-size: 14px;
  margin: 8px 0 12px; } .facts dt { color: #555; } .facts dd { margin: 0; overflow-wrap: anywhere; }
.warn { background: #fff4d6; border: 1px solid #e0b84c; padding: 8px 12px; border-radius: 6px; margin: 10px 0; }
.verdicts { font-size: 14px; padding-left: 20px; margin: 6px 0; } .verdicts li { margin: 4px 0; }
.s-fault { color: #b00020; font-weight: bold; } .s-warning { color: #8a6d00; font-weight: bold; }
.s-expected { color: #555; font-weight: bold; } .s-benign, .s-clean { color: #1e7b34; font-weight: bold; }
";

fn or_dash(v: &Option<String>) -> String {
    esc(v.as_deref().filter(|s| !s.is_empty()).unwrap_or("-"))
}

fn duration(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s / 60 % 60),
    }
}

/// The facts of the run, two pairs a row.
fn facts(h: &mut String, r: &Results) {
    let t = &r.target;
    let c = &r.config;
    let env = c.environment.clone().unwrap_or_default();
    let dash = |s: &str| if s.is_empty() { "-".to_string() } else { esc(s) };
    let measured: f64 = r.points.iter().map(|p| p.duration_s).sum();
    let profile = c.profile.as_ref().map_or("-".to_string(), |p| {
        format!(
            "{} <small title=\"{}\">SHA-256 {}…</small>",
            esc(&p.name),
            esc(&p.sha256),
            esc(&p.sha256[..p.sha256.len().min(16)])
        )
    });
    // A loop device (or anything else sysfs gives no model of) is named by what backs it.
    let device = match (&t.model, &t.firmware, &t.backing_file) {
        (None, None, Some(file)) => format!("over {}", esc(file)),
        (None, None, None) => "-".to_string(),
        _ => format!("{} {}", or_dash(&t.model), or_dash(&t.firmware)),
    };
    let rows = [
        ("Device", device),
        ("Serial", or_dash(&t.serial)),
        ("Driver", format!("{} ({})", or_dash(&t.driver), esc(&t.backend))),
        ("Path", esc(&t.path)),
        ("Date", dash(&env.started)),
        ("Host", dash(&env.hostname)),
        ("CPU", dash(&env.cpu)),
        ("Kernel", esc(&t.kernel)),
        ("atsbench", esc(&r.version)),
        ("Profile", profile),
        ("Repeats", c.repeat.to_string()),
        ("Duration", format!("{} measured, {} points", duration(measured), r.points.len())),
    ];
    h.push_str("<dl class=\"facts\">");
    for (k, v) in rows {
        let _ = write!(h, "<dt>{k}</dt><dd>{v}</dd>");
    }
    let command = if env.command_line.is_empty() { c.command.clone() } else { env.command_line };
    let _ = write!(h, "<dt>Command</dt><dd style=\"grid-column: span 3\"><code>{}</code></dd>", esc(&command));
    h.push_str("</dl>\n");
}

/// Workloads in the order the run has them.
fn workloads(r: &Results) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for p in &r.points {
        if !out.contains(&p.workload.name()) {
            out.push(p.workload.name());
        }
    }
    out
}

fn axis_name(a: LockAxis) -> String {
    match a {
        LockAxis::Contention(k) => format!("contention {k}"),
        LockAxis::Locks(0) => "no locks".into(),
        LockAxis::Locks(1) => "1 lock block".into(),
        LockAxis::Locks(n) => format!("{n} lock blocks"),
    }
}

/// The latency kind a workload's own operations are counted under.
fn kind(workload: &str) -> &str {
    match workload {
        "ats" | "rmw" | "heartbeat" => "ats",
        other => other,
    }
}

/// The points of one workload by lock axis, each by queue depth.
fn by_axis<'a>(points: &[&'a ResultPoint]) -> BTreeMap<LockAxis, Vec<&'a ResultPoint>> {
    let mut m: BTreeMap<LockAxis, Vec<&ResultPoint>> = BTreeMap::new();
    for p in points {
        m.entry(p.axis()).or_default().push(p);
    }
    for v in m.values_mut() {
        v.sort_by_key(|p| p.qd);
    }
    m
}

fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1000.0)
}

/// "IOPS rises to X at QD q; 90 % of it from QD k" for the lock axis with the highest peak,
/// and the latency at QD 1 and at the knee.
fn knee(workload: &str, points: &[&ResultPoint]) -> String {
    let groups = by_axis(points);
    let best = groups.iter().max_by(|a, b| {
        let peak = |v: &Vec<&ResultPoint>| v.iter().map(|p| p.iops).fold(0.0, f64::max);
        peak(a.1).total_cmp(&peak(b.1))
    });
    let Some((axis, pts)) = best else { return String::new() };
    let peak = pts.iter().copied().max_by(|a, b| a.iops.total_cmp(&b.iops)).expect("a group has points");
    let knee = pts.iter().find(|p| p.iops >= 0.9 * peak.iops).copied().unwrap_or(peak);
    let lat =
        |p: &ResultPoint| p.latency_ns.get(kind(workload)).map(|s| format!("p50 {} / p99 {}", us(s.p50), us(s.p99)));
    let first = pts[0];
    let mut s =
        format!("IOPS peak {:.0} at QD {}, 90 % of it from QD {} ({})", peak.iops, peak.qd, knee.qd, axis_name(*axis));
    if let (Some(a), Some(b)) = (lat(first), lat(knee)) {
        let _ = write!(s, "; {} latency {a} at QD {}, {b} at QD {}", kind(workload), first.qd, knee.qd);
    }
    s
}

/// The diagnosis of a workload's points in words: each mechanism with the share of points.
fn diagnosis(points: &[&ResultPoint]) -> (String, Option<Strength>) {
    let mut seen: BTreeMap<(Strength, crate::diagnose::Mechanism), usize> = BTreeMap::new();
    for p in points {
        for f in &p.diagnosis {
            *seen.entry((f.strength, f.mechanism)).or_default() += 1;
        }
    }
    if seen.is_empty() {
        return ("no diagnosis in these results (written before atsbench had one)".into(), None);
    }
    let n = points.len();
    let words: Vec<String> = seen
        .iter()
        .map(|((s, m), k)| {
            let share = if *k == n { "all points".to_string() } else { format!("{k} of {n} points") };
            let strength = if s.name() == m.id() { String::new() } else { format!("{}, ", s.name()) };
            format!("<span class=\"s-{}\">{}</span> ({strength}{share})", s.name(), m.id())
        })
        .collect();
    (words.join(", "), seen.keys().next().map(|k| k.0))
}

/// Violations and lost updates, with rmw's marked as its known answer.
fn violations(workload: &str, points: &[&ResultPoint]) -> String {
    let (mut v, mut l, mut checked) = (0u64, 0u64, 0usize);
    for p in points {
        if let Some(x) = &p.verification {
            v += x.violations;
            l += x.lost_updates;
            checked += 1;
        }
    }
    if checked == 0 {
        return "not verified".into();
    }
    match (v + l, workload) {
        (0, _) => "history verified, no violation".into(),
        (_, "rmw") => format!(
            "{v} violations, {l} lost updates: <span class=\"s-expected\">expected</span> (rmw is not atomic; it shows \
             what ATS prevents)"
        ),
        _ => format!("<span class=\"s-fault\">{v} violations, {l} lost updates</span>"),
    }
}

/// The summary: facts, warnings, verdicts.
pub fn section(h: &mut String, r: &Results) {
    facts(h, r);
    if r.points.iter().any(|p| p.ats_mode.map(|m| m.name()) == Some("host-emulated")) {
        h.push_str(
            "<div class=\"warn\"><b>Host-emulated ATS.</b> On this target atsbench read, compared and wrote in the \
             host under its own lock: the device's own COMPARE AND WRITE was never exercised, and these results do \
             not qualify it. Measure through a SCSI generic (sg) or NVMe passthrough path for device-side ATS.</div>\n",
        );
    }
    h.push_str("<h2>Verdicts</h2>\n<ul class=\"verdicts\">");
    for w in workloads(r) {
        let pts: Vec<&ResultPoint> = r.points.iter().filter(|p| p.workload.name() == w).collect();
        let mode = pts.iter().find_map(|p| p.ats_mode).map(|m| format!(" ({} ATS)", m.name())).unwrap_or_default();
        let (diag, worst) = diagnosis(&pts);
        let verdict = match worst {
            Some(Strength::Fault) => "<span class=\"s-fault\">FAULT</span> &middot;",
            Some(Strength::Warning) => "<span class=\"s-warning\">WARNING</span> &middot;",
            Some(_) => "<span class=\"s-clean\">OK</span> &middot;",
            None => "",
        };
        let _ = write!(
            h,
            "<li><b>{}</b>{}: {verdict} {}.<br>{}.<br>{}.</li>",
            esc(w),
            esc(&mode),
            diag,
            esc(&knee(w, &pts)),
            violations(w, &pts)
        );
    }
    h.push_str("</ul>\n");
}

/// One chart per figure per workload, one line per lock axis: IOPS, the workload's p99 latency
/// and the miscompare rate against queue depth.
pub fn charts(r: &Results) -> Vec<(String, Chart)> {
    let mut out = Vec::new();
    for w in workloads(r) {
        let pts: Vec<&ResultPoint> = r.points.iter().filter(|p| p.workload.name() == w).collect();
        let groups = by_axis(&pts);
        let series = |pick: &dyn Fn(&ResultPoint) -> Option<f64>| -> Vec<Series> {
            groups
                .iter()
                .enumerate()
                .map(|(i, (axis, v))| Series {
                    label: axis_name(*axis),
                    colour: PALETTE[i % PALETTE.len()],
                    marker: MARKERS[i % MARKERS.len()],
                    dashed: false,
                    points: v.iter().filter_map(|p| pick(p).map(|y| (p.qd as f64, y))).collect(),
                    bars: Vec::new(),
                })
                .filter(|s| !s.points.is_empty())
                .collect()
        };
        let x = || XAxis::Log2("queue depth per worker".into());
        let sub = Some(format!("{w}: one line per lock axis"));
        out.push((
            format!("{w}-iops"),
            Chart {
                title: format!("{w}: IOPS by queue depth"),
                subtitle: sub.clone(),
                x: x(),
                y: YAxis::Iops,
                series: series(&|p| Some(p.iops)),
                rules: Vec::new(),
            },
        ));
        let k = kind(w).to_string();
        out.push((
            format!("{w}-p99"),
            Chart {
                title: format!("{w}: {k} p99 latency by queue depth"),
                subtitle: sub.clone(),
                x: x(),
                y: YAxis::Latency,
                series: series(&|p| p.latency_ns.get(&k).map(|s| s.p99 as f64)),
                rules: Vec::new(),
            },
        ));
        if pts.iter().any(|p| p.locks > 0) {
            out.push((
                format!("{w}-miscompares"),
                Chart {
                    title: format!("{w}: miscompare rate by queue depth"),
                    subtitle: sub,
                    x: x(),
                    y: YAxis::Percent("miscompares per attempt".into()),
                    series: series(&|p| (p.locks > 0).then(|| p.miscompare_rate("total"))),
                    rules: Vec::new(),
                },
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
