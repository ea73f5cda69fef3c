//! Offline tools on a data directory: `verify`, `replay`, `export`, `import`, `repair`,
//! `rebuild`.
//!
//! They open the store for inspection (no writer, works on a damaged store) and need
//! the directory to themselves: stop `crisisd serve` first (sled locks the directory).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::progress::Progress;
use crate::domain::policy::crisis::CrisisPolicy;
use crate::store::codec::RawRecord;
use crate::store::{SledStore, StoreConfig, position_range};

/// Verifies `[from, to]` with a progress line on stderr; exit 0 when intact, 1 on damage.
pub fn verify(config: StoreConfig, from: u64, to: u64) -> anyhow::Result<ExitCode> {
    let store = SledStore::open_for_inspection(config)?;
    let head = store.head();
    let (from, to) = position_range(Some(from), Some(to), head.position)?;
    let total = to.saturating_sub(from) + 1;
    let mut progress = Progress::new("verifying", Some(total));
    let report = store.verify_with_progress(from, to, 10_000, |done| progress.update(done))?;
    progress.finish(&format!(
        "verified {} events in {:.1}s",
        report.verified,
        progress.elapsed_s()
    ));
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

/// Prints envelopes as NDJSON on stdout (progress on stderr when it is a terminal).
pub fn replay(
    config: StoreConfig,
    from: u64,
    to: u64,
    stream: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = SledStore::open_for_inspection(config)?;
    let (from, to) = position_range(Some(from), Some(to), store.head().position)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let total = to.min(store.head().position).saturating_sub(from.max(1)) + 1;
    let mut progress = Progress::new("replaying", stream.is_none().then_some(total));
    let written = write_envelopes(&store, from, to, stream.as_deref(), &mut out, |done| {
        progress.update(done)
    })?;
    out.flush()?;
    progress.finish(&format!("replayed {written} events"));
    Ok(ExitCode::SUCCESS)
}

/// Writes the envelopes of `[from, to]` (of one stream, if given) as NDJSON; returns how
/// many.
fn write_envelopes(
    store: &SledStore,
    from: u64,
    to: u64,
    stream: Option<&str>,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<u64> {
    let mut written = 0u64;
    for entry in store.raw_range(from, to) {
        let (position, bytes) = entry?;
        let raw = RawRecord::decode(&bytes).with_context(|| {
            format!("position {position} is not a readable record; run `crisisd verify`")
        })?;
        if let Some(stream) = stream {
            let event = raw.parse().with_context(|| {
                format!("position {position} cannot be parsed; run `crisisd verify`")
            })?;
            if event.stream != stream {
                continue;
            }
        }
        out.write_all(&raw.envelope_json())?;
        out.write_all(b"\n")?;
        written += 1;
        if written.is_multiple_of(10_000) {
            progress(written);
        }
    }
    Ok(written)
}

/// Exports `[from, to]` as NDJSON envelopes to `out` (written to a temporary file,
/// fsynced, then renamed: a file named `out` is always complete).
pub fn export(config: StoreConfig, from: u64, to: u64, out: &Path) -> anyhow::Result<ExitCode> {
    let store = SledStore::open_for_inspection(config)?;
    let head = store.head().position;
    let (from, to) = position_range(Some(from), Some(to), head)?;
    let total = to.saturating_sub(from) + 1;
    let partial = out.with_extension("partial");
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut progress = Progress::new("exporting", Some(total));
    let written = write_envelopes(&store, from, to, None, &mut writer, |done| {
        progress.update(done)
    })?;
    let file = writer.into_inner().map_err(|err| err.into_error())?;
    file.sync_all()?;
    std::fs::rename(&partial, out)?;
    progress.finish(&format!(
        "exported {written} events (positions {}..={}) to {} in {:.1}s",
        from.max(1),
        to.min(head),
        out.display(),
        progress.elapsed_s()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Verifies an export, then imports it (see [`crate::store::import`]).
pub fn import(config: StoreConfig, file: &Path) -> anyhow::Result<ExitCode> {
    // Two passes over the file: its length is known only after the first.
    let mut progress = Progress::new("verifying the export", None);
    let (mut verified, mut importing) = (0, false);
    let report = crate::store::import::import(&config, file, |done, pass| {
        if pass == 1 {
            verified = done;
        } else if !importing {
            importing = true;
            progress = Progress::new("importing", Some(verified));
        }
        progress.update(done);
    })?;
    progress.finish(&format!(
        "imported {} events in {:.1}s; head {} ({})",
        report.imported,
        progress.elapsed_s(),
        report.head,
        report.head_hash
    ));
    println!("{}", serde_json::to_string(&report)?);
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
    policy: CrisisPolicy,
) -> anyhow::Result<ExitCode> {
    let known = crate::projection::names().join(", ");
    let projections = match (projection, all) {
        (_, true) => crate::projection::all(&policy),
        (Some(name), false) => match crate::projection::by_name(&name, &policy) {
            Some(projection) => vec![projection],
            None => anyhow::bail!("unknown projection {name:?}; known: {known}"),
        },
        (None, false) => anyhow::bail!("name a projection ({known}) or pass --all"),
    };
    let store = SledStore::open_for_inspection(config)?;
    let names: Vec<&str> = projections.iter().map(|p| p.name()).collect();
    let names = names.join(", ");
    let mut progress = Progress::new(format!("rebuilding {names}"), Some(store.head().position));
    // One pass over the log feeds every model asked for.
    let events =
        crate::projection::rebuild_together(&store, projections, |done, _| progress.update(done))?;
    progress.finish(&format!(
        "rebuilt {names} from {events} events in {:.1}s",
        progress.elapsed_s()
    ));
    Ok(ExitCode::SUCCESS)
}
