//! A sink confines every client to its own namespace: malicious requests never reach the
//! receiver.

mod common;

use common::*;
use serde_json::json;
use std::sync::Arc;
use zferry_rpc::conn::{ConnOptions, Connection};
use zferry_rpc::message::Response;
use zferry_rpc::transport::Connector;
use zferry_rpc::transport::local::{LocalClient, LocalServer};
use zferry_rpc::{ClientIdentity, ErrorClass, Inbound};

fn snap(name: &str) -> serde_json::Value {
    json!({"kind": "snapshot", "name": name, "guid": 1, "createtxg": 1})
}

fn receive(fs: &str, to: &str) -> serde_json::Value {
    json!({"op": "receive", "args": {"request": {
        "filesystem": fs, "from": null, "to": snap(to),
        "flags": {"raw": false, "encrypted_source": false, "properties": false}
    }, "compress": false}})
}

/// Requests that try to leave `root_fs/<identity>` or smuggle names ZFS would misread.
fn malicious() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("parent reference", receive("../other-client/fs", "s")),
        ("absolute path", receive("/backup/other", "s")),
        ("embedded parent", receive("pool/../../other", "s")),
        ("dot component", receive("pool/./x", "s")),
        ("lone dot", receive(".", "s")),
        ("empty name", receive("", "s")),
        ("double slash", receive("pool//x", "s")),
        ("trailing slash", receive("pool/x/", "s")),
        ("snapshot in dataset name", receive("pool@evil", "s")),
        ("bookmark in dataset name", receive("pool#evil", "s")),
        ("percent", receive("pool/a%b", "s")),
        ("nul byte", receive("pool/a\u{0}b", "s")),
        ("newline", receive("pool/a\nb", "s")),
        ("too long", receive(&"a".repeat(300), "s")),
        ("slash in snapshot name", receive("pool/fs", "s/../../x")),
        ("at in snapshot name", receive("pool/fs", "a@b")),
        (
            "destroy escaping",
            json!({"op": "destroy_snapshots", "args": {"snapshots": [
            {"filesystem": "../x", "name": "s", "guid": 1}]}}),
        ),
        (
            "destroy bad snapshot name",
            json!({"op": "destroy_snapshots", "args": {"snapshots": [
            {"filesystem": "pool/x", "name": "a/b", "guid": 1}]}}),
        ),
        (
            "list escaping",
            json!({"op": "list_versions", "args": {"filesystems": ["ok", "../up"]}}),
        ),
        (
            "token injection",
            json!({"op": "clear_resume_token", "args": {
            "filesystem": "pool/x", "token": "$(rm -rf /)"}}),
        ),
        (
            "unknown operation",
            json!({"op": "shell", "args": "rm -rf /"}),
        ),
        (
            "unknown field",
            json!({"op": "ping", "args": null, "root": "/"}),
        ),
    ]
}

#[tokio::test]
async fn namespace_escape_attempts_are_refused_before_the_receiver() {
    let log = Arc::new(Log::default());
    let _stop = serve(
        LocalServer::bind("sink-escape").unwrap(),
        sink(log.clone(), None),
    );
    let connector = LocalClient {
        listener_name: "sink-escape".into(),
        client_identity: ClientIdentity::new("mallory").unwrap(),
    };
    let cases = malicious();
    assert!(cases.len() >= 10);
    for (what, request) in cases {
        let stream = connector.connect().await.unwrap();
        let mut conn = Connection::establish(stream, ConnOptions::default())
            .await
            .unwrap();
        conn.send_message(&request).await.unwrap();
        match conn.recv().await.expect(what) {
            Inbound::Error(e) => assert_eq!(e.class, ErrorClass::BadRequest, "{what}: {e:?}"),
            Inbound::Control(json) => {
                let response: Response = serde_json::from_slice(&json).unwrap();
                match response {
                    Response::Failed(e) => assert_eq!(
                        e.kind,
                        zferry_repl::endpoint::ErrorKind::AccessDenied,
                        "{what}: {e:?}"
                    ),
                    other => panic!("{what}: accepted with {other:?}"),
                }
            }
            _ => panic!("{what}: unexpected frame"),
        }
    }
    assert!(
        log.calls().is_empty(),
        "reached the receiver: {:?}",
        log.calls()
    );
}
