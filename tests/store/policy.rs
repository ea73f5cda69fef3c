//! The crisis policy file reaches `serve` and `rebuild`, and a mistake in it stops the
//! command before anything runs, naming the file and the field.

use std::process::Command;

fn crisisd(data_dir: &std::path::Path, args: &[&str], policy: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .arg("--policy")
        .arg(policy)
        .args(
            ["--http-addr", "127.0.0.1:0"]
                .iter()
                .filter(|_| args[0] == "serve"),
        )
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_policy_mistake_stops_serve_and_rebuild_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"sla": {"holidays": ["25/12/2026"]}}"#).unwrap();
    for args in [&["serve"][..], &["rebuild", "--all"][..]] {
        let (ok, stderr) = crisisd(&dir.path().join("data"), args, &policy);
        assert!(!ok, "{args:?} started with a bad policy");
        assert!(
            stderr.contains("policy.json") && stderr.contains("sla.holidays[0]"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn rebuild_runs_under_the_shipped_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crisis-policy.json");
    let (ok, stderr) = crisisd(&dir.path().join("data"), &["rebuild", "--all"], &shipped);
    assert!(ok, "{stderr}");
}
