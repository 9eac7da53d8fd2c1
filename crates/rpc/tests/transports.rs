//! tcp and local transports end to end through the server and the remote endpoint, and the
//! server's access control.

mod common;

use common::*;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use zferry_repl::endpoint::{ByteStream, Endpoint, ErrorKind, Receiver, Sender};
use zferry_rpc::ClientIdentity;
use zferry_rpc::transport::clientmap::ClientMap;
use zferry_rpc::transport::local::{LocalClient, LocalServer};
use zferry_rpc::transport::tcp::{TcpClient, TcpServer};

fn tcp_client(addr: std::net::SocketAddr) -> TcpClient {
    TcpClient {
        address: addr.to_string(),
        dial_timeout: std::time::Duration::from_secs(5),
    }
}

#[tokio::test]
async fn tcp_yields_the_mapped_identity_and_carries_a_stream() {
    let log = Arc::new(Log::default());
    let server = TcpServer::bind(
        "127.0.0.1:0",
        ClientMap::new([("127.0.0.0/8", "lan-*")]).unwrap(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let _stop = serve(server, sink(log.clone(), None));
    let remote = client(tcp_client(addr));
    remote.ping().await.expect("ping");
    let data = test_data(5 << 20);
    let received = remote
        .receive(
            receive_request("pool/fs"),
            ByteStream::new(std::io::Cursor::new(data.clone())),
        )
        .await
        .expect("receive");
    assert_eq!(received.received.name, "snap1");
    assert_eq!(
        log.calls(),
        vec![
            "backup/lan-127.0.0.1: ping",
            "backup/lan-127.0.0.1: receive pool/fs"
        ]
    );
    assert_eq!(*log.received.lock().unwrap(), data);
}

#[tokio::test]
async fn tcp_client_not_in_the_map_is_refused() {
    let log = Arc::new(Log::default());
    let server = TcpServer::bind(
        "127.0.0.1:0",
        ClientMap::new([("10.9.9.9", "elsewhere")]).unwrap(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let _stop = serve(server, sink(log.clone(), None));
    let err = client(tcp_client(addr)).ping().await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::AccessDenied, "not retried: {err:?}");
    assert!(err.message.contains("127.0.0.1"), "says who: {err:?}");
    assert!(log.calls().is_empty());
}

#[tokio::test]
async fn sink_error_mid_stream_reaches_the_pushing_client() {
    let log = Arc::new(Log::default());
    let listener = LocalServer::bind("sink-fails").unwrap();
    let _stop = serve(listener, sink(log.clone(), Some(3 << 20)));
    let remote = client(LocalClient {
        listener_name: "sink-fails".into(),
        client_identity: ClientIdentity::new("laptop").unwrap(),
    });
    let started = std::time::Instant::now();
    let err = remote
        .receive(
            receive_request("pool/fs"),
            ByteStream::new(std::io::Cursor::new(test_data(64 << 20))),
        )
        .await
        .expect_err("sink fails");
    assert_eq!(err.message, "cannot receive: out of space (mock)");
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn local_transport_yields_the_stated_identity() {
    let log = Arc::new(Log::default());
    let listener = LocalServer::bind("sink-local").unwrap();
    assert!(LocalServer::bind("sink-local").is_err(), "names are unique");
    let _stop = serve(listener, sink(log.clone(), None));
    let remote = client(LocalClient {
        listener_name: "sink-local".into(),
        client_identity: ClientIdentity::new("pusher").unwrap(),
    });
    remote.ping().await.expect("ping");
    let data = test_data(3 << 20);
    remote
        .receive(
            receive_request("pool/a/b"),
            ByteStream::new(std::io::Cursor::new(data.clone())),
        )
        .await
        .expect("receive");
    assert_eq!(
        log.calls(),
        vec!["backup/pusher: ping", "backup/pusher: receive pool/a/b"]
    );
    assert_eq!(*log.received.lock().unwrap(), data);
}

#[tokio::test]
async fn pull_streams_from_a_source_and_confirms() {
    let log = Arc::new(Log::default());
    let data = Arc::new(test_data(6 << 20));
    let listener = LocalServer::bind("source-pull").unwrap();
    let _stop = serve(listener, source(log.clone(), data.clone(), None));
    let remote = client(LocalClient {
        listener_name: "source-pull".into(),
        client_identity: ClientIdentity::new("puller").unwrap(),
    });
    let (response, mut stream) = remote
        .send(send_request("pool/allowed"))
        .await
        .expect("send");
    assert_eq!(response.expected_bytes, Some(data.len() as u64));
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.expect("stream");
    drop(stream);
    assert_eq!(got, *data);
    remote
        .send_completed(zferry_repl::endpoint::SendCompletedRequest {
            request: send_request("pool/allowed"),
        })
        .await
        .expect("completed");
    assert_eq!(
        log.calls(),
        vec!["send pool/allowed", "send_completed pool/allowed"]
    );
}

#[tokio::test]
async fn source_filter_is_enforced() {
    let log = Arc::new(Log::default());
    let listener = LocalServer::bind("source-filter").unwrap();
    let _stop = serve(listener, source(log.clone(), Arc::new(vec![1, 2, 3]), None));
    let remote = client(LocalClient {
        listener_name: "source-filter".into(),
        client_identity: ClientIdentity::new("puller").unwrap(),
    });
    let listed: Vec<String> = remote
        .list_filesystems()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path.to_string())
        .collect();
    assert_eq!(listed, vec!["pool/allowed"]);
    assert!(
        remote
            .replication_cursor(fs("pool/allowed"))
            .await
            .unwrap()
            .is_some()
    );
    let denied = remote
        .replication_cursor(fs("pool/secret"))
        .await
        .expect_err("filtered");
    assert_eq!(denied.kind, ErrorKind::AccessDenied);
    let denied = remote
        .send(send_request("pool/secret"))
        .await
        .expect_err("filtered");
    assert_eq!(denied.kind, ErrorKind::AccessDenied);
    assert!(
        !log.calls().iter().any(|c| c.contains("secret")),
        "{:?}",
        log.calls()
    );
}

#[tokio::test]
async fn source_refuses_identities_it_does_not_list() {
    let log = Arc::new(Log::default());
    let listener = LocalServer::bind("source-clients").unwrap();
    let _stop = serve(
        listener,
        source(log.clone(), Arc::new(vec![]), Some(vec!["backup1"])),
    );
    let stranger = client(LocalClient {
        listener_name: "source-clients".into(),
        client_identity: ClientIdentity::new("stranger").unwrap(),
    });
    let err = stranger.ping().await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err:?}");
    let friend = client(LocalClient {
        listener_name: "source-clients".into(),
        client_identity: ClientIdentity::new("backup1").unwrap(),
    });
    friend.ping().await.expect("listed identity is admitted");
}

#[tokio::test]
async fn sink_refuses_source_requests() {
    let log = Arc::new(Log::default());
    let listener = LocalServer::bind("sink-role").unwrap();
    let _stop = serve(listener, sink(log.clone(), None));
    let remote = client(LocalClient {
        listener_name: "sink-role".into(),
        client_identity: ClientIdentity::new("pusher").unwrap(),
    });
    assert!(remote.send(send_request("pool/a")).await.is_err());
    assert!(remote.replication_cursor(fs("pool/a")).await.is_err());
    assert!(log.calls().is_empty());
}

#[tokio::test]
async fn bandwidth_limit_is_shared_by_the_streams_of_a_job() {
    let log = Arc::new(Log::default());
    let _stop = serve(
        LocalServer::bind("sink-limited").unwrap(),
        sink(log.clone(), None),
    );
    let limiter = zferry_rpc::bandwidth::BandwidthLimiter::new(8 << 20, 1 << 20);
    let remote = Arc::new(zferry_rpc::client::RemoteEndpoint::new(
        Arc::new(LocalClient {
            listener_name: "sink-limited".into(),
            client_identity: ClientIdentity::new("pusher").unwrap(),
        }),
        zferry_rpc::client::ClientOptions {
            limiter: Some(limiter),
            ..Default::default()
        },
    ));
    let started = std::time::Instant::now();
    // Two streams of 6 MiB each share 8 MiB/s (1 MiB burst): about 1.4 s in total.
    let streams = (0..2).map(|i| {
        let remote = remote.clone();
        tokio::spawn(async move {
            remote
                .receive(
                    receive_request(&format!("pool/fs{i}")),
                    ByteStream::new(std::io::Cursor::new(test_data(6 << 20))),
                )
                .await
        })
    });
    for stream in streams.collect::<Vec<_>>() {
        stream.await.unwrap().expect("stream");
    }
    let took = started.elapsed().as_secs_f64();
    assert!((1.2..4.0).contains(&took), "took {took}s");
    assert_eq!(log.received.lock().unwrap().len(), 12 << 20);
}

#[tokio::test]
async fn compressed_pull_arrives_intact() {
    let log = Arc::new(Log::default());
    let data = Arc::new(test_data(5 << 20));
    let _stop = serve(
        LocalServer::bind("source-zstd").unwrap(),
        source(log.clone(), data.clone(), None),
    );
    let remote = zferry_rpc::client::RemoteEndpoint::new(
        Arc::new(LocalClient {
            listener_name: "source-zstd".into(),
            client_identity: ClientIdentity::new("puller").unwrap(),
        }),
        zferry_rpc::client::ClientOptions {
            compress: true,
            ..Default::default()
        },
    );
    let (_, mut stream) = remote
        .send(send_request("pool/allowed"))
        .await
        .expect("send");
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.expect("stream");
    assert_eq!(got, *data);
}
