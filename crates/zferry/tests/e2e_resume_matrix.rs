//! The resume matrix: every way a step can be interrupted, over every transport, in both
//! directions, for full and incremental steps; each must resume.
//!
//! transport {tcp, tls, ssh+stdinserver} x direction {push -> sink, pull -> source} x
//! interruption {SIGKILL of the sending daemon, SIGKILL of the receiving daemon, the connection
//! cut by a proxy, `zferry signal reset` of the active job, SIGKILL of `zfs send`, SIGKILL of
//! `zfs receive`} x {full step, incremental step}; plus a `-I` step over two snapshots
//! interrupted within the first (tcp, both directions, every interruption) and, for every
//! transport and direction, a full step cut and then interrupted again while it resumes.
//! Sender and receiver are two hosts that share nothing (two simulator worlds, two daemons); the
//! active daemon dials its peer through a TCP proxy in the test (for ssh, the proxy sits between
//! `ssh` and `sshd`: the ssh session's TCP connection is what a network failure cuts), which can
//! cut every connection it carries mid-stream.
//!
//! Each case must resume, judged from the two worlds' invocation journals (the simulator's
//! record of what ran, see `zferry_zfs_sim::journal`), not from zferry's own account:
//! * no `zfs receive -A` ran on the receiving world;
//! * the first `zfs send` that streams after each interruption is `zfs send -t TOKEN`;
//! * the stream bytes written by every `zfs send` started after the (last) interruption are at
//!   most the remaining bytes plus 10%, where the remaining bytes are what `zfs send -nvP -t
//!   TOKEN` on the sending world says is left after what the receiver kept (plus, for a `-I`
//!   step, the dry-run sizes of its snapshots after the token's);
//! * the replica ends with every snapshot of the sender (same guids) and its data; zferry's
//!   abstractions moved on (one cursor bookmark, on the new snapshot; no step hold; the
//!   last-received hold on the new snapshot only); no `zfs` command is left running and no
//!   simulator scratch tree is left on either world.
//!
//! The interrupted step is slowed by the sending job's bandwidth limit (push: `send` of the
//! push job; pull: `send` of the source job), so that little is buffered between the hosts and
//! what the receiver has read is what was sent. A case is interrupted once the receiving
//! `zfs receive` has read 1 MB of the stream (its `rchar`, found by the journal's pid); on a
//! loaded machine the rest may already be buffered on its way by then, and a case whose
//! interruption landed after the whole step had been sent (no `zfs send` after it) is set up
//! again, at most twice, its row saying so. The
//! cases of one test run at once: one test per transport and direction, one for the backlog
//! steps, one for the twice-interrupted steps.

mod e2e_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e_common::proxy::Proxy;
use e2e_common::{Host, World, data, identity, trust, wait_until, zferry_bin};
use zferry_zfs_sim::journal::Invocation;
use zferry_zfs_sim::testsshd::TestSshd;

/// Size of the file the interrupted step carries: about 3 s at [`SLOW`].
const SIZE: usize = 3_000_000;
/// The same when the interruption is a killed `zfs send`: that process writes ahead of what the
/// receiver has read by its own stream buffer, the pipe and the sending daemon's frame (1 MiB
/// each), and killed after it wrote its last byte it interrupts nothing.
const SIZE_KILLED_SEND: usize = 6_000_000;
/// The same when the interruption is `zferry signal reset`: a CLI process to start, which on a
/// loaded machine can take seconds, so the step needs more left when the reset is issued.
const SIZE_RESET: usize = 5_000_000;
/// The case is interrupted once the receiving `zfs receive` has read this much of the stream.
const INTERRUPT_AT: u64 = 1_000_000;
/// More data for each interruption after the first, so that the resumed step is still under way
/// when it is interrupted again (about 1.5 s more at [`SLOW`]).
const SIZE_PER_MORE_INTERRUPTION: usize = 1_500_000;
/// Longest a run may take in [`Pair::converge`] (a resumed step takes seconds).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// The sending job's bandwidth limit.
const SLOW: &str = "    send:\n      bandwidth_limit:\n        max: 1 MB\n";
/// The identity of the active daemon as its peer knows it (tcp client map, tls CN, stdinserver).
const CLIENT: &str = "client";
/// The tls identity of the passive daemon.
const SERVER: &str = "server";

