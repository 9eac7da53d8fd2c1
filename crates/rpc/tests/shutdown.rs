//! Shutting a server down: running requests get a grace period, then are aborted.

mod common;

use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zferry_repl::endpoint::Endpoint;
use zferry_rpc::ClientIdentity;
use zferry_rpc::server::{ServerOptions, serve};
use zferry_rpc::transport::local::{LocalClient, LocalServer};

#[tokio::test]
async fn shutdown_lets_running_requests_finish_within_the_grace_period_then_aborts() {
    let log = Arc::new(Log::default());
    let service = slow_sink(log.clone(), None, |id| {
        if id.as_str() == "stuck" {
            Duration::from_secs(60)
        } else {
            Duration::from_millis(300)
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        LocalServer::bind("sink-shutdown").unwrap(),
        service,
        ServerOptions {
            shutdown_grace: Duration::from_secs(1),
            ..ServerOptions::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let ping = |identity: &str| {
        let remote = client(LocalClient {
            listener_name: "sink-shutdown".into(),
            client_identity: ClientIdentity::new(identity).unwrap(),
        });
        tokio::spawn(async move { remote.ping().await })
    };
    let (quick, stuck) = (ping("quick"), ping("stuck"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = Instant::now();
    stop.send(()).unwrap();
    server.await.unwrap();
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    quick
        .await
        .unwrap()
        .expect("finished within the grace period");
    stuck
        .await
        .unwrap()
        .expect_err("aborted after the grace period");
    assert_eq!(log.calls(), vec!["backup/quick: ping"]);
}
