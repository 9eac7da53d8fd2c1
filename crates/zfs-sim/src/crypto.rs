//! Native encryption: properties, key material, `load-key`/`unload-key`.
//!
//! Data is never actually encrypted; the simulator models what is observable: which datasets are
//! encrypted and by which encryption root, whether the key is loaded (an encrypted dataset whose
//! key is not loaded is not mounted), and that only the right key material loads a key
//! (a fingerprint of it is kept on the encryption root, and travels with raw streams).

use std::fs;

use sha2::{Digest, Sha256};

use crate::errors::{Result, SimError};
use crate::props::{Obj, Reader, Source, Value};
use crate::state::{Crypt, Dataset, KeyInfo, State};

/// Default PBKDF2 iterations for passphrase keys.
pub const DEFAULT_ITERS: u64 = 350_000;

/// The encryption root's key info of `d`, if encrypted.
pub fn root_key<'a>(st: &'a State, d: &Dataset) -> Option<&'a KeyInfo> {
    let c = d.crypt.as_ref()?;
    st.datasets.get(&c.root)?.crypt.as_ref()?.key.as_ref()
}

/// True when `d` is unencrypted or its key is loaded.
pub fn key_available(st: &State, d: &Dataset) -> bool {
    match &d.crypt {
        None => true,
        Some(c) if c.root == d.name => c.key.as_ref().is_some_and(|k| k.loaded),
        Some(_) => root_key(st, d).is_some_and(|k| k.loaded),
    }
}

/// Value of one encryption property.
pub fn prop(r: &Reader, obj: &Obj, name: &str) -> Value {
    let d = match obj {
        Obj::Fs(d) | Obj::Snap(d, _) => *d,
        Obj::Bm(..) => {
            return Value {
                value: "-".into(),
                source: Source::None,
            };
        }
    };
    let ro = |v: &str| Value {
        value: v.to_string(),
        source: Source::None,
    };
    let def = |v: &str| Value {
        value: v.to_string(),
        source: Source::Default,
    };
    let Some(c) = &d.crypt else {
        return match name {
            "encryption" => def("off"),
            "keyformat" => def("none"),
            "keylocation" => def("none"),
            "pbkdf2iters" => def("0"),
            _ => ro("-"),
        };
    };
    let key = root_key(r.st, d);
    let is_root = c.root == d.name;
    match name {
        "encryption" => ro(&c.algorithm),
        "keyformat" => ro(key.map(|k| k.format.as_str()).unwrap_or("none")),
        "keylocation" => match (&c.key, matches!(obj, Obj::Fs(_))) {
            (Some(k), true) if is_root => Value {
                value: k.location.clone(),
                source: Source::Local,
            },
            _ => def("none"),
        },
        "pbkdf2iters" => ro(&key.map(|k| k.iters).unwrap_or(0).to_string()),
        "encryptionroot" => ro(&c.root),
        "keystatus" => ro(if key.is_some_and(|k| k.loaded) {
            "available"
        } else {
            "unavailable"
        }),
        _ => ro("-"),
    }
}

/// Reads key material from a `file://` keylocation (or `prompt`: standard input) and checks its
/// format; returns the fingerprint. `what` is the error prefix (e.g. `Key load error`).
pub fn read_key(format: &str, location: &str, iters: u64, what: &str) -> Result<String> {
    let bytes = if let Some(path) = location.strip_prefix("file://") {
        fs::read(path).map_err(|e| {
            SimError::new(format!(
                "{what}: Failed to open key material file: {}",
                e.to_string().split(" (os error").next().unwrap_or("error")
            ))
        })?
    } else if location == "prompt" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| SimError::io("read key from stdin", e))?;
        if buf.is_empty() {
            return Err(SimError::new(format!("{what}: encryption failure")));
        }
        buf
    } else {
        return Err(SimError::new(format!("{what}: Invalid keylocation")));
    };
    let material: Vec<u8> = match format {
        "passphrase" => {
            let s = bytes.split(|b| *b == b'\n').next().unwrap_or(&[]).to_vec();
            if s.len() < 8 {
                return Err(SimError::new(format!(
                    "{what}: Passphrase too short (min 8)."
                )));
            }
            s
        }
        "hex" => {
            let s: Vec<u8> = bytes.iter().copied().take_while(|b| *b != b'\n').collect();
            if s.len() != 64 || !s.iter().all(u8::is_ascii_hexdigit) {
                return Err(SimError::new(format!("{what}: Invalid hex key provided.")));
            }
            s
        }
        "raw" => {
            if bytes.len() < 32 {
                return Err(SimError::new(format!(
                    "{what}: Raw key too short (expected 32)."
                )));
            }
            bytes[..32].to_vec()
        }
        _ => return Err(SimError::new(format!("{what}: Invalid keyformat"))),
    };
    let mut h = Sha256::new();
    h.update(format.as_bytes());
    h.update(iters.to_le_bytes());
    h.update(&material);
    Ok(hex::encode(&h.finalize()[..16]))
}