/// Keeps the incremental source on the sender, so that `zfs send -nvP -t TOKEN` can still tell
/// the remaining bytes once the case is over.
const PRUNING: &str = "    pruning:
      keep_sender:
        - type: last_n
          count: 5
      keep_receiver:
        - type: last_n
          count: 5
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Tls,
    Ssh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The sender is active: push -> sink.
    Push,
    /// The receiver is active: pull -> source.
    Pull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    KillSendingDaemon,
    KillReceivingDaemon,
    CutConnection,
    Reset,
    KillZfsSend,
    KillZfsReceive,
}

/// The interruptions of the matrix, one per case.
const INTERRUPTIONS: [&[Interruption]; 6] = [
    &[Interruption::KillSendingDaemon],
    &[Interruption::KillReceivingDaemon],
    &[Interruption::CutConnection],
    &[Interruption::Reset],
    &[Interruption::KillZfsSend],
    &[Interruption::KillZfsReceive],
];

/// A step interrupted again while it resumes: the second resume starts from the newer token.
const TWICE: &[Interruption] = &[Interruption::CutConnection, Interruption::KillSendingDaemon];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Full,
    Incremental,
    /// An incremental step over two new snapshots (one `zfs send -I`), interrupted within the
    /// first: the resume completes that snapshot, and the second follows.
    Backlog,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    transport: Transport,
    direction: Direction,
    /// One after the other, each once the step (resumed after the one before) is under way.
    interruptions: &'static [Interruption],
    step: Step,
}

impl Case {
    fn label(&self) -> String {
        let how: Vec<String> = self
            .interruptions
            .iter()
            .map(|i| format!("{i:?}"))
            .collect();
        format!(
            "| {:?} | {:?} | {} | {:?} |",
            self.transport,
            self.direction,
            how.join(" then "),
            self.step
        )
    }
}

/// What the worlds say about one case.
#[derive(Debug, Default)]
struct Facts {
    /// Bytes of the step the receiver kept at the interruption (the resume token's `bytes`).
    kept: u64,
    /// What `zfs send -nvP -t TOKEN` on the sending world says is left to send.
    remaining: u64,
    /// Stream bytes written by the `zfs send`s started after the interruption.
    sent_after: u64,
    /// Whether the first streaming send after every interruption resumed (`-t`).
    resumed: bool,
    /// Whether `zfs receive -A` ran on the receiving world.
    aborted: bool,
    /// How often the case was set up again (its interruption came too late, or its port was
    /// taken).
    missed: u32,
}

impl Facts {
    fn passed(&self) -> bool {
        self.resumed && !self.aborted && self.sent_after * 10 <= self.remaining * 11
    }
}

/// The tls material of one end: its identity directory and its copy of the peer's certificate.
struct Tls {
    me: PathBuf,
    peer_cert: PathBuf,
}

/// The `serve:` block of the passive job (listening on `port` for tcp and tls).
fn serve(t: Transport, port: u16, tls: Option<&Tls>) -> String {
    match (t, tls) {
        (Transport::Tcp, _) => format!(
            "    serve:\n      type: tcp\n      listen: \"127.0.0.1:{port}\"\n      clients:\n        \"127.0.0.1\": \"{CLIENT}\"\n"
        ),
        (Transport::Tls, Some(tls)) => format!(
            "    serve:\n      type: tls\n      listen: \"127.0.0.1:{port}\"\n      ca: {ca}\n      cert: {me}/identity.crt\n      key: {me}/identity.key\n      client_cns: [\"{CLIENT}\"]\n",
            ca = tls.peer_cert.display(),
            me = tls.me.display()
        ),
        (Transport::Tls, None) => unreachable!("tls needs identities"),
        (Transport::Ssh, _) => format!(
            "    serve:\n      type: stdinserver\n      client_identities: [\"{CLIENT}\"]\n"
        ),
    }
}

/// The `connect:` block of the active job, dialling the proxy on `port`.
fn connect(t: Transport, port: u16, tls: Option<&Tls>, ssh_key: Option<&Path>) -> String {
    match t {
        Transport::Tcp => {
            format!("    connect:\n      type: tcp\n      address: \"127.0.0.1:{port}\"\n")
        }
        Transport::Tls => {
            let tls = tls.expect("tls needs identities");
            format!(
                "    connect:\n      type: tls\n      address: \"127.0.0.1:{port}\"\n      ca: {ca}\n      cert: {me}/identity.crt\n      key: {me}/identity.key\n      server_cn: \"{SERVER}\"\n",
                ca = tls.peer_cert.display(),
                me = tls.me.display()
            )
        }
        Transport::Ssh => {
            e2e_common::ssh_stdinserver_connect(port, ssh_key.expect("ssh needs a key"))
        }
    }
}

