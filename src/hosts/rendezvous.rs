//! Several hosts on one shared target (`--hosts N --host-id I`): the rendezvous that makes their
//! measured periods overlap ([`MultiHost`]). What each host keeps so that `atsbench merge` can
//! check them together is in `barrier.rs`.
//!
//! # The rendezvous
//!
//! The hosts meet on the target itself: the first N blocks of the region are rendezvous blocks,
//! one per host (the lock blocks follow). Each host writes only its own block and polls the
//! others' (record format in `meet.rs`). Writing one's own block needs no atomicity across
//! hosts: a block has one writer, and a reader that catches it half written sees a bad
//! checksum and reads again. A shared counter taken with ATS (or read-modify-write
//! where there is none) would need the very atomicity atsbench is there to test, would not work
//! on files or block devices shared by several machines (host-emulated ATS is atomic only
//! within one process), and a lost update of it would hang the run.
//!
//! Joining (once per run): every host draws a random nonce. Host 0 publishes its nonce as the
//! session and, in its own block, the last nonce it has seen in each other host's block. Host
//! i adopts the session only once host 0 echoes host i's own fresh nonce; host 0 goes on only
//! once every host shows the session. So blocks left by an earlier run (even one with the same
//! seed) cannot satisfy any barrier: every later phase counts only records of this session.
//!
//! Per point P (points counted from 0 in the order all hosts run them):
//! 1. host 0 waits until every host has READ point P-1, writes the initial records of all
//!    lock blocks (only host 0 does), then writes READY(P); the others wait for host 0's
//!    READY(P), then write their own;
//! 2. every host waits until all show READY(P), then measures;
//! 3. each writes DONE(P) once its workers have stopped, waits until all show DONE(P), reads
//!    the final lock blocks, then writes READ(P).
//!
//! Worker 0 of each host does this through its own ring and backend (the engine's barrier hook,
//! `barrier.rs`), polling every [`POLL`]; the other workers wait at the point's barriers. A
//! host that is interrupted or fails writes LEFT, so the others stop waiting for it. Each wait gives up after
//! `--rendezvous-timeout` with one line naming the hosts not seen.

use super::meet::{host_id, run_tag, Meet, Phase};
use crate::error::{Error, Result};
use crate::spec::Region;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a waiting host reads the others' blocks.
pub const POLL: Duration = Duration::from_millis(2);

/// This host's part in a multi-host run as asked for (`--hosts N`, N >= 2), checked before
/// the target is opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostsPlan {
    pub index: u32,
    pub count: u32,
    pub seed: u64,
    pub timeout: Duration,
}

/// One host's part in a multi-host run, shared by all points of the run.
#[derive(Debug)]
pub struct MultiHost {
    pub index: u32,
    pub count: u32,
    pub seed: u64,
    pub tag: u64,
    /// Every participant's host id, by index.
    pub ids: Vec<u64>,
    /// Byte offset of host 0's rendezvous block; host i's is `i` blocks further.
    pub offset: u64,
    pub timeout: Duration,
    /// This host's nonce of this run.
    nonce: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    joined: bool,
    /// Host 0's nonce, once joined.
    session: u64,
    /// The point the next rendezvous is for.
    point: u64,
    /// The final rendezvous of a point failed (another host left or was not seen done): the
    /// run ends with this, after writing that point without its final blocks.
    lost: Option<String>,
    /// Host 0: the last nonce seen in each host's block.
    acks: Vec<u64>,
}

/// Where the rendezvous blocks are read and written: worker 0's ring and backend in a run.
pub trait Board {
    /// Read and decode host `host`'s rendezvous block (None: no intact record).
    fn read_meet(&mut self, host: u32) -> Result<Option<Meet>>;
    /// Write this host's rendezvous block.
    fn write_meet(&mut self, m: &Meet) -> Result<()>;
    /// Host 0: write the initial records of the lock blocks.
    fn genesis(&mut self) -> Result<()>;
    /// Stop waiting: interrupted, or another worker of this host failed.
    fn cancelled(&self) -> bool;
}

impl MultiHost {
    /// Host `index` of `count`, with rendezvous blocks at byte `offset`; `nonce` must be new
    /// in every run (random).
    pub fn new(index: u32, count: u32, seed: u64, offset: u64, timeout: Duration, nonce: u64) -> MultiHost {
        MultiHost {
            index,
            count,
            seed,
            tag: run_tag(seed),
            ids: (0..count).map(|i| host_id(seed, i)).collect(),
            offset,
            timeout,
            nonce: nonce | 1,
            state: Mutex::new(State { acks: vec![0; count as usize], ..State::default() }),
        }
    }

