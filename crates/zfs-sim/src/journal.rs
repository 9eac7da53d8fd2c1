//! The invocation journal, `$ZFS_SIM_DIR/journal`: one line per `zfs`/`zpool` invocation when it
//! starts (pid and argv) and one when it ends (exit status; for `zfs send`, the stream bytes it
//! wrote to stdout). An invocation killed by a signal (or one that panicked) has a start line and
//! no end line.
//!
//! It exists for tests that must see what happened inside one host's ZFS world without relying on
//! the product's own account of it: how many bytes a `zfs send` really wrote after an interruption
//! (did the next run resume or send everything again?), whether anyone ran `zfs receive -A` on the
//! receiving world, which process is the `zfs send` to kill.
//!
//! ```text
//! <pid>\tstart\t<argv[0]>\t<argv[1]>...      argv escaped: \\ \t \n
//! <pid>\tend\texit=<code>                    every other command
//! <pid>\tend\texit=<code>\tsent=<bytes>      zfs send (bytes that reached stdout; 0 for -n)
//! ```
//!
//! The journal is opt-in: it is written only where the file already exists ([`enable`] creates
//! it), so a long-running `zferry demo` world does not grow a log nobody reads. Each line is
//! written with one `write(2)` on a file opened with `O_APPEND`, so lines of concurrent
//! invocations never interleave. It is best effort: a command never fails because its line could
//! not be written.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sim::SIM_DIR_ENV;

/// File name of the journal in the state directory.
pub const FILE: &str = "journal";

/// This invocation's argv, as recorded by [`started`].
static ARGV: OnceLock<Vec<String>> = OnceLock::new();
/// Stream bytes written to stdout so far by this invocation (see [`Counted`]).
static STREAM_BYTES: AtomicU64 = AtomicU64::new(0);

/// What one journal line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The invocation started with this argv.
    Start {
        /// The full argv, `argv[0]` included.
        argv: Vec<String>,
    },
    /// The invocation ended (normally or with an error, never by a signal).
    End(End),
}

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// Its exit code.
    pub exit: u8,
    /// For `zfs send`: the stream bytes it wrote to stdout.
    pub sent: Option<u64>,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The process id of the invocation.
    pub pid: u32,
    /// What happened.
    pub event: Event,
}

/// Starts journaling in the state directory `dir` (creates the empty journal if there is none).
pub fn enable(dir: &Path) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(FILE))
        .map(drop)
}

/// Records the start of this invocation (call first thing in `main`).
pub fn started() {
    let argv: Vec<String> = std::env::args().collect();
    let mut line = format!("{}\tstart", std::process::id());
    for a in &argv {
        line.push('\t');
        line.push_str(&escape(a));
    }
    append(&line);
    let _ = ARGV.set(argv);
}

/// Records the end of this invocation with its exit code (and, for `zfs send`, the stream bytes).
pub fn finished(exit: u8) {
    let mut line = format!("{}\tend\texit={exit}", std::process::id());
    if ARGV.get().is_some_and(|a| is_send(a)) {
        line.push_str(&format!("\tsent={}", STREAM_BYTES.load(Ordering::Relaxed)));
    }
    append(&line);
}

/// Whether `argv` is a `zfs send`.
fn is_send(argv: &[String]) -> bool {
    let program = argv
        .first()
        .map(|p| Path::new(p).file_name().unwrap_or_default())
        .unwrap_or_default();
    program == "zfs" && argv.get(1).is_some_and(|c| c == "send")
}

/// Appends `line` to the journal of `$ZFS_SIM_DIR`.
fn append(line: &str) {
    if let Some(dir) = std::env::var_os(SIM_DIR_ENV).filter(|d| !d.is_empty()) {
        append_to(Path::new(&dir), line);
    }
}

/// Appends `line` and a newline to the journal in `dir` in one `write(2)`, if the journal
/// exists.
fn append_to(dir: &Path, line: &str) {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    if let Ok(mut f) = OpenOptions::new().append(true).open(dir.join(FILE)) {
        // One write: with O_APPEND the kernel places it at the end atomically; a regular file
        // takes it whole (a short write would need a full disk, and then the journal is moot).
        let _ = f.write(&buf);
    }
}

/// A writer counting the bytes that `inner` accepted, for the `sent=` of `zfs send`'s end line.
/// Put it directly around stdout (beneath any buffer), so buffered bytes that never reached the
/// pipe are not counted.
pub struct Counted<W: Write>(pub W);

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(buf)?;
        STREAM_BYTES.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// One invocation as the journal tells it: its start line and, unless it was killed (or is
