//! The control socket end to end: a server on a real unix socket with a fake job set, driven by
//! the CLI's client.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zferry::daemon::control::api::{ControlError, JobControl, VersionInfo, WakeupOutcome};
use zferry::daemon::control::client::{ClientError, ControlClient, is_unknown_job};
use zferry::daemon::control::server::serve_control;
use zferry::daemon::control::socket::{SocketError, bind_control_socket};
use zferry::daemon::status::{DaemonStatus, JobState, JobStatus, JobType};

/// Two jobs: `push` (a run takes 200 ms and fails when `fail` is set) and `sink` (passive).
#[derive(Default)]
struct FakeJobs {
    calls: Mutex<Vec<String>>,
    fail: bool,
}

#[async_trait::async_trait]
impl JobControl for FakeJobs {
    fn status(&self) -> DaemonStatus {
        let job = JobStatus::new;
        DaemonStatus {
            version: "test".into(),
            started_at: "2024-01-01T00:00:00Z".parse().expect("time"),
            jobs: BTreeMap::from([
                ("push".to_string(), job(JobType::Push, JobState::Idle)),
                ("sink".to_string(), job(JobType::Sink, JobState::Serving)),
            ]),
        }
    }

    async fn wakeup(&self, job: &str, wait: bool) -> Result<WakeupOutcome, ControlError> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("wakeup {job} {wait}"));
        match job {
            "push" => {}
            "sink" => {
                return Err(ControlError::NotSupported {
                    job: job.into(),
                    action: "wake up".into(),
                    why: "passive jobs only answer requests".into(),
                });
            }
            _ => return Err(ControlError::UnknownJob(job.into())),
        }
        if !wait {
            return Ok(WakeupOutcome {
                job: job.into(),
                waited: false,
                succeeded: None,
                error: None,
                warnings: Vec::new(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(WakeupOutcome {
            job: job.into(),
            waited: true,
            succeeded: Some(!self.fail),
            error: self.fail.then(|| "tank/a: connection reset".to_string()),
            warnings: Vec::new(),
        })
    }

    async fn reset(&self, job: &str) -> Result<(), ControlError> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("reset {job}"));
        if job == "push" {
            Ok(())
        } else {
            Err(ControlError::UnknownJob(job.into()))
        }
    }
}

