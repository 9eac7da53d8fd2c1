//! Interrupted `zfs recv -s`: what a receive leaves behind when its stream is cut at several
//! offsets, by end of input or by SIGKILL while `zfs recv` is blocked reading, and that the
//! resume token it leaves completes the receive with `zfs send -t`.
//!
//! The stream is captured first and a prefix of it fed to `zfs recv -s`, so every cut is at an
//! exact offset. Both tiers' streams start with a 312-byte begin record and end with a 312-byte
//! end record (the simulator pads its records to OpenZFS's `dmu_replay_record_t`).
//!
//! Measured on OpenZFS 2.3.2, the same by end of input and by SIGKILL: nothing is kept until
//! the begin record and one more record header (312 bytes) have arrived; from then on a token
//! is kept whose `bytes` count the stream after the begin record up to the last record applied
//! (0 before any), and an incremental never touches the existing dataset.

use std::io::Write;
use std::process::{Child, Output, Stdio};

use crate::common::Env;
use zferry_zfs::{DatasetPath, ReceiveOptions, SendRequest};

/// Size of the begin and of the end record of a stream without a payload.
const RECORD: usize = 312;

/// How the receive is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Stdin reaches its end after the prefix.
    Eof,
    /// The prefix is written, `zfs recv` has read all of it and waits for more: SIGKILL.
    Kill,
}

/// The offsets a stream of `len` bytes is cut at, with what the cut is named in failures.
fn cuts(len: usize) -> [(&'static str, usize); 7] {
    [
        ("inside the begin record", 100),
        ("just after the begin record", RECORD),
        ("inside the first record header", RECORD + 200),
        ("after the first record header", 2 * RECORD),
        ("after a third", len / 3),
        ("after two thirds", 2 * len / 3),
        ("before the end record", len - RECORD),
    ]
}

/// Source `src` with six files at s1; s2 changes three and adds three (each 100 kB, so both
/// tiers' streams carry several data records). Receiver root `dst`, with `atime=off` so that
/// reading the received files to compare them does not count as a change (`written`).
async fn fixture(env: &Env) -> DatasetPath {
    let src = env.create("src").await;
    let dst = env.create("dst").await;
    env.zfs_ok(&["set", "atime=off", dst.as_str()]);
    for i in 0..6 {
        env.write(&src, &format!("f{i}"), 100_000, i);
    }
    env.snapshot("src", "s1").await;
    for i in 3..9 {
        env.write(&src, &format!("f{i}"), 100_000, 100 + i);
    }
    env.snapshot("src", "s2").await;
    src
}

/// The bytes of `zfs send args`.
fn stream(env: &Env, args: &[&str]) -> Vec<u8> {
    let bytes = env.send_bytes(args);
    assert!(bytes.len() > 3 * RECORD, "stream of {args:?} too short");
    bytes
}

/// Feeds `bytes` to `zfs recv -s target`, then stops it as `stop` says; returns its output.
fn feed(env: &Env, target: &str, bytes: &[u8], stop: Stop) -> Output {
    let mut child = env
        .t
        .command(env.t.zfs_bin())
        .args(["recv", "-s", target])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zfs recv");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Err(e) = stdin.write_all(bytes) {
        // A receive that gave up early (a cut begin record) closed its end: that is its answer.
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "write stream: {e}"
        );
    }
    if stop == Stop::Kill {
        wait_blocked_reading(&mut child);
        child.kill().expect("SIGKILL zfs recv");
    }
    drop(stdin);
    child.wait_with_output().expect("wait for zfs recv")
}