    /// Host `h.index` of `h.count` on `region` (blocks of `bs` bytes), whose first `count`
    /// blocks are the rendezvous blocks; also returns the rest, what the points use. `nonce`
    /// must be new in every run (random).
    pub fn on_region(h: HostsPlan, region: Region, bs: u32, nonce: u64) -> Result<(MultiHost, Region)> {
        let room = region.blocks(bs);
        if room <= u64::from(h.count) {
            return Err(Error::usage(format!(
                "--hosts {} needs {} rendezvous blocks before the lock blocks, and the region holds {room} blocks of \
                 {bs} bytes; widen --region",
                h.count, h.count
            )));
        }
        let m = MultiHost::new(h.index, h.count, h.seed, region.start, h.timeout, nonce);
        let rest = Region { start: region.start + u64::from(h.count) * u64::from(bs), end: region.end };
        Ok((m, rest))
    }

    /// This host's id, written into its lock records.
    pub fn id(&self) -> u64 {
        self.ids[self.index as usize]
    }

    /// The session (host 0's nonce) once joined, else 0.
    pub fn session(&self) -> u64 {
        self.lock().session
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn others(&self) -> Vec<u32> {
        (0..self.count).filter(|&h| h != self.index).collect()
    }

    /// Before a point: join (the first time), then meet all hosts READY. Returns early (after
    /// writing LEFT) when cancelled; the point then ends at once.
    pub fn before_point<B: Board>(&self, b: &mut B) -> Result<()> {
        let mut st = self.lock();
        if !self.ready(b, &mut st)? {
            self.post(b, &st, Phase::Left)?;
        }
        Ok(())
    }

    fn ready<B: Board>(&self, b: &mut B, st: &mut State) -> Result<bool> {
        if !st.joined {
            let joined = if self.index == 0 { self.join_first(b, st)? } else { self.join_other(b, st)? };
            if !joined {
                return Ok(false);
            }
            st.joined = true;
        }
        let p = st.point;
        if self.index == 0 {
            if p > 0 && !self.wait_all(b, st, self.others(), p - 1, Phase::Read)? {
                return Ok(false);
            }
            b.genesis()?;
        } else if !self.wait_all(b, st, vec![0], p, Phase::Ready)? {
            return Ok(false);
        }
        self.post(b, st, Phase::Ready)?;
        self.wait_all(b, st, self.others(), p, Phase::Ready)
    }

    /// After a point: DONE, wait for all DONE, `read` the final lock blocks, READ. When
    /// cancelled the finals are read without waiting and the host writes LEFT.
    pub fn after_point<B: Board, T>(&self, b: &mut B, read: impl FnOnce(&mut B) -> Result<T>) -> Result<T> {
        let all_done = self.done(b)?;
        let finals = read(b)?;
        self.finish(b, all_done)?;
        Ok(finals)
    }

    /// After a point, the first half of [`Self::after_point`]: DONE, then wait for all DONE;
    /// false when cancelled.
    pub fn done<B: Board>(&self, b: &mut B) -> Result<bool> {
        let st = self.lock();
        self.post(b, &st, Phase::Done)?;
        self.wait_all(b, &st, self.others(), st.point, Phase::Done)
    }

    /// The second half of [`Self::after_point`], once the final blocks are read: READ (and on
    /// to the next point) when all hosts were done, else LEFT.
    pub fn finish<B: Board>(&self, b: &mut B, all_done: bool) -> Result<()> {
        let mut st = self.lock();
        if all_done {
            self.post(b, &st, Phase::Read)?;
            st.point += 1;
        } else {
            self.post(b, &st, Phase::Left)?;
        }
        Ok(())
    }

    /// After a point whose final rendezvous failed with `why` (another host left, or was not
    /// seen done in time, e.g. its device went away): this host keeps what it measured, without
    /// the final blocks, which another host may still write; the run ends with `why` once the
    /// point is written ([`Self::take_lost`]).
    pub fn lost(&self, why: String) {
        self.lock().lost = Some(why);
    }

    /// The failed final rendezvous of the last point, once.
    pub fn take_lost(&self) -> Option<String> {
        self.lock().lost.take()
    }

    /// Tell the others this host is gone (best effort: it is leaving because of an error).
    pub fn leave<B: Board>(&self, b: &mut B) {
        let st = self.lock();
        let _ = self.post(b, &st, Phase::Left);
    }

    fn post<B: Board>(&self, b: &mut B, st: &State, phase: Phase) -> Result<()> {
        b.write_meet(&Meet {
            phase,
            index: self.index,
            hosts: self.count,
            tag: self.tag,
            nonce: self.nonce,
            session: st.session,
            point: st.point,
            acks: if self.index == 0 { st.acks.clone() } else { Vec::new() },
        })
    }

    /// A record of this run's host `h` (any session).
    fn ours(&self, h: u32, m: Option<Meet>) -> Option<Meet> {
        m.filter(|m| m.tag == self.tag && m.index == h && m.hosts == self.count)
    }

    /// Host 0: publish the session, echo every host's nonce, wait until all adopted it.
    fn join_first<B: Board>(&self, b: &mut B, st: &mut State) -> Result<bool> {
        st.session = self.nonce;
        self.post(b, st, Phase::Join)?;
        self.poll(b, self.others(), "joining", |b, h, m| {
            let Some(m) = self.ours(h, m) else { return Ok(false) };
            if m.session == self.nonce {
                return Ok(true);
            }
            if st.acks[h as usize] != m.nonce {
                st.acks[h as usize] = m.nonce;
                self.post(b, st, Phase::Join)?;
            }
            Ok(false)
        })
    }

    /// Host i > 0: publish a fresh nonce, adopt host 0's session once host 0 echoes it.
    fn join_other<B: Board>(&self, b: &mut B, st: &mut State) -> Result<bool> {
        st.session = 0;
        self.post(b, st, Phase::Join)?;
        let mut session = 0;
        let joined = self.poll(b, vec![0], "joining", |_, h, m| {
            let Some(m) = self.ours(h, m) else { return Ok(false) };
            let echoed = m.session == m.nonce && m.acks.get(self.index as usize) == Some(&self.nonce);
            if echoed {
                session = m.session;
            }
            Ok(echoed)
        })?;
        if joined {
            st.session = session;
            self.post(b, st, Phase::Join)?;
        }
        Ok(joined)
    }

    /// Wait until every host of `hosts` is at `phase` of `point` or beyond, in this session.
    fn wait_all<B: Board>(&self, b: &mut B, st: &State, hosts: Vec<u32>, point: u64, phase: Phase) -> Result<bool> {
        let target = Meet { phase, point, ..self.blank() }.progress();
        let what = match phase {
            Phase::Ready => format!("ready for point {point}"),
            Phase::Done => format!("done with point {point}"),
            _ => format!("done reading point {point}"),
        };
        self.poll(b, hosts, &what, |_, h, m| match self.ours(h, m) {
            Some(m) if m.session == st.session && m.phase == Phase::Left => Err(Error::Rendezvous(format!(
                "rendezvous: host {h} left the run at point {} (interrupted or failed; see its own output); \
                 start all {} hosts again",
                m.point, self.count
            ))),
            Some(m) if m.session == st.session => Ok(m.progress() >= target),
            _ => Ok(false),
        })
    }

    fn blank(&self) -> Meet {
        Meet {
            phase: Phase::Join,
            index: self.index,
            hosts: self.count,
            tag: self.tag,
            nonce: 0,
            session: 0,
            point: 0,
            acks: Vec::new(),
        }
    }

    /// Read the blocks of the `pending` hosts until `done` says each is where it should be;
    /// false when cancelled, an error naming the hosts not seen after the timeout.
    fn poll<B: Board>(
        &self,
        b: &mut B,
        mut pending: Vec<u32>,
        what: &str,
        mut done: impl FnMut(&mut B, u32, Option<Meet>) -> Result<bool>,
    ) -> Result<bool> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let mut i = 0;
            while i < pending.len() {
                let m = b.read_meet(pending[i])?;
                if done(b, pending[i], m)? {
                    pending.swap_remove(i);
                } else {
                    i += 1;
                }
            }
            if pending.is_empty() {
                return Ok(true);
            }
            if b.cancelled() {
                return Ok(false);
            }
            if Instant::now() >= deadline {
                return Err(self.not_seen(pending, what));
            }
            std::thread::sleep(POLL);
        }
    }

    fn not_seen(&self, mut pending: Vec<u32>, what: &str) -> Error {
        pending.sort_unstable();
        let list = pending.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
        let (s, each) = if pending.len() == 1 { ("", "it") } else { ("s", "each") };
        Error::Rendezvous(format!(
            "rendezvous: host{s} {list} of {} not seen {what} within {} s; start {each} on the same target and \
             region with --hosts {} --seed {} and its own --host-id, or raise --rendezvous-timeout",
            self.count,
            self.timeout.as_secs_f64(),
            self.count,
            self.seed,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// One step of one host: (host, what, point).
    type Event = (u32, &'static str, u64);

    /// The rendezvous blocks in memory, and a log of what the hosts did, in order.
    #[derive(Clone, Default)]
    struct Shared {
        blocks: Arc<Mutex<Vec<Vec<u8>>>>,
        log: Arc<Mutex<Vec<Event>>>,
    }

    struct Mem {
        sh: Shared,
        index: u32,
        point: u64,
        cancel: Arc<AtomicBool>,
    }

    impl Shared {
        fn new(hosts: usize) -> Shared {
            Shared { blocks: Arc::new(Mutex::new(vec![vec![0u8; 512]; hosts])), log: Arc::default() }
        }

        fn note(&self, host: u32, what: &'static str, point: u64) {
            self.log.lock().unwrap().push((host, what, point));
        }

        fn put(&self, m: &Meet) {
            m.encode(&mut self.blocks.lock().unwrap()[m.index as usize]);
        }
    }

    impl Board for Mem {
        fn read_meet(&mut self, host: u32) -> Result<Option<Meet>> {
            Ok(Meet::decode(&self.sh.blocks.lock().unwrap()[host as usize]))
        }
        fn write_meet(&mut self, m: &Meet) -> Result<()> {
            assert_eq!(m.index, self.index, "a host writes only its own block");
            self.sh.put(m);
            Ok(())
        }
        fn genesis(&mut self) -> Result<()> {
            assert_eq!(self.index, 0, "only host 0 writes the initial records");
            self.sh.note(0, "genesis", self.point);
            Ok(())
        }
        fn cancelled(&self) -> bool {
            self.cancel.load(Ordering::Relaxed)
        }
    }

    const SEED: u64 = 42;

    fn host(index: u32, count: u32, timeout: Duration) -> MultiHost {
        MultiHost::new(index, count, SEED, 0, timeout, 0x1000 + u64::from(index) * 0x10 + rand_ish())
    }

    /// A nonce part that differs between test runs in one process (a fresh run's nonce).
    fn rand_ish() -> u64 {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        N.fetch_add(0x1_0000, Ordering::Relaxed)
    }

    fn board(sh: &Shared, index: u32) -> Mem {
        Mem { sh: sh.clone(), index, point: 0, cancel: Arc::default() }
    }

    /// Host `index` of `count` runs `points` points, logging each step.
    fn run_host(sh: Shared, index: u32, count: u32, points: u64) -> Result<u64> {
        let m = host(index, count, Duration::from_secs(30));
        let mut b = board(&sh, index);
        for p in 0..points {
            b.point = p;
            m.before_point(&mut b)?;
            sh.note(index, "start", p);
            std::thread::sleep(Duration::from_millis(u64::from(index) * 3 % 7));
            sh.note(index, "end", p);
            m.after_point(&mut b, |_| {
                sh.note(index, "read", p);
                Ok(())
            })?;
        }
        Ok(m.session())
    }

    fn run_all(sh: &Shared, count: u32, points: u64) -> Vec<u64> {
        let threads: Vec<_> = (0..count)
            .map(|i| (sh.clone(), i))
            .map(|(s, i)| std::thread::spawn(move || run_host(s, i, count, points)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap().unwrap()).collect()
    }

    /// Positions in the log of `what` at `point`, over all hosts.
    fn at(log: &[(u32, &str, u64)], what: &str, point: u64) -> Vec<usize> {
        log.iter().enumerate().filter(|(_, e)| e.1 == what && e.2 == point).map(|(i, _)| i).collect()
    }

    #[test]
    fn hosts_meet_at_every_point_in_order() {
        let (count, points) = (3, 4);
        let sh = Shared::new(count as usize);
        let sessions = run_all(&sh, count, points);
        assert!(sessions.iter().all(|&s| s == sessions[0] && s != 0), "one session: {sessions:x?}");
        let log = sh.log.lock().unwrap().clone();
        for p in 0..points {
            let (genesis, starts, ends, reads) =
                (at(&log, "genesis", p), at(&log, "start", p), at(&log, "end", p), at(&log, "read", p));
            assert_eq!((genesis.len(), starts.len(), reads.len()), (1, 3, 3), "point {p}: {log:?}");
            assert!(starts.iter().all(|&s| s > genesis[0]), "point {p}: measured before the initial records");
            let last_end = *ends.iter().max().unwrap();
            assert!(reads.iter().all(|&r| r > last_end), "point {p}: finals read while a host measured");
            if p > 0 {
                let last_read = *at(&log, "read", p - 1).iter().max().unwrap();
                assert!(genesis[0] > last_read, "point {p}: initial records written before every host read {}", p - 1);
            }
        }
    }

    #[test]
    fn a_host_alone_times_out_naming_the_others() {
        let sh = Shared::new(3);
        let e = host(0, 3, Duration::from_millis(30)).before_point(&mut board(&sh, 0)).unwrap_err();
        assert_eq!(e.exit_code(), 10);
        let text = e.to_string();
        assert!(text.contains("hosts 1, 2 of 3 not seen") && text.contains("--seed 42"), "{text}");
        let e = host(2, 3, Duration::from_millis(30)).before_point(&mut board(&sh, 2)).unwrap_err();
        assert!(e.to_string().contains("host 0 of 3 not seen"), "{e}");
    }

    #[test]
    fn blocks_of_an_earlier_run_with_the_same_seed_satisfy_nothing() {
        let sh = Shared::new(2);
        run_all(&sh, 2, 2);
        // An earlier run left both blocks at READ of its last point. Alone, each host must
        // still wait for the other.
        let e = host(0, 2, Duration::from_millis(30)).before_point(&mut board(&sh, 0)).unwrap_err();
        assert!(e.to_string().contains("host 1 of 2 not seen"), "{e}");
        let e = host(1, 2, Duration::from_millis(30)).before_point(&mut board(&sh, 1)).unwrap_err();
        assert!(e.to_string().contains("host 0 of 2 not seen"), "{e}");
        // Together they meet in a new session.
        let before = Meet::decode(&sh.blocks.lock().unwrap()[0]).unwrap().session;
        let sessions = run_all(&sh, 2, 1);
        assert_ne!(sessions[0], before);
    }

    #[test]
    fn a_host_that_leaves_stops_the_others_waiting() {
        let sh = Shared::new(2);
        let (a, b) = (host(0, 2, Duration::from_secs(30)), host(1, 2, Duration::from_secs(30)));
        let (met, leave) = std::sync::mpsc::channel::<()>();
        let sh1 = sh.clone();
        let t = std::thread::spawn(move || {
            let mut board1 = board(&sh1, 1);
            b.before_point(&mut board1).unwrap();
            leave.recv().unwrap();
            b.leave(&mut board1);
        });
        let mut board0 = board(&sh, 0);
        a.before_point(&mut board0).unwrap();
        met.send(()).unwrap();
        let e = a.after_point(&mut board0, |_| Ok(())).unwrap_err();
        t.join().unwrap();
        assert!(e.to_string().contains("host 1 left the run at point 0"), "{e}");
        assert_eq!(e.exit_code(), 10);
    }

    #[test]
    fn a_cancelled_wait_returns_and_leaves() {
        let sh = Shared::new(2);
        let mut b = board(&sh, 1);
        b.cancel.store(true, Ordering::Relaxed);
        host(1, 2, Duration::from_secs(30)).before_point(&mut b).unwrap();
        assert_eq!(Meet::decode(&sh.blocks.lock().unwrap()[1]).unwrap().phase, Phase::Left);
    }

    #[test]
    fn records_of_another_hosts_count_are_not_this_run() {
        let sh = Shared::new(2);
        // A host started with --hosts 3 writes the same tag: host 0 of a 2-host run ignores it.
        let stray = host(1, 3, Duration::from_secs(1));
        sh.put(&Meet { session: 0, ..stray.blank() });
        let e = host(0, 2, Duration::from_millis(30)).before_point(&mut board(&sh, 0)).unwrap_err();
        assert!(e.to_string().contains("host 1 of 2 not seen"), "{e}");
    }
}
