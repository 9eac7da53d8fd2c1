//! Name rules shared by job names, client identities, root filesystems and property names.

/// Longest ZFS name (256 bytes including the terminating NUL).
pub const MAX_NAME_LEN: usize = 255;

/// Longest job name: zrepl requires that its tentative cursor bookmark for a dataset `pool/ds`
/// (`pool/ds#zrepl_CURSORTENTATIVE__G_<16 hex>_J_<job>`) fits [`MAX_NAME_LEN`], which leaves 203
/// bytes for the job name.
pub const MAX_JOB_NAME_LEN: usize = 203;

/// Checks one component of a ZFS dataset name as zrepl does: not empty, at most 255 bytes,
/// ASCII letters, digits and any of `-_.: ` only, and not `.` or `..`.
pub fn component(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("must not be longer than {MAX_NAME_LEN} bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.: ".contains(*c)))
    {
        return Err(format!(
            "contains `{c}`; only letters, digits and any of `-_.: ` are allowed"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("must not be `{name}`"));
    }
    Ok(())
}

/// Checks a job name: a valid dataset name component, not starting with `_` (reserved for
/// internal use), at most [`MAX_JOB_NAME_LEN`] bytes.
pub fn job_name(name: &str) -> Result<(), String> {
    if name.starts_with('_') {
        return Err("job names starting with `_` are reserved for internal use".to_owned());
    }
    if name.len() > MAX_JOB_NAME_LEN {
        return Err(format!(
            "must not be longer than {MAX_JOB_NAME_LEN} bytes (it is part of bookmark and hold names)"
        ));
    }
    component(name)
}

/// Checks a client identity (it becomes a dataset name component below a sink's `root_fs`),
/// with the rules of [`component`].
pub fn client_identity(name: &str) -> Result<(), String> {
    component(name)
}

/// Checks a dataset path such as `pool/backups`: not empty, valid components separated by `/`,
/// at most [`MAX_NAME_LEN`] bytes.
pub fn dataset_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if path.len() > MAX_NAME_LEN {
        return Err(format!("must not be longer than {MAX_NAME_LEN} bytes"));
    }
    for comp in path.split('/') {
        component(comp).map_err(|e| {
            if comp.is_empty() {
                "must not have empty components (leading, trailing or double `/`)".to_owned()
            } else {
                format!("component `{comp}` {e}")
            }
        })?;
    }
    Ok(())
}

/// Checks a ZFS property name as zrepl does: 1 to 256 bytes of letters, digits and `-_.:`, not
/// starting with `-`.
pub fn property(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("property name must not be empty".to_owned());
    }
    if name.len() > 256 {
        return Err("property name must not be longer than 256 bytes".to_owned());
    }
    if name.starts_with('-') {
        return Err("property name must not start with `-`".to_owned());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err("property name may only contain letters, digits and any of `-_.:`".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        for ok in ["a", "my job", "host-1.example.com", "x:y", "_ok_inside"] {
            assert!(component(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a@b", "ü", "a%b", &"x".repeat(256)] {
            assert!(component(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn job_names() {
        assert!(job_name("prod_to_backups").is_ok());
        assert!(job_name("_internal").is_err());
        assert!(job_name(&"j".repeat(MAX_JOB_NAME_LEN)).is_ok());
        assert!(job_name(&"j".repeat(MAX_JOB_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn dataset_paths() {
        assert!(dataset_path("pool/backup servers/x").is_ok());
        for bad in ["", "/pool", "pool/", "pool//x", "pool@snap", "pool<"] {
            assert!(dataset_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn properties() {
        assert!(property("com.example:prop").is_ok());
        assert!(property("-x").is_err());
        assert!(property("a b").is_err());
    }
}
