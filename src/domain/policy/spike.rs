//! Spike detection for the monitor stage: `signals_min` signals with one correlation key
//! (flight + date + category) within `window_minutes` open an incident; later signals of
//! that key attach to it until it closes.
//!
//! A pure state machine, fed the signals in log order: the same signals always give the
//! same decisions, so a replay or a rebuild agrees with what happened live. The incident
//! id is derived from the key and the signal that completed the spike (UUID v5), so the
//! application needs no extra state to open it idempotently. Memory is bounded: only
//! signals inside the window are kept, and keys with none are dropped.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const SPIKE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0e7a_93d2_4f61_8a4e_2c9f_d1b3_7e08);

/// When a burst of signals is a spike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpikeConfig {
    pub signals_min: usize,
    pub window_minutes: i64,
}

impl Default for SpikeConfig {
    fn default() -> Self {
        SpikeConfig {
            signals_min: 5,
            window_minutes: 30,
        }
    }
}

impl SpikeConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.signals_min < 2 {
            return Err("spike.signals_min must be at least 2".into());
        }
        if !(1..=24 * 60).contains(&self.window_minutes) {
            return Err("spike.window_minutes must be between 1 and 1440".into());
        }
        Ok(())
    }
}

/// What to do with one signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpikeDecision {
    /// Not (yet) part of a spike.
    None,
    /// This signal completed a spike: open `incident_id` with all the window's signals.
    OpenIncident {
        incident_id: Uuid,
        key: String,
        signal_ids: Vec<Uuid>,
    },
    /// An incident for this key is open: attach the signal to it.
    AttachToIncident { incident_id: Uuid, signal_id: Uuid },
}

/// One correlation key's part of the detector state, so that a caller can keep the
/// state per key (e.g. in a read model) and load only the key a signal touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// Signals inside the window, oldest first.
    pub recent: VecDeque<(DateTime<Utc>, Uuid)>,
    /// The open incident of this key.
    pub open: Option<Uuid>,
}

/// The detector's state.
#[derive(Debug, Clone, Default)]
pub struct SpikeDetector {
    config: SpikeConfig,
    /// Signals per key inside the window, oldest first.
    recent: HashMap<String, VecDeque<(DateTime<Utc>, Uuid)>>,
    /// Open incidents by key.
    open: BTreeMap<String, Uuid>,
}

impl SpikeDetector {
    pub fn new(config: SpikeConfig) -> Self {
        SpikeDetector {
            config,
            ..SpikeDetector::default()
        }
    }

    /// Feeds one signal (in log order).
    pub fn observe(&mut self, key: &str, at: DateTime<Utc>, signal_id: Uuid) -> SpikeDecision {
        if let Some(incident_id) = self.open.get(key) {
            return SpikeDecision::AttachToIncident {
                incident_id: *incident_id,
                signal_id,
            };
        }
        let window = Duration::minutes(self.config.window_minutes);
        let signals = self.recent.entry(key.to_owned()).or_default();
        let newest = signals.back().map_or(at, |(t, _)| (*t).max(at));
        signals.push_back((at, signal_id));
        signals.retain(|(t, _)| *t > newest - window && *t <= newest);
        if signals.len() < self.config.signals_min {
            self.prune(newest - window);
            return SpikeDecision::None;
        }
        let signal_ids: Vec<Uuid> = signals.iter().map(|(_, id)| *id).collect();
        self.recent.remove(key);
        let incident_id = Uuid::new_v5(&SPIKE_NAMESPACE, format!("{key}\n{signal_id}").as_bytes());
        self.open.insert(key.to_owned(), incident_id);
        SpikeDecision::OpenIncident {
            incident_id,
            key: key.to_owned(),
            signal_ids,
        }
    }

    /// An incident opened by another path (a crisis lead) now covers `key`.
    /// Replaces what the detector knows about `key`.
    pub fn load_key(&mut self, key: &str, state: KeyState) {
        if state.recent.is_empty() {
            self.recent.remove(key);
        } else {
            self.recent.insert(key.to_owned(), state.recent);
        }
        match state.open {
            Some(incident_id) => self.open.insert(key.to_owned(), incident_id),
            None => self.open.remove(key),
        };
    }