/// Two hosts joined through the proxy: the active daemon (push or pull) and the passive one.
struct Pair {
    direction: Direction,
    active: Host,
    passive: Host,
    proxy: Proxy,
    _sshd: Option<TestSshd>,
    /// The filesystem on the sender.
    fs: String,
    /// Its replica on the receiver.
    replica: String,
}

impl Pair {
    /// Sets up `fs` (on world `a`) replicated to world `b` as `case` says; `None` when the
    /// transport cannot run here (no sshd).
    fn start(case: &Case, a: World, b: World, fs: &str, dst: &str) -> Result<Option<Pair>, String> {
        let (active_w, passive_w) = match case.direction {
            Direction::Push => (a, b),
            Direction::Pull => (b, a),
        };
        let tls = (case.transport == Transport::Tls).then(|| {
            let (client, server) = (identity(&active_w, CLIENT), identity(&passive_w, SERVER));
            let to_passive = trust(&passive_w, CLIENT, &client);
            let to_active = trust(&active_w, SERVER, &server);
            (
                Tls {
                    me: client,
                    peer_cert: to_active,
                },
                Tls {
                    me: server,
                    peer_cert: to_passive,
                },
            )
        });
        let listen = e2e_common::free_port();
        let serve = serve(case.transport, listen, tls.as_ref().map(|t| &t.1));
        let sockdir = passive_w.dir().join("stdinserver");
        let global = match case.transport {
            Transport::Ssh => format!(
                "  serve:\n    stdinserver:\n      sockdir: {}\n",
                sockdir.display()
            ),
            _ => String::new(),
        };
        let (passive_job, replica) = match case.direction {
            Direction::Push => (
                format!("  - name: sink\n    type: sink\n    root_fs: {dst}/sink\n{serve}"),
                format!("{dst}/sink/{CLIENT}/{fs}"),
            ),
            Direction::Pull => (
                format!(
                    "  - name: source\n    type: source\n{serve}    filesystems:\n      \"{fs}\": true\n    snapshotting:\n      type: manual\n{SLOW}"
                ),
                format!("{dst}/pulled/{fs}"),
            ),
        };
        let passive = Host::start(passive_w, "passive", &global, &passive_job);
        let passive_name = match case.direction {
            Direction::Push => "sink",
            Direction::Pull => "source",
        };
        if let Some(e) = passive.status()["jobs"][passive_name]["setup_error"].as_str() {
            return Err(format!("{PORT_TAKEN}: {e}"));
        }
        let sshd = match case.transport {
            Transport::Ssh => {
                let forced = format!(
                    "{} --config {} stdinserver {CLIENT}",
                    zferry_bin().display(),
                    passive.config.display()
                );
                match TestSshd::start(&passive.w().dir().join("ssh"), &forced) {
                    Some(sshd) => Some(sshd),
                    None => return Ok(None),
                }
            }
            _ => None,
        };
        let proxy = Proxy::start_opaque(sshd.as_ref().map_or(listen, |s| s.port));
        let connect = connect(
            case.transport,
            proxy.port(),
            tls.as_ref().map(|t| &t.0),
            sshd.as_ref().map(|s| s.client_key.as_path()),
        );
        let active_job = match case.direction {
            Direction::Push => format!(
                "  - name: push\n    type: push\n{connect}    filesystems:\n      \"{fs}\": true\n    snapshotting:\n      type: manual\n{PRUNING}{SLOW}"
            ),
            Direction::Pull => format!(
                "  - name: pull\n    type: pull\n{connect}    root_fs: {dst}/pulled\n    interval: manual\n{PRUNING}"
            ),
        };
        let active = Host::start(active_w, "active", "", &active_job);
        Ok(Some(Pair {
            direction: case.direction,
            active,
            passive,
            proxy,
            _sshd: sshd,
            fs: fs.to_string(),
            replica,
        }))
    }

