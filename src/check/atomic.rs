//! The atomicity checks: actors on one block at once, one thread and one port (open file) each,
//! so that their commands are in flight together.
//!
//! Every image written is self-describing: each 8-byte word is a token mixed with the word's
//! index, so a block holding parts of two images (torn) decodes to nothing. A token is a
//! generation and the actor: a COMPARE AND WRITE that replaces generation g writes g+1. If
//! COMPARE AND WRITE is atomic, the successes form one chain: generations 1, 2, ... each
//! exactly once (a generation won twice is a lost update) and the block ends at the last. A
//! READ issued after generation g completed must return g or later (older is stale).

use super::port::{self, Lun, NvmePort, ScsiPort};
use super::{Blocks, Check, CheckResult, Evidence, Load, Step, Stop};
use crate::proto::nvme::{Completion, NvmeCommand};
use crate::proto::scsi::KEY_MISCOMPARE;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

pub const CAW_ATOMIC_CAW: Check = Check {
    id: "caw-atomic-caw",
    statement: "many actors COMPARE AND WRITE one block at once: no torn block, no lost update (every generation \
                won exactly once, the block ends at the last)",
    clause: "SBC-4 5.3 (the compare and the write are one indivisible operation)",
};
pub const CAW_ATOMIC_READ: Check = Check {
    id: "caw-atomic-read",
    statement: "READs racing COMPARE AND WRITEs on one block never return a torn block nor an image older than \
                one whose COMPARE AND WRITE had completed",
    clause: "SBC-4 5.3; SAM-5 (a completed command's data is seen by later commands)",
};
pub const CAW_ATOMIC_WRITE: Check = Check {
    id: "caw-atomic-write",
    statement: "plain WRITEs racing COMPARE AND WRITEs on one block: every READ and the final block hold one \
                whole image",
    clause: "SBC-4 5.3 (the compare and the write are one indivisible operation)",
};
pub const CAW_MULTIPATH: Check = Check {
    id: "caw-multipath",
    statement: "a COMPARE AND WRITE through one path is seen at once through the others (the identical command \
                miscompares there), and concurrent COMPARE AND WRITEs through all paths stay atomic",
    clause: "SBC-4 5.3; SAM-5 (one logical unit behind every target port)",
};
pub const NVME_ATOMIC_WRITE: Check = Check {
    id: "nvme-atomic-write",
    statement: "writes of up to the atomic write unit (NAWUN, else AWUN) are never read torn by racing reads",
    clause: "NVM-CS 1.0 2.1.4 (atomic operations); NVMe 2.0 5.17.2.1 (AWUN), NVM-CS 4.1.5.1 (NAWUN)",
};

const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// An image of `len` bytes carrying `token` in every word.
pub fn image(token: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    for i in 0..len / 8 {
        v.extend_from_slice(&(token ^ (i as u64 + 1).wrapping_mul(MIX)).to_le_bytes());
    }
    v.resize(len, 0);
    v
}

/// The token of a whole image; None for a torn (or foreign) block.
pub fn decode(b: &[u8]) -> Option<u64> {
    let mut token = None;
    for (i, w) in b.chunks_exact(8).enumerate() {
        let t = u64::from_le_bytes(w.try_into().expect("8 bytes")) ^ (i as u64 + 1).wrapping_mul(MIX);
        if *token.get_or_insert(t) != t {
            return None;
        }
    }
    token
}

fn token(generation: u64, actor: u64) -> u64 {
    (generation << 16) | (actor & 0xffff)
}

fn generation(token: u64) -> u64 {
    token >> 16
}

/// How a COMPARE AND WRITE ended.
enum Caw {
    Good,
    Miscompare,
}

/// One actor's access to the block under test.
trait BlockIo: Send {
    fn read(&mut self) -> Step<Vec<u8>>;
    fn write(&mut self, data: &[u8]) -> Step;
    fn caw(&mut self, expected: &[u8], new: &[u8]) -> Step<Caw>;
}

struct ScsiBlock {
    port: Box<dyn ScsiPort>,
    lba: u64,
    lbs: u32,
}

impl BlockIo for ScsiBlock {
    fn read(&mut self) -> Step<Vec<u8>> {
        port::read(self.port.as_mut(), self.lba, 1, self.lbs)
    }

