//! Reporters: render results as a table, JSON or CSV. Measurement never prints; reporters
//! never measure. Every finished point is written out at once, so an interrupted sweep keeps
//! what it measured.

mod csv;
mod table;

use crate::cli::{CommonArgs, Format};
use crate::engine::{Point, PointSpec, StopAt};
use crate::error::{Error, Result};
use crate::spec::Region;
use crate::target::TargetInfo;
use crate::workload::Workload;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SCHEMA: &str = "atsbench/1";

/// The resolved options of a run, recorded in every result.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub command: String,
    pub workloads: Vec<Workload>,
    pub qd: Vec<u32>,
    pub threads: Vec<u32>,
    pub cpus: Vec<Vec<Option<usize>>>,
    pub locks: Vec<u32>,
    pub bs: u32,
    pub region: Option<Region>,
    pub stop: Option<StopAt>,
    pub rate: Option<f64>,
    pub verify: bool,
    pub sqpoll: bool,
    pub iopoll: bool,
    pub force: bool,
    pub miscompare_fraction: f64,
    pub seed: u64,
    pub host_id: String,
}

fn unique<T: PartialEq + Copy>(v: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

impl Config {
    pub fn new(command: &str, c: &CommonArgs, specs: &[PointSpec], seed: u64, host: u64) -> Config {
        let mut cpus: Vec<Vec<Option<usize>>> = Vec::new();
        for s in specs {
            if !cpus.contains(&s.cpus) {
                cpus.push(s.cpus.clone());
            }
        }
        Config {
            command: command.into(),
            workloads: unique(specs.iter().map(|s| s.workload)),
            qd: unique(specs.iter().map(|s| s.qd)),
            threads: unique(specs.iter().map(|s| s.threads())),
            cpus,
            locks: unique(specs.iter().map(|s| s.locks)),
            bs: specs.first().map_or(0, |s| s.bs),
            region: specs.first().map(|s| s.region),
            stop: specs.first().map(|s| s.stop),
            rate: c.rate,
            verify: !c.no_verify,
            sqpoll: c.sqpoll,
            iopoll: c.iopoll,
            force: c.force,
            miscompare_fraction: c.miscompare_fraction,
            seed,
            host_id: format!("{host:016x}"),
        }
    }
}

/// The JSON document, `atsbench/1`.
#[derive(Debug, Serialize)]
pub struct Document {
    pub schema: &'static str,
    pub version: &'static str,
    pub config: Config,
    pub target: TargetInfo,
    pub points: Vec<Point>,
}

/// Writes each point as it finishes.
pub struct Reporter {
    format: Format,
    path: Option<PathBuf>,
    doc: Document,
    stream: Option<Box<dyn Write>>,
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::from_io(path, "writing the results", &e)
}

impl Reporter {
    pub fn new(format: Format, path: Option<&Path>, config: Config, target: TargetInfo) -> Result<Reporter> {
        let stream: Option<Box<dyn Write>> = match (format, path) {
            (Format::Json, _) => None,
            (_, Some(p)) => Some(Box::new(std::fs::File::create(p).map_err(|e| write_error(p, e))?)),
            (_, None) => Some(Box::new(std::io::stdout())),
        };
        if let (Format::Json, Some(p)) = (format, path) {
            // Fail now, not after the first point, if the file cannot be written.
            std::fs::File::create(p).map_err(|e| write_error(p, e))?;
        }
        let doc = Document { schema: SCHEMA, version: env!("CARGO_PKG_VERSION"), config, target, points: Vec::new() };
        Ok(Reporter { format, path: path.map(Path::to_path_buf), doc, stream })
    }

    pub fn point(&mut self, p: Point) -> Result<()> {
        let first = self.doc.points.is_empty();
        let out = self.path.clone().unwrap_or_else(|| PathBuf::from("stdout"));
        let r = match (self.format, self.stream.as_mut()) {
            (Format::Table, Some(w)) => {
                if first { table::header(w, &self.doc.target).and_then(|_| table::columns(w)) } else { Ok(()) }
                    .and_then(|_| table::row(w, &p))
                    .and_then(|_| w.flush())
            }
            (Format::Csv, Some(w)) => {
                if first { csv::header(w) } else { Ok(()) }.and_then(|_| csv::row(w, &p)).and_then(|_| w.flush())
            }
            _ => Ok(()),
        };
        r.map_err(|e| write_error(&out, e))?;
        self.doc.points.push(p);
        if let (Format::Json, Some(path)) = (self.format, &self.path) {
            write_json_atomically(path, &self.doc)?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Result<()> {
        if let (Format::Json, None) = (self.format, &self.path) {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &self.doc)
                .map_err(std::io::Error::from)
                .and_then(|_| writeln!(out))
                .map_err(|e| write_error(Path::new("stdout"), e))?;
        }
        Ok(())
    }
}

/// Replace `path` with the document in one rename, so a reader never sees half a file.
fn write_json_atomically(path: &Path, doc: &Document) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let body = serde_json::to_vec_pretty(doc).map_err(|e| Error::Internal(e.to_string()))?;
    std::fs::write(&tmp, body).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| write_error(path, e))
}

/// `atsbench probe` output.
pub fn probe(info: &TargetInfo, format: Format, path: Option<&Path>) -> Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(info).map_err(|e| Error::Internal(e.to_string()))? + "\n",
        Format::Table | Format::Csv => {
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

/// Show which point is running, on stderr (only called when stderr is a terminal).
pub fn progress(i: usize, n: usize, s: &PointSpec) {
    let width = 20;
    let done = i * width / n.max(1);
    eprint!(
        "\r\x1b[2K[{}{}] {}/{} {} qd={} threads={} locks={}",
        "#".repeat(done),
        ".".repeat(width - done),
        i + 1,
        n,
        s.workload.name(),
        s.qd,
        s.threads(),
        s.locks
    );
}

/// Clear the progress line.
pub fn progress_done() {
    eprint!("\r\x1b[2K");
}
