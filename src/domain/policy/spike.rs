//! Spike detection for the monitor stage: `signals_min` signals with one correlation key
//! (flight + date + category) within `window_minutes` open an incident; later signals of
//! that key attach to it until it closes.
//!
//! Signals naming no flight group per day and category, so they gather everything the
//! customer channels hear about a topic, routine questions included: they follow their
//! own rule (`without_flight`), a higher threshold and only the categories that can be a
//! crisis without a flight. In other categories they never open an incident (they still
//! attach to an incident a crisis lead opened under their key).
//!
//! Severity follows the most severe signal: an incident opens at the highest severity in
//! its burst, and a later signal more severe than the incident (as the log last said,
//! escalations and de-escalations included) asks for an escalation to its severity. The
//! detector never asks to lower a severity; that stays a person's decision.
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

use crate::domain::common::{Category, Severity};

const SPIKE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0e7a_93d2_4f61_8a4e_2c9f_d1b3_7e08);

/// When a burst of signals is a spike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpikeConfig {
    /// Signals about one flight (and date and category) that make a spike…
    pub signals_min: usize,
    /// …within this many minutes.
    pub window_minutes: i64,
    /// The rule for signals naming no flight.
    pub without_flight: WithoutFlightConfig,
}

/// When a burst of signals naming no flight is a spike.
///
/// The defaults: 25 signals in 30 minutes, in `safety` and `baggage_lost` only. Without a
/// flight a key is a whole day's topic across the airline, so five in half an hour is a
/// normal morning of questions; 25 is a surge no routine question reaches. Safety
/// concerns and lost bags can be systemic without one flight (a security scare, a hub's
/// baggage system down). Delays, cancellations and overbooking belong to flights, which
/// flight ops reports; `service`, `refund`, `other` and damaged bags are questions and
/// individual claims that the complaint loop handles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WithoutFlightConfig {
    pub signals_min: usize,
    pub window_minutes: i64,
    /// The categories in which signals without a flight may open an incident.
    pub categories: Vec<Category>,
}

impl Default for SpikeConfig {
    fn default() -> Self {
        SpikeConfig {
            signals_min: 5,
            window_minutes: 30,
            without_flight: WithoutFlightConfig::default(),
        }
    }
}

impl Default for WithoutFlightConfig {
    fn default() -> Self {
        WithoutFlightConfig {
            signals_min: 25,
            window_minutes: 30,
            categories: vec![Category::BaggageLost, Category::Safety],
        }
    }
}

/// The threshold one key's signals are counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpikeRule {
    pub signals_min: usize,
    pub window_minutes: i64,
}

impl SpikeConfig {
    pub fn validate(&self) -> Result<(), String> {
        validate_rule("spike", self.signals_min, self.window_minutes)?;
        let without = &self.without_flight;
        validate_rule(
            "spike.without_flight",
            without.signals_min,
            without.window_minutes,
        )
    }

    /// The rule for signals of `category`, with or without a flight; `None` when they
    /// never open an incident.
    pub fn rule(&self, with_flight: bool, category: Category) -> Option<SpikeRule> {
        if with_flight {
            return Some(SpikeRule {
                signals_min: self.signals_min,
                window_minutes: self.window_minutes,
            });
        }
        let without = &self.without_flight;
        without.categories.contains(&category).then_some(SpikeRule {
            signals_min: without.signals_min,
            window_minutes: without.window_minutes,
        })
    }

    /// The longest window of any rule: older signals matter to none.
    fn window_minutes_max(&self) -> i64 {
        self.window_minutes.max(self.without_flight.window_minutes)
    }
}

fn validate_rule(section: &str, signals_min: usize, window_minutes: i64) -> Result<(), String> {
    if signals_min < 2 {
        return Err(format!("{section}.signals_min must be at least 2"));
    }
    if !(1..=24 * 60).contains(&window_minutes) {
        return Err(format!(
            "{section}.window_minutes must be between 1 and 1440"
        ));
    }
    Ok(())
}

