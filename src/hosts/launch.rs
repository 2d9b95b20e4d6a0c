//! `atsbench hosts SPEC... -- RUN-OPTIONS`: a multi-host run in one command. Picks the seed,
//! starts `atsbench run --hosts N --host-id I --seed S -f json` for every SPEC (a local
//! process, or `CMD HOST atsbench run ...` for HOST:TARGET), reads each host's JSON from its
//! standard output, merges them (`merge.rs`) and ends with the merge's exit code. One host
//! failing stops the others (a local host writes LEFT at the rendezvous) and the error names it.

use crate::error::{Error, Result};
use crate::report::Format;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Where one host runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Spec {
    Local(String),
    Remote { host: String, target: String },
}

impl Spec {
    fn parse(s: &str) -> Result<Spec> {
        let local = s.starts_with('/') || s.starts_with('.');
        if s == "sim" || s.starts_with("sim:") {
            return Err(Error::usage(format!(
                "`{s}`: the simulated device lives in one process and no other host can reach it; give a file or \
                 device that all hosts share"
            )));
        }
        match s.split_once(':') {
            Some((host, target)) if !local && !host.is_empty() && !target.is_empty() => {
                Ok(Spec::Remote { host: host.into(), target: target.into() })
            }
            Some(_) if !local => Err(Error::usage(format!("`{s}`: give TARGET or HOST:TARGET"))),
            _ => Ok(Spec::Local(s.into())),
        }
    }

    fn name(&self, index: usize) -> String {
        match self {
            Spec::Local(t) => format!("host {index} ({t})"),
            Spec::Remote { host, target } => format!("host {index} ({host}:{target})"),
        }
    }
}

/// Run options `hosts` sets itself.
const OWN: [&str; 6] = ["--hosts", "--host-id", "-f", "--format", "-o", "--output"];

fn check_run_options(opts: &[String]) -> Result<()> {
    for o in opts {
        let name = o.split('=').next().unwrap_or(o);
        if OWN.contains(&name) {
            return Err(Error::usage(format!(
                "{name} after --: atsbench hosts sets --hosts, --host-id and the hosts' output itself; use -f/-o \
                 before -- for the merged result"
            )));
        }
    }
    Ok(())
}

/// `--seed S` among the run options, if given.
fn given_seed(opts: &[String]) -> Result<Option<u64>> {
    let mut it = opts.iter();
    while let Some(o) = it.next() {
        let v = match o.strip_prefix("--seed=") {
            Some(v) => v,
            None if o == "--seed" => it.next().map(String::as_str).unwrap_or(""),
            None => continue,
        };
        return v.parse().map(Some).map_err(|_| Error::usage(format!("--seed {v}: not a whole number")));
    }
    Ok(None)
}