/// still running), its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Index of its start line among the journal's entries (compare with [`Journal::len`]
    /// taken earlier to tell what started after a given moment).
    pub line: usize,
    /// Its process id.
    pub pid: u32,
    /// The full argv, `argv[0]` included.
    pub argv: Vec<String>,
    /// Its end; `None` while it runs, or for good when a signal killed it.
    pub end: Option<End>,
}

impl Invocation {
    /// The subcommand (`send`, `receive`, ...).
    pub fn command(&self) -> &str {
        self.argv.get(1).map(String::as_str).unwrap_or("")
    }

    /// Whether an option group among its arguments (`-nvP`, `-A`) holds the option letter `c`.
    /// Arguments that start with `-` are taken for option groups; the simulator's and zferry's
    /// operands (datasets, tokens, `@snap`) never do.
    pub fn has_option(&self, c: char) -> bool {
        self.argv
            .iter()
            .skip(2)
            .filter(|a| a.len() > 1 && a.starts_with('-') && !a.starts_with("--"))
            .any(|a| a[1..].contains(c))
    }

    /// For a `zfs send -t TOKEN`: the token.
    pub fn resume_token(&self) -> Option<&str> {
        let i = self.argv.iter().position(|a| a == "-t")?;
        self.argv.get(i + 1).map(String::as_str)
    }

    /// Whether it is still running: it has no end line and its process exists (one killed by a
    /// signal never gets an end line).
    pub fn is_running(&self) -> bool {
        self.end.is_none() && crate::state::process_exists(self.pid)
    }

    /// Whether it is a `zfs send` that writes a stream (not a `-n` dry run).
    pub fn is_streaming_send(&self) -> bool {
        self.command() == "send" && !self.has_option('n')
    }
}

/// A journal as read from a state directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journal {
    /// Its lines in order (lines that do not parse are skipped).
    pub entries: Vec<Entry>,
}

impl Journal {
    /// Reads the journal of the state directory `dir` (empty when there is none).
    pub fn read(dir: &Path) -> Journal {
        Journal {
            entries: std::fs::read_to_string(dir.join(FILE))
                .unwrap_or_default()
                .lines()
                .filter_map(parse)
                .collect(),
        }
    }

    /// The number of lines: a mark to select what started after now ([`Journal::since`]).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was journaled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every invocation, in the order they started. A start line is paired with the next end
    /// line of the same pid; a second start of that pid before any end means the first was
    /// killed and its pid reused.
    pub fn invocations(&self) -> Vec<Invocation> {
        let mut out: Vec<Invocation> = Vec::new();
        let mut open: std::collections::HashMap<u32, usize> = Default::default();
        for (line, e) in self.entries.iter().enumerate() {
            match &e.event {
                Event::Start { argv } => {
                    open.insert(e.pid, out.len());
                    out.push(Invocation {
                        line,
                        pid: e.pid,
                        argv: argv.clone(),
                        end: None,
                    });
                }
                Event::End(end) => {
                    if let Some(i) = open.remove(&e.pid) {
                        out[i].end = Some(*end);
                    }
                }
            }
        }
        out
    }

    /// The invocations that started at or after line `mark` (an earlier [`Journal::len`]).
    pub fn since(&self, mark: usize) -> Vec<Invocation> {
        self.invocations()
            .into_iter()
            .filter(|i| i.line >= mark)
            .collect()
    }
}