/// One signal as the detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    pub signal_id: Uuid,
    pub at: DateTime<Utc>,
    pub severity: Severity,
    pub category: Category,
    /// Whether the signal names a flight (which rule counts it).
    pub with_flight: bool,
}

/// What to do with one signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpikeDecision {
    /// Not (yet) part of a spike.
    None,
    /// This signal completed a spike: open `incident_id` with all the window's signals,
    /// at the highest severity among them.
    OpenIncident {
        incident_id: Uuid,
        key: String,
        signal_ids: Vec<Uuid>,
        severity: Severity,
    },
    /// An incident for this key is open: attach the signal to it, and escalate the
    /// incident to `escalate_to` when the signal is more severe than the incident.
    AttachToIncident {
        incident_id: Uuid,
        signal_id: Uuid,
        escalate_to: Option<Severity>,
    },
}

/// A signal inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredWindowed", into = "StoredWindowed")]
pub struct Windowed {
    pub at: DateTime<Utc>,
    pub signal_id: Uuid,
    pub severity: Severity,
}

/// How a windowed signal is stored: an object now; a `[at, signal_id]` pair before
/// severities were kept, read as `Low` (a rebuild gives the exact severities).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredWindowed {
    Now {
        at: DateTime<Utc>,
        signal_id: Uuid,
        severity: Severity,
    },
    Before(DateTime<Utc>, Uuid),
}

impl From<StoredWindowed> for Windowed {
    fn from(stored: StoredWindowed) -> Self {
        match stored {
            StoredWindowed::Now {
                at,
                signal_id,
                severity,
            } => Windowed {
                at,
                signal_id,
                severity,
            },
            StoredWindowed::Before(at, signal_id) => Windowed {
                at,
                signal_id,
                severity: Severity::Low,
            },
        }
    }
}

impl From<Windowed> for StoredWindowed {
    fn from(w: Windowed) -> Self {
        StoredWindowed::Now {
            at: w.at,
            signal_id: w.signal_id,
            severity: w.severity,
        }
    }
}

/// One correlation key's part of the detector state, so that a caller can keep the
/// state per key (e.g. in a read model) and load only the key a signal touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyState {
    /// Signals inside the window, oldest first.
    pub recent: VecDeque<Windowed>,
    /// The open incident of this key.
    pub open: Option<Uuid>,
    /// The open incident's severity as the log last said (`None` without an open
    /// incident, or in a state stored before severities were kept: then read as `Low`,
    /// so at worst an escalation is asked for that the incident already has).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_severity: Option<Severity>,
}

/// An incident the detector attaches signals to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenIncident {
    incident_id: Uuid,
    severity: Severity,
}

/// The detector's state.
#[derive(Debug, Clone, Default)]
pub struct SpikeDetector {
    config: SpikeConfig,
    /// Signals per key inside the window, oldest first.
    recent: HashMap<String, VecDeque<Windowed>>,
    /// Open incidents by key.
    open: BTreeMap<String, OpenIncident>,
}

impl SpikeDetector {
    pub fn new(config: SpikeConfig) -> Self {
        SpikeDetector {
            config,
            ..SpikeDetector::default()
        }
    }

    /// Feeds one signal (in log order).
    pub fn observe(&mut self, key: &str, signal: Observed) -> SpikeDecision {
        if let Some(open) = self.open.get_mut(key) {
            return attach(open, signal);
        }
        let Some(rule) = self.config.rule(signal.with_flight, signal.category) else {
            return SpikeDecision::None;
        };
        let window = Duration::minutes(rule.window_minutes);
        let signals = self.recent.entry(key.to_owned()).or_default();
        let newest = signals.back().map_or(signal.at, |w| w.at.max(signal.at));
        signals.push_back(Windowed {
            at: signal.at,
            signal_id: signal.signal_id,
            severity: signal.severity,
        });
        signals.retain(|w| w.at > newest - window && w.at <= newest);
        if signals.len() < rule.signals_min {
            self.prune(newest - Duration::minutes(self.config.window_minutes_max()));
            return SpikeDecision::None;
        }
        let signal_ids: Vec<Uuid> = signals.iter().map(|w| w.signal_id).collect();
        let severity = signals
            .iter()
            .map(|w| w.severity)
            .max()
            .expect("a spike has signals");
        self.recent.remove(key);
        let incident_id = Uuid::new_v5(
            &SPIKE_NAMESPACE,
            format!("{key}\n{}", signal.signal_id).as_bytes(),
        );
        self.incident_opened(key, incident_id, severity);
        SpikeDecision::OpenIncident {
            incident_id,
            key: key.to_owned(),
            signal_ids,
            severity,
        }
    }