    /// Takes out what the detector knows about `key` (it forgets the key).
    pub fn take_key(&mut self, key: &str) -> KeyState {
        KeyState {
            recent: self.recent.remove(key).unwrap_or_default(),
            open: self.open.remove(key),
        }
    }

    pub fn incident_opened(&mut self, key: &str, incident_id: Uuid) {
        self.recent.remove(key);
        self.open.insert(key.to_owned(), incident_id);
    }

    /// The incident of `key` closed: new signals count towards a new spike.
    pub fn incident_closed(&mut self, key: &str) {
        self.open.remove(key);
    }

    /// Keys tracked (for bounds checks).
    pub fn tracked_keys(&self) -> usize {
        self.recent.len()
    }

    fn prune(&mut self, horizon: DateTime<Utc>) {
        if self.recent.len() > 4_096 {
            self.recent
                .retain(|_, signals| signals.back().is_some_and(|(t, _)| *t > horizon));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn state_kept_per_key_decides_like_one_detector() {
        let keys = ["a", "b"];
        let mut whole = SpikeDetector::new(SpikeConfig::default());
        let mut stored: HashMap<&str, KeyState> = HashMap::new();
        for n in 0..40u128 {
            let key = keys[(n % 3 == 0) as usize];
            let at = at(n as i64 * 3);
            let expected = whole.observe(key, at, id(n));
            let mut one = SpikeDetector::new(SpikeConfig::default());
            one.load_key(key, stored.remove(key).unwrap_or_default());
            assert_eq!(one.observe(key, at, id(n)), expected, "signal {n}");
            stored.insert(key, one.take_key(key));
            if n == 20 {
                whole.incident_closed("a");
                let mut state = stored.remove("a").unwrap_or_default();
                state.open = None;
                stored.insert("a", state);
            }
        }
    }

    #[test]
    fn five_signals_in_half_an_hour_open_an_incident_and_later_ones_attach() {
        let mut d = SpikeDetector::new(SpikeConfig::default());
        for n in 0..4 {
            assert_eq!(
                d.observe("LH400-2026-11-22-delay", at(n * 5), id(n as u128)),
                SpikeDecision::None
            );
        }
        let SpikeDecision::OpenIncident {
            incident_id,
            signal_ids,
            ..
        } = d.observe("LH400-2026-11-22-delay", at(29), id(4))
        else {
            panic!("a spike")
        };
        assert_eq!(signal_ids, (0..5).map(id).collect::<Vec<_>>());
        assert_eq!(
            d.observe("LH400-2026-11-22-delay", at(31), id(5)),
            SpikeDecision::AttachToIncident {
                incident_id,
                signal_id: id(5)
            }
        );
        assert_eq!(
            d.observe("LH400-2026-11-22-baggage_lost", at(31), id(6)),
            SpikeDecision::None,
            "another key is another story"
        );
        d.incident_closed("LH400-2026-11-22-delay");
        assert_eq!(
            d.observe("LH400-2026-11-22-delay", at(40), id(7)),
            SpikeDecision::None
        );
    }

    #[test]
    fn signals_spread_wider_than_the_window_are_no_spike() {
        let mut d = SpikeDetector::new(SpikeConfig::default());
        for n in 0..20 {
            assert_eq!(
                d.observe("k", at(n * 8), id(n as u128)),
                SpikeDecision::None,
                "one signal every 8 minutes: at most 4 in 30"
            );
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let mut d = SpikeDetector::new(SpikeConfig::default());
        for n in 0..20_000i64 {
            d.observe(&format!("key-{n}"), at(n), id(n as u128));
        }
        assert!(d.tracked_keys() <= 4_096 + 31, "{}", d.tracked_keys());
    }

    proptest! {
        #[test]
        fn decisions_are_deterministic_and_need_enough_recent_signals(minutes in prop::collection::vec((0i64..120, 0usize..3), 0..60)) {
            let run = || {
                let mut d = SpikeDetector::new(SpikeConfig::default());
                minutes.iter().enumerate().map(|(n, (m, k))| d.observe(&format!("k{k}"), at(*m), id(n as u128))).collect::<Vec<_>>()
            };
            let decisions = run();
            prop_assert_eq!(&decisions, &run());
            for decision in decisions {
                if let SpikeDecision::OpenIncident { signal_ids, .. } = decision {
                    prop_assert!(signal_ids.len() >= 5);
                }
            }
        }
    }
}
