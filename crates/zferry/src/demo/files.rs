//! Per-file SHA-256 checksums of a directory tree, to prove a replica holds the same data.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Relative path -> SHA-256 (hex) of every regular file below `dir`, skipping `.zfs` and the
/// directories in `skip` (mountpoints of child filesystems, which are checked on their own).
pub fn checksums(dir: &Path, skip: &[PathBuf]) -> std::io::Result<BTreeMap<PathBuf, String>> {
    let mut out = BTreeMap::new();
    walk(dir, Path::new(""), skip, &mut out)?;
    Ok(out)
}

fn walk(
    root: &Path,
    rel: &Path,
    skip: &[PathBuf],
    out: &mut BTreeMap<PathBuf, String>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        if rel.as_os_str().is_empty() && name == ".zfs" {
            continue;
        }
        let rel = rel.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !skip.iter().any(|s| s == &root.join(&rel)) {
                walk(root, &rel, skip, out)?;
            }
        } else if kind.is_file() {
            let mut file = std::fs::File::open(root.join(&rel))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            out.insert(rel, hex::encode(hasher.finalize()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_changed_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/.zfs")).expect("mkdir");
        std::fs::write(dir.path().join("a/x"), b"one").expect("write");
        std::fs::create_dir_all(dir.path().join("child")).expect("mkdir");
        std::fs::write(dir.path().join("child/y"), b"skipped").expect("write");
        let skip = [dir.path().join("child")];
        let first = checksums(dir.path(), &skip).expect("sums");
        assert_eq!(first.len(), 1);
        std::fs::write(dir.path().join("a/x"), b"two").expect("write");
        assert_ne!(first, checksums(dir.path(), &skip).expect("sums"));
    }
}