    /// Replaces what the detector knows about `key` with a stored state.
    pub fn load_key(&mut self, key: &str, state: KeyState) {
        if state.recent.is_empty() {
            self.recent.remove(key);
        } else {
            self.recent.insert(key.to_owned(), state.recent);
        }
        match state.open {
            Some(incident_id) => {
                let severity = state.open_severity.unwrap_or(Severity::Low);
                self.incident_opened(key, incident_id, severity);
            }
            None => {
                self.open.remove(key);
            }
        }
    }

    /// Takes out what the detector knows about `key` (it forgets the key).
    pub fn take_key(&mut self, key: &str) -> KeyState {
        let open = self.open.remove(key);
        KeyState {
            recent: self.recent.remove(key).unwrap_or_default(),
            open: open.map(|o| o.incident_id),
            open_severity: open.map(|o| o.severity),
        }
    }

    /// An incident at `severity` now covers `key` (opened by the detector's decision,
    /// by a crisis lead, or reopened): later signals attach to it.
    pub fn incident_opened(&mut self, key: &str, incident_id: Uuid, severity: Severity) {
        self.recent.remove(key);
        let open = OpenIncident {
            incident_id,
            severity,
        };
        self.open.insert(key.to_owned(), open);
    }

    /// The severity of `incident_id` changed (escalated or de-escalated).
    pub fn severity_changed(&mut self, key: &str, incident_id: Uuid, severity: Severity) {
        if let Some(open) = self.open.get_mut(key)
            && open.incident_id == incident_id
        {
            open.severity = severity;
        }
    }

    /// The incident of `key` closed: new signals count towards a new spike.
    pub fn incident_closed(&mut self, key: &str) {
        self.open.remove(key);
    }

    /// Keys tracked (for bounds checks).
    #[cfg(test)]
    pub fn tracked_keys(&self) -> usize {
        self.recent.len()
    }

    fn prune(&mut self, horizon: DateTime<Utc>) {
        if self.recent.len() > 4_096 {
            self.recent
                .retain(|_, signals| signals.back().is_some_and(|w| w.at > horizon));
        }
    }
}

