//! Monitor read model: the live signal feed and signal counts per category, channel,
//! flight and airport over sliding windows (15 min, 1 h, 24 h). Detected spikes are in
//! the `spikes` model ([`super::spikes::detected`]).
//!
//! Counts are kept in one bucket per minute of observation time (all dimensions in
//! it), so a window is summed at query time from any `now`, live processing and
//! rebuilds agree, and a burst of signals rewrites one key per minute. The airport of a signal is its flight's origin, once flight ops has scheduled
//! the flight. The feed holds no passenger reference and no words.
//!
//! Keys:
//! - `F <position:u64 BE>` → [`FeedEntry`] (JSON);
//! - `M <minute:u64 BE>` → [`MinuteCounts`] (JSON): dimension → value → signals;
//! - `A <flight stream>` → the flight's origin airport (IATA, UTF-8).
//!
//! Buckets older than the longest window are never read; they stay on disk (one small
//! key per minute with signals).

use super::model::decoded;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{Category, Channel, FlightKey, Severity};
use crate::domain::flight::{self, FlightEvent};
use crate::domain::signal::SignalEvent;
use crate::store::RecordedEvent;

pub const NAME: &str = "monitor";

/// One signal in the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FeedEntry {
    pub position: u64,
    pub signal_id: Uuid,
    pub channel: Channel,
    pub category: Category,
    pub severity: Severity,
    pub flight: Option<FlightKey>,
    pub airport: Option<String>,
    pub reach: u64,
    pub observed_at: DateTime<Utc>,
}

/// The windows the monitor counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Window {
    #[serde(rename = "15m")]
    Minutes15,
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
}

impl Window {
    pub fn duration(self) -> Duration {
        match self {
            Window::Minutes15 => Duration::minutes(15),
            Window::Hour => Duration::hours(1),
            Window::Day => Duration::hours(24),
        }
    }
}

const DIMENSIONS: [&str; 4] = ["airport", "category", "channel", "flight"];

/// The signals of one minute: dimension → value → count.
pub type MinuteCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// The monitor projection.
#[derive(Debug, Default)]
pub struct Monitor;

fn minute(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp().div_euclid(60)).unwrap_or(0)
}

fn minute_key(minute: u64) -> Vec<u8> {
    let mut key = vec![b'M'];
    key.extend_from_slice(&minute.to_be_bytes());
    key
}

fn snake<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Projection for Monitor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let t = event.event_type.as_str();
        match t {
            "flight.scheduled" => {
                let FlightEvent::Scheduled(s) = decoded::<FlightEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another flight event"
                    )));
                };
                let mut key = vec![b'A'];
                key.extend_from_slice(flight::stream_name(&s.flight).as_bytes());
                tx.insert(key, s.origin.to_string().into_bytes());
                Ok(())
            }
            "signal.recorded" => {
                let SignalEvent::Recorded(s) = decoded::<SignalEvent>(event)? else {
                    return Err(ModelError::Invalid(format!(
                        "{t} decoded as another signal event"
                    )));
                };
                let airport = match &s.flight {
                    Some(flight) => {
                        let mut key = vec![b'A'];
                        key.extend_from_slice(flight::stream_name(flight).as_bytes());
                        tx.get(&key)?
                            .map(|b| String::from_utf8_lossy(&b).into_owned())
                    }
                    None => None,
                };
                let entry = FeedEntry {
                    position: event.position,
                    signal_id: s.signal_id,
                    channel: s.channel,
                    category: s.category,
                    severity: s.severity,
                    flight: s.flight.clone(),
                    airport: airport.clone(),
                    reach: s.reach,
                    observed_at: s.observed_at,
                };
                let mut values = vec![
                    ("category", snake(&s.category)),
                    ("channel", snake(&s.channel)),
                ];
                if let Some(flight) = &s.flight {
                    values.push(("flight", flight.to_string()));
                }
                if let Some(airport) = airport {
                    values.push(("airport", airport));
                }
                let key = minute_key(minute(s.observed_at));
                let mut bucket: MinuteCounts = tx.get_json(&key)?.unwrap_or_default();
                for (dimension, value) in values {
                    *bucket
                        .entry(dimension.to_owned())
                        .or_default()
                        .entry(value)
                        .or_default() += 1;
                }
                tx.insert_json(key, &bucket);
                let mut key = vec![b'F'];
                key.extend_from_slice(&event.position.to_be_bytes());
                tx.insert_json(key, &entry);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// The latest signals, newest first, at most `limit`, before position `before` (for
/// paging back; `None`: from the newest).
pub fn feed(
    tree: &ReadModel,
    limit: usize,
    before: Option<u64>,
) -> Result<Vec<FeedEntry>, ModelError> {
    let (entries, _) = feed_filtered(tree, limit, before, &FeedFilter::default(), usize::MAX)?;
    Ok(entries)
}

/// Which signals a feed shows; every field left out matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    pub category: Option<Category>,
    pub channel: Option<Channel>,
    pub flight: Option<FlightKey>,
    pub airport: Option<String>,
    /// Observed at or after.
    pub since: Option<DateTime<Utc>>,
    /// Observed before.
    pub until: Option<DateTime<Utc>>,
}

