//! Snapshot hooks against real programs and (when installed) a real PostgreSQL / MySQL server.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zferry::daemon::hooks::command::CommandHook;
use zferry::daemon::hooks::mysql::MysqlLockTablesHook;
use zferry::daemon::hooks::plan::{HookPlan, StepStatus};
use zferry::daemon::hooks::postgres::PostgresCheckpointHook;
use zferry::daemon::hooks::{Edge, Hook, HookEnv, HookSettings, HookState};

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn env(fs: &str, dry_run: bool) -> HookEnv {
    HookEnv {
        filesystem: fs.into(),
        snapname: "zrepl_20240101_000000_000".into(),
        dry_run,
    }
}

/// Every variable under zferry's name and under zrepl's: zrepl's hook scripts read `ZREPL_*`
/// and saw empty values while only `ZFERRY_*` were set.
#[tokio::test]
async fn command_hook_gets_the_documented_environment() {
    for prefix in ["ZFERRY", "ZREPL"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let line = ["HOOKTYPE", "FS", "SNAPNAME", "DRYRUN", "TIMEOUT"]
            .map(|v| format!("${prefix}_{v}"))
            .join("|");
        let hook = CommandHook::new(
            script(dir.path(), "env.sh", &format!("echo \"{line}\"")),
            HookSettings {
                timeout: Duration::from_millis(12_900),
                ..HookSettings::default()
            },
        );
        let mut state: HookState = None;
        let pre = hook
            .run(Edge::Pre, &env("tank/a b", true), &mut state)
            .await;
        assert_eq!(pre.error, None);
        assert_eq!(
            pre.output.expect("captured").text,
            "pre_snapshot|tank/a b|zrepl_20240101_000000_000|true|12\n",
            "{prefix}"
        );
        let post = hook
            .run(Edge::Post, &env("tank/x", false), &mut state)
            .await;
        assert_eq!(
            post.output.expect("captured").text,
            "post_snapshot|tank/x|zrepl_20240101_000000_000||12\n",
            "{prefix}"
        );
    }
}

#[tokio::test]
async fn command_hook_failure_carries_exit_status_and_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = CommandHook::new(
        script(dir.path(), "fail.sh", "echo oops >&2; exit 3"),
        HookSettings::default(),
    );
    let outcome = hook.run(Edge::Pre, &env("tank", false), &mut None).await;
    let error = outcome.error.expect("failed");
    assert!(error.contains("exit status: 3"), "{error}");
    assert_eq!(outcome.output.expect("captured").text, "oops\n");

    let missing = CommandHook::new(dir.path().join("missing"), HookSettings::default());
    let outcome = missing.run(Edge::Pre, &env("tank", false), &mut None).await;
    assert!(outcome.error.expect("failed").contains("cannot start"));
}

#[tokio::test]
async fn command_hook_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("grandchild.pid");
    let hook = CommandHook::new(
        script(
            dir.path(),
            "slow.sh",
            &format!("sleep 30 &\necho $! > {}\nwait", pidfile.display()),
        ),
        HookSettings {
            timeout: Duration::from_millis(500),
            ..HookSettings::default()
        },
    );
    let started = Instant::now();
    let outcome = hook.run(Edge::Pre, &env("tank", false), &mut None).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "did not wait for sleep 30"
    );
    assert!(outcome.error.expect("timed out").contains("timed out"));
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid written")
        .trim()
        .parse()
        .expect("pid");
    // The background `sleep` was in the hook's process group: it must be gone (or a zombie
    // about to be reaped by init).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{grandchild}/status"));
        let alive = status.is_ok_and(|s| !s.contains("State:\tZ"));
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "grandchild {grandchild} survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn command_hook_output_is_bounded_to_its_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = CommandHook::new(
        script(
            dir.path(),
            "loud.sh",
            "i=0; while [ $i -lt 2000 ]; do echo line$i; i=$((i+1)); done",
        ),
        HookSettings::default(),
    )
    .with_output_limit(100);
    let outcome = hook.run(Edge::Pre, &env("tank", false), &mut None).await;
    let output = outcome.output.expect("captured");
    assert_eq!(output.text.len(), 100);
    assert!(output.text.ends_with("line1999\n"));
    assert!(output.dropped_bytes > 10_000);
}