/// Attaches `signal` to `open`, asking for an escalation when it is more severe; the
/// incident is then taken to be at that severity, so one escalation is asked once.
fn attach(open: &mut OpenIncident, signal: Observed) -> SpikeDecision {
    let escalate_to = (signal.severity > open.severity).then_some(signal.severity);
    open.severity = open.severity.max(signal.severity);
    SpikeDecision::AttachToIncident {
        incident_id: open.incident_id,
        signal_id: signal.signal_id,
        escalate_to,
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

    /// Signal `n` at `minute`, of `severity`.
    fn signal_of(n: u128, minute: i64, severity: Severity) -> Observed {
        Observed {
            signal_id: id(n),
            at: at(minute),
            severity,
            category: Category::Delay,
            with_flight: true,
        }
    }

    fn signal(n: u128, minute: i64) -> Observed {
        signal_of(n, minute, Severity::Medium)
    }

    const SEVERITIES: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    #[test]
    fn state_kept_per_key_decides_like_one_detector() {
        let keys = ["a", "b"];
        let mut whole = SpikeDetector::new(SpikeConfig::default());
        let mut stored: HashMap<&str, KeyState> = HashMap::new();
        for n in 0..40u128 {
            let key = keys[(n % 3 == 0) as usize];
            let observed = signal_of(n, n as i64 * 3, SEVERITIES[(n * 7 % 4) as usize]);
            let expected = whole.observe(key, observed);
            let mut one = SpikeDetector::new(SpikeConfig::default());
            one.load_key(key, stored.remove(key).unwrap_or_default());
            assert_eq!(one.observe(key, observed), expected, "signal {n}");
            stored.insert(key, one.take_key(key));
            if n == 20 {
                whole.incident_closed("a");
                let mut state = stored.remove("a").unwrap_or_default();
                state.open = None;
                state.open_severity = None;
                stored.insert("a", state);
            }
        }
    }

    #[test]
    fn five_signals_in_half_an_hour_open_an_incident_and_later_ones_attach() {
        let mut d = SpikeDetector::new(SpikeConfig::default());
        for n in 0..4 {
            assert_eq!(
                d.observe("LH400-2026-11-22-delay", signal(n as u128, n * 5)),
                SpikeDecision::None
            );
        }
        let SpikeDecision::OpenIncident {
            incident_id,
            signal_ids,
            ..
        } = d.observe("LH400-2026-11-22-delay", signal(4, 29))
        else {
            panic!("a spike")
        };
        assert_eq!(signal_ids, (0..5).map(id).collect::<Vec<_>>());
        assert_eq!(
            d.observe("LH400-2026-11-22-delay", signal(5, 31)),
            SpikeDecision::AttachToIncident {
                incident_id,
                signal_id: id(5),
                escalate_to: None,
            }
        );
        assert_eq!(
            d.observe("LH400-2026-11-22-baggage_lost", signal(6, 31)),
            SpikeDecision::None,
            "another key is another story"
        );
        d.incident_closed("LH400-2026-11-22-delay");
        assert_eq!(
            d.observe("LH400-2026-11-22-delay", signal(7, 40)),
            SpikeDecision::None
        );
    }

    #[test]
    fn an_incident_opens_at_its_bursts_highest_severity_and_escalates_with_its_signals() {
        let mut d = SpikeDetector::new(SpikeConfig::default());
        let burst = [
            Severity::Medium,
            Severity::Critical,
            Severity::Low,
            Severity::Low,
        ];
        for (n, severity) in (0..).zip(burst) {
            d.observe("k", signal_of(n, n as i64, severity));
        }
        let SpikeDecision::OpenIncident {
            incident_id,
            severity,
            ..
        } = d.observe("k", signal_of(4, 4, Severity::Low))
        else {
            panic!("a spike")
        };
        assert_eq!(severity, Severity::Critical, "not the last signal's Low");

        let mut d = SpikeDetector::new(SpikeConfig::default());
        d.incident_opened("k", incident_id, Severity::Low);
        let escalate_to =
            |d: &mut SpikeDetector, n, severity| match d.observe("k", signal_of(n, 10, severity)) {
                SpikeDecision::AttachToIncident { escalate_to, .. } => escalate_to,
                other => panic!("{other:?}"),
            };
        assert_eq!(escalate_to(&mut d, 10, Severity::Low), None);
        assert_eq!(
            escalate_to(&mut d, 11, Severity::High),
            Some(Severity::High)
        );
        assert_eq!(
            escalate_to(&mut d, 12, Severity::High),
            None,
            "asked once: the incident is taken to be High now"
        );
        assert_eq!(
            escalate_to(&mut d, 13, Severity::Medium),
            None,
            "never lowers"
        );
        d.severity_changed("k", id(999), Severity::Low);
        assert_eq!(
            escalate_to(&mut d, 14, Severity::High),
            None,
            "another incident's change is not this one's"
        );
        d.severity_changed("k", incident_id, Severity::Medium);
        assert_eq!(
            escalate_to(&mut d, 15, Severity::High),
            Some(Severity::High),
            "after a de-escalation, a more severe signal escalates again"
        );
    }

    #[test]
    fn state_stored_before_severities_were_kept_still_reads() {
        let old = r#"{"recent":[["2026-11-22T10:00:00Z","00000000-0000-0000-0000-000000000001"]],"open":null}"#;
        let state: KeyState = serde_json::from_str(old).unwrap();
        assert_eq!(state.recent[0].severity, Severity::Low);
        assert_eq!(state.open_severity, None);
        let open = r#"{"recent":[],"open":"00000000-0000-0000-0000-000000000007"}"#;
        let mut d = SpikeDetector::default();
        d.load_key("k", serde_json::from_str(open).unwrap());
        assert_eq!(
            d.observe("k", signal_of(2, 0, Severity::Medium)),
            SpikeDecision::AttachToIncident {
                incident_id: id(7),
                signal_id: id(2),
                escalate_to: Some(Severity::Medium),
            },
            "an unknown severity is read as Low: at worst the reactor finds it already done"
        );
        let round_trip: KeyState =
            serde_json::from_str(&serde_json::to_string(&d.take_key("k")).unwrap()).unwrap();
        assert_eq!(round_trip.open_severity, Some(Severity::Medium));
    }

    #[test]
    fn signals_without_a_flight_count_under_their_own_rule_in_their_categories_only() {
        let config = SpikeConfig {
            without_flight: WithoutFlightConfig {
                signals_min: 8,
                window_minutes: 10,
                categories: vec![Category::Safety],
            },
            ..SpikeConfig::default()
        };
        let without_flight = |n: u128, minute, category| Observed {
            category,
            with_flight: false,
            ..signal(n, minute)
        };
        let mut d = SpikeDetector::new(config.clone());
        for n in 0..50 {
            assert_eq!(
                d.observe("noflight/other", without_flight(n, 0, Category::Other)),
                SpikeDecision::None,
                "never, however many"
            );
        }
        assert_eq!(d.tracked_keys(), 0, "and not even kept");
        for n in 0..7 {
            let decision = d.observe(
                "noflight/safety",
                without_flight(n, n as i64, Category::Safety),
            );
            assert_eq!(decision, SpikeDecision::None, "7 < 8");
        }
        let opened = d.observe("noflight/safety", without_flight(7, 9, Category::Safety));
        assert!(
            matches!(opened, SpikeDecision::OpenIncident { ref signal_ids, .. } if signal_ids.len() == 8),
            "{opened:?}"
        );

        let mut d = SpikeDetector::new(config.clone());
        for n in 0..7 {
            d.observe(
                "noflight/safety",
                without_flight(n, n as i64 * 2, Category::Safety),
            );
        }
        assert_eq!(
            d.observe("noflight/safety", without_flight(7, 14, Category::Safety)),
            SpikeDecision::None,
            "eight within 15 minutes, but the window is 10"
        );
        let mut d = SpikeDetector::new(config);
        d.incident_opened("noflight/other", id(99), Severity::Low);
        assert!(
            matches!(
                d.observe("noflight/other", without_flight(1, 0, Category::Other)),
                SpikeDecision::AttachToIncident { .. }
            ),
            "an incident a crisis lead opened under the key still gathers its signals"
        );
    }

    #[test]
    fn signals_spread_wider_than_the_window_are_no_spike() {
        let mut d = SpikeDetector::new(SpikeConfig::default());
        for n in 0..20 {
            assert_eq!(
                d.observe("k", signal(n as u128, n * 8)),
                SpikeDecision::None,
                "one signal every 8 minutes: at most 4 in 30"
            );
        }
    }

    #[test]
    fn memory_stays_bounded() {
        let mut d = SpikeDetector::new(SpikeConfig::default());
        for n in 0..20_000i64 {
            d.observe(&format!("key-{n}"), signal(n as u128, n));
        }
        assert!(d.tracked_keys() <= 4_096 + 31, "{}", d.tracked_keys());
    }

    proptest! {
        #[test]
        fn decisions_are_deterministic_and_need_enough_recent_signals(minutes in prop::collection::vec((0i64..120, 0usize..3, 0usize..4), 0..60)) {
            let run = || {
                let mut d = SpikeDetector::new(SpikeConfig::default());
                minutes.iter().enumerate().map(|(n, (m, k, s))| d.observe(&format!("k{k}"), signal_of(n as u128, *m, SEVERITIES[*s]))).collect::<Vec<_>>()
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