impl FeedFilter {
    fn matches(&self, e: &FeedEntry) -> bool {
        self.category.is_none_or(|c| c == e.category)
            && self.channel.is_none_or(|c| c == e.channel)
            && self
                .flight
                .as_ref()
                .is_none_or(|f| e.flight.as_ref() == Some(f))
            && self
                .airport
                .as_ref()
                .is_none_or(|a| e.airport.as_ref() == Some(a))
            && self.since.is_none_or(|t| e.observed_at >= t)
            && self.until.is_none_or(|t| e.observed_at < t)
    }
}

/// The newest signals before `before` matching `filter`, at most `limit`, reading at most
/// `scan_max` entries; with the position to continue before when the scan stopped early
/// (a page may then hold fewer than `limit`: the read stays bounded however rare a match).
pub fn feed_filtered(
    tree: &ReadModel,
    limit: usize,
    before: Option<u64>,
    filter: &FeedFilter,
    scan_max: usize,
) -> Result<(Vec<FeedEntry>, Option<u64>), ModelError> {
    let mut end = vec![b'F'];
    end.extend_from_slice(&before.unwrap_or(u64::MAX).to_be_bytes());
    let mut found = Vec::new();
    let mut scanned = 0;
    for entry in tree.range(b"F".to_vec()..end).rev() {
        let (_, entry): (_, FeedEntry) = entry?;
        scanned += 1;
        if filter.matches(&entry) {
            found.push(entry);
            if found.len() == limit {
                return Ok((found, None));
            }
        } else if scanned >= scan_max {
            return Ok((found, Some(entry.position)));
        }
    }
    Ok((found, None))
}

