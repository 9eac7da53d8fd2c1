//! Fault soak: two hosts that share nothing (two simulator worlds, two daemons), push -> sink over
//! tcp through a proxy in the test, faults injected at random moments of replication runs, and
//! after every round a clean run that must converge, then checks:
//!
//! * every snapshot the sender took is on the receiver unless the receiver's rules pruned it
//!   (`last_n 5`; the sender keeps only what is not replicated, so its incremental base is the
//!   cursor bookmark), with equal guids where both have it;
//! * the newest common snapshot's data is equal on both hosts (file checksums);
//! * no full send once a filesystem had been replicated (an incremental base always existed);
//! * protection in place: the last-received hold on the newest common snapshot only, the
//!   sender's cursor at it, no step hold left;
//! * no panic in either daemon's log.
//!
//! Fault kinds: SIGKILL of the push daemon, of the sink daemon, of `zfs send`, of `zfs receive`;
//! all connections cut by the proxy; the stream cut just before its `end` frame; `zfs send`
//! failing after a random number of bytes; the receiver out of space.
//!
//! `ZFERRY_SOAK_SEED` replays a run (the seed is printed at the start); `ZFERRY_SOAK_FAULTS`
//! sets the number of faults (default 40, bounded to about 5 minutes by
//! `ZFERRY_SOAK_MINUTES`, default 5). The figures are printed at the end.

mod e2e_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e_common::proxy::Proxy;
use e2e_common::{Host, World, data, push_sink_via_proxy, tcp_push, wait_until};

/// Filesystems replicated by the push job.
const FILESYSTEMS: usize = 3;
/// Snapshots the receiver's pruning keeps (`last_n` of `e2e_common::PRUNING`).
const RECEIVER_KEEPS: usize = 5;
/// `zfs send` on the sender streams at this rate, so that a step lasts long enough for a
/// fault to land inside it.
const STREAM_RATE: u64 = 3_000_000;

/// The kinds of faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    KillPush,
    KillSink,
    KillZfsSend,
    KillZfsRecv,
    CutConnections,
    CutBeforeEnd,
    SendFails,
    ReceiverFull,
}

const FAULTS: [Fault; 8] = [
    Fault::KillPush,
    Fault::KillSink,
    Fault::KillZfsSend,
    Fault::KillZfsRecv,
    Fault::CutConnections,
    Fault::CutBeforeEnd,
    Fault::SendFails,
    Fault::ReceiverFull,
];

/// xorshift64*: reproducible from the logged seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The figures the soak reports.
#[derive(Default, Debug)]
struct Figures {
    /// Faults injected, by kind.
    injected: BTreeMap<Fault, u32>,
    /// Of those, the ones that found their target (a running process, a live connection, an
    /// end frame) when injected.
    hit: BTreeMap<Fault, u32>,
    rounds: u32,
    converged: u32,
    data_loss: u32,
    protection_broken: u32,
    resumed_receives: usize,
    full_sends: usize,
    unnecessary_full_sends: usize,
    panics: usize,
}

