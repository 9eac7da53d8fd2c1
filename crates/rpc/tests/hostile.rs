//! Hostile clients cannot deny service to others: while 200 connections to a sink stay open
//! (slowloris: sending nothing, or greeting and then staying silent), from one host or from 200,
//! a legitimate push from another host still finishes, with its data intact.
//!
//! Sender and sink are separate simulated hosts (each its own ZFS world); the hostile hosts are
//! other loopback addresses (127.0.1.x, admitted by the sink as `mallory-<address>`), so that the
//! sink tells them apart from the pushing host (127.0.0.1) as it would tell machines apart.

mod common;

use common::serve;
use common::world::{World, sink_service};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use zferry_repl::abstractions::Lane;
use zferry_repl::executor::{ReplicationOptions, replicate};
use zferry_repl::report::Progress;
use zferry_rpc::client::{ClientOptions, RemoteEndpoint};
use zferry_rpc::handshake::{GREETING_LEN, MAGIC, PROTOCOL_VERSION};
use zferry_rpc::transport::clientmap::ClientMap;
use zferry_rpc::transport::tcp::{TcpClient, TcpServer};

/// Connections the hostile host holds open.
const HOSTILE_CONNECTIONS: usize = 200;
/// The hostile hosts' network: the sink admits it, so their connections pass the address check.
const HOSTILE_NET: &str = "127.0.1.0/24";
/// How long the push may take at most. It takes 0.2 s here with one hostile host and 3.2 s with
/// 200; before the connection limits it took 25 s with silent connections and 111 s with greeted
/// ones, from one host or 200 (the old server closed them in waves of 64, after 20 s and 60 s).
/// 15 s is far from both, so that neither a loaded 2-core machine nor a regression to waves of
/// timeouts can pass for the other.
const PUSH_BOUND: Duration = Duration::from_secs(15);

/// How a hostile connection misbehaves.
#[derive(Clone, Copy, Debug)]
enum Slowloris {
    /// Connects and sends nothing.
    Silent,
    /// Sends a valid greeting, then nothing: no request, no heartbeat.
    Greeted,
}

impl Slowloris {
    /// Opens `n` connections, spread over `hosts` hostile addresses; they stay open while the
    /// result lives.
    async fn open(self, n: usize, hosts: u8, server: SocketAddr) -> Vec<TcpStream> {
        let mut held = Vec::with_capacity(n);
        for i in 0..n {
            let host = 1 + (i % usize::from(hosts)) as u8;
            let socket = TcpSocket::new_v4().expect("tcp socket");
            socket
                .bind(SocketAddr::from(([127, 0, 1, host], 0)))
                .expect("bind a hostile address");
            let mut stream = socket.connect(server).await.expect("connect");
            if let Slowloris::Greeted = self {
                stream.write_all(&greeting()).await.expect("greet");
            }
            held.push(stream);
        }
        held
    }
}

/// Raises this process's soft limit of open files to its hard limit: the tests of this binary
/// hold both ends of hundreds of connections at once, beyond the common default soft limit of
/// 1024 when they run in parallel.
fn enough_file_descriptors() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    setrlimit(Resource::Nofile, limit).expect("raise the open-files limit to its hard limit");
}

/// A valid greeting, as a zferry client sends it.
fn greeting() -> [u8; GREETING_LEN] {
    let mut out = [0u8; GREETING_LEN];
    out[..8].copy_from_slice(&MAGIC);
    out[8..12].copy_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    out
}