/// Signal counts per dimension and value over `window` ending at `now` (the minute of
/// `now` included), values with no signal left out.
pub fn counts(
    tree: &ReadModel,
    window: Window,
    now: DateTime<Utc>,
) -> Result<BTreeMap<&'static str, BTreeMap<String, u64>>, ModelError> {
    let last = minute(now);
    let first = minute(now - window.duration()) + 1;
    let mut all: BTreeMap<&'static str, BTreeMap<String, u64>> =
        DIMENSIONS.iter().map(|d| (*d, BTreeMap::new())).collect();
    for entry in tree.range(minute_key(first)..=minute_key(last)) {
        let (_, bucket): (_, MinuteCounts) = entry?;
        for (dimension, values) in bucket {
            let Some(totals) = DIMENSIONS
                .iter()
                .find(|d| **d == dimension)
                .and_then(|d| all.get_mut(d))
            else {
                continue;
            };
            for (value, count) in values {
                *totals.entry(value).or_default() += count;
            }
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::testing::{rebuilt, start, store_with};

    #[tokio::test]
    async fn feed_and_windowed_counts_per_category_channel_flight_and_airport() {
        // Scenarios 0 and 1: 12 delay signals each over 12 minutes, channels rotating
        // social media, hotline, e-mail, app; flights LH400 and LH401 (not scheduled
        // by flight ops in the workload, so no airport).
        let (_dir, store) = store_with(&[0, 1]).await;
        let tree = rebuilt(&store, Monitor);
        let newest = feed(&tree, 3, None).unwrap();
        assert_eq!(newest.len(), 3);
        assert!(newest.windows(2).all(|w| w[0].position > w[1].position));
        let older = feed(&tree, 100, Some(newest[2].position)).unwrap();
        assert_eq!(older.len(), 24 - 3, "paging back from the third newest");
        assert!(
            newest
                .iter()
                .all(|e| e.category == Category::Delay && e.airport.is_none())
        );

        let day = counts(&tree, Window::Day, start() + Duration::hours(1)).unwrap();
        assert_eq!(day["category"], [("delay".to_owned(), 24)].into());
        assert_eq!(
            day["channel"],
            [
                ("app".to_owned(), 6),
                ("email".to_owned(), 6),
                ("hotline".to_owned(), 6),
                ("social_media".to_owned(), 6)
            ]
            .into()
        );
        assert_eq!(day["flight"].values().sum::<u64>(), 24);
        assert_eq!(day["flight"].len(), 2);
        assert!(day["airport"].is_empty());
        // Scenario n's signal i is observed at minute n + i: in the 15 minutes up to
        // 06:05 (minutes -9 .. 5) are scenario 0's signals 0..=5 and scenario 1's 0..=4.
        let quarter = counts(&tree, Window::Minutes15, start() + Duration::minutes(5)).unwrap();
        assert_eq!(quarter["category"]["delay"], 11);
        let later = counts(&tree, Window::Hour, start() + Duration::hours(3)).unwrap();
        assert!(
            later["category"].is_empty(),
            "nothing in the last hour by then"
        );
    }

    /// Issue 20: the feed filters by channel, flight and time range, and a rare match
    /// answers a short page with where to continue instead of scanning everything.
    #[tokio::test]
    async fn the_feed_filters_and_stays_bounded() {
        let (_dir, store) = store_with(&[0, 1]).await;
        let tree = rebuilt(&store, Monitor);
        let all =
            |filter: &FeedFilter| feed_filtered(&tree, 100, None, filter, usize::MAX).unwrap();
        let hotline = FeedFilter {
            channel: Some(Channel::Hotline),
            ..FeedFilter::default()
        };
        let (found, stopped) = all(&hotline);
        assert_eq!((found.len(), stopped), (6, None));
        assert!(found.iter().all(|e| e.channel == Channel::Hotline));
        let flight = feed(&tree, 1, None).unwrap()[0].flight.clone();
        let one_flight = FeedFilter {
            flight: flight.clone(),
            ..FeedFilter::default()
        };
        assert_eq!(all(&one_flight).0.len(), 12);
        let first_minutes = FeedFilter {
            until: Some(start() + Duration::minutes(3)),
            ..FeedFilter::default()
        };
        // Scenario n's signal i is observed at minute n + i: before minute 3 are 0..=2 and 0..=1.
        assert_eq!(all(&first_minutes).0.len(), 5);
        let none = FeedFilter {
            category: Some(Category::Safety),
            ..FeedFilter::default()
        };
        let (found, stopped) = feed_filtered(&tree, 100, None, &none, 10).unwrap();
        assert!(found.is_empty());
        let continue_before = stopped.expect("stopped after 10 entries");
        let (_, again) = feed_filtered(&tree, 100, Some(continue_before), &none, 10).unwrap();
        assert!(again.is_some_and(|p| p < continue_before));
    }
}