/// `s` as one word of a POSIX shell command line.
fn quote(s: &str) -> String {
    let plain = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./:=,@+-%".contains(&b));
    if plain {
        s.into()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command that starts host `index` of `count`.
fn command(spec: &Spec, rsh: &str, exe: &Path, index: usize, count: usize, seed: u64, opts: &[String]) -> Command {
    let target = match spec {
        Spec::Local(t) | Spec::Remote { target: t, .. } => t,
    };
    let mut args: Vec<String> = vec!["run".into(), target.clone()];
    args.extend(opts.iter().cloned());
    args.extend(["--hosts".into(), count.to_string(), "--host-id".into(), index.to_string()]);
    if given_seed(opts).ok().flatten().is_none() {
        args.extend(["--seed".into(), seed.to_string()]);
    }
    args.extend(["-f".into(), "json".into()]);
    match spec {
        Spec::Local(_) => {
            let mut c = Command::new(exe);
            c.args(args);
            c
        }
        Spec::Remote { host, .. } => {
            let mut words = rsh.split_whitespace();
            let mut c = Command::new(words.next().unwrap_or("ssh"));
            let remote: Vec<String> = std::iter::once("atsbench".to_string()).chain(args).map(|a| quote(&a)).collect();
            c.args(words).arg(host).arg(remote.join(" "));
            c
        }
    }
}

/// One started host: its process and the threads collecting its output.
struct Host {
    name: String,
    child: Child,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    status: Option<ExitStatus>,
}

fn collect(r: Option<impl Read + Send + 'static>) -> Option<JoinHandle<Vec<u8>>> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    })
}

fn output(h: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    h.and_then(|t| t.join().ok()).unwrap_or_default()
}

/// A host's exit code as this command's error (the same code where it has one).
fn host_error(code: Option<i32>, msg: String) -> Error {
    match code {
        Some(2) => Error::Usage(msg),
        Some(4) => Error::Permission(msg),
        Some(5) => Error::Refused(msg),
        Some(6) => Error::Limit(msg),
        Some(7) => Error::Unsupported(msg),
        Some(8) => Error::Device(msg),
        Some(10) => Error::Rendezvous(msg),
        Some(70) => Error::Internal(msg),
        _ => Error::Target(msg),
    }
}

/// Exit codes after which a host's JSON results were written: 0, and 9 (its own history
/// check failed; the merge decides).
fn wrote_results(s: &ExitStatus) -> bool {
    matches!(s.code(), Some(0) | Some(9))
}

fn stop_all(hosts: &mut [Host]) {
    for h in hosts.iter_mut().filter(|h| h.status.is_none()) {
        // SIGTERM: a local atsbench writes LEFT at the rendezvous and exits; an ssh client
        // closes its connection.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(h.child.id() as i32), nix::sys::signal::SIGTERM);
    }
    for h in hosts.iter_mut().filter(|h| h.status.is_none()) {
        h.status = h.child.wait().ok();
    }
}

/// What `atsbench hosts` was asked to do.
pub struct Launch<'a> {
    /// One per host: TARGET or HOST:TARGET.
    pub specs: &'a [String],
    /// The options of `atsbench run` every host gets.
    pub run_options: &'a [String],
    /// How to start a remote host's atsbench: CMD HOST COMMAND.
    pub rsh: &'a str,
    /// Keep each host's own results in this folder.
    pub keep: Option<&'a Path>,
    /// The merged result's format and file (None: stdout).
    pub format: Format,
    pub output: Option<&'a Path>,
}

/// Start every host, wait for all, merge their results.
pub fn launch(a: &Launch<'_>, stop: &AtomicBool) -> Result<()> {
    let specs = a.specs.iter().map(|s| Spec::parse(s)).collect::<Result<Vec<_>>>()?;
    if specs.len() < 2 {
        return Err(Error::usage("atsbench hosts needs two SPECs or more (one per host)"));
    }
    check_run_options(a.run_options)?;
    let seed = match given_seed(a.run_options)? {
        Some(s) => s,
        None => {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("no random seed: {e}")))?;
            u64::from_le_bytes(b) >> 1
        }
    };
    let exe = std::env::current_exe().map_err(|e| Error::Internal(format!("cannot find atsbench itself: {e}")))?;
    let mut hosts = Vec::new();
    for (i, s) in specs.iter().enumerate().rev() {
        // Host 0 last: the others wait for it at the rendezvous.
        let mut c = command(s, a.rsh, &exe, i, specs.len(), seed, a.run_options);
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let name = s.name(i);
        let mut child = match c.spawn() {
            Ok(c) => c,
            Err(e) => {
                stop_all(&mut hosts);
                return Err(Error::Target(format!("{name}: cannot start {:?}: {e}", c.get_program())));
            }
        };
        let (stdout, stderr) = (collect(child.stdout.take()), collect(child.stderr.take()));
        hosts.push(Host { name, child, stdout, stderr, status: None });
    }
    hosts.reverse();
    wait(&mut hosts, stop)?;
    // The hosts' results go to --keep DIR, or to a folder removed at the end.
    let temporary = tempfile::tempdir().map_err(|e| Error::Internal(format!("no temporary folder: {e}")))?;
    let folder: PathBuf = match a.keep {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::from_io(d, "creating the --keep folder", &e))?;
            d.to_path_buf()
        }
        None => temporary.path().to_path_buf(),
    };
    let mut files = Vec::new();
    for (i, h) in hosts.iter_mut().enumerate() {
        let out = output(h.stdout.take());
        if serde_json::from_slice::<serde_json::Value>(&out).is_err() {
            let err = String::from_utf8_lossy(&output(h.stderr.take())).trim().to_string();
            return Err(Error::Target(format!("{}: printed no JSON results ({err})", h.name)));
        }
        let f = folder.join(format!("host{i}.json"));
        std::fs::write(&f, out).map_err(|e| Error::from_io(&f, "writing a host's results", &e))?;
        files.push(f);
    }
    super::merge::merge_files(&files, a.format, a.output)
}

