//! `crisisd bench pipeline` end to end on a small load: its own nats-server, the
//! baselines, the relay floor, and the pipeline with every projector live, unsealed and
//! sealed in turn (`--sealing-cost`: six runs on fresh streams). The run checks
//! its own counts (every signal timed, every event in `CRISIS_EVENTS`) and fails if one
//! is short; this test keeps the benchmark from rotting between performance sessions.

use crisisd::tools::bench_pipeline::Pace;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_pipeline_runs_every_phase_and_accounts_for_every_event() {
    // Fails early, with how to install it, when nats-server is missing (the bench would
    // only say it could not start it).
    super::nats_server::binary();
    // The bench checks its own counts and returns an error when one is short.
    // Offered at half the relay floor's drained rate, as the latency target is measured.
    crisisd::tools::bench_pipeline::run(300, Pace::OfFloor(0.5), true, true, true)
        .await
        .expect("bench pipeline completes a small run");
}