/// Waits until `child` sleeps reading its (empty) stdin pipe. The whole prefix is in the pipe
/// before this is called, so a reader asleep in `pipe_read` has consumed all of it (real ZFS
/// reads the stream in the kernel, inside the receive ioctl, and sleeps there the same way).
fn wait_blocked_reading(child: &mut Child) {
    let wchan = format!("/proc/{}/wchan", child.id());
    for _ in 0..6000 {
        if let Some(status) = child.try_wait().expect("poll zfs recv") {
            panic!("zfs recv exited ({status}) before it could be killed");
        }
        let at = std::fs::read_to_string(&wchan).unwrap_or_default();
        if at.ends_with("pipe_read") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("zfs recv never blocked reading its stream");
}

/// `receive_resume_token` of `ds`, `None` for `-` or when `ds` does not exist.
fn token(env: &Env, ds: &str) -> Option<String> {
    let out = env
        .t
        .zfs(&["get", "-H", "-o", "value", "receive_resume_token", ds]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        assert!(
            stderr.contains("dataset does not exist"),
            "get token: {stderr}"
        );
        return None;
    }
    let v = String::from_utf8_lossy(&out.stdout);
    let v = v.trim_end_matches('\n');
    (v != "-").then(|| v.to_string())
}

/// True when `ds` exists.
fn exists(env: &Env, ds: &str) -> bool {
    env.t
        .zfs(&["list", "-H", "-o", "name", ds])
        .status
        .success()
}

/// Every snapshot in the pool.
fn snapshots(env: &Env) -> String {
    env.zfs_ok(&[
        "list", "-H", "-t", "snapshot", "-o", "name", "-r", &env.pool,
    ])
}

/// The `bytes` field of a token, as `zfs send -nvt` on the sending side prints it.
fn token_bytes(env: &Env, token: &str) -> u64 {
    let out = env.t.zfs(&["send", "-nvt", token]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "zfs send -nvt: {text}");
    let hex = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("bytes = 0x"))
        .unwrap_or_else(|| panic!("no bytes in: {text}"));
    u64::from_str_radix(hex, 16).expect("hex bytes")
}

/// Resumes the receive into `target` with `zfs send -t token | zfs recv -s`.
async fn resume(env: &Env, token: String, target: &DatasetPath) {
    let opts = ReceiveOptions {
        resumable: true,
        ..ReceiveOptions::default()
    };
    env.transfer(&SendRequest::Resume { token }, target, &opts, None)
        .await
        .expect("resumed receive completes");
}

/// What `zfs recv -s` prints when its stream ends at `cut`, too early to keep anything.
fn nothing_kept(cut: usize, target: &DatasetPath, full: bool) -> String {
    if cut < RECORD {
        "cannot receive: failed to read from stream".into()
    } else if full {
        format!(
            "cannot open '{target}': dataset does not exist\n\
             cannot receive new filesystem stream: invalid backup stream"
        )
    } else {
        "cannot receive incremental stream: incomplete stream".into()
    }
}