    fn write(&mut self, data: &[u8]) -> Step {
        port::write(self.port.as_mut(), self.lba, data, self.lbs)
    }

    fn caw(&mut self, expected: &[u8], new: &[u8]) -> Step<Caw> {
        let a = port::caw(self.port.as_mut(), self.lba, 1, (false, false), expected, new)?;
        if a.good() {
            Ok(Caw::Good)
        } else if a.is(KEY_MISCOMPARE, 0x1D, 0) {
            Ok(Caw::Miscompare)
        } else {
            Err(Stop::Fail(format!("{}: COMPARE AND WRITE at LBA {}: {}", self.port.name(), self.lba, a.describe())))
        }
    }
}

struct NvmeBlock {
    port: Box<dyn NvmePort>,
    lba: u64,
    nlb: u32,
    lbs: u32,
}

impl NvmeBlock {
    fn run(&mut self, op: u8, data: &mut [u8]) -> Step {
        let cmd = NvmeCommand::io(op, self.port.nsid(), self.lba, self.nlb, 0, 0)
            .map_err(|e| Stop::Fail(format!("cannot encode: {e}")))?;
        match self.port.io(&cmd, data) {
            Completion::Ok => Ok(()),
            c => Err(Stop::Fail(format!("{}: opcode {op:#04x} at LBA {}: {c}", self.port.name(), self.lba))),
        }
    }
}

impl BlockIo for NvmeBlock {
    fn read(&mut self) -> Step<Vec<u8>> {
        let mut b = vec![0u8; (self.nlb * self.lbs) as usize];
        self.run(crate::proto::nvme::OP_READ, &mut b)?;
        Ok(b)
    }

    fn write(&mut self, data: &[u8]) -> Step {
        let mut b = data.to_vec();
        self.run(crate::proto::nvme::OP_WRITE, &mut b)
    }

    fn caw(&mut self, _: &[u8], _: &[u8]) -> Step<Caw> {
        Err(Stop::Fail("an NVMe namespace has no single-command compare-and-write through this host".into()))
    }
}

/// What an actor does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Caw,
    /// COMPARE AND WRITE, and READ the block after each success (its own write must show).
    CawThenRead,
    Read,
    /// WRITE, and READ the block after each (to see the write whole).
    WriteThenRead,
}

/// What the actors saw, summed.
#[derive(Debug, Default)]
struct Tally {
    /// Generations won by successful COMPARE AND WRITEs.
    won: Vec<u64>,
    miscompares: u64,
    reads: u64,
    torn_reads: u64,
    stale_reads: u64,
    writes: u64,
    /// The first of each kind of trouble, for the evidence.
    first: Vec<String>,
}

struct Shared {
    /// Whether an older generation than a completed one is a finding (not with plain writes).
    stale_counts: bool,
    completed: AtomicU64,
    done: AtomicBool,
    next_write: AtomicU64,
    tally: Mutex<Tally>,
}

impl Shared {
    fn add(&self, t: Tally) {
        let mut all = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        all.won.extend(t.won);
        all.miscompares += t.miscompares;
        all.reads += t.reads;
        all.torn_reads += t.torn_reads;
        all.stale_reads += t.stale_reads;
        all.writes += t.writes;
        for f in t.first {
            if all.first.len() < 4 {
                all.first.push(f);
            }
        }
    }
}

/// A read checked for tearing and staleness.
fn checked_read(io: &mut dyn BlockIo, sh: &Shared, t: &mut Tally) -> Step<Vec<u8>> {
    let before = sh.completed.load(Ordering::SeqCst);
    let b = io.read()?;
    t.reads += 1;
    match decode(&b) {
        None => {
            t.torn_reads += 1;
            if t.torn_reads == 1 {
                t.first.push(format!("a READ returned a torn block (after generation {before} had completed)"));
            }
        }
        Some(tok) if sh.stale_counts && generation(tok) < before => {
            t.stale_reads += 1;
            if t.stale_reads == 1 {
                t.first.push(format!(
                    "a READ returned generation {} after generation {before} had completed",
                    generation(tok)
                ));
            }
        }
        Some(_) => {}
    }
    Ok(b)
}

