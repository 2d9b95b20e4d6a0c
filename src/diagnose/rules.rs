//! The rule table: one rule per mechanism, each with the figures it reads and its known
//! answer (the setup whose test shows it). `docs/diagnosis.md` lists the same rows.

use super::{Evidence, Figures, Finding, Mechanism, Scope, Strength};
use crate::workload::Workload;

pub struct Rule {
    pub mechanism: Mechanism,
    /// The figures the rule reads, in words.
    pub reads: &'static str,
    /// The setup whose known answer this rule is.
    pub known_answer: &'static str,
    pub apply: fn(&Figures) -> Option<Finding>,
}

pub const RULES: [Rule; 12] = [
    Rule {
        mechanism: Mechanism::IoErrors,
        reads: "errors, error_samples",
        known_answer: "scsi_debug opts=... error injection; any failed command",
        apply: io_errors,
    },
    Rule {
        mechanism: Mechanism::Split,
        reads: "miscompares.split with device-side ATS or rmw; merged: violations with cross_host_atomic",
        known_answer: "rmw with 2+ actors per lock block (expected); 0 on the LIO paths",
        apply: split,
    },
    Rule {
        mechanism: Mechanism::NotAtomicAcrossHosts,
        reads: "miscompares.split (one host) or violations/lost updates (merged) with host-emulated ATS or rmw and --hosts >= 2",
        known_answer: "two hosts (processes) on one file or one loop device",
        apply: not_atomic_across_hosts,
    },
    Rule {
        mechanism: Mechanism::TornWrite,
        reads: "miscompares.torn, miscompares.torn_reads",
        known_answer: "sim --inject torn-write; a torn READ on LIO fileio (a read racing a write) named as one",
        apply: torn_write,
    },
    Rule {
        mechanism: Mechanism::OutsideWriter,
        reads: "miscompares.corrupt - miscompares.torn, first_corrupt",
        known_answer: "sim --inject foreign-write; dd over the lock blocks in the guest",
        apply: outside_writer,
    },
    Rule {
        mechanism: Mechanism::LostWrite,
        reads: "miscompares.stale with device-side ATS, verification.lost_updates",
        known_answer: "sim --inject lost-write",
        apply: lost_write,
    },
    Rule {
        mechanism: Mechanism::StaleCache,
        reads: "miscompares.stale (not a lost write, nor device-side ATS with shared lock blocks), --expected-from",
        known_answer: "sim -w rmw --inject stale-read; --expected-from cache on two LIO paths",
        apply: stale_cache,
    },
    Rule {
        mechanism: Mechanism::QueueWait,
        reads: "the device's queue figures (sim.queued, sim.queue_depth, sim.queue_wait_mean_ns), qd; or a SCSI \
                device's ring.backend.device_queue_depth against the commands in flight by Little's law (clat_ns, \
                duration_s)",
        known_answer: "sim --sim-qd 4 --qd 16; scsi_debug queue_depth 1 with a response delay at QD 4 and 16",
        apply: queue_wait,
    },
    Rule {
        mechanism: Mechanism::RetryAfterTimeout,
        reads: "timeouts, late_completions, miscompares.own_write",
        known_answer: "sim --inject latency-spike --timeout; scsi_debug delay beyond --timeout",
        apply: retry_after_timeout,
    },
    Rule {
        mechanism: Mechanism::FalseMiscompare,
        reads: "miscompares.false; miscompares.own_write without timeouts",
        known_answer: "sim --inject false-miscompare; sim --inject own-write; sim --inject error-after-write",
        apply: false_miscompare,
    },
    Rule {
        mechanism: Mechanism::Contention,
        reads: "miscompares.contention, actors_per_lock (one host)",
        known_answer: "sim --contention 2 (10^6 attempts: contention and clean only)",
        apply: contention,
    },
    Rule {
        mechanism: Mechanism::ContentionBetweenHosts,
        reads: "miscompares.contention with --hosts >= 2 or a merged point",
        known_answer: "two hosts on the LIO paths; two processes on one file",
        apply: contention_between_hosts,
    },
];

fn ev(figure: &str, value: u64) -> Evidence {
    Evidence { figure: figure.into(), value: value as f64 }
}

fn finding(mechanism: Mechanism, strength: Strength, evidence: Vec<Evidence>, text: String, next: &str) -> Finding {
    Finding { mechanism, strength, evidence, text, next_step: next.into() }
}

