//! Progress on stderr, drawn only when stderr is a terminal and `-q` was not given; never
//! into the results. A sweep shows the point measured, elapsed time and an ETA; `run` shows
//! elapsed of the duration, operations and IOPS. Rows written to stdout while a bar is drawn
//! go through [`Progress::suspend`], which clears the bar first and redraws it after, so a
//! row is never glued to a bar at any terminal width.

use crate::engine::series::{Completed, LogSink};
use crate::engine::{LockPlan, Measured, PointSpec, StopAt};
use crate::error::Result;
use crate::stats::Kind;
use crate::workload::Workload;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often `run` asks its workers for their counts (the `--hdr-log` snapshots: a copy of
/// the latency histograms, off the per-I/O path).
const RUN_SNAPSHOT: Duration = Duration::from_millis(500);

/// `1:05`, or `1:02:05` past an hour.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// The one line before a sweep: points x repeats x duration = the time it will measure.
pub fn expected_time(points: usize, repeat: u32, stop: StopAt) -> String {
    let measurements = points * repeat as usize;
    let (p, r) = (plural(points, "point"), plural(repeat as usize, "repeat"));
    match stop {
        StopAt::Seconds(s) => {
            let total = Duration::from_secs_f64(s * measurements as f64);
            format!("atsbench: {p} x {r} x {s} s = {} of measuring (plus set-up)", human(total))
        }
        StopAt::Ops(n) => format!("atsbench: {p} x {r}, each until {n} operations"),
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `4.5 s`, `12 min 0 s`, `2 h 5 min`.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s < 60.0 => format!("{s:.1} s"),
        s if s < 3600.0 => format!("{} min {} s", (s / 60.0) as u64, (s % 60.0).round() as u64),
        s => format!("{} h {} min", (s / 3600.0) as u64, ((s % 3600.0) / 60.0).round() as u64),
    }
}

/// The bar's elapsed time as `1:05`.
fn since_start(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = w.write_str(&clock(state.elapsed()));
}

pub struct Progress {
    bar: ProgressBar,
    /// When the current measurement started (the sweep's ETA counts it as under way).
    started: Arc<Mutex<Instant>>,
}

impl Progress {
    /// A sweep's bar: one step per measurement, each expected to take `per_run` (or unknown,
    /// with `--ops`, until the first is done).
    pub fn sweep(runs: usize, per_run: Option<Duration>) -> Progress {
        let started = Arc::new(Mutex::new(Instant::now()));
        let since = Arc::clone(&started);
        let eta = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let in_point = since.lock().map(|t| t.elapsed()).unwrap_or_default();
            let (done, len) = (state.pos(), state.len().unwrap_or(0));
            let per = match (done, per_run) {
                (0, None) => {
                    let _ = w.write_str("?");
                    return;
                }
                (0, Some(p)) => p,
                (n, _) => state.elapsed().saturating_sub(in_point) / n as u32,
            };
            let left = per * len.saturating_sub(done) as u32;
            let _ = w.write_str(&clock(left.saturating_sub(in_point.min(per))));
        };
        // The point under way: one more than those done.
        let point = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", (state.pos() + 1).min(state.len().unwrap_or(0)));
        };
        let template = "point {point}/{len} {msg} [{wide_bar}] {since} elapsed, ETA {eta_left}";
        let style = ProgressStyle::with_template(template).map(|s| {
            s.with_key("eta_left", eta).with_key("point", point).with_key("since", since_start).progress_chars("=> ")
        });
        Progress::draw(ProgressBar::new(runs as u64), style, started)
    }

    /// `run`'s bar: elapsed of the duration (or operations of --ops), operations and IOPS.
    pub fn run(stop: StopAt) -> Progress {
        let (len, template) = match stop {
            StopAt::Seconds(s) => (
                (s * 1000.0).round() as u64,
                format!("run [{{wide_bar}}] {{measured}} of {}, {{msg}}", clock(Duration::from_secs_f64(s))),
            ),
            StopAt::Ops(n) => (n, "run [{wide_bar}] {pos}/{len} ops, {since}, {msg}".to_string()),
        };
        // With a duration the position is the measured time in ms, as the workers report it.
        let measured = |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&clock(Duration::from_millis(state.pos())));
        };
        let style = ProgressStyle::with_template(&template)
            .map(|s| s.with_key("since", since_start).with_key("measured", measured).progress_chars("=> "));
        Progress::draw(ProgressBar::new(len), style, Arc::new(Mutex::new(Instant::now())))
    }

    fn draw(
        bar: ProgressBar,
        style: std::result::Result<ProgressStyle, indicatif::style::TemplateError>,
        started: Arc<Mutex<Instant>>,
    ) -> Progress {
        // Cleared however the measurement ends, so that an error line is never glued to a bar.
        let bar = bar.with_finish(indicatif::ProgressFinish::AndClear);
        bar.set_draw_target(ProgressDrawTarget::stderr());
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        Progress { bar, started }
    }

    /// Show the point that starts now.
    pub fn start(&self, s: &PointSpec) {
        if let Ok(mut t) = self.started.lock() {
            *t = Instant::now();
        }
        let locks = match s.lock_plan {
            _ if !s.workload.has_lock_axis() => String::new(),
            LockPlan::Contention(k) => format!(" c={k}"),
            LockPlan::Locks(n) => format!(" locks={n}"),
        };
        self.bar.set_message(format!("{} qd={} t={}{locks}", s.workload.name(), s.qd, s.threads()));
    }

    pub fn done_one(&self) {
        self.bar.inc(1);
    }

    /// Run `f` (which prints) with the bar cleared, then draw the bar again below what it printed.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Run one `run` measurement (`measure`, given the sink its workers send to) while the
    /// bar follows the workers' operation counts.
    pub fn watch_run(
        &self,
        workload: Workload,
        stop: StopAt,
        measure: impl FnOnce(Option<LogSink<'_>>) -> Result<Measured>,
    ) -> Result<Measured> {
        let counted = |k: Kind| match workload {
            Workload::Ats | Workload::Rmw => k == Kind::Ats,
            _ => matches!(k, Kind::Read | Kind::Write | Kind::Compare | Kind::Ats),
        };
        let mut ops = 0u64;
        let mut log = |c: &Completed| -> std::io::Result<()> {
            ops += c.kinds.iter().filter(|(k, _)| counted(*k)).map(|(_, h)| h.len()).sum::<u64>();
            let at_ns = c.start_ns + c.dur_ns;
            let iops = if at_ns > 0 { ops as f64 * 1e9 / at_ns as f64 } else { 0.0 };
            match stop {
                StopAt::Seconds(_) => {
                    self.bar.set_position(at_ns / 1_000_000);
                    self.bar.set_message(format!("{ops} ops, {iops:.0} IOPS"));
                }
                StopAt::Ops(_) => {
                    self.bar.set_position(ops);
                    self.bar.set_message(format!("{iops:.0} IOPS"));
                }
            }
            Ok(())
        };
        measure(Some(LogSink { every_ns: RUN_SNAPSHOT.as_nanos() as u64, log: &mut log }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expected_time_multiplies_points_repeats_and_duration() {
        let line = expected_time(360, 1, StopAt::Seconds(2.0));
        assert!(line.contains("360 points x 1 repeat x 2 s = 12 min 0 s"), "{line}");
        let line = expected_time(7, 5, StopAt::Seconds(0.5));
        assert!(line.contains("7 points x 5 repeats x 0.5 s = 17.5 s"), "{line}");
        assert!(expected_time(3, 1, StopAt::Ops(100)).contains("each until 100 operations"));
    }

    #[test]
    fn clocks_read_as_minutes_and_hours() {
        assert_eq!(clock(Duration::from_secs(65)), "1:05");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }
}