fn act(role: Role, actor: u64, io: &mut dyn BlockIo, per_actor: u64, sh: &Shared, len: usize) -> Step<Tally> {
    let mut t = Tally::default();
    match role {
        Role::Caw | Role::CawThenRead => {
            let mut cur = checked_read(io, sh, &mut t)?;
            for _ in 0..per_actor {
                let Some(tok) = decode(&cur) else {
                    cur = checked_read(io, sh, &mut t)?;
                    continue;
                };
                let g = generation(tok) + 1;
                let new = image(token(g, actor), len);
                match io.caw(&cur, &new)? {
                    Caw::Good => {
                        t.won.push(g);
                        sh.completed.fetch_max(g, Ordering::SeqCst);
                        cur = if role == Role::CawThenRead { checked_read(io, sh, &mut t)? } else { new };
                    }
                    Caw::Miscompare => {
                        t.miscompares += 1;
                        cur = checked_read(io, sh, &mut t)?;
                    }
                }
            }
        }
        Role::Read => {
            while !sh.done.load(Ordering::SeqCst) || t.reads < 8 {
                checked_read(io, sh, &mut t)?;
            }
        }
        Role::WriteThenRead => {
            for _ in 0..per_actor {
                let g = sh.next_write.fetch_add(1, Ordering::SeqCst);
                io.write(&image(token(g, 0xffff - actor), len))?;
                t.writes += 1;
                checked_read(io, sh, &mut t)?;
            }
        }
    }
    Ok(t)
}