/// `part` as a percentage of `whole`, one decimal.
fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0 %".into();
    }
    format!("{:.1} %", part as f64 * 100.0 / whole as f64)
}

/// "on this host" for one host of several: its figures are its own.
fn on_this_host(f: &Figures) -> &'static str {
    match f.scope {
        Scope::ThisHostOf(_) => " on this host",
        _ => "",
    }
}

fn io_errors(f: &Figures) -> Option<Finding> {
    (f.errors > 0).then(|| {
        let first = f.error_sample.as_deref().map(|s| format!("; first: {s}")).unwrap_or_default();
        finding(
            Mechanism::IoErrors,
            Strength::Fault,
            vec![ev("errors", f.errors)],
            format!("{} commands failed ({} of the attempts){first}.", f.errors, pct(f.errors, f.attempts)),
            "read the error samples and the kernel log (dmesg) for the path's resets and sense data",
        )
    })
}

/// Host-emulated ATS (or rmw) shared by several hosts: not atomic across them, by design.
fn shared_without_device_ats(f: &Figures) -> bool {
    f.scope.hosts() > 1 && !f.device_ats()
}

fn split(f: &Figures) -> Option<Finding> {
    let m = &f.miscompares;
    if shared_without_device_ats(f) {
        return None;
    }
    if let (Scope::AllHosts(n), Some(true)) = (f.scope, f.cross_host_atomic) {
        if f.violations() > 0 {
            return Some(finding(
                Mechanism::Split,
                Strength::Fault,
                vec![ev("verification.violations", f.violations()), ev("miscompares.split", m.split)],
                format!(
                    "{} generations were written by two of the {n} hosts: device-side COMPARE AND WRITE did not \
                     serialise them.",
                    f.violations()
                ),
                "check that every path reaches one LU (multipath, target ALUA) and ask the vendor; repeat on one path",
            ));
        }
    }
    if m.split == 0 {
        return None;
    }
    let evidence = vec![ev("miscompares.split", m.split), ev("verification.lost_updates", f.lost_updates())];
    Some(if f.workload == Workload::Rmw {
        finding(
            Mechanism::Split,
            Strength::Expected,
            evidence,
            format!(
                "{} attempts found another writer's record of the generation they expected, {} lost updates: rmw \
                 reads, compares in the host and writes without a lock, so two actors write from one state; \
                 rmw's known answer, expected.",
                m.split,
                f.lost_updates()
            ),
            "none: rmw shows what ATS prevents; run -w ats for the device's answer",
        )
    } else {
        finding(
            Mechanism::Split,
            Strength::Fault,
            evidence,
            format!(
                "{} attempts{} found another writer's record of the generation they expected: two compare-and-writes \
                 succeeded from one state, so ATS was not atomic: a device or path fault.",
                m.split,
                on_this_host(f)
            ),
            "check multipath (two paths to different LUs) and the target's ATS; repeat on one path and merge the hosts",
        )
    })
}

fn not_atomic_across_hosts(f: &Figures) -> Option<Finding> {
    if !shared_without_device_ats(f) {
        return None;
    }
    let m = &f.miscompares;
    let n = f.scope.hosts();
    let how = if f.workload == Workload::Rmw {
        "rmw reads, compares in the host and writes"
    } else {
        "host-emulated ATS serialises only inside one process"
    };
    let (evidence, what) = match f.scope {
        Scope::AllHosts(_) if f.violations() + f.lost_updates() + m.split > 0 => (
            vec![
                ev("verification.violations", f.violations()),
                ev("verification.lost_updates", f.lost_updates()),
                ev("miscompares.split", m.split),
            ],
            format!(
                "{} generations written twice and {} lost updates over the {n} hosts ({} split miscompares)",
                f.violations(),
                f.lost_updates(),
                m.split
            ),
        ),
        Scope::ThisHostOf(_) if m.split + overwritten_stale(f) > 0 => (
            vec![ev("miscompares.split", m.split), ev("miscompares.stale", m.stale)],
            format!(
                "{} attempts on this host found another host's record of the generation they expected ({} of the \
                 miscompares; {} more found an older generation written over a newer one)",
                m.split,
                pct(m.split, m.total),
                overwritten_stale(f)
            ),
        ),
        _ => return None,
    };
    Some(finding(
        Mechanism::NotAtomicAcrossHosts,
        Strength::Expected,
        evidence,
        format!("{what}: {how}, so two hosts wrote the same generation; not atomic across hosts, the known answer."),
        "test atomicity across hosts on a device with COMPARE AND WRITE (SCSI) or fused Compare+Write (NVMe)",
    ))
}