struct Running {
    _dir: tempfile::TempDir,
    client: ControlClient,
    jobs: Arc<FakeJobs>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(fail: bool) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run/zferry/control");
    let listener = bind_control_socket(&path).await.expect("bind");
    let jobs = Arc::new(FakeJobs {
        fail,
        ..FakeJobs::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_control(
        listener,
        Arc::clone(&jobs) as Arc<dyn JobControl>,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        client: ControlClient::new(&path),
        _dir: dir,
        jobs,
        stop: Some(stop),
        server,
    }
}

#[tokio::test]
async fn socket_directory_is_created_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/control");
    let _listener = bind_control_socket(&path).await.expect("bind");
    let mode = std::fs::metadata(dir.path().join("a/b"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[tokio::test]
async fn world_accessible_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let err = bind_control_socket(&dir.path().join("control"))
        .await
        .expect_err("refused");
    assert!(
        matches!(err, SocketError::WorldAccessible { mode: 0o755, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn stale_socket_is_replaced_but_a_live_one_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let path = dir.path().join("control");
    let live = bind_control_socket(&path).await.expect("first bind");
    assert!(matches!(
        bind_control_socket(&path).await,
        Err(SocketError::InUse(_))
    ));
    drop(live); // the socket file stays behind, like after a crash
    assert!(path.exists());
    bind_control_socket(&path)
        .await
        .expect("stale socket replaced");

    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    assert!(matches!(
        bind_control_socket(&file).await,
        Err(SocketError::NotASocket(_))
    ));
}

#[tokio::test]
async fn status_and_version_round_trip() {
    let running = start(false).await;
    let status = running.client.status().await.expect("status");
    assert_eq!(status, running.jobs.status());
    let raw = running.client.status_json().await.expect("raw");
    assert_eq!(raw["jobs"]["push"]["type"], "push");
    assert_eq!(raw["jobs"]["sink"]["state"], "serving");
    assert_eq!(
        running.client.version().await.expect("version"),
        VersionInfo::current()
    );
}

#[tokio::test]
async fn wakeup_without_and_with_wait() {
    let running = start(false).await;
    let outcome = running.client.wakeup("push", false).await.expect("wakeup");
    assert!(!outcome.waited);
    let started = std::time::Instant::now();
    let outcome = running.client.wakeup("push", true).await.expect("wakeup");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "waited for the run"
    );
    assert_eq!(outcome.succeeded, Some(true));
    assert_eq!(
        *running.jobs.calls.lock().expect("lock"),
        ["wakeup push false", "wakeup push true"]
    );
}

#[tokio::test]
async fn wakeup_wait_reports_a_failed_run() {
    let running = start(true).await;
    let outcome = running.client.wakeup("push", true).await.expect("wakeup");
    assert_eq!(outcome.succeeded, Some(false));
    assert_eq!(outcome.error.as_deref(), Some("tank/a: connection reset"));
}

#[tokio::test]
async fn errors_map_to_statuses() {
    let running = start(false).await;
    let err = running
        .client
        .wakeup("nope", false)
        .await
        .expect_err("unknown");
    assert!(is_unknown_job(&err), "{err}");
    assert!(err.to_string().contains("no job named \"nope\""), "{err}");
    let err = running
        .client
        .wakeup("sink", false)
        .await
        .expect_err("passive");
    assert!(
        matches!(&err, ClientError::Daemon { status: 409, message } if message.contains("passive")),
        "{err}"
    );
    running.client.reset("push").await.expect("reset");
    assert!(is_unknown_job(
        &running.client.reset("nope").await.expect_err("unknown")
    ));
}

#[tokio::test]
async fn graceful_shutdown_and_connect_errors() {
    let mut running = start(false).await;
    if let Some(stop) = running.stop.take() {
        let _ = stop.send(());
    }
    tokio::time::timeout(Duration::from_secs(5), &mut running.server)
        .await
        .expect("server stops")
        .expect("join")
        .expect("serve ok");
    let missing = ControlClient::new("/nonexistent/zferry/control");
    assert!(matches!(
        missing.status().await,
        Err(ClientError::Connect { .. })
    ));
}

#[tokio::test]
async fn status_command_dump_and_raw_modes() {
    use zferry::daemon::status_ui::{JobSelection, Mode, render_once};
    let running = start(false).await;
    let all = JobSelection::default();
    let (raw, _) = render_once(&running.client, Mode::Raw, &all)
        .await
        .expect("raw");
    let parsed: DaemonStatus = serde_json::from_str(&raw).expect("raw is the status JSON");
    assert_eq!(parsed, running.jobs.status());
    let (dump, _) = render_once(&running.client, Mode::Dump, &all)
        .await
        .expect("dump");
    assert!(dump.starts_with("zferry daemon test"), "{dump}");
    assert!(dump.contains("Job push  type: push  state: idle"), "{dump}");
    assert!(
        dump.contains("Job sink  type: sink  state: serving"),
        "{dump}"
    );
    let only_sink = JobSelection(vec!["sink".into()]);
    let (dump, shown) = render_once(&running.client, Mode::Dump, &only_sink)
        .await
        .expect("dump of one job");
    assert!(!dump.contains("Job push"), "{dump}");
    assert_eq!(shown.jobs.keys().collect::<Vec<_>>(), ["sink"]);
    let nosuch = JobSelection(vec!["nosuch".into()]);
    assert!(
        render_once(&running.client, Mode::Dump, &nosuch)
            .await
            .is_err()
    );
}