/// The two hosts, the proxy between them, and what the soak created.
struct Soak {
    push: Host,
    sink: Host,
    proxy: Proxy,
    filesystems: Vec<String>,
    replicas: Vec<String>,
    /// Snapshot names taken so far (the same on every filesystem), oldest first.
    taken: Vec<String>,
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Soak {
    fn start() -> Soak {
        let (a, b) = (World::new(), World::new());
        let src = a.create_pool("src");
        let dst = b.create_pool("dst");
        // Reading the replicas to compare them must not count as a change.
        b.zfs_ok(&["set", "atime=off", &dst]);
        let filesystems: Vec<String> = (0..FILESYSTEMS)
            .map(|i| format!("{src}/data/fs{i}"))
            .collect();
        for fs in &filesystems {
            a.create(fs);
        }
        let root = format!("{src}/data<");
        let (push, sink, proxy) =
            push_sink_via_proxy((a, b), &dst, |port| tcp_push(&root, port, ""));
        assert!(
            push.w()
                .set_faults(&format!("ZFS_SIM_STREAM_RATE={STREAM_RATE}\n"))
        );
        let replicas = filesystems
            .iter()
            .map(|fs| format!("{dst}/sink/laptop/{fs}"))
            .collect();
        Soak {
            push,
            sink,
            proxy,
            filesystems,
            replicas,
            taken: Vec::new(),
        }
    }

    /// Writes new data into every filesystem and snapshots them all.
    fn new_snapshots(&mut self, rng: &mut Rng) {
        let name = format!("r{:04}", self.taken.len() + 1);
        for (i, fs) in self.filesystems.iter().enumerate() {
            let len = 64_000 + rng.below(600_000) as usize;
            let seed = (self.taken.len() * FILESYSTEMS + i) as u32;
            self.push
                .w()
                .write(fs, &format!("{name}.bin"), &data(seed, len));
            self.push.w().snap(fs, &name);
        }
        self.taken.push(name);
    }

    /// Starts a run, injects `fault` at a random moment of it, and undoes what the fault set
    /// up (fault files, stopped daemons); returns whether the fault found its target.
    fn inject(&mut self, fault: Fault, rng: &mut Rng) -> bool {
        let rate = format!("ZFS_SIM_STREAM_RATE={STREAM_RATE}\n");
        match fault {
            Fault::CutBeforeEnd => self.proxy.cut_before_next_end(),
            Fault::SendFails => {
                let after = 1_000 + rng.below(400_000);
                self.push
                    .w()
                    .set_faults(&format!("{rate}ZFS_SIM_SEND_FAIL_AFTER={after}\n"));
            }
            Fault::ReceiverFull => {
                self.sink.w().set_faults("ZFS_SIM_RECV_NOSPACE=1\n");
            }
            _ => {}
        }
        let out = self.push.cli(&["signal", "wakeup", "push"]);
        assert!(out.status.success(), "wakeup");
        std::thread::sleep(Duration::from_millis(rng.below(900)));
        let hit = match fault {
            Fault::KillPush => {
                self.push.kill9();
                self.push.spawn();
                true
            }
            Fault::KillSink => {
                self.sink.kill9();
                self.sink.spawn();
                true
            }
            Fault::KillZfsSend => kill_when_running(self.push.w(), "send"),
            Fault::KillZfsRecv => kill_when_running(self.sink.w(), "receive"),
            Fault::CutConnections => self.proxy.cut_all() > 0,
            Fault::CutBeforeEnd | Fault::SendFails | Fault::ReceiverFull => {
                self.wait_idle();
                true
            }
        };
        let hit = match fault {
            Fault::CutBeforeEnd => !self.proxy.disarm_end_cut(),
            _ => hit,
        };
        self.push.w().set_faults(&rate);
        self.sink.w().set_faults("");
        hit
    }

    fn wait_idle(&self) {
        wait_until(Duration::from_secs(300), "the push run to end", || {
            self.push.status()["jobs"]["push"]["state"] == "idle"
        });
    }

    /// A clean run after the fault; true when it succeeded (first time, or after the run the
    /// fault left running).
    fn converge(&self) -> bool {
        self.wait_idle();
        self.push
            .cli(&["signal", "wakeup", "push", "--wait"])
            .status
            .success()
    }

    /// Snapshots taken that the receiver's rules keep but it lacks (or with another guid), and
    /// replicas whose data differs from the sender's.
    fn data_loss(&self) -> Vec<String> {
        let mut lost = Vec::new();
        let kept = &self.taken[self.taken.len().saturating_sub(RECEIVER_KEEPS)..];
        for (fs, replica) in self.filesystems.iter().zip(&self.replicas) {
            let (a, b) = (self.push.w(), self.sink.w());
            let on_receiver = b.snapshots(replica);
            for name in kept {
                if !on_receiver.contains(name) {
                    lost.push(format!("{replica}@{name} missing"));
                }
            }
            let sender = a.snapshots(fs);
            for name in sender.iter().filter(|n| on_receiver.contains(n)) {
                if a.guid(&format!("{fs}@{name}")) != b.guid(&format!("{replica}@{name}")) {
                    lost.push(format!("{replica}@{name} has another guid"));
                }
            }
            b.mount(replica);
            if b.checksum(replica) != a.checksum(fs) {
                lost.push(format!("{replica}: data differs from {fs}"));
            }
        }
        lost
    }

    /// Protection problems: the last-received hold not on the newest snapshot alone, the cursor
    /// elsewhere, step holds left behind.
    fn protection_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (fs, replica) in self.filesystems.iter().zip(&self.replicas) {
            let (a, b) = (self.push.w(), self.sink.w());
            let newest = self.taken.last().expect("a snapshot");
            let guid = b.guid(&format!("{replica}@{newest}"));
            let holds = holds_by_snapshot(b, replica, 'R');
            if holds != [(newest.clone(), guid)] {
                problems.push(format!(
                    "{replica}: last-received holds {holds:?}, want {newest}"
                ));
            }
            let cursors = lane_names(&a.bookmarks(fs), 'C');
            if cursors != [guid] {
                problems.push(format!("{fs}: cursors {cursors:?}, want {guid}"));
            }
            let steps = holds_by_snapshot(a, fs, 'S');
            if !steps.is_empty() {
                problems.push(format!("{fs}: step holds left {steps:?}"));
            }
        }
        problems
    }
}

