//! Summarise an `--hdr-log` over time windows, for long runs (`scripts/soak.sh`):
//! `cargo run --release --example hdr_windows -- FILE [WINDOW_S]` prints, per tag and window
//! (300 s by default), the operations, the rate and the p50/p99/max latency in microseconds of
//! the window's merged histograms, tab-separated with a header line.

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: hdr_windows FILE [WINDOW_S]");
        std::process::exit(2);
    };
    let window: f64 = args.get(1).map_or(Ok(300.0), |w| w.parse()).unwrap_or_else(|_| {
        eprintln!("hdr_windows: WINDOW_S must be seconds, e.g. 300");
        std::process::exit(2);
    });
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("hdr_windows: {path}: {e}");
        std::process::exit(3);
    });
    // (tag, window index) -> (merged histogram, seconds covered)
    let mut windows: BTreeMap<(String, u64), (Histogram<u64>, f64)> = BTreeMap::new();
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let Ok(LogEntry::Interval(i)) = entry else { continue };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(i.encoded_histogram()) else { continue };
        let Ok(h) = deserializer.deserialize::<u64, _>(&mut raw.as_slice()) else { continue };
        let tag = i.tag().map_or("-".to_string(), |t| t.as_str().to_string());
        let start = i.start_timestamp().as_secs_f64();
        let key = (tag, (start / window).floor() as u64);
        let slot = windows.entry(key).or_insert_with(|| (Histogram::new_from(&h), 0.0));
        let _ = slot.0.add(&h);
        slot.1 += i.duration().as_secs_f64();
    }
    println!("tag\twindow_start_s\tseconds\tops\tops_per_s\tp50_us\tp99_us\tmax_us");
    for ((tag, w), (h, secs)) in &windows {
        // Several workers log the same interval under one tag: the window's length is its own.
        let len = window.min(*secs);
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{tag}\t{}\t{len:.0}\t{}\t{:.0}\t{:.1}\t{:.1}\t{:.1}",
            *w as f64 * window,
            h.len(),
            h.len() as f64 / len.max(1e-9),
            us(0.5),
            us(0.99),
            h.max() as f64 / 1000.0
        );
    }
}