/// Encryption settings requested at creation (`-o encryption=... -o keyformat=... -o keylocation=...`).
pub struct CreateCrypt {
    /// Requested `encryption` value.
    pub encryption: Option<String>,
    /// Requested `keyformat`.
    pub keyformat: Option<String>,
    /// Requested `keylocation`.
    pub keylocation: Option<String>,
    /// Requested `pbkdf2iters`.
    pub iters: Option<u64>,
}

/// Decides the encryption of a new dataset `name` under `parent`; `errpfx` is the libzfs
/// error prefix (`cannot create 'x'`).
pub fn for_create(
    name: &str,
    parent: Option<&Dataset>,
    req: &CreateCrypt,
    errpfx: &str,
) -> Result<Option<Crypt>> {
    let parent_crypt = parent.and_then(|p| p.crypt.as_ref());
    let algo = match req.encryption.as_deref() {
        // Not given: inherited from the parent (libzfs's `zfs_crypto_create`).
        None => parent_crypt.map(|c| c.algorithm.clone()),
        Some("off") => None,
        Some("on") => Some("aes-256-gcm".to_string()),
        Some(a) => Some(a.to_string()),
    };
    let has_params = req.keyformat.is_some() || req.keylocation.is_some() || req.iters.is_some();
    let Some(algo) = algo else {
        if has_params {
            return Err(SimError::new(format!(
                "{errpfx}: Encryption must be turned on to set encryption properties."
            )));
        }
        return Ok(None);
    };
    if (parent_crypt.is_none() && req.keyformat.is_none())
        || (req.keylocation.is_some() && req.keyformat.is_none())
    {
        return Err(SimError::new(format!(
            "{errpfx}: Keyformat required for new encryption root."
        )));
    }
    let Some(format) = req.keyformat.clone() else {
        // An encrypted child inheriting the parent's key.
        return Ok(parent_crypt.map(|pc| Crypt {
            algorithm: algo,
            root: pc.root.clone(),
            key: None,
        }));
    };
    let location = req.keylocation.clone().unwrap_or_else(|| "prompt".into());
    let iters = if format == "passphrase" {
        req.iters.unwrap_or(DEFAULT_ITERS)
    } else {
        0
    };
    let fingerprint = read_key(&format, &location, iters, errpfx)?;
    Ok(Some(Crypt {
        algorithm: algo,
        root: name.to_string(),
        key: Some(KeyInfo {
            format,
            location,
            iters,
            fingerprint,
            loaded: true,
        }),
    }))
}

/// `zfs load-key [-L location] [-n] ds`.
pub fn load_key(st: &mut State, name: &str, alt_location: Option<&str>, noop: bool) -> Result<()> {
    const WHAT: &str = "Key load error";
    let d = st.get(name)?;
    let Some(c) = d.crypt.clone() else {
        return Err(SimError::new(format!("{WHAT}: '{name}' is not encrypted.")));
    };
    if c.root != name {
        return Err(SimError::new(format!(
            "{WHAT}: Keys must be loaded for encryption root of '{name}' ({}).",
            c.root
        )));
    }
    let Some(key) = c.key.clone() else {
        return Err(SimError::new(format!(
            "{WHAT}: Failed to get encryption root for '{name}'."
        )));
    };
    if key.loaded && !noop {
        return Err(SimError::new(format!(
            "{WHAT}: Key already loaded for '{name}'."
        )));
    }
    let location = alt_location.unwrap_or(&key.location);
    let fp = read_key(&key.format, location, key.iters, WHAT)?;
    if fp != key.fingerprint {
        return Err(SimError::new(format!(
            "{WHAT}: Incorrect key provided for '{name}'."
        )));
    }
    if !noop
        && let Some(k) = st
            .datasets
            .get_mut(name)
            .and_then(|d| d.crypt.as_mut())
            .and_then(|c| c.key.as_mut())
    {
        k.loaded = true;
    }
    Ok(())
}

/// `zfs unload-key ds`.
pub fn unload_key(st: &mut State, name: &str) -> Result<()> {
    const WHAT: &str = "Key unload error";
    let d = st.get(name)?;
    let Some(c) = d.crypt.clone() else {
        return Err(SimError::new(format!("{WHAT}: '{name}' is not encrypted.")));
    };
    if c.root != name {
        return Err(SimError::new(format!(
            "{WHAT}: Keys must be unloaded for encryption root of '{name}' ({}).",
            c.root
        )));
    }
    if !c.key.as_ref().is_some_and(|k| k.loaded) {
        return Err(SimError::new(format!(
            "{WHAT}: Key already unloaded for '{name}'."
        )));
    }
    if let Some(k) = st
        .datasets
        .get_mut(name)
        .and_then(|d| d.crypt.as_mut())
        .and_then(|c| c.key.as_mut())
    {
        k.loaded = false;
    }
    Ok(())
}
