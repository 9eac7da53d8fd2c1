//! The certificate check of `configcheck` (skipped with `--skip-cert-check`): every TLS file the
//! configuration names must exist and contain PEM data of the right kind. Relative paths are
//! resolved against the working directory, as the daemon will open them.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::decode::{CertKind, CertRef};
use super::error::DecodeError;

/// Checks one TLS file reference.
pub(crate) fn check(r: &CertRef) -> Result<(), DecodeError> {
    let problem = |what: String| DecodeError::new(r.pos, r.path.clone(), what);
    let data = std::fs::read(&r.file)
        .map_err(|e| problem(format!("cannot read `{}`: {e}", r.file.display())))?;
    match r.kind {
        CertKind::Certificates => {
            let certs: Result<Vec<CertificateDer<'_>>, _> =
                CertificateDer::pem_slice_iter(&data).collect();
            match certs {
                Ok(c) if !c.is_empty() => Ok(()),
                Ok(_) => Err(problem(format!(
                    "found no PEM certificate in `{}`, expected one or more `BEGIN CERTIFICATE` blocks",
                    r.file.display()
                ))),
                Err(e) => Err(problem(format!(
                    "found malformed PEM in `{}` ({e}), expected one or more certificates",
                    r.file.display()
                ))),
            }
        }
        CertKind::PrivateKey => PrivateKeyDer::from_pem_slice(&data).map(|_| ()).map_err(|e| {
            problem(format!(
                "found no usable PEM private key in `{}` ({e}), expected a PKCS#8, PKCS#1 or SEC1 key",
                r.file.display()
            ))
        }),
    }
}