/// Waits briefly for a `zfs VERB` of `w` to run and SIGKILLs it; whether one was killed.
fn kill_when_running(w: &World, verb: &str) -> bool {
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        if w.kill_zfs(verb) > 0 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The guids named by zferry abstractions of `kind` among `names`.
fn lane_names(names: &[String], kind: char) -> Vec<u64> {
    names
        .iter()
        .filter_map(|n| n.strip_prefix(&format!("zferry_{kind}_")))
        .filter_map(|rest| u64::from_str_radix(rest.get(..16)?, 16).ok())
        .collect()
}

/// (snapshot, guid in the tag) of every zferry hold of `kind` on `ds`'s snapshots.
fn holds_by_snapshot(w: &World, ds: &str, kind: char) -> Vec<(String, u64)> {
    w.snapshots(ds)
        .into_iter()
        .flat_map(|name| {
            let guids = lane_names(&w.holds(&format!("{ds}@{name}")), kind);
            guids.into_iter().map(move |g| (name.clone(), g))
        })
        .collect()
}

/// Counts in the push daemon's log: (`zfs send` of whole snapshots per filesystem, resumed
/// sends `zfs send -t`).
fn sends_in_log(log: &str, filesystems: &[String]) -> (BTreeMap<String, usize>, usize) {
    let mut full = BTreeMap::new();
    let mut resumed = 0;
    for line in log.lines().filter(|l| l.contains("msg=running")) {
        let Some(command) = line
            .split_once("command=\"zfs send ")
            .map(|(_, rest)| rest.split('"').next().unwrap_or(""))
        else {
            continue;
        };
        let args: Vec<&str> = command.split_whitespace().collect();
        if args.contains(&"-t") {
            resumed += 1;
        } else if !args
            .iter()
            .any(|a| matches!(*a, "-i" | "-I" | "-n" | "-nvP"))
            && let Some(fs) = filesystems.iter().find(|fs| {
                args.last()
                    .is_some_and(|a| a.starts_with(&format!("{fs}@")))
            })
        {
            *full.entry(fs.clone()).or_default() += 1;
        }
    }
    (full, resumed)
}

#[test]
fn fault_soak_converges_without_loss() {
    let seed = env_number("ZFERRY_SOAK_SEED", 0);
    let seed = if seed == 0 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 | 1)
    } else {
        seed
    };
    eprintln!("fault soak seed: {seed} (replay with ZFERRY_SOAK_SEED={seed})");
    let mut rng = Rng(seed);
    let faults = env_number("ZFERRY_SOAK_FAULTS", 40);
    let budget = Duration::from_secs(60 * env_number("ZFERRY_SOAK_MINUTES", 5));
    let started = Instant::now();
    let mut soak = Soak::start();
    let mut figures = Figures::default();

    // The initial replication, undisturbed: from here on an incremental base always exists.
    soak.new_snapshots(&mut rng);
    assert!(soak.converge(), "initial replication");
    let (initial, _) = sends_in_log(&soak.push.log_text(), &soak.filesystems);

    let mut failures = Vec::new();
    while u64::from(figures.rounds) < faults && started.elapsed() < budget {
        soak.new_snapshots(&mut rng);
        let fault = FAULTS[rng.below(FAULTS.len() as u64) as usize];
        *figures.injected.entry(fault).or_default() += 1;
        if soak.inject(fault, &mut rng) {
            *figures.hit.entry(fault).or_default() += 1;
        }
        figures.rounds += 1;
        let round = format!("round {} ({fault:?})", figures.rounds);
        if soak.converge() {
            figures.converged += 1;
        } else {
            failures.push(format!("{round}: the clean run failed"));
            assert!(
                soak.converge(),
                "{round}: not converged after a second clean run"
            );
        }
        let lost = soak.data_loss();
        figures.data_loss += lost.len() as u32;
        failures.extend(lost.into_iter().map(|l| format!("{round}: {l}")));
        let broken = soak.protection_problems();
        figures.protection_broken += broken.len() as u32;
        failures.extend(broken.into_iter().map(|p| format!("{round}: {p}")));
    }

    let push_log = soak.push.log_text();
    let (full, resumed) = sends_in_log(&push_log, &soak.filesystems);
    figures.full_sends = full.values().sum();
    figures.unnecessary_full_sends = full
        .iter()
        .map(|(fs, n)| n.saturating_sub(initial.get(fs).copied().unwrap_or(0)))
        .sum();
    figures.resumed_receives = resumed;
    figures.panics = [push_log, soak.sink.log_text()]
        .iter()
        .map(|l| l.matches("panicked").count())
        .sum();
    eprintln!(
        "fault soak (seed {seed}, {:.0?}): {figures:#?}",
        started.elapsed()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(figures.converged, figures.rounds, "rounds that converged");
    assert_eq!(
        figures.unnecessary_full_sends, 0,
        "full sends after the initial ones"
    );
    assert_eq!(figures.panics, 0, "panics in the daemons' logs");
}
