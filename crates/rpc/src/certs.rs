//! zferry identities: a key and a self-signed certificate per daemon, for tls with pinning.
//!
//! `zferry identity init NAME` creates them in the state directory, `zferry identity show` prints
//! the certificate (to hand to the partner, who pins it) and its SHA-256 fingerprint, `zferry
//! identity renew` replaces key and certificate under the same name (partners must pin the new
//! certificate). The name is the certificate's common name and therefore the client identity the
//! partner sees, so it must be a valid ZFS name component. Files are written with mode 0600
//! (directory 0700), atomically (a temporary file renamed into place).

use crate::error::{Result, RpcError};
use crate::identity::ClientIdentity;
use crate::transport::tls::{TlsIdentityFiles, common_name};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// File name of the certificate in the state directory.
pub const CERT_FILE: &str = "identity.crt";
/// File name of the private key in the state directory.
pub const KEY_FILE: &str = "identity.key";

/// A daemon's identity as `show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityInfo {
    /// The name (certificate common name, the identity partners see).
    pub name: String,
    /// The certificate in PEM, for the partner to pin.
    pub cert_pem: String,
    /// SHA-256 of the certificate's DER, as colon-separated upper-case hex.
    pub fingerprint: String,
    /// Where the files are.
    pub files: TlsIdentityFiles,
}

/// The identity files in a state directory.
pub fn identity_files(state_dir: &Path) -> TlsIdentityFiles {
    TlsIdentityFiles {
        cert: state_dir.join(CERT_FILE),
        key: state_dir.join(KEY_FILE),
    }
}

/// Creates a new identity; refuses to overwrite an existing one.
pub fn init(state_dir: &Path, name: &str) -> Result<IdentityInfo> {
    let files = identity_files(state_dir);
    if files.cert.exists() || files.key.exists() {
        return Err(RpcError::Config(format!(
            "an identity already exists in {} (use renew to replace it)",
            state_dir.display()
        )));
    }
    generate(state_dir, name)
}

/// Replaces key and certificate, keeping the name.
pub fn renew(state_dir: &Path) -> Result<IdentityInfo> {
    let current = show(state_dir)?;
    generate(state_dir, &current.name)
}

/// Reads the identity.
pub fn show(state_dir: &Path) -> Result<IdentityInfo> {
    let files = identity_files(state_dir);
    let pem = fs::read_to_string(&files.cert).map_err(|e| {
        RpcError::Config(format!(
            "no identity in {} ({e}); create one with `zferry identity init NAME`",
            state_dir.display()
        ))
    })?;
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| RpcError::Config(format!("cannot read {}: {e}", files.cert.display())))?;
    Ok(IdentityInfo {
        name: common_name(&der)?,
        fingerprint: fingerprint(&der),
        cert_pem: pem,
        files,
    })
}

/// SHA-256 fingerprint of a DER certificate, `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn generate(state_dir: &Path, name: &str) -> Result<IdentityInfo> {
    ClientIdentity::new(name)?;
    let key = rcgen::KeyPair::generate().map_err(|e| RpcError::Tls(e.to_string()))?;
    // A DNS subject alternative name lets CA-style verifiers match too, where the name is one.
    let sans = if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        vec![name.to_string()]
    } else {
        Vec::new()
    };
    let mut params =
        rcgen::CertificateParams::new(sans).map_err(|e| RpcError::Tls(e.to_string()))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params
        .self_signed(&key)
        .map_err(|e| RpcError::Tls(e.to_string()))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(|e| RpcError::io("creating the state directory", e))?;
    let files = identity_files(state_dir);
    write_private(&files.key, key.serialize_pem().as_bytes())?;
    write_private(&files.cert, cert.pem().as_bytes())?;
    show(state_dir)
}

/// Writes a file with mode 0600 atomically.
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp: PathBuf = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| RpcError::io("writing an identity file", e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| RpcError::io("writing an identity file", e))?;
    fs::rename(&tmp, path).map_err(|e| RpcError::io("writing an identity file", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn init_show_renew() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let made = init(&state, "host-a").expect("init");
        assert_eq!(made.name, "host-a");
        assert!(made.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(made.fingerprint.len(), 32 * 3 - 1);
        for file in [&made.files.cert, &made.files.key] {
            let mode = fs::metadata(file).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
        assert_eq!(show(&state).expect("show"), made);
        assert!(init(&state, "host-a").is_err(), "init never overwrites");
        let renewed = renew(&state).expect("renew");
        assert_eq!(renewed.name, "host-a");
        assert_ne!(renewed.fingerprint, made.fingerprint);
    }

    #[test]
    fn names_that_are_not_identities_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(init(dir.path(), "a/b").is_err());
        assert!(init(dir.path(), "").is_err());
    }
}