#[tokio::test]
async fn command_hooks_in_a_plan_run_as_a_stack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log");
    let append = |name: &str| {
        script(
            dir.path(),
            name,
            &format!("echo \"{name} $ZFERRY_HOOKTYPE\" >> {}", log.display()),
        )
    };
    let fatal_failure = script(dir.path(), "fatal.sh", "exit 1");
    let hook = |path: PathBuf, fatal: bool| -> Arc<dyn Hook> {
        Arc::new(CommandHook::new(
            path,
            HookSettings {
                err_is_fatal: fatal,
                ..HookSettings::default()
            },
        ))
    };
    let hooks = [hook(append("first"), false), hook(append("second"), false)];
    let mut plan = HookPlan::new(&hooks, env("tank", false));
    assert!(plan.run_pre().await);
    plan.run_post().await;
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        "first pre_snapshot\nsecond pre_snapshot\nsecond post_snapshot\nfirst post_snapshot\n"
    );

    std::fs::remove_file(&log).expect("reset log");
    let hooks = [
        hook(append("first"), false),
        hook(fatal_failure, true),
        hook(append("never"), false),
    ];
    let mut plan = HookPlan::new(&hooks, env("tank", false));
    assert!(!plan.run_pre().await);
    plan.run_post().await;
    assert_eq!(
        std::fs::read_to_string(&log).expect("log"),
        "first pre_snapshot\nfirst post_snapshot\n"
    );
    assert_eq!(plan.report()[2].status, StepStatus::SkippedDueToFatalErr);
}

/// A throwaway PostgreSQL server listening only on a unix socket in a temporary directory.
struct PgServer {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    socket_dir: PathBuf,
    port: u16,
}

impl PgServer {
    fn start() -> Option<PgServer> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())?;
        let dir = tempfile::tempdir().ok()?;
        let data = dir.path().join("data");
        let socket_dir = dir.path().to_path_buf();
        // initdb refuses to run as root: run the server as the `postgres` user when we are root.
        let as_root = rustix::process::geteuid().is_root();
        let run = |args: &[&str]| -> bool {
            let mut cmd = if as_root {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", "postgres", "--"]);
                c
            } else {
                std::process::Command::new(args[0])
            };
            let args = if as_root { args } else { &args[1..] };
            cmd.args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if as_root {
            let chown = std::process::Command::new("chown")
                .args(["postgres:"])
                .arg(dir.path())
                .status();
            if !chown.is_ok_and(|s| s.success()) {
                return None;
            }
        }
        let initdb = bin.join("initdb");
        if !run(&[
            initdb.to_str()?,
            "-D",
            data.to_str()?,
            "-U",
            "postgres",
            "--auth=trust",
        ]) {
            return None;
        }
        let port = 20000 + (std::process::id() % 20000) as u16;
        let options = format!("-k {} -p {port} -c listen_addresses=", socket_dir.display());
        let pg_ctl = bin.join("pg_ctl");
        if !run(&[
            pg_ctl.to_str()?,
            "-D",
            data.to_str()?,
            "-o",
            &options,
            "-w",
            "start",
        ]) {
            return None;
        }
        Some(PgServer {
            _dir: dir,
            data,
            bin,
            socket_dir,
            port,
        })
    }

    fn dsn(&self) -> String {
        format!(
            "host={} port={} user=postgres dbname=postgres",
            self.socket_dir.display(),
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if rustix::process::geteuid().is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            std::process::Command::new(pg_ctl)
        };
        let _ = cmd
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

async fn checkpoint_lsn(dsn: &str) -> String {
    let (client, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT checkpoint_lsn::text FROM pg_control_checkpoint()",
            &[],
        )
        .await
        .expect("query");
    row.get(0)
}

#[tokio::test]
async fn postgres_checkpoint_hook_checkpoints_a_real_server() {
    let Some(server) = PgServer::start() else {
        println!(
            "SKIPPED: no PostgreSQL server could be started (install `postgresql`: initdb/pg_ctl under /usr/lib/postgresql/*/bin)"
        );
        return;
    };
    let dsn = server.dsn();
    let hook = PostgresCheckpointHook::new(&dsn, HookSettings::default()).expect("dsn parses");
    let before = checkpoint_lsn(&dsn).await;
    // Make the next checkpoint move the checkpoint location: write some WAL first.
    let (client, conn) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TABLE t AS SELECT generate_series(1, 1000) AS x")
        .await
        .expect("write");

    let dry = hook.run(Edge::Pre, &env("tank/pg", true), &mut None).await;
    assert_eq!(dry.error, None);
    assert_eq!(
        checkpoint_lsn(&dsn).await,
        before,
        "a dry run does not checkpoint"
    );

    let outcome = hook.run(Edge::Pre, &env("tank/pg", false), &mut None).await;
    assert_eq!(outcome.error, None);
    assert_ne!(
        checkpoint_lsn(&dsn).await,
        before,
        "CHECKPOINT moved the checkpoint"
    );
    assert_eq!(
        hook.run(Edge::Post, &env("tank/pg", false), &mut None)
            .await
            .error,
        None
    );
}

#[tokio::test]
async fn postgres_checkpoint_hook_reports_connection_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dsn = format!("host={} port=1 user=postgres", dir.path().display());
    let hook = PostgresCheckpointHook::new(&dsn, HookSettings::default()).expect("dsn parses");
    let outcome = hook.run(Edge::Pre, &env("tank/pg", false), &mut None).await;
    assert!(outcome.error.expect("fails").contains("CHECKPOINT failed"));
    assert!(PostgresCheckpointHook::new("host=x port=notaport", HookSettings::default()).is_err());
}