/// The `stale` miscompares that hosts overwriting each other explain (not those of a cache).
fn overwritten_stale(f: &Figures) -> u64 {
    if f.expected_from_cache {
        0
    } else {
        f.miscompares.stale
    }
}

fn torn_write(f: &Figures) -> Option<Finding> {
    let (torn, reads) = (f.miscompares.torn, f.miscompares.torn_reads.min(f.miscompares.torn));
    if torn == 0 {
        return None;
    }
    let evidence = vec![ev("miscompares.torn", torn), ev("miscompares.torn_reads", reads)];
    if reads == torn {
        // Every tear was in a READ: the medium held whole records; no write was cut short.
        return Some(finding(
            Mechanism::TornWrite,
            Strength::Warning,
            evidence,
            format!(
                "{torn} re-read blocks were torn (the header of one record and the tail of another), and each time the \
                 retry found a whole record on the medium: a torn READ, which raced a write the target does not \
                 serialise it against; no write was torn."
            ),
            "read shared blocks only through COMPARE AND WRITE's own compare, or ask the target's vendor whether \
             READs are atomic against concurrent WRITEs of the same blocks",
        ));
    }
    let in_reads = if reads > 0 {
        format!(" ({reads} of them torn READs: the retry found a whole record)")
    } else {
        String::new()
    };
    Some(finding(
        Mechanism::TornWrite,
        Strength::Fault,
        evidence,
        format!(
            "{torn} re-read blocks were torn, the header of one record and the tail of another{in_reads}: a write \
             reached only part of the block (or a read raced a write that the target does not serialise it against)."
        ),
        "compare --bs with the device's atomic write unit (NVMe AWUN/AWUPF, SCSI block limits) and the path's \
         maximum transfer",
    ))
}

fn outside_writer(f: &Figures) -> Option<Finding> {
    let m = &f.miscompares;
    let outside = m.corrupt.saturating_sub(m.torn);
    (outside > 0).then(|| {
        let at = f.first_corrupt_lock.map(|l| format!(", first on lock block {l}")).unwrap_or_default();
        finding(
            Mechanism::OutsideWriter,
            Strength::Fault,
            vec![ev("miscompares.corrupt", m.corrupt), ev("miscompares.torn", m.torn)],
            format!(
                "{outside} re-read blocks held data no actor of this run wrote{at}: something outside atsbench wrote \
                 the lock blocks."
            ),
            "find the other writer (another tool, a host not in --hosts, a VM on the LUN) or move the lock blocks \
             with --region",
        )
    })
}

/// Device-side ATS found older records than it wrote, and the history lost them.
fn is_lost_write(f: &Figures) -> bool {
    f.miscompares.stale > 0 && f.device_ats() && !f.expected_from_cache && f.lost_updates() > 0
}

fn lost_write(f: &Figures) -> Option<Finding> {
    is_lost_write(f).then(|| {
        let m = &f.miscompares;
        finding(
            Mechanism::LostWrite,
            Strength::Fault,
            vec![ev("miscompares.stale", m.stale), ev("verification.lost_updates", f.lost_updates())],
            format!(
                "{} attempts found an older record than the one acknowledged before, and the history lost {} \
                 updates: the device acknowledged writes it did not keep.",
                m.stale,
                f.lost_updates()
            ),
            "check the device's volatile write cache and its flush handling; repeat with --fua",
        )
    })
}