/// Pushes `src/data` from its own host to a sink on another host while `hosts` hostile hosts
/// hold [`HOSTILE_CONNECTIONS`] connections open, and prints how long the push took.
async fn push_during(attack: Slowloris, hosts: u8) {
    enough_file_descriptors();
    let laptop = World::new("src");
    let sink_host = Arc::new(World::new("dst"));
    let src = laptop.source_data();
    let root = format!("{}/sink", sink_host.pool);
    let clients = ClientMap::new([("127.0.0.1", "laptop"), (HOSTILE_NET, "mallory-*")]).unwrap();
    let server = TcpServer::bind("127.0.0.1:0", clients).await.unwrap();
    let address = server.local_addr().unwrap();
    let _stop = serve(server, sink_service(&sink_host, &root));
    let _hostile = attack.open(HOSTILE_CONNECTIONS, hosts, address).await;
    let receiver = Arc::new(RemoteEndpoint::new(
        Arc::new(TcpClient {
            address: address.to_string(),
            dial_timeout: Duration::from_secs(5),
        }),
        ClientOptions::default(),
    ));
    let started = Instant::now();
    // The daemon's own retry policy, and a new run after a failed one, as its next cycle would.
    let push = async {
        loop {
            let report = replicate(
                Arc::new(laptop.sender(Lane::new("push", "laptop"))),
                receiver.clone(),
                &ReplicationOptions::default(),
                &Progress::new(),
            )
            .await;
            if report.succeeded() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::time::timeout(PUSH_BOUND, push)
        .await
        .unwrap_or_else(|_| {
            panic!("no push within {PUSH_BOUND:?} during a {attack:?} slowloris from {hosts} hosts")
        });
    let took = started.elapsed();
    let open = format!("{HOSTILE_CONNECTIONS} {attack:?} connections from {hosts} hosts");
    eprintln!("legitimate push with {open} open: {took:?}");
    let replica = format!("{root}/laptop/{src}");
    assert_eq!(sink_host.checksum(&replica), laptop.checksum(&src));
}

#[tokio::test]
async fn a_push_finishes_while_another_host_holds_200_silent_connections() {
    push_during(Slowloris::Silent, 1).await;
}

#[tokio::test]
async fn a_push_finishes_while_another_host_holds_200_greeted_silent_connections() {
    push_during(Slowloris::Greeted, 1).await;
}

/// 200 hosts, one connection each: no per-address or per-identity cap applies, the server is
/// full, and the push gets its places from connections that wait for longer than 2 s.
#[tokio::test]
async fn a_push_finishes_while_200_hosts_hold_a_silent_connection_each() {
    push_during(Slowloris::Silent, 200).await;
}

#[tokio::test]
async fn a_push_finishes_while_200_hosts_hold_a_greeted_silent_connection_each() {
    push_during(Slowloris::Greeted, 200).await;
}

/// An identity that holds its 16 connections (the local transport has no address to count by)
/// gets no 17th, and is told in words that it may try again; other identities are served.
#[tokio::test]
async fn an_identity_at_its_connection_cap_is_told_to_try_later() {
    use zferry_repl::endpoint::Endpoint;
    use zferry_rpc::transport::local::{LocalClient, LocalServer};
    let log = Arc::new(common::Log::default());
    let mut options = zferry_rpc::server::ServerOptions::default();
    assert_eq!(options.limits.per_identity, 16, "the documented cap");
    // Held connections never go stale here, however slow the machine.
    options.limits.idle_at_limit = Duration::from_secs(3600);
    let _stop = common::serve_with(
        LocalServer::bind("hostile-identity-cap").unwrap(),
        common::sink(log, None),
        options.clone(),
    );
    let as_identity = |name: &str| {
        common::client(LocalClient {
            listener_name: "hostile-identity-cap".into(),
            client_identity: zferry_rpc::ClientIdentity::new(name).unwrap(),
        })
    };
    // Each client keeps its connection for reuse after its ping: 16 authenticated, idle ones.
    let cap = options.limits.per_identity;
    let mut held = Vec::new();
    for _ in 0..cap {
        let client = as_identity("mallory");
        client.ping().await.expect("within the cap");
        held.push(client);
    }
    let refused = as_identity("mallory")
        .ping()
        .await
        .expect_err("a 17th connection is refused");
    assert!(refused.is_temporary(), "{refused}");
    assert!(
        refused
            .message
            .contains(&format!("already holds {cap} connections")),
        "{refused}"
    );
    as_identity("laptop")
        .ping()
        .await
        .expect("another identity is served");
}
