//! `zferry-stdinserver-relay SOCKDIR IDENTITY`: the relay behind `zferry stdinserver`, as a
//! stand-alone program (used as the forced command in the ssh transport's tests).

use std::path::Path;
use std::process::ExitCode;
use zferry_rpc::ClientIdentity;
use zferry_rpc::transport::stdinserver::stdinserver_relay;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [sockdir, identity] = args.as_slice() else {
        eprintln!("usage: zferry-stdinserver-relay SOCKDIR IDENTITY");
        return ExitCode::from(2);
    };
    let result = match ClientIdentity::new(identity.as_str()) {
        Ok(identity) => stdinserver_relay(Path::new(sockdir), &identity).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zferry-stdinserver-relay: {e}");
            ExitCode::FAILURE
        }
    }
}