/// Run the actors on one block (already holding generation 0) until the COMPARE AND WRITE
/// and WRITE actors have done `per_actor` operations each.
fn race(actors: Vec<(Role, Box<dyn BlockIo>)>, per_actor: u64, len: usize) -> Step<Tally> {
    let sh = Shared {
        stale_counts: actors.iter().all(|(r, _)| *r != Role::WriteThenRead),
        completed: AtomicU64::new(0),
        done: AtomicBool::new(false),
        next_write: AtomicU64::new(1 << 40),
        tally: Mutex::new(Tally::default()),
    };
    let busy = AtomicU64::new(actors.iter().filter(|(r, _)| *r != Role::Read).count() as u64);
    let errors: Mutex<Vec<Stop>> = Mutex::new(Vec::new());
    let start = std::sync::Barrier::new(actors.len());
    std::thread::scope(|s| {
        for (i, (role, mut io)) in actors.into_iter().enumerate() {
            let (sh, busy, errors, start) = (&sh, &busy, &errors, &start);
            s.spawn(move || {
                start.wait();
                let r = act(role, i as u64, io.as_mut(), per_actor, sh, len);
                if role != Role::Read && busy.fetch_sub(1, Ordering::SeqCst) == 1 {
                    sh.done.store(true, Ordering::SeqCst);
                }
                match r {
                    Ok(t) => sh.add(t),
                    Err(e) => {
                        sh.done.store(true, Ordering::SeqCst);
                        errors.lock().unwrap_or_else(|e| e.into_inner()).push(e);
                    }
                }
            });
        }
    });
    if let Some(e) = errors.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().next() {
        return Err(e);
    }
    Ok(sh.tally.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// Judge a race: torn or stale reads, the final block and, with `chain` (no plain WRITEs in
/// the race), the chain of won generations.
fn judge(t: &mut Tally, last: &[u8], chain: bool, ev: &mut Evidence) -> Step {
    t.won.sort_unstable();
    let won = t.won.len() as u64;
    let dups = t.won.windows(2).filter(|w| w[0] == w[1]).count();
    ev.note(format!(
        "{} COMPARE AND WRITEs won, {} miscompared; {} WRITEs; {} READs: {} torn, {} stale",
        won, t.miscompares, t.writes, t.reads, t.torn_reads, t.stale_reads
    ));
    for f in &t.first {
        ev.note(f.clone());
    }
    let end = decode(last);
    ev.note(format!(
        "the block ends {}",
        end.map_or("torn (no whole image)".into(), |tok| format!("at generation {} (token {tok:#x})", generation(tok)))
    ));
    if t.torn_reads > 0 {
        return super::fail(format!("{} of {} READs returned a torn block", t.torn_reads, t.reads));
    }
    let Some(end) = end else { return super::fail("the block ends torn: parts of two images") };
    if chain && dups > 0 {
        return super::fail(format!("{dups} generations were won twice: lost updates"));
    }
    if chain && (t.won.first().is_some_and(|g| *g != 1) || t.won.last().is_some_and(|g| *g != won)) {
        return super::fail(format!(
            "the won generations are not 1..={won}: a COMPARE AND WRITE matched a stale image"
        ));
    }
    if chain && generation(end) != won {
        return super::fail(format!("the block ends at generation {}, not the last won ({won})", generation(end)));
    }
    if t.stale_reads > 0 {
        return super::fail(format!(
            "{} of {} READs returned an image older than a completed one",
            t.stale_reads, t.reads
        ));
    }
    Ok(())
}

/// The atomicity checks of a SCSI LUN, on its first path (and on all for `caw-multipath`).
pub fn run_scsi(ports: &mut [Box<dyn ScsiPort>], lun: &Lun, blocks: &mut Blocks, load: Load) -> Vec<CheckResult> {
    let lbs = lun.lbs;
    let len = lbs as usize;
    let actors = load.actors as usize;
    let per_actor = (load.ops / load.actors as u64).max(1);
    let setup = |ports: &mut [Box<dyn ScsiPort>], blocks: &mut Blocks| -> Step<u64> {
        let lba = blocks.take(1)?;
        port::write(ports[0].as_mut(), lba, &image(token(0, 0), len), lbs)?;
        Ok(lba)
    };
    let fork = |ports: &[Box<dyn ScsiPort>], i: usize, lba: u64| -> Step<Box<dyn BlockIo>> {
        let port = ports[i % ports.len()].fork().map_err(|e| Stop::Skip(format!("cannot open another handle: {e}")))?;
        Ok(Box::new(ScsiBlock { port, lba, lbs }))
    };
    let last = |ports: &mut [Box<dyn ScsiPort>], lba| port::read(ports[0].as_mut(), lba, 1, lbs);
    let describe = |ev: &mut Evidence, what: &str, lba| {
        ev.note(format!("{what} at LBA {lba}, {per_actor} operations each (one SG_IO in flight per actor)"))
    };
    let mut out = Vec::new();
    out.push(CAW_ATOMIC_CAW.run(|ev| {
        let lba = setup(ports, blocks)?;
        describe(ev, &format!("{actors} COMPARE AND WRITE actors"), lba);
        let io: Step<Vec<_>> = (0..actors).map(|i| Ok((Role::Caw, fork(&ports[..1], i, lba)?))).collect();
        let mut t = race(io?, per_actor, len)?;
        judge(&mut t, &last(ports, lba)?, true, ev)
    }));
    out.push(CAW_ATOMIC_READ.run(|ev| {
        let lba = setup(ports, blocks)?;
        let readers = (actors / 2).max(1);
        let writers = actors.max(2) - readers;
        describe(
            ev,
            &format!("{writers} COMPARE AND WRITE actors (each READs after its successes) and {readers} READ actors"),
            lba,
        );
        let mut io = Vec::new();
        for i in 0..actors.max(2) {
            let role = if i < readers { Role::Read } else { Role::CawThenRead };
            io.push((role, fork(&ports[..1], i, lba)?));
        }
        let mut t = race(io, per_actor, len)?;
        judge(&mut t, &last(ports, lba)?, true, ev)
    }));
    out.push(CAW_ATOMIC_WRITE.run(|ev| {
        let lba = setup(ports, blocks)?;
        describe(ev, &format!("{actors} actors: COMPARE AND WRITE, WRITE and READ in turn"), lba);
        let roles = [Role::Caw, Role::WriteThenRead, Role::Read];
        let io: Step<Vec<_>> = (0..actors.max(3)).map(|i| Ok((roles[i % 3], fork(&ports[..1], i, lba)?))).collect();
        let mut t = race(io?, per_actor, len)?;
        judge(&mut t, &last(ports, lba)?, false, ev)
    }));
    out.push(CAW_MULTIPATH.run(|ev| {
        if ports.len() < 2 {
            return Err(Stop::NotApplicable("one path given; give two or more sg nodes of one LUN".into()));
        }
        let lba = setup(ports, blocks)?;
        seen_at_once(ports, lba, lbs, ev)?;
        port::write(ports[0].as_mut(), lba, &image(token(0, 0), len), lbs)?;
        let n = actors.max(ports.len());
        describe(ev, &format!("{n} COMPARE AND WRITE actors over {} paths", ports.len()), lba);
        let io: Step<Vec<_>> = (0..n).map(|i| Ok((Role::Caw, fork(ports, i, lba)?))).collect();
        let mut t = race(io?, per_actor, len)?;
        judge(&mut t, &last(ports, lba)?, true, ev)
    }));
    out
}

/// Through each ordered pair of paths: a COMPARE AND WRITE through the first, then the
/// identical command through the second must miscompare, and a READ there shows the new data.
fn seen_at_once(ports: &mut [Box<dyn ScsiPort>], lba: u64, lbs: u32, ev: &mut Evidence) -> Step {
    let len = lbs as usize;
    let mut g = 0;
    for i in 0..ports.len() {
        for j in 0..ports.len() {
            if i == j {
                continue;
            }
            let cur = port::read(ports[i].as_mut(), lba, 1, lbs)?;
            g += 1;
            let new = image(token(1000 + g, 0), len);
            let a = port::caw(ports[i].as_mut(), lba, 1, (false, false), &cur, &new)?;
            if !a.good() {
                return super::fail(format!(
                    "through {}: a matching COMPARE AND WRITE returned {}",
                    ports[i].name(),
                    a.describe()
                ));
            }
            let b = port::caw(ports[j].as_mut(), lba, 1, (false, false), &cur, &new)?;
            if !b.is(KEY_MISCOMPARE, 0x1D, 0) {
                return super::fail(format!(
                    "the same COMPARE AND WRITE through {} after {} wrote: {} (expected MISCOMPARE)",
                    ports[j].name(),
                    ports[i].name(),
                    b.describe()
                ));
            }
            if port::read(ports[j].as_mut(), lba, 1, lbs)? != new {
                return super::fail(format!("{} does not read what {} wrote", ports[j].name(), ports[i].name()));
            }
            ev.note(format!(
                "{} -> {}: GOOD there, MISCOMPARE here, new data read here",
                ports[i].name(),
                ports[j].name()
            ));
        }
    }
    Ok(())
}

/// `nvme-atomic-write` on `unit` blocks.
pub fn run_nvme(port: &dyn NvmePort, lbs: u32, unit: u32, blocks: &mut Blocks, load: Load, ev: &mut Evidence) -> Step {
    let len = (unit * lbs) as usize;
    let lba = blocks.take(u64::from(unit))?;
    let mk = |port: &dyn NvmePort| -> Step<Box<dyn BlockIo>> {
        let port = port.fork().map_err(|e| Stop::Skip(format!("cannot open another handle: {e}")))?;
        Ok(Box::new(NvmeBlock { port, lba, nlb: unit, lbs }))
    };
    mk(port)?.write(&image(token(0, 0), len))?;
    let actors = load.actors.max(2) as usize;
    let per_actor = (load.ops / actors as u64).max(1);
    ev.note(format!(
        "{unit} blocks at LBA {lba}: {actors} actors, writers (each READs after its WRITEs) and readers in turn, \
         {per_actor} writes each"
    ));
    let io: Step<Vec<_>> =
        (0..actors).map(|i| Ok((if i % 2 == 0 { Role::WriteThenRead } else { Role::Read }, mk(port)?))).collect();
    let mut t = race(io?, per_actor, len)?;
    let last = mk(port)?.read()?;
    judge(&mut t, &last, false, ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_decode_and_torn_ones_do_not() {
        let a = image(token(7, 3), 512);
        let b = image(token(8, 1), 512);
        assert_eq!(decode(&a), Some(token(7, 3)));
        let mut torn = a.clone();
        torn[256..].copy_from_slice(&b[256..]);
        assert_eq!(decode(&torn), None);
        assert_eq!(decode(&[0u8; 512]), None, "zeros are not an image");
        assert_eq!(generation(token(7, 3)), 7);
    }
}
