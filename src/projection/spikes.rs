//! Spikes read model: the spike detector's state, kept per correlation key, and the log
//! of what it decided — open an incident for a burst of signals, attach a later signal
//! to the open incident of its key.
//!
//! The detector ([`crate::domain::policy::spike`]) is fed the signals in log order, so a
//! rebuild decides exactly what live processing decided. The decisions are facts about
//! the log, not commands: the spike reactor ([`crate::app::spikes`]) follows them and
//! turns each into idempotent incident and signal commands. Incidents opened any other
//! way (by a crisis lead, with a correlation key) count as the key's open incident too,
//! and closing or reopening an incident ends or resumes it. The model follows each keyed
//! incident's severity (opened at, escalated, de-escalated), so whether a signal asks for
//! an escalation is decided from the log, the same live and on rebuild.
//!
//! Keys:
//! - `K <correlation key>` → [`KeyState`] (JSON): signals in the window with their
//!   severities, open incident and its severity;
//! - `I <incident id:16>` → the incident's correlation key (UTF-8);
//! - `S <incident id:16>` → the incident's severity (JSON), to resume it on reopening;
//! - `D <position:u64 BE>` → [`SpikeAction`] (JSON): the decision the signal at that
//!   position caused, in log order.

use super::model::decoded;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{Category, FlightKey, Severity};
use crate::domain::incident::IncidentEvent;
use crate::domain::policy::spike::{KeyState, Observed, SpikeConfig, SpikeDecision, SpikeDetector};
use crate::domain::signal::SignalEvent;
use crate::store::RecordedEvent;

pub const NAME: &str = "spikes";

/// What the detector decided for one signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SpikeAction {
    /// A burst of signals with one key: open this incident with them.
    Open {
        incident_id: Uuid,
        correlation_key: String,
        signal_ids: Vec<Uuid>,
        category: Category,
        severity: Severity,
        flight: Option<FlightKey>,
        detected_at: DateTime<Utc>,
    },
    /// The key has an open incident: attach the signal to it, and escalate the incident
    /// to `escalate_to` when the signal is more severe than the incident.
    Attach {
        incident_id: Uuid,
        signal_id: Uuid,
        /// Absent in decisions stored before escalations were decided.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalate_to: Option<Severity>,
    },
}

/// A decision and the position of the signal that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decided {
    pub position: u64,
    #[serde(flatten)]
    pub action: SpikeAction,
}

/// The spikes projection.
#[derive(Debug, Default)]
pub struct Spikes {
    pub config: SpikeConfig,
}

fn key_key(correlation_key: &str) -> Vec<u8> {
    let mut key = vec![b'K'];
    key.extend_from_slice(correlation_key.as_bytes());
    key
}

fn incident_key(incident_id: Uuid) -> Vec<u8> {
    let mut key = vec![b'I'];
    key.extend_from_slice(incident_id.as_bytes());
    key
}

fn severity_key(incident_id: Uuid) -> Vec<u8> {
    let mut key = vec![b'S'];
    key.extend_from_slice(incident_id.as_bytes());
    key
}

fn decision_key(position: u64) -> Vec<u8> {
    let mut key = vec![b'D'];
    key.extend_from_slice(&position.to_be_bytes());
    key
}

impl Spikes {
    /// Runs `change` on a detector holding only `correlation_key`'s stored state, then
    /// stores what it left.
    fn with_key<T>(
        &self,
        tx: &mut ModelTx<'_>,
        correlation_key: &str,
        change: impl FnOnce(&mut SpikeDetector) -> T,
    ) -> Result<T, ModelError> {
        let key = key_key(correlation_key);
        let mut detector = SpikeDetector::new(self.config.clone());
        detector.load_key(correlation_key, tx.get_json(&key)?.unwrap_or_default());
        let result = change(&mut detector);
        let state = detector.take_key(correlation_key);
        if state == KeyState::default() {
            tx.remove(key);
        } else {
            tx.insert_json(key, &state);
        }
        Ok(result)
    }

    fn incident_key_of(tx: &ModelTx<'_>, incident_id: Uuid) -> Result<Option<String>, ModelError> {
        tx.get(&incident_key(incident_id))?
            .map(|bytes| String::from_utf8(bytes).map_err(ModelError::from))
            .transpose()
    }
}

