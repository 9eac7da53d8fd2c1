//! `zfs recv -s` SIGKILLed at moments spread over a whole incremental receive, its commit
//! included: the live dataset is never written to (`written` stays 0, its data stays the
//! base's), and what remains is either the received snapshot whole or a partial state (or
//! nothing) that leaves the dataset as it was.
//!
//! OpenZFS commits a receive atomically (the partial state lives in a hidden `%recv` clone). The
//! simulator did not: killed while its commit copied the new data into the live dataset, it left
//! the base snapshot newest with half-replaced live data, so `written` was above 0 and every later
//! incremental receive was refused as "modified since most recent snapshot".

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::Env;
use zferry_zfs::DatasetPath;

/// Files of the fixture and their size: an incremental that rewrites all of them is large
/// enough for a kill to land inside the simulator's commit, where it copies the new data.
const FILES: u64 = 40;
const FILE_SIZE: usize = 256 << 10;
/// Kills while the stream is still being written, spread over that time.
const EARLY_KILLS: u32 = 6;
/// Kills after the whole stream is written (the receive reads its end and commits), spread over
/// the time an undisturbed receive takes from there to its exit.
const LATE_KILLS: u32 = 18;

/// `src` with [`FILES`] files at s1, all rewritten at s2; `dst` with `atime=off` (reading the
/// received files to compare them must not count as a change).
async fn fixture(env: &Env) -> DatasetPath {
    let src = env.create("src").await;
    let dst = env.create("dst").await;
    env.zfs_ok(&["set", "atime=off", dst.as_str()]);
    for i in 0..FILES {
        env.write(&src, &format!("f{i}"), FILE_SIZE, i);
    }
    env.snapshot("src", "s1").await;
    for i in 0..FILES {
        env.write(&src, &format!("f{i}"), FILE_SIZE, 1000 + i);
    }
    env.snapshot("src", "s2").await;
    src
}

/// Starts `zfs recv -s target` and writes `bytes` into it from a thread that keeps its stdin
/// open afterwards (so the end of input never decides anything); returns the child and the
/// writer, which hands stdin back once written.
fn start_receive(
    env: &Env,
    target: &str,
    bytes: &[u8],
) -> (Child, std::thread::JoinHandle<std::process::ChildStdin>) {
    let mut child = env
        .t
        .command(env.t.zfs_bin())
        .args(["recv", "-s", target])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn zfs recv");
    let mut stdin = child.stdin.take().expect("stdin");
    let bytes = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        // A killed receive closes its end: the broken pipe is expected.
        let _ = stdin.write_all(&bytes);
        stdin
    });
    (child, writer)
}

/// How long an undisturbed `zfs recv -s` of `inc` into `target` takes to be written its stream,
/// and from then until it exits (then undone).
async fn undisturbed(env: &Env, target: &DatasetPath, inc: &[u8]) -> (Duration, Duration) {
    let started = Instant::now();
    let (mut child, writer) = start_receive(env, target.as_str(), inc);
    drop(writer.join().expect("writer"));
    let written = started.elapsed();
    let status = child.wait().expect("wait for zfs recv");
    let tail = started.elapsed() - written;
    assert!(status.success(), "undisturbed receive failed: {status}");
    env.zfs_ok(&["rollback", "-r", &format!("{target}@s1")]);
    (written, tail)
}

/// When a receive is killed.
#[derive(Debug, Clone, Copy)]
enum Kill {
    /// This long after it started, while its stream is being written.
    Early(Duration),
    /// This long after its whole stream was written (stdin stays open).
    Late(Duration),
}

/// The kills of a run: [`EARLY_KILLS`] over the writing, [`LATE_KILLS`] over the tail.
fn schedule((writing, tail): (Duration, Duration)) -> Vec<Kill> {
    let spread = |d: Duration, i: u32, n: u32| d.mul_f64(f64::from(i) / f64::from(n - 1));
    (0..EARLY_KILLS)
        .map(|i| Kill::Early(spread(writing, i, EARLY_KILLS)))
        .chain((0..LATE_KILLS).map(|i| Kill::Late(spread(tail, i, LATE_KILLS))))
        .collect()
}

/// After a kill: `written` is 0 and the live data is s1's (`base`) or, when s2 arrived, s2's;
/// then the dataset is put back to s1 (partial state aborted, s2 rolled back). Returns whether
/// s2 arrived.
async fn check_and_undo(
    env: &Env,
    (src, target): (&DatasetPath, &DatasetPath),
    base: &str,
    case: &str,
) -> bool {
    let s2 = format!("{target}@s2");
    let arrived = env
        .t
        .zfs(&["list", "-H", "-o", "name", &s2])
        .status
        .success();
    assert_eq!(env.written(target).await, 0, "{case}: written");
    if arrived {
        assert_eq!(
            env.guid(&s2).await,
            env.guid(&format!("{src}@s2")).await,
            "{case}"
        );
        assert_eq!(env.checksum(target), env.checksum(src), "{case}: s2 data");
        env.zfs_ok(&["rollback", "-r", &format!("{target}@s1")]);
    } else {
        assert_eq!(env.checksum(target), base, "{case}: live data untouched");
        let token = env.zfs_ok(&[
            "get",
            "-H",
            "-o",
            "value",
            "receive_resume_token",
            target.as_str(),
        ]);
        if token.trim() != "-" {
            env.zfs_ok(&["recv", "-A", target.as_str()]);
        }
    }
    assert_eq!(
        env.written(target).await,
        0,
        "{case}: written after undoing"
    );
    arrived
}

#[tokio::test]
async fn killed_incremental_receive_never_writes_the_live_dataset() {
    let env = Env::new("kr-inc");
    let src = fixture(&env).await;
    let target = env.ds("dst/inc");
    env.full_to(env.snap("src", "s1"), &target).await;
    let base = env.checksum(&target);
    let inc = env.send_bytes(&["-i", &format!("{src}@s1"), &format!("{src}@s2")]);
    let mut arrived = 0;
    let kills = schedule(undisturbed(&env, &target, &inc).await);
    for kill in &kills {
        let case = format!("killed {kill:?}");
        let (mut child, writer) = start_receive(&env, target.as_str(), &inc);
        let stdin = match *kill {
            Kill::Early(after) => {
                std::thread::sleep(after);
                None
            }
            Kill::Late(after) => {
                let stdin = writer.join().expect("writer");
                std::thread::sleep(after);
                Some(stdin)
            }
        };
        let _ = child.kill();
        child.wait().expect("reap zfs recv");
        drop(stdin);
        if check_and_undo(&env, (&src, &target), &base, &case).await {
            arrived += 1;
        }
        assert_eq!(env.checksum(&target), base, "{case}: live data back at s1");
    }
    eprintln!(
        "{arrived} of {} killed receives had committed s2",
        kills.len()
    );
}
