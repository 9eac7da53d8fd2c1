//! `zferry identity init NAME | show | renew`: this daemon's own TLS identity (a key and a
//! self-signed certificate) for the `tls` transport with pinned partners. Give the partner the
//! certificate `show` prints; it names that file as `ca` and this identity as `server_cn` /
//! `client_cns`.

use crate::cli::IdentityCommand;
use zferry_rpc::certs::{self, IdentityInfo};

fn print(info: &IdentityInfo) {
    println!("name:        {}", info.name);
    println!("fingerprint: SHA256 {}", info.fingerprint);
    println!("certificate: {}", info.files.cert.display());
    println!("key:         {}", info.files.key.display());
    print!("{}", info.cert_pem);
}

/// Runs the subcommand.
pub fn run(command: &IdentityCommand) -> anyhow::Result<()> {
    let info = match command {
        IdentityCommand::Init { name, dir } => certs::init(dir, name)?,
        IdentityCommand::Show { dir } => certs::show(dir)?,
        IdentityCommand::Renew { dir } => certs::renew(dir)?,
    };
    print(&info);
    Ok(())
}