/// Wait for every host; the first that fails (or an interrupt) stops the others.
fn wait(hosts: &mut [Host], stop: &AtomicBool) -> Result<()> {
    loop {
        if stop.load(Ordering::Relaxed) {
            stop_all(hosts);
            return Err(Error::Interrupted);
        }
        let mut running = 0;
        for i in 0..hosts.len() {
            if hosts[i].status.is_some() {
                continue;
            }
            match hosts[i].child.try_wait() {
                Ok(Some(s)) => hosts[i].status = Some(s),
                Ok(None) => running += 1,
                Err(e) => {
                    let name = hosts[i].name.clone();
                    stop_all(hosts);
                    return Err(Error::Internal(format!("{name}: cannot wait for it: {e}")));
                }
            }
            if let Some(s) = hosts[i].status.filter(|s| !wrote_results(s)) {
                stop_all(hosts);
                let err = String::from_utf8_lossy(&output(hosts[i].stderr.take())).trim().to_string();
                let last = err.lines().last().unwrap_or("no message");
                let code = s.code();
                return Err(host_error(
                    code,
                    format!(
                        "{} failed (exit {}): {last}; the other hosts were stopped",
                        hosts[i].name,
                        code.map_or("by a signal".into(), |c| c.to_string())
                    ),
                ));
            }
        }
        if running == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_local_paths_or_host_and_target() {
        assert_eq!(Spec::parse("/dev/sdb").unwrap(), Spec::Local("/dev/sdb".into()));
        assert_eq!(Spec::parse("./a:b.img").unwrap(), Spec::Local("./a:b.img".into()));
        assert_eq!(
            Spec::parse("/dev/disk/by-path/pci-0000:00:1f.2").unwrap(),
            Spec::Local("/dev/disk/by-path/pci-0000:00:1f.2".into())
        );
        assert_eq!(
            Spec::parse("esx1:/dev/sdb").unwrap(),
            Spec::Remote { host: "esx1".into(), target: "/dev/sdb".into() }
        );
        assert!(Spec::parse("esx1:").is_err());
        assert!(Spec::parse("sim").unwrap_err().to_string().contains("one process"));
        assert!(Spec::parse("sim:1G").unwrap_err().to_string().contains("one process"));
        assert_eq!(Spec::parse("simple.img").unwrap(), Spec::Local("simple.img".into()));
    }

    #[test]
    fn remote_commands_are_quoted_for_the_remote_shell() {
        assert_eq!(quote("--qd"), "--qd");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        let spec = Spec::Remote { host: "h".into(), target: "/dev/sdb".into() };
        let opts = vec!["--qd".to_string(), "4".to_string()];
        let c = command(&spec, "ssh -o BatchMode=yes", Path::new("/x"), 1, 2, 7, &opts);
        let args: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(c.get_program(), "ssh");
        assert_eq!(
            args,
            ["-o", "BatchMode=yes", "h", "atsbench run /dev/sdb --qd 4 --hosts 2 --host-id 1 --seed 7 -f json"]
        );
    }

    #[test]
    fn run_options_may_not_set_what_hosts_sets() {
        assert!(check_run_options(&["--qd".into(), "4".into()]).is_ok());
        for o in ["--hosts", "--host-id=1", "-o", "--format"] {
            assert!(check_run_options(&[o.into()]).is_err(), "{o}");
        }
        assert_eq!(given_seed(&["--seed".into(), "5".into()]).unwrap(), Some(5));
        assert_eq!(given_seed(&["--seed=6".into()]).unwrap(), Some(6));
        assert_eq!(given_seed(&["--qd".into(), "1".into()]).unwrap(), None);
    }
}
