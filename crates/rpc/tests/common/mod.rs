//! Test doubles: in-memory endpoints that record what reaches them.
#![allow(dead_code)]

pub mod world;

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncReadExt;
use zferry_repl::endpoint::*;
use zferry_rpc::ClientIdentity;

/// What reached a mock endpoint.
#[derive(Default)]
pub struct Log {
    pub calls: Mutex<Vec<String>>,
    pub received: Mutex<Vec<u8>>,
}

impl Log {
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    fn note(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

/// A receiver rooted at `root`; fails after `fail_after` bytes if set.
pub struct MockReceiver {
    pub root: String,
    pub log: Arc<Log>,
    pub fail_after: Option<usize>,
    /// How long `ping` takes.
    pub ping_delay: std::time::Duration,
}

pub fn version(name: &str, guid: u64) -> FsVersion {
    FsVersion {
        kind: VersionKind::Snapshot,
        name: name.into(),
        guid,
        createtxg: guid,
        creation: None,
        userrefs: None,
    }
}

pub fn fs(path: &str) -> FsPath {
    FsPath::new(path).unwrap()
}

#[async_trait]
impl Endpoint for MockReceiver {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        self.log.note(format!("{}: list_filesystems", self.root));
        Ok(vec![])
    }
    async fn list_versions(
        &self,
        r: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        self.log
            .note(format!("{}: list_versions {:?}", self.root, r.filesystems));
        Ok(ListVersionsResponse::default())
    }
    async fn destroy_snapshots(
        &self,
        r: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        self.log
            .note(format!("{}: destroy {:?}", self.root, r.snapshots));
        Ok(DestroySnapshotsResponse::default())
    }
    async fn ping(&self) -> Result<(), EndpointError> {
        tokio::time::sleep(self.ping_delay).await;
        self.log.note(format!("{}: ping", self.root));
        Ok(())
    }
}

#[async_trait]
impl Receiver for MockReceiver {
    async fn receive(
        &self,
        r: ReceiveRequest,
        mut stream: ByteStream,
    ) -> Result<ReceiveResponse, EndpointError> {
        self.log
            .note(format!("{}: receive {}", self.root, r.filesystem));
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        loop {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| EndpointError::temporary(e.to_string()))?;
            if n == 0 {
                break;
            }
            total += n;
            self.log
                .received
                .lock()
                .unwrap()
                .extend_from_slice(&buf[..n]);
            if let Some(limit) = self.fail_after
                && total >= limit
            {
                return Err(EndpointError::permanent(
                    "cannot receive: out of space (mock)",
                ));
            }
        }
        Ok(ReceiveResponse { received: r.to })
    }
    async fn hold_last_received(&self, r: HintRequest) -> Result<(), EndpointError> {
        self.log.note(format!(
            "{}: hold last received {}",
            self.root, r.filesystem
        ));
        Ok(())
    }
    async fn clear_resume_token(&self, r: ClearResumeTokenRequest) -> Result<(), EndpointError> {
        self.log
            .note(format!("{}: clear {}", self.root, r.filesystem));
        Ok(())
    }
}

/// A sink factory rooted per identity, as a real sink does.
pub fn sink(log: Arc<Log>, fail_after: Option<usize>) -> zferry_rpc::server::Service {
    slow_sink(log, fail_after, |_| std::time::Duration::ZERO)
}

/// A sink whose `ping` takes `delay(identity)`.
pub fn slow_sink(
    log: Arc<Log>,
    fail_after: Option<usize>,
    delay: fn(&ClientIdentity) -> std::time::Duration,
) -> zferry_rpc::server::Service {
    zferry_rpc::server::Service::Sink(Arc::new(move |id: &ClientIdentity| {
        Ok(Arc::new(MockReceiver {
            root: format!("backup/{id}"),
            log: log.clone(),
            fail_after,
            ping_delay: delay(id),
        }) as Arc<dyn Receiver>)
    }))
}

/// A sender serving `data` for every send.
pub struct MockSender {
    pub log: Arc<Log>,
    pub data: Arc<Vec<u8>>,
    pub filesystems: Vec<&'static str>,
}