/// What an interrupted receive must have kept (a token exactly when the cut is past the first
/// record header), and that the token completes it; returns whether a token was kept.
async fn check_kept(
    env: &Env,
    src: &DatasetPath,
    target: &DatasetPath,
    (what, cut): (&str, usize),
    stop: Stop,
    out: &Output,
) -> bool {
    let case = format!("{stop:?} {what} (byte {cut})");
    let full = !exists(env, &format!("{target}@s1"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{case}: zfs recv succeeded: {stderr}"
    );
    let kept = token(env, target.as_str());
    assert_eq!(kept.is_some(), cut >= 2 * RECORD, "{case}: token kept");
    if stop == Stop::Eof {
        let expected = match &kept {
            Some(tok) => format!(
                "cannot receive {} stream: checksum mismatch or incomplete stream.\n\
                 Partially received snapshot is saved.\n\
                 A resuming stream can be generated on the sending system by running:\n    \
                 zfs send -t {tok}",
                if full {
                    "new filesystem"
                } else {
                    "incremental"
                }
            ),
            None => nothing_kept(cut, target, full),
        };
        assert_eq!(stderr.trim_end(), expected, "{case}: message");
    }
    let Some(tok) = kept else {
        return false;
    };
    let bytes = token_bytes(env, &tok);
    if cut == 2 * RECORD {
        assert_eq!(bytes, 0, "{case}: nothing applied yet");
    } else {
        assert!(
            bytes > 0 && bytes + RECORD as u64 <= cut as u64,
            "{case}: token reports {bytes} bytes after the begin record"
        );
    }
    resume(env, tok, target).await;
    assert_eq!(
        token(env, target.as_str()),
        None,
        "{case}: token after resume"
    );
    assert_eq!(env.checksum(src), env.checksum(target), "{case}: data");
    assert_eq!(
        env.guid(&format!("{target}@s2")).await,
        env.guid(&format!("{src}@s2")).await,
        "{case}: resumed snapshot"
    );
    true
}

/// Cuts a full stream of s2 at every offset; asserts what is kept and resumes it.
async fn full_stream_cut(hint: &str, stop: Stop) {
    let env = Env::new(hint);
    let src = fixture(&env).await;
    let s2 = format!("{src}@s2");
    let full = stream(&env, &[&s2]);
    let target = env.ds("dst/full");
    let before = snapshots(&env);
    for cut in cuts(full.len()) {
        let out = feed(&env, target.as_str(), &full[..cut.1], stop);
        let case = format!("{stop:?} {} (byte {})", cut.0, cut.1);
        let exists = exists(&env, target.as_str());
        assert_eq!(snapshots(&env), before, "{case}: no new snapshot");
        let kept = check_kept(&env, &src, &target, cut, stop, &out).await;
        assert_eq!(
            kept, exists,
            "{case}: the target exists exactly when a token is kept"
        );
        if kept {
            env.zfs_ok(&["destroy", "-r", target.as_str()]);
        }
    }
}

/// Cuts an incremental stream s1→s2 into a copy of s1 at every offset; asserts that the copy
/// is untouched, what is kept, and resumes it.
async fn incremental_stream_cut(hint: &str, stop: Stop) {
    let env = Env::new(hint);
    let src = fixture(&env).await;
    let (s1, s2) = (format!("{src}@s1"), format!("{src}@s2"));
    let target = env.ds("dst/inc");
    env.full_to(env.snap("src", "s1"), &target).await;
    let inc = stream(&env, &["-i", &s1, &s2]);
    let (before, data) = (snapshots(&env), env.checksum(&target));
    for cut in cuts(inc.len()) {
        let out = feed(&env, target.as_str(), &inc[..cut.1], stop);
        let case = format!("{stop:?} {} (byte {})", cut.0, cut.1);
        assert_eq!(snapshots(&env), before, "{case}: no new snapshot");
        assert_eq!(env.written(&target).await, 0, "{case}: written");
        assert_eq!(env.checksum(&target), data, "{case}: live data");
        if check_kept(&env, &src, &target, cut, stop, &out).await {
            env.zfs_ok(&["rollback", "-r", &format!("{target}@s1")]);
        }
    }
}

#[tokio::test]
async fn partial_full_receive_cut_by_eof() {
    full_stream_cut("pr-full-eof", Stop::Eof).await;
}

#[tokio::test]
async fn killed_full_receive_keeps_resumable_state() {
    full_stream_cut("pr-full-kill", Stop::Kill).await;
}

#[tokio::test]
async fn partial_incremental_receive_cut_by_eof() {
    incremental_stream_cut("pr-inc-eof", Stop::Eof).await;
}

#[tokio::test]
async fn killed_incremental_receive_keeps_resumable_state() {
    incremental_stream_cut("pr-inc-kill", Stop::Kill).await;
}

#[tokio::test]
async fn partial_receive_killed_then_aborted() {
    let env = Env::new("pr-abort");
    let src = fixture(&env).await;
    let (s1, s2) = (format!("{src}@s1"), format!("{src}@s2"));
    let (full, inc) = (env.ds("dst/full"), env.ds("dst/inc"));
    env.full_to(env.snap("src", "s1"), &inc).await;
    let data = env.checksum(&inc);
    let full_stream = stream(&env, &[&s2]);
    let inc_stream = stream(&env, &["-i", &s1, &s2]);
    feed(
        &env,
        full.as_str(),
        &full_stream[..full_stream.len() / 2],
        Stop::Kill,
    );
    feed(
        &env,
        inc.as_str(),
        &inc_stream[..inc_stream.len() / 2],
        Stop::Kill,
    );
    assert!(token(&env, full.as_str()).is_some(), "full: token");
    assert!(token(&env, inc.as_str()).is_some(), "incremental: token");

    // A fresh receive is refused while the partial state exists.
    let fresh = env
        .t
        .command(env.t.zfs_bin())
        .args(["recv", inc.as_str()])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = {
        let mut fresh = fresh;
        let mut stdin = fresh.stdin.take().expect("stdin");
        let _ = stdin.write_all(&inc_stream);
        drop(stdin);
        fresh.wait_with_output().expect("wait")
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "fresh receive over partial state");
    assert!(
        stderr.contains("contains partially-complete state from \"zfs receive -s\""),
        "{stderr}"
    );

    env.zfs_ok(&["recv", "-A", full.as_str()]);
    assert!(
        !exists(&env, full.as_str()),
        "abort destroys a partial new filesystem"
    );
    env.zfs_ok(&["recv", "-A", inc.as_str()]);
    assert_eq!(token(&env, inc.as_str()), None, "abort drops the token");
    assert_eq!(env.checksum(&inc), data, "abort leaves the live data");
    assert_eq!(env.written(&inc).await, 0, "written after abort");
    let again = env.t.zfs(&["recv", "-A", inc.as_str()]);
    assert!(
        !again.status.success(),
        "a second abort has nothing to abort"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr)
            .contains("does not have any resumable receive state to abort"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let done = feed(&env, inc.as_str(), &inc_stream, Stop::Eof);
    assert!(
        done.status.success(),
        "fresh incremental after abort: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(env.checksum(&src), env.checksum(&inc));
}