impl Projection for Spikes {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let t = event.event_type.as_str();
        if event.stream.starts_with("signal-") {
            // Only recordings feed the detector (a dismissal comes too late to matter).
            if t != "signal.recorded" {
                return Ok(());
            }
            let SignalEvent::Recorded(signal) = decoded::<SignalEvent>(event)? else {
                return Err(ModelError::Invalid(format!(
                    "{t} decoded as another signal event"
                )));
            };
            let key = signal.correlation_key.clone();
            let observed = Observed {
                signal_id: signal.signal_id,
                at: signal.observed_at,
                severity: signal.severity,
                category: signal.category,
                with_flight: signal.flight.is_some(),
            };
            let decision = self.with_key(tx, &key, |detector| detector.observe(&key, observed))?;
            let action = match decision {
                SpikeDecision::None => return Ok(()),
                SpikeDecision::OpenIncident {
                    incident_id,
                    key,
                    signal_ids,
                    severity,
                } => {
                    tx.insert(incident_key(incident_id), key.as_bytes().to_vec());
                    tx.insert_json(severity_key(incident_id), &severity);
                    SpikeAction::Open {
                        incident_id,
                        correlation_key: key,
                        signal_ids,
                        category: signal.category,
                        severity,
                        flight: signal.flight.clone(),
                        detected_at: signal.observed_at,
                    }
                }
                SpikeDecision::AttachToIncident {
                    incident_id,
                    signal_id,
                    escalate_to,
                } => SpikeAction::Attach {
                    incident_id,
                    signal_id,
                    escalate_to,
                },
            };
            let decided = Decided {
                position: event.position,
                action,
            };
            tx.insert_json(decision_key(event.position), &decided);
            return Ok(());
        }
        if !event.stream.starts_with("incident-")
            || !matches!(
                t,
                "incident.opened"
                    | "incident.closed"
                    | "incident.reopened"
                    | "incident.severity_escalated"
                    | "incident.severity_deescalated"
            )
        {
            return Ok(());
        }
        let incident_id = event
            .stream
            .strip_prefix("incident-")
            .and_then(|id| id.parse::<Uuid>().ok());
        match decoded::<IncidentEvent>(event)? {
            IncidentEvent::Opened(opened) => {
                if let Some(key) = opened.correlation_key {
                    let (id, severity) = (opened.incident_id, opened.severity);
                    tx.insert(incident_key(id), key.as_bytes().to_vec());
                    tx.insert_json(severity_key(id), &severity);
                    self.with_key(tx, &key, |detector| {
                        detector.incident_opened(&key, id, severity)
                    })?;
                }
            }
            IncidentEvent::SeverityEscalated(change)
            | IncidentEvent::SeverityDeescalated(change) => {
                let Some(id) = incident_id else { return Ok(()) };
                if let Some(key) = Self::incident_key_of(tx, id)? {
                    tx.insert_json(severity_key(id), &change.to);
                    self.with_key(tx, &key, |detector| {
                        detector.severity_changed(&key, id, change.to)
                    })?;
                }
            }
            IncidentEvent::Closed(_) => {
                let Some(id) = incident_id else { return Ok(()) };
                if let Some(key) = Self::incident_key_of(tx, id)? {
                    self.with_key(tx, &key, |detector| detector.incident_closed(&key))?;
                }
            }
            IncidentEvent::Reopened(_) => {
                let Some(id) = incident_id else { return Ok(()) };
                if let Some(key) = Self::incident_key_of(tx, id)? {
                    // Unknown for incidents opened before severities were kept: Low, so
                    // at worst an escalation is asked for that the incident already has.
                    let severity = tx
                        .get_json::<Severity>(&severity_key(id))?
                        .unwrap_or(Severity::Low);
                    self.with_key(tx, &key, |detector| {
                        detector.incident_opened(&key, id, severity)
                    })?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Decisions caused by signals after position `after`, in log order, at most `limit`.
pub fn decisions_after(
    tree: &ReadModel,
    after: u64,
    limit: usize,
) -> Result<Vec<Decided>, ModelError> {
    tree.range(decision_key(after.saturating_add(1))..decision_key(u64::MAX))
        .take(limit)
        .map(|entry| entry.map(|(_, value)| value))
        .collect()
}

/// Spikes detected (incident openings) since `since`, newest first: the monitor's list.
pub fn detected(tree: &ReadModel, since: DateTime<Utc>) -> Result<Vec<Decided>, ModelError> {
    let mut found = Vec::new();
    for entry in tree.prefix(b"D").rev() {
        let (_, decided): (_, Decided) = entry?;
        if let SpikeAction::Open { detected_at, .. } = &decided.action {
            if *detected_at < since {
                continue;
            }
            found.push(decided);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::{Channel, PersonalData};
    use crate::domain::incident::{IncidentClosed, IncidentOpened};
    use crate::domain::signal::SignalRecorded;
    use crate::domain::testing::at;
    use crate::projection::rebuild;
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};

    async fn append(store: &SledStore, stream: &str, event: &impl crate::domain::DomainEvent) {
        let actor = Actor {
            id: "a-1".into(),
            role: "agent".into(),
        };
        let new = NewEvent::new(event.event_type(), event.to_data(), actor, Utc::now());
        store
            .append(AppendRequest::single(
                stream,
                ExpectedVersion::Any,
                vec![new],
            ))
            .await
            .unwrap();
    }

    fn flight() -> FlightKey {
        FlightKey::new("LH", "400", at(0).date_naive()).unwrap()
    }

    async fn signal(store: &SledStore, n: u128, minute: i64) -> Uuid {
        let key = "LH400-2026-11-22-delay";
        let flight = Some(flight());
        signal_of(
            store,
            n,
            minute,
            (Category::Delay, Severity::High),
            flight,
            key,
        )
        .await
    }

    /// Records signal `n` with a category, severity, flight and correlation key.
    async fn signal_of(
        store: &SledStore,
        n: u128,
        minute: i64,
        (category, severity): (Category, Severity),
        flight: Option<FlightKey>,
        correlation_key: &str,
    ) -> Uuid {
        let signal_id = Uuid::from_u128(n);
        let event = SignalEvent::Recorded(SignalRecorded {
            signal_id,
            channel: Channel::SocialMedia,
            category,
            severity,
            flight,
            passenger: None,
            reach: 10,
            summary: PersonalData("late".into()),
            source_ref: None,
            correlation_key: correlation_key.into(),
            observed_at: at(minute),
            kind: None,
        });
        append(
            store,
            &crate::domain::signal::stream_name(signal_id),
            &event,
        )
        .await;
        signal_id
    }

    #[tokio::test]
    async fn a_burst_opens_later_signals_attach_and_closing_ends_the_incident() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let mut ids = Vec::new();
        for n in 1..=5 {
            ids.push(signal(&store, n, n as i64 * 5).await); // positions 1..=5
        }
        let late = signal(&store, 6, 40).await; // position 6
        rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        let decided = decisions_after(&tree, 0, 10).unwrap();
        let SpikeAction::Open { incident_id, .. } = decided[0].action.clone() else {
            panic!("{decided:?}")
        };
        assert_eq!(
            decided,
            vec![
                Decided {
                    position: 5,
                    action: SpikeAction::Open {
                        incident_id,
                        correlation_key: "LH400-2026-11-22-delay".into(),
                        signal_ids: ids.clone(),
                        category: Category::Delay,
                        severity: Severity::High,
                        flight: Some(flight()),
                        detected_at: at(25),
                    },
                },
                Decided {
                    position: 6,
                    action: SpikeAction::Attach {
                        incident_id,
                        signal_id: late,
                        escalate_to: None,
                    },
                },
            ]
        );
        assert_eq!(
            decisions_after(&tree, 5, 10).unwrap(),
            decided[1..].to_vec()
        );
        assert_eq!(detected(&tree, at(0)).unwrap(), decided[..1].to_vec());
        assert!(detected(&tree, at(26)).unwrap().is_empty());

        // The incident opens (as the reactor would) and closes: new signals start over.
        let stream = crate::domain::incident::stream_name(incident_id);
        let opened = IncidentEvent::Opened(IncidentOpened {
            incident_id,
            title: "spike".into(),
            category: Category::Delay,
            severity: Severity::High,
            flight: Some(flight()),
            correlation_key: Some("LH400-2026-11-22-delay".into()),
            signal_ids: ids,
            opened_at: at(26),
        });
        append(&store, &stream, &opened).await;
        let closed = IncidentEvent::Closed(IncidentClosed {
            summary: "done".into(),
            closed_by: "lead-1".into(),
        });
        append(&store, &stream, &closed).await;
        signal(&store, 7, 55).await;
        rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap(); // a rebuild replaces the tree
        assert_eq!(
            decisions_after(&tree, 6, 10).unwrap(),
            vec![],
            "after the close, one signal is no spike and attaches nowhere"
        );
    }

    /// A burst opens its incident at the severity of its most severe signal, wherever
    /// that signal falls in the burst (not at the severity of the one completing it).
    #[tokio::test]
    async fn a_burst_opens_at_its_highest_severity() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let key = "LH400-2026-11-22/delay";
        let severities = [
            Severity::Low,
            Severity::High,
            Severity::Low,
            Severity::Medium,
            Severity::Low,
        ];
        for (n, severity) in (1..).zip(severities) {
            let kind = (Category::Delay, severity);
            signal_of(&store, n, n as i64, kind, Some(flight()), key).await;
        }
        rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        let decided = decisions_after(&tree, 0, 10).unwrap();
        let [
            Decided {
                action: SpikeAction::Open { severity, .. },
                ..
            },
        ] = &decided[..]
        else {
            panic!("one opening: {decided:?}")
        };
        assert_eq!(
            *severity,
            Severity::High,
            "the burst's highest, not its last"
        );
    }

    /// The model follows a keyed incident's severity through the log (opened at,
    /// de-escalated, escalated, closed and reopened), so whether an attached signal asks
    /// for an escalation is read from the log, the same live and on rebuild.
    #[tokio::test]
    async fn attached_signals_ask_to_escalate_past_the_incidents_severity_in_the_log() {
        use crate::domain::incident::{IncidentReopened, SeverityChanged};
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let key = "LH400-2026-11-22/delay";
        let incident_id = Uuid::from_u128(900);
        let stream = crate::domain::incident::stream_name(incident_id);
        let change = |from, to| SeverityChanged {
            from,
            to,
            reason: "r".into(),
        };
        let medium = (Category::Delay, Severity::Medium);
        let opened = IncidentEvent::Opened(IncidentOpened {
            incident_id,
            title: "by a crisis lead".into(),
            category: Category::Delay,
            severity: Severity::High,
            flight: Some(flight()),
            correlation_key: Some(key.into()),
            signal_ids: vec![],
            opened_at: at(0),
        });
        append(&store, &stream, &opened).await;
        signal_of(&store, 1, 1, medium, Some(flight()), key).await;
        let lowered = IncidentEvent::SeverityDeescalated(change(Severity::High, Severity::Low));
        append(&store, &stream, &lowered).await;
        signal_of(&store, 2, 2, medium, Some(flight()), key).await;
        let raised = IncidentEvent::SeverityEscalated(change(Severity::Low, Severity::Medium));
        append(&store, &stream, &raised).await;
        signal_of(&store, 3, 3, medium, Some(flight()), key).await;
        let closed = IncidentEvent::Closed(IncidentClosed {
            summary: "done".into(),
            closed_by: "lead-1".into(),
        });
        append(&store, &stream, &closed).await;
        signal_of(&store, 4, 4, medium, Some(flight()), key).await;
        let reopened = IncidentEvent::Reopened(IncidentReopened {
            reason: "again".into(),
            reopened_by: "lead-1".into(),
        });
        append(&store, &stream, &reopened).await;
        signal_of(&store, 5, 5, medium, Some(flight()), key).await;
        let high = (Category::Delay, Severity::High);
        signal_of(&store, 6, 6, high, Some(flight()), key).await;

        rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        let asked: Vec<(u128, Option<Severity>)> = decisions_after(&tree, 0, 10)
            .unwrap()
            .into_iter()
            .map(|d| match d.action {
                SpikeAction::Attach {
                    signal_id,
                    escalate_to,
                    ..
                } => (signal_id.as_u128(), escalate_to),
                open => panic!("{open:?}"),
            })
            .collect();
        assert_eq!(
            asked,
            vec![
                (1, None),
                (2, Some(Severity::Medium)),
                (3, None),
                (5, None),
                (6, Some(Severity::High)),
            ],
            "Medium under High: nothing; under Low: escalate; reopened at Medium: only High"
        );
    }

    #[test]
    fn decisions_stored_before_escalations_still_read() {
        let old = r#"{"position":6,"action":"attach","incident_id":"00000000-0000-0000-0000-000000000007","signal_id":"00000000-0000-0000-0000-000000000006"}"#;
        let decided: Decided = serde_json::from_str(old).unwrap();
        assert_eq!(
            decided.action,
            SpikeAction::Attach {
                incident_id: Uuid::from_u128(7),
                signal_id: Uuid::from_u128(6),
                escalate_to: None,
            }
        );
        assert_eq!(serde_json::to_string(&decided).unwrap(), old, "same shape");
    }

    /// Signals naming no flight open an incident only in the categories the policy
    /// names for them, and only at their own, higher threshold: five "How do I add a
    /// bag?" messages in half an hour are no crisis.
    #[tokio::test]
    async fn signals_without_a_flight_follow_their_own_rule() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let noflight = |category| crate::domain::signal::correlation_key(None, category, at(0));
        for n in 1..=30 {
            let kind = (Category::Other, Severity::Low);
            signal_of(
                &store,
                n,
                n as i64 / 2,
                kind,
                None,
                &noflight(Category::Other),
            )
            .await;
        }
        for n in 101..=105 {
            let kind = (Category::Safety, Severity::High);
            signal_of(&store, n, 20, kind, None, &noflight(Category::Safety)).await;
        }
        rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        assert_eq!(
            decisions_after(&tree, 0, 10).unwrap(),
            vec![],
            "30 inquiries without a flight open nothing; 5 safety signals are below the threshold"
        );

        for n in 106..=125 {
            let kind = (Category::Safety, Severity::High);
            signal_of(&store, n, 25, kind, None, &noflight(Category::Safety)).await;
        }
        rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        let decided = decisions_after(&tree, 0, 10).unwrap();
        let [
            Decided {
                action:
                    SpikeAction::Open {
                        signal_ids, flight, ..
                    },
                ..
            },
        ] = &decided[..]
        else {
            panic!("one opening: {decided:?}")
        };
        assert_eq!(signal_ids.len(), 25, "the 25th safety signal opens");
        assert_eq!(*flight, None);
    }
}