/// Parses one line.
pub fn parse(line: &str) -> Option<Entry> {
    let mut fields = line.split('\t');
    let pid = fields.next()?.parse().ok()?;
    let event = match fields.next()? {
        "start" => Event::Start {
            argv: fields.map(unescape).collect(),
        },
        "end" => {
            let exit = fields.next()?.strip_prefix("exit=")?.parse().ok()?;
            let sent = match fields.next() {
                Some(f) => Some(f.strip_prefix("sent=")?.parse().ok()?),
                None => None,
            };
            Event::End(End { exit, sent })
        }
        _ => return None,
    };
    Some(Entry { pid, event })
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_line(pid: u32, argv: &[&str]) -> String {
        let mut line = format!("{pid}\tstart");
        for a in argv {
            line.push('\t');
            line.push_str(&escape(a));
        }
        line
    }

    fn journal(lines: &[String]) -> Journal {
        Journal {
            entries: lines.iter().filter_map(|l| parse(l)).collect(),
        }
    }

    #[test]
    fn lines_round_trip_with_awkward_arguments() {
        let argv = ["/x/zfs", "set", "a:b=tab\there", "new\nline", "back\\slash"];
        let line = start_line(42, &argv);
        assert!(!line.contains('\n'));
        let e = parse(&line).expect("parses");
        assert_eq!(e.pid, 42);
        assert_eq!(
            e.event,
            Event::Start {
                argv: argv.iter().map(|s| s.to_string()).collect()
            }
        );
        assert_eq!(
            parse("42\tend\texit=1\tsent=1000").unwrap().event,
            Event::End(End {
                exit: 1,
                sent: Some(1000)
            })
        );
        assert_eq!(
            parse("7\tend\texit=0").unwrap().event,
            Event::End(End {
                exit: 0,
                sent: None
            })
        );
        assert_eq!(parse("7\tend\tsent=3"), None);
        assert_eq!(parse("garbage"), None);
    }

    #[test]
    fn send_is_recognised_by_program_and_command() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_send(&v(&["/t/debug/zfs", "send", "p/a@s"])));
        assert!(!is_send(&v(&["/t/debug/zfs", "receive", "send"])));
        assert!(!is_send(&v(&["/t/debug/zpool", "send"])));
    }

    #[test]
    fn counted_counts_what_the_inner_writer_took() {
        struct Half(Vec<u8>);
        impl Write for Half {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().div_ceil(2);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let before = STREAM_BYTES.load(Ordering::Relaxed);
        let mut w = Counted(Half(Vec::new()));
        w.write_all(&[7u8; 1001]).unwrap();
        assert_eq!(w.0.0.len(), 1001);
        assert_eq!(STREAM_BYTES.load(Ordering::Relaxed) - before, 1001);
    }

    #[test]
    fn invocations_pair_starts_with_ends_and_show_the_killed() {
        let j = journal(&[
            start_line(10, &["zfs", "send", "-n", "-v", "-P", "p/a@s"]),
            start_line(11, &["zfs", "send", "-w", "p/a@s"]),
            "10\tend\texit=0\tsent=0".into(),
            // 11 is SIGKILLed (no end line); its pid comes back for a receive -A.
            start_line(11, &["zfs", "receive", "-A", "q/a"]),
            "11\tend\texit=0".into(),
            start_line(12, &["zfs", "send", "-t", "1-abc-2-789c"]),
            "12\tend\texit=0\tsent=500".into(),
        ]);
        let all = j.invocations();
        assert_eq!(all.len(), 4);
        assert!(!all[0].is_streaming_send(), "a dry run");
        assert!(all[1].is_streaming_send());
        assert_eq!(all[1].end, None, "killed");
        assert_eq!(all[2].command(), "receive");
        assert!(all[2].has_option('A'));
        assert!(!all[1].has_option('A'));
        assert_eq!(
            all[2].end,
            Some(End {
                exit: 0,
                sent: None
            })
        );
        assert_eq!(all[3].resume_token(), Some("1-abc-2-789c"));
        assert_eq!(all[3].end.and_then(|e| e.sent), Some(500));
        let later = j.since(3);
        assert_eq!(
            later.iter().map(|i| i.pid).collect::<Vec<_>>(),
            [11, 12],
            "what started from line 3 on"
        );
    }

    #[test]
    fn running_means_no_end_line_and_a_live_process() {
        let me = std::process::id();
        let j = journal(&[start_line(me, &["zfs", "receive", "q/a"])]);
        assert!(j.invocations()[0].is_running(), "this very process");
        let j = journal(&[
            start_line(me, &["zfs", "receive", "q/a"]),
            format!("{me}\tend\texit=0"),
        ]);
        assert!(!j.invocations()[0].is_running(), "ended");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let j = journal(&[start_line(child.id(), &["zfs", "send", "p/a@s"])]);
        assert!(!j.invocations()[0].is_running(), "gone without an end line");
    }

    #[test]
    fn nothing_is_written_until_the_journal_is_enabled() {
        let t = tempfile::tempdir().unwrap();
        append_to(t.path(), "1\tend\texit=0");
        assert!(Journal::read(t.path()).is_empty());
        assert!(!t.path().join(FILE).exists());
        enable(t.path()).unwrap();
        append_to(t.path(), "1\tend\texit=0");
        enable(t.path()).unwrap();
        assert_eq!(
            Journal::read(t.path()).len(),
            1,
            "enable keeps what is there"
        );
    }
}
