//! Reporters: render results as a table, JSON or CSV. Measurement never prints; reporters
//! never measure. Every finished point is written out at once, so an interrupted sweep keeps
//! what it measured.

mod csv;
pub mod html;
pub mod intervals;
#[cfg(test)]
mod snapshots;
pub mod summary;
mod table;

use crate::engine::{LockPlan, PointSpec};
use crate::error::{Error, Result};
pub use crate::results::{Config, Document, Point, ProfileRef, Rendezvous, TargetInfo, SCHEMA};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The table that fits 100 columns.
    Table,
    /// The table with every column (`--format wide`, `-v`).
    Wide,
    Json,
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "table" => Ok(Format::Table),
            "wide" => Ok(Format::Wide),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(format!("`{s}` is not a format; use table, wide, json or csv")),
        }
    }
}

fn unique<T: PartialEq + Clone>(v: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// The configuration of `specs` (all points of one command); `force` is not part of a point.
pub fn config(
    command: &str,
    specs: &[PointSpec],
    force: bool,
    repeat: u32,
    interleave: bool,
    interval_ns: u64,
) -> Config {
    let first = specs.first();
    Config {
        command: command.into(),
        workloads: unique(specs.iter().map(|s| s.workload)),
        qd: unique(specs.iter().map(|s| s.qd)),
        threads: unique(specs.iter().map(|s| s.threads())),
        cpus: unique(specs.iter().map(|s| s.cpus.clone())),
        contention: unique(specs.iter().filter_map(|s| match s.lock_plan {
            LockPlan::Contention(k) => Some(k),
            LockPlan::Locks(_) => None,
        })),
        locks: unique(specs.iter().filter_map(|s| match s.lock_plan {
            LockPlan::Locks(n) => Some(n),
            LockPlan::Contention(_) => None,
        })),
        bs: first.map_or(0, |s| s.bs),
        region: first.map(|s| s.region),
        stop: first.map(|s| s.stop),
        rate: first.and_then(|s| s.rate),
        repeat,
        interleave,
        verify: first.is_some_and(|s| s.verify),
        sqpoll: first.is_some_and(|s| s.sqpoll),
        iopoll: first.is_some_and(|s| s.iopoll),
        force,
        miscompare_fraction: first.map_or(0.0, |s| s.miscompare_fraction),
        seed: first.map_or(0, |s| s.seed),
        host_id: format!("{:016x}", first.map_or(0, |s| s.host)),
        // One host; `hosts` records several (`MultiHost::record`).
        hosts: 1,
        host_index: 0,
        rendezvous: None,
        profile: None,
        environment: None,
        timeout_ms: first.and_then(|s| s.timeout_ns).map(|ns| ns / 1_000_000),
        interval_ns,
    }
}

enum Sink {
    Table {
        out: Box<dyn Write>,
        header_done: bool,
        layout: table::Layout,
    },
    Csv(Box<csv::CsvWriter>),
    /// JSON is one document: rewritten whole after every point (to a file) or printed at the end.
    Json,
}

/// The default table: fitted to the terminal when stdout is one narrower than 100 columns,
/// else the same 100 columns everywhere (files and pipes get the same table on every machine).
fn narrow_layout(path: Option<&Path>) -> table::Layout {
    match (path, terminal_size::terminal_size_of(std::io::stdout())) {
        (None, Some((terminal_size::Width(w), _))) if w < 100 => table::Layout::Fit(usize::from(w)),
        _ => table::Layout::Narrow,
    }
}

/// Writes each point as it finishes.
pub struct Reporter {
    sink: Sink,
    path: Option<PathBuf>,
    doc: Document,
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::from_output("-o", path, &e)
}

impl Reporter {
    pub fn new(format: Format, path: Option<&Path>, config: Config, target: TargetInfo) -> Result<Reporter> {
        let open = |p: &Path| -> Result<Box<dyn Write>> {
            Ok(Box::new(std::fs::File::create(p).map_err(|e| write_error(p, e))?))
        };
        let out: Box<dyn Write> = match path {
            Some(p) => open(p)?, // fail now, not after the first point, if it cannot be written
            None => Box::new(std::io::stdout()),
        };
        let sink = match format {
            Format::Table => Sink::Table { out, header_done: false, layout: narrow_layout(path) },
            Format::Wide => Sink::Table { out, header_done: false, layout: table::Layout::Wide },
            Format::Csv => Sink::Csv(Box::new(csv::CsvWriter::new(out))),
            Format::Json => Sink::Json,
        };
        let doc = Document::new(config, target);
        Ok(Reporter { sink, path: path.map(Path::to_path_buf), doc })
    }

    pub fn point(&mut self, p: Point) -> Result<()> {
        let out = self.path.clone().unwrap_or_else(|| PathBuf::from("stdout"));
        let r = match &mut self.sink {
            Sink::Table { out, header_done, layout } => {
                let first = !*header_done;
                *header_done = true;
                let narrow = !layout.is_wide();
                if first {
                    table::header(out, &self.doc.target)
                        .and_then(|_| if narrow { table::mode_line(out, &p) } else { Ok(()) })
                        .and_then(|_| table::columns(out, *layout))
                } else {
                    Ok(())
                }
                .and_then(|_| table::row(out, &p, *layout))
                .and_then(|_| out.flush())
            }
            Sink::Csv(w) => w.point(&p),
            Sink::Json => Ok(()),
        };
        r.map_err(|e| write_error(&out, e))?;
        self.doc.points.push(p);
        if let (Sink::Json, Some(path)) = (&self.sink, &self.path) {
            write_json_atomically(path, &self.doc)?;
        }
        Ok(())
    }

    /// The conformance checks, before any point: printed (table) or kept in the document (JSON).
    pub fn conformance(&mut self, c: crate::results::Conformance) -> Result<()> {
        if let Sink::Table { out, .. } = &mut self.sink {
            let text = match (&c.report, &c.skipped) {
                (Some(r), _) => r.table(),
                (None, Some(why)) => format!("conformance checks skipped: {why}\n"),
                (None, None) => String::new(),
            };
            let p = self.path.clone().unwrap_or_else(|| PathBuf::from("stdout"));
            out.write_all(text.as_bytes()).and_then(|_| writeln!(out)).map_err(|e| write_error(&p, e))?;
        }
        self.doc.conformance = Some(c);
        if let (Sink::Json, Some(path)) = (&self.sink, &self.path) {
            write_json_atomically(path, &self.doc)?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        if let (Sink::Json, None) = (&self.sink, &self.path) {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &self.doc)
                .map_err(std::io::Error::from)
                .and_then(|_| writeln!(out))
                .map_err(|e| write_error(Path::new("stdout"), e))?;
        }
        Ok(())
    }
}

impl Reporter {
    /// `--plot DIR`: draw the points written so far.
    pub fn write_plots(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        if self.doc.points.is_empty() {
            return Ok(Vec::new());
        }
        crate::plot::write_plots(&[crate::plot::Run { label: "", points: &self.doc.points }], dir)
    }
}

impl Reporter {
    /// `sweep --html FILE`: the report of the points written so far (as `report --html`).
    pub fn write_html(&self, path: &Path) -> Result<()> {
        let body = serde_json::to_vec(&self.doc).map_err(|e| Error::Internal(e.to_string()))?;
        let name = self.path.clone().unwrap_or_else(|| PathBuf::from("results"));
        let results = crate::compare::doc::parse(&name, &body)?;
        let page = html::page(&results, None, None)?;
        std::fs::write(path, page).map_err(|e| crate::plot::write_error(path, &e))
    }
}

/// Replace `path` with the document in one rename, so a reader never sees half a file.
fn write_json_atomically(path: &Path, doc: &Document) -> Result<()> {
    let body = serde_json::to_vec_pretty(doc).map_err(|e| Error::Internal(e.to_string()))?;
    replace_file(path, &body).map_err(|e| write_error(path, e))
}

/// Writes `body` to `path`: a regular file (or a new one) is replaced in one rename of a
/// `.partial` beside it; a symlink keeps pointing where it did (the file it names is
/// replaced); anything else that exists (`/dev/null`, `/dev/stdout`, a FIFO) is written in
/// place, because renaming over it would replace a device node with a regular file.
fn replace_file(path: &Path, body: &[u8]) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return std::fs::write(path, body),
        _ => {}
    }
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, body).and_then(|_| std::fs::rename(&tmp, &target))
}