fn stale_cache(f: &Figures) -> Option<Finding> {
    let stale = f.miscompares.stale;
    // Writers without device-side ATS (hosts, rmw's actors) that split also overwrite newer
    // generations with older ones: that is their non-atomicity, not a cache.
    // `--locks` places actors at random: a mean of 1 per block still shares some blocks. (With
    // no block shared, a split comes from a stale read, and the stale records are the cache's.)
    let shared = f.actors_per_lock > 1.0 || f.shared_locks;
    let overwritten = shared_without_device_ats(f) || (!f.device_ats() && f.miscompares.split > 0 && shared);
    if stale == 0 || is_lost_write(f) || (overwritten && !f.expected_from_cache) {
        return None;
    }
    // Device-side ATS compares on the medium: with several actors per lock block a slot can
    // retry with an image its worker has since seen superseded (`stale` by the classifier's
    // rule, contention in fact), and nothing read through a cache decided anything.
    if f.device_ats() && !f.expected_from_cache && f.actors_per_lock > 1.0 {
        return None;
    }
    let via = if f.expected_from_cache {
        "the expected images were read through the page cache (--expected-from cache), which another path's \
         writes do not invalidate"
    } else {
        "a read returned an image older than one already seen: a stale cache on the read path"
    };
    Some(finding(
        Mechanism::StaleCache,
        Strength::Warning,
        vec![ev("miscompares.stale", stale)],
        format!("{stale} attempts ({}) worked from an old record: {via}.", pct(stale, f.attempts)),
        "read lock blocks with O_DIRECT (--expected-from device) and keep caching layers off shared LUNs",
    ))
}

fn retry_after_timeout(f: &Figures) -> Option<Finding> {
    if let Some((aborted, own, succeeded)) = f.aborts.filter(|a| a.0 > 0) {
        return Some(finding(
            Mechanism::RetryAfterTimeout,
            Strength::Warning,
            vec![
                ev("aborts.aborted", aborted),
                ev("aborts.retry_own_write", own),
                ev("aborts.retry_succeeded", succeeded),
            ],
            format!(
                "{aborted} COMPARE AND WRITEs aborted by the kernel after --timeout (ABORT TASK) and retried: {own} \
                 retries found their own write, so the aborted command had been applied (ESXi's false miscompare); \
                 {succeeded} succeeded, so theirs had not."
            ),
            "raise --timeout above the ATS latency's p99.99 or lower --qd; the target applied commands it was told \
             to abort",
        ));
    }
    if f.timeouts == 0 {
        return None;
    }
    let own = f.miscompares.own_write;
    let what = if own > 0 {
        format!(
            "{} timeouts, {own} of their retries found their own write: the delayed command landed before its retry \
             (ESXi's false miscompare).",
            f.timeouts
        )
    } else {
        format!("{} timeouts; no retry found its own write: the delayed commands had not written.", f.timeouts)
    };
    Some(finding(
        Mechanism::RetryAfterTimeout,
        Strength::Warning,
        vec![ev("timeouts", f.timeouts), ev("late_completions", f.late_completions), ev("miscompares.own_write", own)],
        what,
        "raise --timeout above the ATS latency's p99.99 or lower --qd (see queue-wait); on ESXi the same is the ATS \
         heartbeat timeout",
    ))
}

fn false_miscompare(f: &Figures) -> Option<Finding> {
    let m = &f.miscompares;
    // Own writes after a timeout's retry or an abort's are that mechanism's.
    let own = if f.timeouts == 0 { m.own_write.saturating_sub(f.aborts.map_or(0, |a| a.1)) } else { 0 };
    if m.false_ + own == 0 {
        return None;
    }
    Some(finding(
        Mechanism::FalseMiscompare,
        Strength::Fault,
        vec![ev("miscompares.false", m.false_), ev("miscompares.own_write", own)],
        format!(
            "{} miscompares on blocks equal to the expected image and {own} where the device had written the new \
             image without a timeout: the device reported miscompares the data does not show.",
            m.false_
        ),
        "capture the sense data (device_miscompares) and report it to the vendor with this result",
    ))
}

fn queue_wait(f: &Figures) -> Option<Finding> {
    if let Some(q) = f.queue.filter(|q| q.in_flight.is_some()) {
        return queue_wait_estimated(f, q);
    }
    let q = f.queue.filter(|q| q.queued > 0)?;
    let depth = q.depth.map_or("its".to_string(), |d| d.to_string());
    Some(finding(
        Mechanism::QueueWait,
        Strength::Warning,
        vec![ev("sim.queued", q.queued), ev("sim.queue_wait_mean_ns", q.mean_wait_ns), ev("qd", u64::from(f.qd))],
        format!(
            "{} of {} commands waited for one of the device's {depth} command slots (host QD {}), {:.1} us on \
             average: the latency includes a queue the host cannot see.",
            q.queued,
            q.commands,
            f.qd,
            q.mean_wait_ns as f64 / 1000.0
        ),
        "lower --qd to the device's queue depth, or raise the device's (HBA, LUN) queue depth",
    ))
}

