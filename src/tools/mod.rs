//! The tooling beside the product: benchmarks users run as `crisisd bench …` and the load
//! generator the crash tests drive (`crisisd load`). Nothing in the product depends on it.
//!
//! | module | what |
//! |---|---|
//! | [`bench`] | `bench store`: throughput and latency beside raw sled baselines; dispatches the others |
//! | [`bench_curve`] | `bench store --curve-to N`: the store's ratios and memory as the log grows to N events |
//! | [`bench_projections`] | `bench projections`: rebuild speed of every read model beside a scan + typed parse |
//! | [`bench_pipeline`] | `bench pipeline`: ingest → durable → published, beside raw JetStream publishing and the relay floor |
//! | [`bench_relay`] | the relay floor of `bench pipeline`: crisisd's NATS edges with no domain and no store |
//! | [`arrivals`] | the latency collector's subject reader, straight off its socket |
//! | [`load`] | `load` (hidden): appends under load and prints every ack, for crash tests |
//! | [`scratch`] | a benchmark's scratch directory, removed when done; [`free_port`] |
//! | [`simulate`] | `simulate`: a realistic day of operations against a running crisisd, over HTTP or NATS (the run loop; its `http` and `nats` transports; `report`) |

pub mod arrivals;
pub mod bench;
pub mod bench_cluster;
pub mod bench_curve;
pub mod bench_pipeline;
pub mod bench_projections;
pub mod bench_relay;
pub mod load;
pub mod scratch;
pub mod simulate;

/// A TCP port free on the loopback interface now, for a server a benchmark or a test
/// starts (another process may take it first; a server that cannot bind says so).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