#[async_trait]
impl Endpoint for MockSender {
    async fn list_filesystems(&self) -> Result<Vec<FilesystemInfo>, EndpointError> {
        Ok(self
            .filesystems
            .iter()
            .map(|p| {
                serde_json::from_value(serde_json::json!({"path": p, "is_placeholder": false}))
                    .unwrap()
            })
            .collect())
    }
    async fn list_versions(
        &self,
        _: ListVersionsRequest,
    ) -> Result<ListVersionsResponse, EndpointError> {
        Ok(ListVersionsResponse::default())
    }
    async fn destroy_snapshots(
        &self,
        _: DestroySnapshotsRequest,
    ) -> Result<DestroySnapshotsResponse, EndpointError> {
        Ok(DestroySnapshotsResponse::default())
    }
    async fn ping(&self) -> Result<(), EndpointError> {
        Ok(())
    }
}

#[async_trait]
impl Sender for MockSender {
    async fn send_estimate(&self, _: SendRequest) -> Result<SendEstimate, EndpointError> {
        Ok(SendEstimate {
            expected_bytes: Some(self.data.len() as u64),
        })
    }
    async fn send(&self, r: SendRequest) -> Result<(SendResponse, ByteStream), EndpointError> {
        self.log.note(format!("send {}", r.filesystem));
        let data = self.data.clone();
        Ok((
            SendResponse {
                resumed: false,
                flags: StreamFlags::default(),
                expected_bytes: Some(data.len() as u64),
            },
            ByteStream::new(std::io::Cursor::new(data.as_ref().clone())),
        ))
    }
    async fn send_completed(&self, r: SendCompletedRequest) -> Result<(), EndpointError> {
        self.log
            .note(format!("send_completed {}", r.request.filesystem));
        Ok(())
    }
    async fn replication_cursor(&self, f: FsPath) -> Result<Option<FsVersion>, EndpointError> {
        self.log.note(format!("cursor {f}"));
        Ok(Some(version("c", 7)))
    }
    async fn hint_most_recent_common_ancestor(&self, _: HintRequest) -> Result<(), EndpointError> {
        Ok(())
    }
}

/// Deterministic test data, partly compressible.
pub fn test_data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..len)
        .map(|i| {
            if (i / 4096) % 2 == 0 {
                (i % 251) as u8
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            }
        })
        .collect()
}

pub fn receive_request(path: &str) -> ReceiveRequest {
    ReceiveRequest {
        filesystem: fs(path),
        from: None,
        to: version("snap1", 1),
        resume_token: None,
        flags: StreamFlags::default(),
        rollback: false,
    }
}

pub fn send_request(path: &str) -> SendRequest {
    SendRequest {
        filesystem: fs(path),
        from: None,
        to: version("snap1", 1),
        incremental: Incremental::Single,
        resume_token: None,
        protection: Protection::GuaranteeResumability,
    }
}

/// Serves `listener` in the background until the returned guard is dropped.
pub fn serve<L: zferry_rpc::transport::Listener + 'static>(
    listener: L,
    service: zferry_rpc::server::Service,
) -> tokio::sync::oneshot::Sender<()> {
    serve_with(
        listener,
        service,
        zferry_rpc::server::ServerOptions::default(),
    )
}

/// [`serve`] with the given options.
pub fn serve_with<L: zferry_rpc::transport::Listener + 'static>(
    listener: L,
    service: zferry_rpc::server::Service,
    options: zferry_rpc::server::ServerOptions,
) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(zferry_rpc::server::serve(
        listener,
        service,
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    stop
}

/// A client endpoint over `connector` with short timeouts.
pub fn client<C: zferry_rpc::transport::Connector + 'static>(
    connector: C,
) -> zferry_rpc::client::RemoteEndpoint {
    zferry_rpc::client::RemoteEndpoint::new(
        Arc::new(connector),
        zferry_rpc::client::ClientOptions::default(),
    )
}

/// A source serving `filesystems`, admitting `clients` (all if `None`) and only `pool/allowed*`.
pub fn source(
    log: Arc<Log>,
    data: Arc<Vec<u8>>,
    clients: Option<Vec<&str>>,
) -> zferry_rpc::server::Service {
    let filter: zferry_rpc::access::FilesystemPredicate =
        Arc::new(|fs: &FsPath| fs.as_str().starts_with("pool/allowed"));
    zferry_rpc::server::Service::Source {
        senders: Arc::new(move |_: &ClientIdentity| {
            Ok(Arc::new(MockSender {
                log: log.clone(),
                data: data.clone(),
                filesystems: vec!["pool/allowed", "pool/secret"],
            }) as Arc<dyn Sender>)
        }),
        access: zferry_rpc::access::SourceAccess {
            clients: clients.map(|c| {
                c.into_iter()
                    .map(|s| ClientIdentity::new(s).unwrap())
                    .collect()
            }),
            filter,
        },
    }
}
