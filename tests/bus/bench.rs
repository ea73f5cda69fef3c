//! `crisisd bench pipeline` end to end on a small load: its own nats-server, the
//! baselines, the relay floor and the pipeline with every projector live. The run checks
//! its own counts (every signal timed, every event in `CRISIS_EVENTS`) and fails if one
//! is short; this test keeps the benchmark from rotting between performance sessions.

use std::process::ExitCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_pipeline_runs_every_phase_and_accounts_for_every_event() {
    super::nats_server::binary();
    let outcome = crisisd::cli::bench_pipeline::run(300, Some(3_000), true, true)
        .await
        .expect("bench pipeline completes a small run");
    assert_eq!(outcome, ExitCode::SUCCESS);
}
