//! HdrHistogram interval logs: the text format of the Java `HistogramLogWriter` (log format
//! 1.3), which HdrHistogram's own tools (`HistogramLogReader`, `HistogramLogProcessor`, the
//! HdrHistogram log analyzer) and the hdrhistogram crate's `IntervalLogIterator` read.
//!
//! ```text
//! #[Histogram log format version 1.3]
//! #[StartTime: 1700000000.000 (seconds since epoch), 2023-11-14T22:13:20.000Z]
//! #[BaseTime: 1700000000.000 (seconds since epoch)]
//! "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//! Tag=ats,0.000,1.000,52000.000,HISTFAAAAC...
//! Tag=read,0.000,1.000,9000.000,HISTFAAAAB...
//! ```
//!
//! One line per operation kind (the tag) and interval: the interval's start in seconds since
//! BaseTime (the log's start), its length in seconds, its maximum in nanoseconds (the
//! histogram's unit; the Java writer would divide by a "max value unit ratio"), and the
//! histogram, V2-serialized, deflate-compressed and base64-encoded (the `HISTFAAA` form Java
//! reads), written by the hdrhistogram crate's interval-log writer.

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use std::io::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An interval log being written to `W`.
pub struct HdrLog<W: Write> {
    out: W,
    serializer: V2DeflateSerializer,
}

fn seconds(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

impl<W: Write> HdrLog<W> {
    /// Start a log whose intervals count from `start` (written as StartTime and BaseTime),
    /// with `comment` (e.g. the command line) as comment lines first.
    pub fn begin(mut out: W, start: SystemTime, comment: &str) -> io::Result<HdrLog<W>> {
        for line in comment.lines() {
            writeln!(out, "#{line}")?;
        }
        let since = start.duration_since(UNIX_EPOCH).unwrap_or_default();
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[StartTime: {} (seconds since epoch), {}]",
            seconds(since),
            humantime::format_rfc3339_millis(start)
        )?;
        writeln!(out, "#[BaseTime: {} (seconds since epoch)]", seconds(since))?;
        writeln!(out, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        Ok(HdrLog { out, serializer: V2DeflateSerializer::new() })
    }

    /// Append the histogram of one operation kind (`tag`: no commas, spaces or line breaks)
    /// over the interval that began `start` after the log's start and lasted `length`.
    pub fn interval(&mut self, tag: &str, start: Duration, length: Duration, h: &Histogram<u64>) -> io::Result<()> {
        let tag = Tag::new(tag).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("`{tag}` cannot tag an interval log line"))
        })?;
        // A writer without headers: the header was written once by `begin`.
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        w.write_histogram(h, start, length, Some(tag)).map_err(|e| io::Error::other(e.to_string()))
    }

    /// Push the lines written so far to the writer's destination.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flush and give the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Deserializer;

    fn histogram(values: impl Iterator<Item = u64>) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn two_tagged_intervals_read_back_with_the_crates_reader() {
        let start = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let ats = histogram((1..=1000).map(|i| i * 1_000));
        let read = histogram((1..=500).map(|i| i * 37));
        let mut log = HdrLog::begin(Vec::new(), start, "atsbench sweep --qd 8").unwrap();
        log.interval("ats", Duration::ZERO, Duration::from_secs(1), &ats).unwrap();
        log.interval("read", Duration::from_secs(1), Duration::from_millis(1500), &read).unwrap();
        let bytes = log.finish().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("#atsbench sweep --qd 8\n#[Histogram log format version 1.3]\n"), "{text}");
        assert!(text.contains(",HISTFAAA"), "compressed V2 histograms, as Java writes them: {text}");

        let mut times = Vec::new();
        let mut intervals = Vec::new();
        for entry in IntervalLogIterator::new(&bytes) {
            match entry.unwrap() {
                LogEntry::StartTime(t) | LogEntry::BaseTime(t) => times.push(t),
                LogEntry::Interval(i) => {
                    let raw = base64::engine::general_purpose::STANDARD.decode(i.encoded_histogram()).unwrap();
                    let h: Histogram<u64> = Deserializer::new().deserialize(&mut raw.as_slice()).unwrap();
                    intervals.push((i.tag().unwrap().as_str().to_string(), i.start_timestamp(), i.duration(), h));
                }
            }
        }
        assert_eq!(times, [Duration::from_millis(1_700_000_000_250); 2]);
        assert_eq!(intervals.len(), 2);
        let (tag, at, len, h) = &intervals[0];
        assert_eq!((tag.as_str(), *at, *len), ("ats", Duration::ZERO, Duration::from_secs(1)));
        assert_eq!(h.len(), 1000);
        assert_eq!(h.max(), ats.max());
        assert_eq!(h.value_at_quantile(0.99), ats.value_at_quantile(0.99));
        let (tag, at, len, h) = &intervals[1];
        assert_eq!((tag.as_str(), *at, *len), ("read", Duration::from_secs(1), Duration::from_millis(1500)));
        assert_eq!(h.len(), 500);
        assert!(h
            .iter_recorded()
            .zip(read.iter_recorded())
            .all(|(a, b)| a.value_iterated_to() == b.value_iterated_to() && a.count_at_value() == b.count_at_value()));
        assert_eq!(h.iter_recorded().count(), read.iter_recorded().count());
    }

    #[test]
    fn a_tag_with_a_comma_is_refused() {
        let mut log = HdrLog::begin(Vec::new(), UNIX_EPOCH, "").unwrap();
        let e = log.interval("a,b", Duration::ZERO, Duration::from_secs(1), &histogram(1..2)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