/// A throwaway MariaDB/MySQL server on a unix socket in a temporary directory.
struct MysqlServer {
    _dir: tempfile::TempDir,
    child: std::process::Child,
    socket: PathBuf,
}

impl MysqlServer {
    fn start() -> Option<MysqlServer> {
        let server = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())?;
        let install = ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())?;
        let dir = tempfile::tempdir().ok()?;
        let data = dir.path().join("data");
        let socket = dir.path().join("mysql.sock");
        // As root the server must be told to stay root; otherwise it runs as the caller.
        let user: &[&str] = if rustix::process::geteuid().is_root() {
            &["--user=root"]
        } else {
            &[]
        };
        let installed = std::process::Command::new(install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(user)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            return None;
        }
        let child = std::process::Command::new(server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg("--skip-networking")
            .args(user)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        Some(MysqlServer {
            _dir: dir,
            child,
            socket,
        })
    }

    fn dsn(&self) -> String {
        format!("root@unix({})/", self.socket.display())
    }
}

impl Drop for MysqlServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn mysql_conn(dsn: &str) -> mysql_async::Conn {
    let opts = zferry::daemon::hooks::mysql_dsn::parse_mysql_dsn(dsn).expect("dsn");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match mysql_async::Conn::new(opts.clone()).await {
            Ok(conn) => return conn,
            Err(e) if Instant::now() > deadline => panic!("server did not come up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test]
async fn mysql_lock_tables_hook_holds_the_lock_across_the_snapshot() {
    use mysql_async::prelude::Queryable;
    let (dsn, _server) = match std::env::var("ZFERRY_TEST_MYSQL_DSN") {
        Ok(dsn) => (dsn, None),
        Err(_) => match MysqlServer::start() {
            Some(server) => (server.dsn(), Some(server)),
            None => {
                println!(
                    "SKIPPED: no MariaDB/MySQL server (install mariadb-server, or set ZFERRY_TEST_MYSQL_DSN)"
                );
                return;
            }
        },
    };
    let mut other = mysql_conn(&dsn).await;
    other
        .query_drop("CREATE DATABASE IF NOT EXISTS zferry_test; CREATE TABLE IF NOT EXISTS zferry_test.t (x INT)")
        .await
        .expect("setup");
    other
        .query_drop("SET SESSION lock_wait_timeout = 1")
        .await
        .expect("timeout");

    let hook = MysqlLockTablesHook::new(&dsn, HookSettings::default()).expect("dsn parses");
    let mut state: HookState = None;
    let pre = hook
        .run(Edge::Pre, &env("tank/db", false), &mut state)
        .await;
    assert_eq!(pre.error, None);
    assert!(
        state.is_some(),
        "the locked connection is kept for the post edge"
    );
    let blocked = other
        .query_drop("INSERT INTO zferry_test.t VALUES (1)")
        .await;
    assert!(
        blocked.is_err(),
        "writes wait for the read lock while the snapshot is taken"
    );

    let post = hook
        .run(Edge::Post, &env("tank/db", false), &mut state)
        .await;
    assert_eq!(post.error, None);
    other
        .query_drop("INSERT INTO zferry_test.t VALUES (2)")
        .await
        .expect("writes work again after UNLOCK TABLES");
}

#[tokio::test]
async fn mysql_hook_post_without_pre_is_an_error() {
    let hook = MysqlLockTablesHook::new("u@tcp(127.0.0.1:1)/", HookSettings::default())
        .expect("dsn parses");
    let outcome = hook.run(Edge::Post, &env("tank", false), &mut None).await;
    assert!(
        outcome
            .error
            .expect("fails")
            .contains("no locked connection")
    );
    let pre = hook.run(Edge::Pre, &env("tank", false), &mut None).await;
    assert!(pre.error.expect("cannot connect").contains("FLUSH TABLES"));
}

#[tokio::test]
async fn command_hook_returns_although_a_background_child_keeps_its_output_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = CommandHook::new(
        script(dir.path(), "daemonize.sh", "sleep 3 &\necho started"),
        HookSettings::default(),
    );
    let started = Instant::now();
    let outcome = hook.run(Edge::Pre, &env("tank", false), &mut None).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "waited {:?} for the background child",
        started.elapsed()
    );
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.output.expect("captured").text, "started\n");
}