    fn job(&self) -> &'static str {
        match self.direction {
            Direction::Push => "push",
            Direction::Pull => "pull",
        }
    }

    fn sender(&self) -> &World {
        match self.direction {
            Direction::Push => self.active.w(),
            Direction::Pull => self.passive.w(),
        }
    }

    fn receiver(&self) -> &World {
        match self.direction {
            Direction::Push => self.passive.w(),
            Direction::Pull => self.active.w(),
        }
    }

    fn sending_host(&mut self) -> &mut Host {
        match self.direction {
            Direction::Push => &mut self.active,
            Direction::Pull => &mut self.passive,
        }
    }

    fn receiving_host(&mut self) -> &mut Host {
        match self.direction {
            Direction::Push => &mut self.passive,
            Direction::Pull => &mut self.active,
        }
    }

    /// Whether the replica has `snap` (and no partial receive left).
    fn replicated(&self, snap: &str) -> bool {
        let w = self.receiver();
        w.snapshots(&self.replica).iter().any(|s| s == snap)
            && w.prop(&self.replica, "receive_resume_token") == "-"
    }

    /// Runs the active job until a run succeeds with the replica having `snap` (a few runs at
    /// most: a run interrupted by its peer's restart may fail before the next one succeeds). A
    /// run that succeeds is what the checks after it need: a step whose data arrived but whose
    /// confirmation to the sender was lost has its cursor moved by the lane's next run.
    fn converge(&self, snap: &str) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..4 {
            let succeeded = self.run_once()?;
            if succeeded && self.replicated(snap) {
                return Ok(());
            }
            last = format!("succeeded: {succeeded}");
        }
        Err(format!(
            "no run succeeded with @{snap} on the replica (has {:?}); last run: {last}",
            self.receiver().snapshots(&self.replica)
        ))
    }

    /// Runs the active job once (`signal wakeup --wait`, after the run under way if any) and
    /// says whether that run succeeded. Bounded: a run that cannot reach its peer waits for it
    /// for minutes (the reconnect deadline), and a case must fail rather than hang.
    fn run_once(&self) -> Result<bool, String> {
        let mut waiting = self
            .active
            .cli_command(&["signal", "wakeup", self.job(), "--wait"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("wakeup --wait: {e}"))?;
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            if let Some(status) = waiting.try_wait().map_err(|e| e.to_string())? {
                return Ok(status.success());
            }
            if Instant::now() > deadline {
                let _ = waiting.kill();
                let _ = waiting.wait();
                return Err(format!("a run of {} took over {RUN_TIMEOUT:?}", self.job()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wakes the active job up (in the background; queued behind a run under way).
    fn wake(&self) -> Result<(), String> {
        let out = self.active.cli(&["signal", "wakeup", self.job()]);
        if !out.status.success() {
            return Err(format!("wakeup: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }

    /// Waits until the receiving `zfs receive` has read [`INTERRUPT_AT`] new bytes of the step
    /// to `snap`: after the interruption at the sender's journal line `previous`, of the
    /// resumed stream (a resumed receive first reads the prefix it kept).
    fn until_receiving(&self, snap: &str, previous: Option<usize>) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut polls = 0u32;
        loop {
            let kept = match previous {
                None => Some(0),
                Some(mark) => resumed_send(self.sender(), mark).map(|(_, kept)| kept),
            };
            let read = receive_read(self.receiver());
            if let (Some(kept), Some(read)) = (kept, read)
                && read > kept + INTERRUPT_AT
            {
                return Ok(());
            }
            // Only now and then: each look costs two `zfs` runs, and polls must stay cheap.
            if polls % 20 == 19 && self.replicated(snap) {
                return Err("the step ended before the interruption".into());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "timed out waiting for the receive to read {INTERRUPT_AT} bytes more than the \
                     {kept:?} kept (read: {read:?})"
                ));
            }
            polls += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Interrupts the running step.
    fn interrupt(&mut self, how: Interruption) -> Result<(), String> {
        match how {
            Interruption::KillSendingDaemon => self.sending_host().kill9(),
            Interruption::KillReceivingDaemon => self.receiving_host().kill9(),
            Interruption::CutConnection => {
                if self.proxy.cut_all() == 0 {
                    return Err("no connection to cut".into());
                }
            }
            Interruption::Reset => {
                let out = self.active.cli(&["signal", "reset", self.job()]);
                if !out.status.success() {
                    return Err(format!(
                        "signal reset: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
            }
            Interruption::KillZfsSend => {
                let send = running(self.sender(), Invocation::is_streaming_send)
                    .ok_or("no zfs send running")?;
                kill(&send)?;
            }
            Interruption::KillZfsReceive => {
                let recv = running(self.receiver(), |i| i.command() == "receive")
                    .ok_or("no zfs receive running")?;
                kill(&recv)?;
            }
        }
        Ok(())
    }

    /// Brings a killed daemon back once the receive it interrupted has ended.
    fn recover(&mut self, how: Interruption) {
        let receiver_journal_settled =
            |w: &World| running(w, |i| i.command() == "receive").is_none();
        match how {
            Interruption::KillSendingDaemon => {
                wait_until(Duration::from_secs(60), "the receive ending", || {
                    receiver_journal_settled(self.receiver())
                });
                self.sending_host().spawn();
            }
            Interruption::KillReceivingDaemon => {
                wait_until(Duration::from_secs(60), "the receive ending", || {
                    receiver_journal_settled(self.receiver())
                });
                self.receiving_host().spawn();
            }
            _ => {}
        }
    }
}

/// SIGKILLs the process of `what`.
fn kill(what: &Invocation) -> Result<(), String> {
    let pid = rustix::process::Pid::from_raw(what.pid as i32).ok_or("pid 0")?;
    rustix::process::kill_process(pid, rustix::process::Signal::KILL)
        .map_err(|e| format!("kill zfs {}: {e}", what.command()))
}

/// The newest invocation on `w` that matches and is still running.
fn running(w: &World, matches: impl Fn(&Invocation) -> bool) -> Option<Invocation> {
    let journal = w.journal().expect("a simulator world has a journal");
    journal
        .invocations()
        .into_iter()
        .rev()
        .find(|i| matches(i) && i.is_running())
}

/// Bytes read so far by the running `zfs receive` on `w` (its `rchar`).
fn receive_read(w: &World) -> Option<u64> {
    let recv = running(w, |i| i.command() == "receive")?;
    let io = std::fs::read_to_string(format!("/proc/{}/io", recv.pid)).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
}

/// Runs `zfs send -n -v -P args` on the sending world and returns its stdout.
fn dry_run(sender: &World, args: &[&str]) -> Result<String, String> {
    let out = sender.zfs(&[&["send", "-n", "-v", "-P"], args].concat());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "zfs send -nvP {}: {text}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(text)
}

/// What is left of the interrupted step `step` (its `zfs send` as the journal has it) after the
/// receiver kept part of it as `token`, from dry runs on the sending world: the rest of the
/// token's stream (`zfs send -nvP -t`), plus, for a `-I` step interrupted before its last
/// snapshot, the sub-streams of the snapshots after the token's.
fn remaining(sender: &World, token: &str, step: &Invocation) -> Result<u64, String> {
    let size = |text: &str| {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix("size\t"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("no size in {text:?}"))
    };
    let rest_of_token = size(&dry_run(sender, &["-t", token])?)?;
    let to = zferry_zfs::decode_resume_token(token)
        .map_err(|e| format!("the resumed send's token: {e}"))?
        .to_name;
    let args: Vec<&str> = step.argv.iter().skip(2).map(String::as_str).collect();
    let later: u64 = dry_run(sender, &args)?
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3 && (f[0] == "full" || f[0] == "incremental"))
        .skip_while(|f| f[f.len() - 2] != to)
        .skip(1)
        .filter_map(|f| f[f.len() - 1].parse::<u64>().ok())
        .sum();
    Ok(rest_of_token + later)
}

/// The streaming `zfs send`s on `sender` started at or after its journal line `mark`.
fn sends_since(sender: &World, mark: usize) -> Vec<Invocation> {
    sender
        .journal()
        .expect("journal")
        .since(mark)
        .into_iter()
        .filter(Invocation::is_streaming_send)
        .collect()
}

/// The `zfs send` that started the interrupted step: the last streaming, not resuming, send
/// before journal line `mark`.
fn interrupted_step(sender: &World, mark: usize) -> Option<Invocation> {
    sender
        .journal()
        .expect("journal")
        .invocations()
        .into_iter()
        .rfind(|i| i.line < mark && i.is_streaming_send() && i.resume_token().is_none())
}

/// The first streaming send after journal line `mark` if it resumes: its token and the bytes
/// the receiver kept (the token's `bytes`).
fn resumed_send(sender: &World, mark: usize) -> Option<(String, u64)> {
    let token = sends_since(sender, mark)
        .first()?
        .resume_token()?
        .to_string();
    let kept = zferry_zfs::decode_resume_token(&token).ok()?.bytes;
    Some((token, kept))
}

/// Reads the facts of a case from the two worlds: `marks` are the lengths of the sender's
/// journal at the interruptions.
fn facts(pair: &Pair, marks: &[usize]) -> Result<Facts, String> {
    let last = *marks.last().expect("at least one interruption");
    let sends = sends_since(pair.sender(), last);
    let aborted = pair
        .receiver()
        .journal()
        .expect("journal")
        .invocations()
        .iter()
        .any(|i| i.command() == "receive" && i.has_option('A'));
    let mut f = Facts {
        sent_after: sends
            .iter()
            .map(|s| s.end.and_then(|e| e.sent).unwrap_or(0))
            .sum(),
        aborted,
        ..Facts::default()
    };
    if let Some((token, kept)) = resumed_send(pair.sender(), last) {
        f.resumed = marks
            .iter()
            .all(|&m| resumed_send(pair.sender(), m).is_some());
        f.kept = kept;
        let step = interrupted_step(pair.sender(), marks[0])
            .ok_or("no zfs send of the step before the interruption")?;
        f.remaining = remaining(pair.sender(), &token, &step)?;
    }
    Ok(f)
}

/// After the step to `snap` completed, zferry's abstractions point at it and nothing of the
/// interrupted attempts is left: on the sender one cursor bookmark (on `snap`), no tentative
/// cursor and no step hold; on the receiver the last-received hold on `snap` only.
fn abstractions_moved_on(pair: &Pair, snap: &str) -> Result<(), String> {
    let (sw, rw) = (pair.sender(), pair.receiver());
    let guid = sw.guid(&format!("{}@{snap}", pair.fs));
    let ours = |kind: &str| format!("zferry_{kind}_");
    let bookmarks: Vec<String> = sw
        .bookmarks(&pair.fs)
        .into_iter()
        .filter(|b| b.starts_with("zferry_"))
        .collect();
    let cursor = format!("{}{guid:016x}_", ours("C"));
    if bookmarks.len() != 1 || !bookmarks[0].starts_with(&cursor) {
        return Err(format!(
            "the sender's bookmarks are not one cursor on @{snap}: {bookmarks:?}"
        ));
    }
    for s in sw.snapshots(&pair.fs) {
        let holds = sw.holds(&format!("{}@{s}", pair.fs));
        if let Some(h) = holds.iter().find(|h| h.starts_with(&ours("S"))) {
            return Err(format!("a step hold is left on the sender's @{s}: {h}"));
        }
    }
    let last_received = format!("{}{guid:016x}_", ours("R"));
    for s in rw.snapshots(&pair.replica) {
        let holds: Vec<String> = rw
            .holds(&format!("{}@{s}", pair.replica))
            .into_iter()
            .filter(|h| h.starts_with(&ours("R")))
            .collect();
        let expected = s == snap;
        if holds.len() != usize::from(expected)
            || (expected && !holds[0].starts_with(&last_received))
        {
            return Err(format!(
                "last-received holds on the replica's @{s}: {holds:?}"
            ));
        }
    }
    Ok(())
}

/// Writes `size` bytes of new data for the step to interrupt, replicating its base first (not
/// for a full step), and returns the snapshot the step ends with.
fn prepare_step(pair: &Pair, step: Step, size: usize) -> Result<&'static str, String> {
    let (w, fs) = (pair.sender(), pair.fs.as_str());
    if step != Step::Full {
        w.snap(fs, "s1");
        pair.converge("s1")?;
    }
    Ok(match step {
        Step::Full | Step::Incremental => {
            let snap = if step == Step::Full { "s1" } else { "s2" };
            w.write(fs, "big.bin", &data(2, size));
            w.snap(fs, snap);
            snap
        }
        Step::Backlog => {
            w.write(fs, "big.bin", &data(2, size / 2));
            w.snap(fs, "s2");
            w.write(fs, "more.bin", &data(3, size / 2));
            w.snap(fs, "s3");
            "s3"
        }
    })
}

/// Runs one case: sets up, replicates the base (incremental case), starts the step, interrupts
/// it once the receiver has read [`INTERRUPT_AT`] bytes (and the resumed step again, as often as
/// the case says), recovers, converges, and reads the facts.
fn run_case(case: Case) -> Result<Option<Facts>, String> {
    let mut missed = 0;
    loop {
        match run_case_once(case) {
            Err(e)
                if (e.starts_with(MISSED) || e.starts_with(PORT_TAKEN)) && missed < MAX_MISSED =>
            {
                missed += 1
            }
            r => return r.map(|f| f.map(|f| Facts { missed, ..f })),
        }
    }
}

/// Why a case is set up again: the step had been sent completely before the interruption took
/// effect (nothing streamed after it), so there was nothing to resume and nothing to judge. On a
/// loaded machine a daemon or the path between the hosts can buffer the rest of a step before
/// the interruption lands.
const MISSED: &str = "the interruption landed after the whole step had been sent";
/// Why a case is set up again: the passive daemon could not listen on the port chosen for it
/// (free when chosen, taken by someone else before the daemon bound it).
const PORT_TAKEN: &str = "the passive daemon's port was taken";
/// How often a case may be set up again before it fails.
const MAX_MISSED: u32 = 2;

/// One try of [`run_case`].
fn run_case_once(case: Case) -> Result<Option<Facts>, String> {
    let (a, b) = (World::new(), World::new());
    let src = a.create_pool("src");
    let dst = b.create_pool("dst");
    // The receiving job's root_fs must exist (zferry does not create it).
    let root = match case.direction {
        Direction::Push => "sink",
        Direction::Pull => "pulled",
    };
    b.create(&format!("{dst}/{root}"));
    let fs = format!("{src}/data");
    a.create(&fs);
    a.write(&fs, "small.bin", &data(1, 20_000));
    let Some(mut pair) = Pair::start(&case, a, b, &fs, &dst)? else {
        return Ok(None);
    };
    match drive(&mut pair, case) {
        Ok(f) if f.passed() => Ok(Some(f)),
        Ok(f) => Err(format!("{f:?}\n{}", diagnostics(&pair))),
        Err(e) => Err(format!("{e}\n{}", diagnostics(&pair))),
    }
}

/// Runs `case` on `pair` (see [`run_case`]).
fn drive(pair: &mut Pair, case: Case) -> Result<Facts, String> {
    let fs = pair.fs.clone();
    let size = match case.interruptions.first() {
        Some(Interruption::KillZfsSend) => SIZE_KILLED_SEND,
        Some(Interruption::Reset) => SIZE_RESET,
        _ => SIZE,
    } + SIZE_PER_MORE_INTERRUPTION * (case.interruptions.len() - 1);
    let snap = prepare_step(pair, case.step, size)?;
    pair.wake()?;
    let mut marks = Vec::new();
    for &how in case.interruptions {
        if !marks.is_empty() {
            // A job whose run ended (reset, restarted daemon) runs again; one retrying runs on.
            pair.wake()?;
        }
        pair.until_receiving(snap, marks.last().copied())?;
        marks.push(pair.sender().journal().expect("journal").len());
        pair.interrupt(how)?;
        pair.recover(how);
    }
    pair.converge(snap)?;
    if sends_since(pair.sender(), *marks.last().expect("an interruption")).is_empty() {
        return Err(MISSED.into());
    }
    let (sw, rw) = (pair.sender(), pair.receiver());
    let snapshots = sw.snapshots(&fs);
    if rw.snapshots(&pair.replica) != snapshots
        || snapshots
            .iter()
            .any(|s| sw.guid(&format!("{fs}@{s}")) != rw.guid(&format!("{}@{s}", pair.replica)))
    {
        return Err(format!(
            "the replica's snapshots {:?} are not the sender's {snapshots:?}",
            rw.snapshots(&pair.replica)
        ));
    }
    rw.mount(&pair.replica);
    if rw.checksum(&pair.replica) != sw.checksum(&pair.fs) {
        return Err("the replica's data differs".into());
    }
    abstractions_moved_on(pair, snap)?;
    for w in [sw, rw] {
        let left = w.sim_scratch();
        if !left.is_empty() {
            return Err(format!("scratch trees left in the simulator: {left:?}"));
        }
        if let Some(stuck) = running(w, |_| true) {
            return Err(format!("a zfs command is still running: {:?}", stuck.argv));
        }
    }
    facts(pair, &marks)
}

/// What to look at when a case fails: the sender's `zfs send`s and the receiver's
/// `zfs receive`s (arguments, with tokens shortened, and how each ended) and the warnings and
/// errors of both daemons.
fn diagnostics(pair: &Pair) -> String {
    let mut out = String::new();
    let worlds = [
        ("sender", pair.sender(), "send"),
        ("receiver", pair.receiver(), "receive"),
    ];
    for (side, w, command) in worlds {
        out.push_str(&format!("  zfs {command} on the {side}:\n"));
        let journal = w.journal().expect("journal");
        for i in journal
            .invocations()
            .iter()
            .filter(|i| i.command() == command)
        {
            let args: Vec<String> = i.argv[2..]
                .iter()
                .map(|a| match a.get(..24) {
                    Some(head) if a.len() > 40 => format!("{head}..."),
                    _ => a.clone(),
                })
                .collect();
            out.push_str(&format!(
                "    line {} pid {} {}: {:?}\n",
                i.line,
                i.pid,
                args.join(" "),
                i.end
            ));
        }
    }
    for host in [&pair.active, &pair.passive] {
        out.push_str(&format!("  warnings and errors of {}:\n", host.name));
        let log = host.log_text();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| {
                l.contains("level=warn") || l.contains("level=error") || l.contains("error=")
            })
            .collect();
        for l in &lines[lines.len().saturating_sub(20)..] {
            out.push_str(&format!("    {l}\n"));
        }
    }
    out
}

/// The twelve cases of `transport` and `direction`: every interruption, full and incremental.
fn matrix(transport: Transport, direction: Direction) -> Vec<Case> {
    INTERRUPTIONS
        .iter()
        .flat_map(|&interruptions| {
            [Step::Full, Step::Incremental].map(|step| Case {
                transport,
                direction,
                interruptions,
                step,
            })
        })
        .collect()
}

/// Runs `cases` at once, prints their rows of the matrix (case | resumed | `-A` | kept |
/// remaining | sent after | sent after / remaining | wall time), and fails unless every case
/// resumed.
fn run_all(cases: &[Case]) {
    if World::new().journal().is_none() {
        println!(
            "SKIPPED: the resume matrix reads the simulator's journals (a simulator-tier suite)"
        );
        return;
    }
    let results: Vec<(Case, Duration, Result<Option<Facts>, String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&case| {
                s.spawn(move || {
                    let t = Instant::now();
                    let r = run_case(case);
                    (t.elapsed(), r)
                })
            })
            .collect();
        cases
            .iter()
            .zip(handles)
            .map(|(&case, h)| {
                let (t, r) = h
                    .join()
                    .unwrap_or_else(|_| (Duration::ZERO, Err("panicked".into())));
                (case, t, r)
            })
            .collect()
    });
    let mut failed = Vec::new();
    for (case, took, r) in &results {
        let row = match r {
            Ok(None) => {
                println!("{} skipped (no sshd installed) |", case.label());
                continue;
            }
            Ok(Some(f)) => format!(
                "{} yes | no -A | {} | {} | {} | {:.4} | {:.1} s{} |",
                case.label(),
                f.kept,
                f.remaining,
                f.sent_after,
                f.sent_after as f64 / f.remaining.max(1) as f64,
                took.as_secs_f64(),
                match f.missed {
                    0 => String::new(),
                    n => format!(" (set up {} times)", n + 1),
                }
            ),
            Err(e) => {
                failed.push(format!("{}\n{e}", case.label()));
                format!(
                    "{} NO: {} |",
                    case.label(),
                    e.lines().next().unwrap_or_default()
                )
            }
        };
        println!("{row}");
    }
    assert!(
        failed.is_empty(),
        "cases that did not resume:\n{}",
        failed.join("\n")
    );
}

#[test]
fn tcp_push() {
    run_all(&matrix(Transport::Tcp, Direction::Push));
}

#[test]
fn tcp_pull() {
    run_all(&matrix(Transport::Tcp, Direction::Pull));
}

#[test]
fn tls_push() {
    run_all(&matrix(Transport::Tls, Direction::Push));
}

#[test]
fn tls_pull() {
    run_all(&matrix(Transport::Tls, Direction::Pull));
}

#[test]
fn ssh_push() {
    run_all(&matrix(Transport::Ssh, Direction::Push));
}

#[test]
fn ssh_pull() {
    run_all(&matrix(Transport::Ssh, Direction::Pull));
}

/// A `-I` step over two snapshots interrupted within the first, in both directions (the
/// planner's part, the same for every transport, runs over tcp): the resume completes the first
/// snapshot, an incremental step sends the second, and nothing is sent twice.
#[test]
fn backlog_steps_resume_within_their_first_snapshot() {
    let cases: Vec<Case> = [Direction::Push, Direction::Pull]
        .into_iter()
        .flat_map(|direction| {
            INTERRUPTIONS.map(|interruptions| Case {
                transport: Transport::Tcp,
                direction,
                interruptions,
                step: Step::Backlog,
            })
        })
        .collect();
    run_all(&cases);
}

/// Every transport and direction, a full step cut and then, while it resumes, its sending
/// daemon killed: the second resume continues from the newer token.
#[test]
fn twice_interrupted_steps_resume_from_the_newest_token() {
    let cases: Vec<Case> = [Transport::Tcp, Transport::Tls, Transport::Ssh]
        .into_iter()
        .flat_map(|transport| {
            [Direction::Push, Direction::Pull].map(|direction| Case {
                transport,
                direction,
                interruptions: TWICE,
                step: Step::Full,
            })
        })
        .collect();
    run_all(&cases);
}
