//! Offline tools on a data directory: `verify`, `replay`, `repair`, `rebuild`.
//!
//! They open the store for inspection (no writer, works on a damaged store) and need
//! the directory to themselves: stop `crisisd serve` first (sled locks the directory).

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::store::codec::RawRecord;
use crate::store::{EventStore, SledStore, StoreConfig};

/// Verifies `[from, to]` with a progress line on stderr; exit 0 when intact, 1 on damage.
pub fn verify(config: StoreConfig, from: u64, to: u64) -> anyhow::Result<ExitCode> {
    let store = SledStore::open_for_inspection(config)?;
    let head = store.head();
    let total = to.min(head.position).saturating_sub(from.max(1)) + 1;
    let started = Instant::now();
    let report = store.verify_with_progress(from, to, 100_000, |done| {
        eprint!(
            "\rverifying: {done}/{total} events ({:.0}%)",
            done as f64 * 100.0 / total as f64
        );
    })?;
    eprintln!(
        "\rverified {} events in {:.1}s{:>20}",
        report.verified,
        started.elapsed().as_secs_f64(),
        ""
    );
    println!("{}", serde_json::to_string(&report)?);
    match &report.damage {
        None => {
            eprintln!(
                "OK: positions {}..={} intact, head hash {}",
                report.from, report.to, report.last_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(damage) => {
            eprintln!("DAMAGED: {damage}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Prints envelopes as NDJSON on stdout.
pub fn replay(
    config: StoreConfig,
    from: u64,
    to: u64,
    stream: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = SledStore::open_for_inspection(config)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    for entry in store.raw_range(from, to) {
        let (position, bytes) = entry?;
        let raw = RawRecord::decode(&bytes).with_context(|| {
            format!("position {position} is not a readable record; run `crisisd verify`")
        })?;
        if let Some(stream) = &stream {
            let event = raw.parse().with_context(|| {
                format!("position {position} cannot be parsed; run `crisisd verify`")
            })?;
            if &event.stream != stream {
                continue;
            }
        }
        out.write_all(&raw.envelope_json())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Drops position `from` and everything after it.
pub fn repair(config: StoreConfig, from: u64, yes: bool) -> anyhow::Result<ExitCode> {
    if !yes {
        anyhow::bail!(
            "repair drops position {from} and every later event for good; copy the data directory first, then rerun with --yes"
        );
    }
    let dropped = crate::store::truncate_from(&config, from)?;
    eprintln!(
        "dropped {dropped} records from position {from} on; run `crisisd verify` to confirm the rest is intact"
    );
    Ok(ExitCode::SUCCESS)
}

/// Rebuilds one projection (or all) from position 1, with a progress line.
pub fn rebuild(
    config: StoreConfig,
    projection: Option<String>,
    all: bool,
) -> anyhow::Result<ExitCode> {
    let known = crate::projection::names().join(", ");
    let projections = match (projection, all) {
        (_, true) => crate::projection::all(),
        (Some(name), false) => match crate::projection::by_name(&name) {
            Some(projection) => vec![projection],
            None => anyhow::bail!("unknown projection {name:?}; known: {known}"),
        },
        (None, false) => anyhow::bail!("name a projection ({known}) or pass --all"),
    };
    let store = SledStore::open_for_inspection(config)?;
    for projection in projections {
        let name = projection.name();
        let started = Instant::now();
        let progress = |done: u64, head: u64| {
            eprint!(
                "\rrebuilding {name}: {done}/{head} events ({:.0}%)",
                if head == 0 {
                    100.0
                } else {
                    done as f64 * 100.0 / head as f64
                }
            );
        };
        let events = crate::projection::rebuild(&store, projection, progress)?;
        eprintln!(
            "\rrebuilt {name} from {events} events in {:.1}s{:>20}",
            started.elapsed().as_secs_f64(),
            ""
        );
    }
    Ok(ExitCode::SUCCESS)
}
