//! zrepl's sample configurations (from `../shared/zrepl-samples`, not copied into this
//! repository) and zferry's own examples under `examples/` must load; zrepl's `invalid/*`
//! samples must be rejected with a message that says why. Every loaded configuration must also
//! survive a round trip through `configcheck --format yaml`.

use std::path::{Path, PathBuf};

use zferry::config::{self, Config, ConfigError, LoadOptions};

const NO_CERTS: LoadOptions = LoadOptions { check_certs: false };

fn samples_dir() -> PathBuf {
    match std::env::var_os("ZFERRY_ZREPL_SAMPLES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/zrepl-samples"),
    }
}

fn yml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    files
}

/// Renders `cfg` as `configcheck --format yaml` does and loads it again.
fn round_trip(cfg: &Config, origin: &Path) {
    let yaml =
        zferry::commands::configcheck::render(cfg, zferry::cli::DumpFormat::Yaml).expect("renders");
    let again =
        config::load_source(&yaml, Path::new("rendered.yml"), NO_CERTS).unwrap_or_else(|e| {
            panic!(
                "{}: rendered YAML does not load: {e}\n{yaml}",
                origin.display()
            )
        });
    assert_eq!(
        &again,
        cfg,
        "{}: round trip changed the configuration",
        origin.display()
    );
}

#[test]
fn zrepl_samples_load_and_round_trip() {
    let dir = samples_dir();
    if !dir.is_dir() {
        println!("SKIPPED: zrepl samples not found at {}", dir.display());
        return;
    }
    let mut files = yml_files(&dir);
    files.extend(yml_files(&dir.join("include.d")));
    assert!(
        files.len() >= 20,
        "expected the full sample set, found {}",
        files.len()
    );
    for file in files {
        let cfg = config::load_with(&file, NO_CERTS)
            .unwrap_or_else(|e| panic!("sample {} rejected: {e}", file.display()));
        round_trip(&cfg, &file);
    }
}

#[test]
fn zrepl_include_samples_pull_in_the_included_jobs() {
    let dir = samples_dir();
    if !dir.is_dir() {
        println!("SKIPPED: zrepl samples not found at {}", dir.display());
        return;
    }
    for main in ["include.yml", "include_directory.yml"] {
        let cfg = config::load_with(&dir.join(main), NO_CERTS).expect("loads");
        assert!(cfg.job("snapjob").is_some(), "{main}: included job missing");
    }
}

#[test]
fn zrepl_invalid_samples_are_rejected_with_a_reason() {
    let dir = samples_dir().join("invalid");
    if !dir.is_dir() {
        println!("SKIPPED: zrepl samples not found at {}", dir.display());
        return;
    }
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("list invalid samples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    for case in cases {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let err = match config::load_with(&case.join("zrepl.yml"), NO_CERTS) {
            Ok(_) => panic!("invalid sample {name} was accepted"),
            Err(e) => e,
        };
        let message = err.to_string();
        assert!(matches!(err, ConfigError::Invalid(_)), "{name}: {message}");
        let why = match name.as_str() {
            "duplicate_job_names" | "duplicate_job_names_with_include" => {
                "duplicate job name `my_job`"
            }
            "internal_job_name" => "reserved for internal use",
            _ => "",
        };
        assert!(
            message.contains(why),
            "{name}: message does not say why: {message}"
        );
        println!("{name}: {message}");
    }
}

#[test]
fn own_examples_load_and_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let files = yml_files(&dir);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    for expected in [
        "push.yml",
        "sink.yml",
        "pull.yml",
        "source.yml",
        "snap.yml",
        "local.yml",
        "fanout-source.yml",
        "fanout-target.yml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "examples/{expected} missing"
        );
    }
    for file in files {
        let cfg = config::load_with(&file, NO_CERTS)
            .unwrap_or_else(|e| panic!("example {} rejected: {e}", file.display()));
        assert!(!cfg.jobs.is_empty(), "{}: no jobs", file.display());
        round_trip(&cfg, &file);
    }
}

/// zrepl 0.7 lets sinks share a `root_fs`; zferry refused every shared or nested `root_fs`.
#[test]
fn sinks_sharing_a_root_fs_with_distinct_client_identities_are_accepted() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shared-root-fs.yml");
    let cfg = config::load_with(&file, NO_CERTS).expect("loads");
    let roots: Vec<&str> = ["laptops", "servers", "nas"]
        .iter()
        .map(|j| cfg.job(j).and_then(|j| j.root_fs()).expect("receiving job"))
        .collect();
    assert_eq!(roots, ["backup/hosts", "backup/hosts", "backup/hosts/nas"]);
}

#[test]
fn existing_pem_files_pass_the_certificate_check() {
    let cfg = config::load(Path::new("tests/fixtures/tls/zferry.yml")).expect("valid TLS files");
    assert_eq!(cfg.jobs.len(), 1);
}

#[test]
fn empty_configuration_gets_all_defaults() {
    let cfg = config::load_source("", Path::new("empty.yml"), NO_CERTS).expect("loads");
    assert!(cfg.jobs.is_empty());
    assert_eq!(cfg.global, zferry::config::Global::default());
    assert_eq!(
        cfg.global.control.sockpath,
        Path::new("/var/run/zferry/control")
    );
}