/// In flight beyond the device's queue depth (by a quarter and at least one command): the
/// latency holds a wait in the kernel.
fn queue_wait_estimated(f: &Figures, q: super::Queue) -> Option<Finding> {
    let (depth, in_flight) = (q.depth?, q.in_flight?);
    let beyond = in_flight - f64::from(depth);
    if beyond < 1.0 || in_flight < 1.25 * f64::from(depth) {
        return None;
    }
    Some(finding(
        Mechanism::QueueWait,
        Strength::Warning,
        vec![
            ev("device_queue_depth", u64::from(depth)),
            Evidence { figure: "in_flight".into(), value: (in_flight * 10.0).round() / 10.0 },
            ev("queue_wait_ns", q.mean_wait_ns),
            ev("qd", u64::from(f.qd)),
        ],
        format!(
            "{in_flight:.1} commands were in flight on average (Little's law over {} commands; host QD {}) against \
             the device's queue depth {depth}: the ones beyond it waited in the kernel, about {:.1} us of each \
             command's latency, a queue the device never saw.",
            q.commands,
            f.qd,
            q.mean_wait_ns as f64 / 1000.0
        ),
        "lower --qd to the device's queue depth (sysfs device/queue_depth), or raise the device's queue depth",
    ))
}

fn contention_text(f: &Figures) -> String {
    let m = &f.miscompares;
    let share = if m.contention == m.total { "all".to_string() } else { format!("{} of them", m.contention) };
    let what = if f.workload == Workload::Rmw { "rmw attempts" } else { "ATS" };
    let mut s = format!("{} of {what} miscompared, {share} `contention`", pct(m.total, f.attempts));
    if f.device_ats() && !f.expected_from_cache && f.actors_per_lock > 1.0 && m.stale > 0 && !is_lost_write(f) {
        s.push_str(&format!(" ({} `stale`: retries with an image a sibling slot had already superseded)", m.stale));
    }
    s
}

fn actors(n: f64) -> String {
    if n == 1.0 {
        "1 actor".into()
    } else {
        format!("{n} actors")
    }
}

fn contention(f: &Figures) -> Option<Finding> {
    let m = &f.miscompares;
    (m.contention > 0 && f.scope == Scope::OneHost).then(|| {
        finding(
            Mechanism::Contention,
            Strength::Benign,
            vec![
                ev("miscompares.contention", m.contention),
                Evidence { figure: "actors_per_lock".into(), value: f.actors_per_lock },
            ],
            format!("{}: {} per lock block; benign.", contention_text(f), actors(f.actors_per_lock)),
            "none",
        )
    })
}

fn contention_between_hosts(f: &Figures) -> Option<Finding> {
    let m = &f.miscompares;
    (m.contention > 0 && f.scope != Scope::OneHost).then(|| {
        finding(
            Mechanism::ContentionBetweenHosts,
            Strength::Benign,
            vec![ev("miscompares.contention", m.contention), ev("hosts", u64::from(f.scope.hosts()))],
            format!(
                "{}{}: {} hosts take the same lock blocks, {} per block on each; benign.",
                contention_text(f),
                on_this_host(f),
                f.scope.hosts(),
                actors(f.actors_per_lock)
            ),
            "none",
        )
    })
}

/// Nothing but contention (or nothing at all): the point is clean.
pub fn clean(f: &Figures) -> Finding {
    let (checked, violations) = f.verification.map_or((0, 0), |v| (v.0, v.1));
    let verified = match (f.verification, f.scope) {
        (None, _) => "not verified".to_string(),
        (Some(_), Scope::ThisHostOf(_)) => {
            format!("{checked} checked, {violations} violations; this host only: merge the hosts' results to verify")
        }
        (Some(_), _) => format!("{checked} transitions and blocks verified, no violation"),
    };
    let what = if f.miscompares.total == 0 {
        format!("{} attempts, no miscompare", f.attempts)
    } else {
        format!("{} attempts, every miscompare explained by contention", f.attempts)
    };
    finding(
        Mechanism::Clean,
        Strength::Clean,
        vec![ev("ops", f.attempts), ev("miscompares.total", f.miscompares.total), ev("verification.checked", checked)],
        format!("{what}; {verified}."),
        "none",
    )
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
