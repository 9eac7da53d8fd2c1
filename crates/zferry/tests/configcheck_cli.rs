//! `zferry configcheck` as a process: exit codes, silence on success, error output, `--format`.

use assert_cmd::Command;
use std::path::Path;

fn zferry() -> Command {
    Command::cargo_bin("zferry").expect("zferry binary")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn valid_configuration_is_silent_and_exits_zero() {
    zferry()
        .args([
            "configcheck",
            "--skip-cert-check",
            "--config",
            &example("push.yml"),
        ])
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

#[test]
fn invalid_configuration_exits_one_with_file_line_column_and_field() {
    let out = zferry()
        .args([
            "configcheck",
            "--config",
            "tests/fixtures/invalid/bad_grid_syntax/zferry.yml",
        ])
        .assert()
        .code(1)
        .stdout("")
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).expect("utf-8");
    assert!(
        stderr.contains("tests/fixtures/invalid/bad_grid_syntax/zferry.yml:9:17: jobs[0].pruning.keep[0].grid: found `1x1h(keep=all) | 24 x | 14x1d`"),
        "{stderr}"
    );
}

#[test]
fn missing_certificates_fail_unless_the_check_is_skipped() {
    let (code, _, stderr) = run(&["configcheck", "--config", &example("sink.yml")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot read `/etc/zferry/tls/ca.crt`"),
        "{stderr}"
    );
    zferry()
        .args([
            "configcheck",
            "--skip-cert-check",
            "--config",
            &example("sink.yml"),
        ])
        .assert()
        .success();
    zferry()
        .args(["configcheck", "--config", "tests/fixtures/tls/zferry.yml"])
        .assert()
        .success();
}

#[test]
fn unreadable_configuration_exits_one() {
    let (code, _, stderr) = run(&[
        "configcheck",
        "--config",
        "tests/fixtures/does-not-exist.yml",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot read configuration file"),
        "{stderr}"
    );
}

#[test]
fn yaml_dump_is_accepted_again_by_configcheck() {
    let dump = zferry()
        .args([
            "configcheck",
            "--skip-cert-check",
            "--format",
            "yaml",
            "--config",
            &example("pull.yml"),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(dump).expect("utf-8");
    assert!(
        text.contains("dial_timeout: 10s"),
        "defaults are filled in:\n{text}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dumped.yml");
    std::fs::write(&file, &text).expect("write dump");
    zferry()
        .args(["configcheck", "--skip-cert-check", "--config"])
        .arg(&file)
        .assert()
        .success();
}

/// `configcheck --format json --what WHAT` of an example, parsed.
fn json_dump(what: &str, example_name: &str) -> serde_json::Value {
    let (code, stdout, stderr) = run(&[
        "configcheck",
        "--skip-cert-check",
        "--format",
        "json",
        "--what",
        what,
        "--config",
        &example(example_name),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    serde_json::from_str(&stdout).expect("json")
}

#[test]
fn json_dump_of_jobs_and_logging() {
    let jobs = json_dump("jobs", "local.yml");
    let types: Vec<&str> = jobs
        .as_array()
        .expect("array of jobs")
        .iter()
        .filter_map(|j| j["type"].as_str())
        .collect();
    assert_eq!(types, ["sink", "push"]);

    let logging = json_dump("logging", "local.yml");
    assert_eq!(logging[0]["type"], "stdout");
    assert_eq!(logging[0]["level"], "warn");
}

#[test]
fn pretty_dump_prints_the_typed_structure() {
    let (code, stdout, _) = run(&[
        "configcheck",
        "--skip-cert-check",
        "--format",
        "pretty",
        "--config",
        &example("snap.yml"),
    ]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Snap("), "{stdout}");
}

/// Runs zferry with `args` and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = zferry().args(args).output().expect("runs zferry");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
