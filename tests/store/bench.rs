//! `crisisd bench store` on small logs, through the binary: the reports hold what the
//! docs say they hold, so the benchmarks do not rot between performance sessions.

use std::path::Path;
use std::process::{Command, Output};

/// `crisisd bench store <args>` with its scratch under `scratch`.
fn run(scratch: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crisisd"))
        .args(["bench", "store", "--dir"])
        .arg(scratch)
        .args(args)
        .output()
        .unwrap()
}

/// Its JSON report, checking that it succeeded and removed its scratch directory.
fn bench_store(args: &[&str]) -> serde_json::Value {
    let scratch = tempfile::tempdir().unwrap();
    let output = run(scratch.path(), &[&["--json"], args].concat());
    assert!(
        output.status.success(),
        "bench store {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "the scratch directory is removed"
    );
    report
}

#[test]
fn the_curve_measures_each_size_of_one_growing_log_with_its_memory() {
    let report = bench_store(&["--curve-to", "20000"]);
    let points = report["points"].as_array().unwrap();
    assert_eq!(
        points.len(),
        1,
        "sizes are powers of ten up to 20000: {report}"
    );
    let point = &points[0];
    assert_eq!(point["log_events"], 10_000);
    assert_eq!(
        point["append"]["events"], 10_000,
        "the whole first size is timed"
    );
    for figure in [
        "raw_batch_events_per_s",
        "append_vs_baseline",
        "replay_vs_baseline",
        "rss_mib_per_million_events",
    ] {
        assert!(point[figure].as_f64().unwrap() > 0.0, "{figure}: {point}");
    }
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "append and replay at each size: {report}");
}

#[test]
fn a_curve_below_its_first_size_is_refused_with_what_to_pass() {
    let scratch = tempfile::tempdir().unwrap();
    let output = run(scratch.path(), &["--curve-to", "500"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 10000"), "{stderr}");
}
