//! The replication engine over rpc: push and pull through the server and `RemoteEndpoint`, on
//! the ZFS simulator (or real ZFS with `ZFERRY_TEST_ZFS=real`), asserting on replicated data.
//!
//! On real OpenZFS through the VM harness (about 3 minutes under emulation):
//! `../shared/zfs-vm/zfs-vm exec -n -- env ZFERRY_TEST_ZFS=real $PWD/target/debug/deps/engine-*`.

mod common;

use common::world::{World, sink_service};
use std::sync::Arc;
use std::time::Duration;
use zferry_repl::abstractions::Lane;
use zferry_repl::endpoint::{EndpointError, Sender};
use zferry_repl::executor::{ReplicationOptions, replicate};
use zferry_repl::report::Progress;
use zferry_rpc::ClientIdentity;
use zferry_rpc::access::SourceAccess;
use zferry_rpc::client::{ClientOptions, RemoteEndpoint};
use zferry_rpc::server::{ServerOptions, Service, serve};
use zferry_rpc::transport::clientmap::ClientMap;
use zferry_rpc::transport::local::{LocalClient, LocalServer};
use zferry_rpc::transport::tcp::{TcpClient, TcpServer};

fn options() -> ReplicationOptions {
    ReplicationOptions {
        max_attempts: 1,
        reconnect_deadline: Duration::from_millis(200),
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..ReplicationOptions::default()
    }
}

fn local_client(name: &str, identity: &str) -> Arc<RemoteEndpoint> {
    Arc::new(RemoteEndpoint::new(
        Arc::new(LocalClient {
            listener_name: name.into(),
            client_identity: ClientIdentity::new(identity).unwrap(),
        }),
        ClientOptions::default(),
    ))
}

fn background<L: zferry_rpc::transport::Listener + 'static>(
    listener: L,
    service: Service,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        service,
        ServerOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    stop
}

#[tokio::test]
async fn push_to_a_sink_lands_under_root_fs_and_identity() {
    let w = World::new("src");
    let sink_host = Arc::new(World::new("dst"));
    let src = w.source_data();
    let root = format!("{}/sink", sink_host.pool);
    let service = sink_service(&sink_host, &root);
    let _stop = background(LocalServer::bind("engine-sink").unwrap(), service);
    let report = replicate(
        Arc::new(w.sender(Lane::new("push", "laptop"))),
        local_client("engine-sink", "laptop"),
        &options(),
        &Progress::new(),
    )
    .await;
    assert!(report.succeeded(), "{report:#?}");
    let replica = format!("{root}/laptop/{src}");
    assert_eq!(sink_host.checksum(&replica), w.checksum(&src));
}

/// A source serving `w`'s sender to the identity `backup` only.
fn source_service(w: &Arc<World>) -> Service {
    let world = w.clone();
    Service::Source {
        senders: Arc::new(move |id: &ClientIdentity| {
            Ok(Arc::new(world.sender(Lane::new("source", id.as_str()))) as Arc<dyn Sender>)
        }),
        access: SourceAccess {
            clients: Some([ClientIdentity::new("backup").unwrap()].into()),
            filter: Arc::new(|_| true),
        },
    }
}

#[tokio::test]
async fn pull_from_a_source_over_rpc() {
    let w = Arc::new(World::new("src"));
    let puller = World::new("dst");
    let src = w.source_data();
    let _stop = background(
        LocalServer::bind("engine-source").unwrap(),
        source_service(&w),
    );
    let root = format!("{}/pulled", puller.pool);
    let report = replicate(
        local_client("engine-source", "backup"),
        Arc::new(puller.receiver(&root, Lane::new("source", "backup"))),
        &options(),
        &Progress::new(),
    )
    .await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(puller.checksum(&format!("{root}/{src}")), w.checksum(&src));
    let stranger: Result<(), EndpointError> = {
        use zferry_repl::endpoint::Endpoint;
        local_client("engine-source", "stranger").ping().await
    };
    assert!(stranger.is_err());
}

/// Over tcp the source splices `zfs send`'s pipe into the socket (the zero-copy path).
#[tokio::test]
async fn pull_over_tcp_from_a_source() {
    let w = Arc::new(World::new("src"));
    let puller = World::new("dst");
    let src = w.source_data();
    let server = TcpServer::bind(
        "127.0.0.1:0",
        ClientMap::new([("127.0.0.1", "backup")]).unwrap(),
    )
    .await
    .unwrap();
    let address = server.local_addr().unwrap().to_string();
    let _stop = background(server, source_service(&w));
    let remote = Arc::new(RemoteEndpoint::new(
        Arc::new(TcpClient {
            address,
            dial_timeout: std::time::Duration::from_secs(5),
        }),
        ClientOptions::default(),
    ));
    let root = format!("{}/pulled", puller.pool);
    let report = replicate(
        remote,
        Arc::new(puller.receiver(&root, Lane::new("source", "backup"))),
        &options(),
        &Progress::new(),
    )
    .await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(puller.checksum(&format!("{root}/{src}")), w.checksum(&src));
}