/// `atsbench probe` output.
pub fn probe(info: &TargetInfo, format: Format, path: Option<&Path>) -> Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(info).map_err(|e| Error::Internal(e.to_string()))? + "\n",
        Format::Table | Format::Wide | Format::Csv => {
            let mut v = Vec::new();
            table::header(&mut v, info).map_err(|e| Error::Internal(e.to_string()))?;
            String::from_utf8_lossy(&v).into_owned()
        }
    };
    match path {
        Some(p) => std::fs::write(p, text).map_err(|e| write_error(p, e)),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod replace_tests {
    use super::replace_file;
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn a_fifo_is_written_in_place_and_stays_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success(), "mkfifo failed");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        replace_file(&fifo, b"{\"points\": []}").unwrap();
        // Checked before joining: a replaced FIFO would leave the reader waiting for ever.
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
        assert_eq!(reader.join().unwrap(), b"{\"points\": []}");
    }

    #[test]
    fn a_symlink_keeps_pointing_at_the_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let (file, link) = (dir.path().join("results.json"), dir.path().join("latest.json"));
        std::fs::write(&file, b"old").unwrap();
        std::os::unix::fs::symlink(&file, &link).unwrap();
        replace_file(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        let new = dir.path().join("new.json");
        replace_file(&new, b"first").unwrap();
        assert_eq!(std::fs::read(&new).unwrap(), b"first");
        assert!(!dir.path().join("new.json.partial").exists());
    }
}
