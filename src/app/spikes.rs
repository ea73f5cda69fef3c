//! The spike reactor: turns the spike detector's decisions into incidents.
//!
//! The `spikes` read model decides, in log order, when a burst of signals with one
//! correlation key is a crisis and which later signals belong to its incident. This
//! task follows those decisions from its own checkpoint and carries them out through
//! the normal command path: open the incident with the burst's signals, at the highest
//! severity among them, and mark each signal attached; attach later signals to the open
//! incident, escalating it when the model found a signal more severe than the incident.
//!
//! Exactly-once in effect: the incident id comes from the decision (derived from the
//! key and the signal that completed the burst), every command carries an idempotency
//! key, and refusals that mean "already done" (incident already open, signal already
//! attached, severity already at or above) count as done. The checkpoint advances only
//! past decisions carried out, so a crash repeats at most the last decision, harmlessly.
//!
//! The reactor acts as the system (role Admin). The incident domain lets any actor
//! escalate; only the HTTP route keeps `escalate_severity` for crisis leads. The reactor
//! only ever escalates: lowering a severity stays a crisis lead's decision.

use chrono::Utc;
use uuid::Uuid;

use super::command::{CommandError, CommandMeta, Journal, execute};
use super::reactor::{Reaction, ReactorError};
use crate::domain::common::{Actor, Role};
use crate::domain::incident::{self, Incident, IncidentCommand, IncidentError};
use crate::domain::signal::{self, Signal, SignalCommand, SignalError};
use crate::projection::spikes::{self, Decided, SpikeAction};
use crate::projection::{ModelError, ReadModel};
use crate::store::{AppendError, StoreError};

/// The spike reaction: carries out the `spikes` model's decisions.
pub struct SpikeReaction {
    journal: Journal,
    model: ReadModel,
}

/// The actor recorded on what the reactor does.
pub fn reactor_actor() -> Actor {
    Actor {
        id: "crisisd-spike-detector".into(),
        role: Role::Admin,
    }
}

impl SpikeReaction {
    pub fn new(journal: Journal) -> Result<Self, StoreError> {
        let model = ReadModel::open(journal.store(), spikes::NAME)?;
        Ok(SpikeReaction { journal, model })
    }
}

impl Reaction for SpikeReaction {
    type Decision = Decided;
    const CHECKPOINT: &'static str = "spike-reactor";

    fn model(&self) -> &ReadModel {
        &self.model
    }

    fn decisions_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Decided)>, ModelError> {
        let decided = spikes::decisions_after(&self.model, after, limit)?;
        Ok(decided.into_iter().map(|d| (d.position, d)).collect())
    }

    async fn carry_out(&self, decided: &Decided) -> Result<(), ReactorError> {
        self.act(decided).await
    }
}

impl SpikeReaction {
    async fn act(&self, decided: &Decided) -> Result<(), ReactorError> {
        let now = Utc::now();
        let meta = |key: String| CommandMeta {
            idempotency_key: Some(key),
            ..CommandMeta::new(reactor_actor(), now)
        };
        match &decided.action {
            SpikeAction::Open {
                incident_id,
                correlation_key,
                signal_ids,
                category,
                severity,
                flight,
                ..
            } => {
                let title = match flight {
                    Some(flight) => {
                        format!("{} {category:?} signals on {flight}", signal_ids.len())
                    }
                    None => format!("{} {category:?} signals", signal_ids.len()),
                };
                let open = IncidentCommand::OpenIncident {
                    incident_id: *incident_id,
                    title,
                    category: *category,
                    severity: *severity,
                    flight: flight.clone(),
                    correlation_key: Some(correlation_key.clone()),
                    signal_ids: signal_ids.clone(),
                };
                let stream = incident::stream_name(*incident_id);
                let opened =
                    execute::<Incident>(&self.journal, &stream, &open, &meta("spike-open".into()))
                        .await;
                incident_done(opened, &stream)?;
                for signal_id in signal_ids {
                    self.mark_signal(*signal_id, *incident_id, &meta).await?;
                }
            }
            SpikeAction::Attach {
                incident_id,
                signal_id,
                escalate_to,
            } => {
                let attach = IncidentCommand::AttachSignal {
                    signal_id: *signal_id,
                };
                let stream = incident::stream_name(*incident_id);
                let key = format!("spike-attach:{signal_id}");
                let attached =
                    execute::<Incident>(&self.journal, &stream, &attach, &meta(key)).await;
                incident_done(attached, &stream)?;
                if let Some(to) = escalate_to {
                    let escalate = IncidentCommand::EscalateSeverity {
                        to: *to,
                        reason: format!("signal {signal_id} attached with severity {to:?}"),
                    };
                    let key = format!("spike-escalate:{signal_id}");
                    let escalated =
                        execute::<Incident>(&self.journal, &stream, &escalate, &meta(key)).await;
                    incident_done(escalated, &stream)?;
                }
                self.mark_signal(*signal_id, *incident_id, &meta).await?;
            }
        }
        Ok(())
    }

    async fn mark_signal(
        &self,
        signal_id: Uuid,
        incident_id: Uuid,
        meta: &impl Fn(String) -> CommandMeta,
    ) -> Result<(), ReactorError> {
        let stream = signal::stream_name(signal_id);
        let command = SignalCommand::AttachToIncident { incident_id };
        let key = format!("spike-incident:{incident_id}");
        match execute::<Signal>(&self.journal, &stream, &command, &meta(key)).await {
            Ok(_)
            | Err(CommandError::Refused(
                SignalError::AlreadyAttached { .. } | SignalError::Dismissed,
            )) => Ok(()),
            Err(CommandError::Append(AppendError::Unavailable { reason })) => {
                Err(ReactorError::StoreClosed(reason))
            }
            Err(CommandError::Refused(refused)) => {
                tracing::warn!(%signal_id, %incident_id, cause = %refused, "signal not marked as attached; skipped");
                Ok(())
            }
            Err(err) => Err(ReactorError::Retry(format!("{stream}: {err}"))),
        }
    }
}

/// Whether an incident command's outcome lets the reactor move on.
fn incident_done(
    result: Result<super::command::Executed, CommandError<IncidentError>>,
    stream: &str,
) -> Result<(), ReactorError> {
    match result {
        Ok(_)
        | Err(CommandError::Refused(
            IncidentError::AlreadyOpened
            | IncidentError::SignalAlreadyAttached { .. }
            // Already at or above the severity asked for (a crisis lead was quicker).
            | IncidentError::NotAnEscalation { .. },
        )) => Ok(()),
        Err(CommandError::Append(AppendError::Unavailable { reason })) => {
            Err(ReactorError::StoreClosed(reason))
        }
        // A refusal that will not change by retrying (e.g. the incident closed between
        // the decision and now): log and move on rather than block every later spike.
        Err(CommandError::Refused(refused)) => {
            tracing::warn!(stream, cause = %refused, "spike decision refused by the incident; skipped");
            Ok(())
        }
        Err(err) => Err(ReactorError::Retry(format!("{stream}: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::command::load;
    use crate::app::reactor::{self, ReactorConfig};
    use crate::domain::common::{Category, Channel, FlightKey, PersonalData, Severity};
    use crate::projection::{Projector, spikes::Spikes};
    use crate::store::{SledStore, StoreConfig};
    use std::time::Duration;
    use tokio::sync::watch;

    const CHECKPOINT: &str = SpikeReaction::CHECKPOINT;

    /// Records signal `n` observed `minute` minutes after `start`; every signal is about
    /// the same flight (its date is `start`'s, even when the burst crosses midnight).
    async fn record(journal: &Journal, n: u128, start: chrono::DateTime<Utc>, minute: i64) -> Uuid {
        record_at(journal, n, start, minute, Severity::High).await
    }

    /// Like [`record`], with the signal's severity.
    async fn record_at(
        journal: &Journal,
        n: u128,
        start: chrono::DateTime<Utc>,
        minute: i64,
        severity: Severity,
    ) -> Uuid {
        let signal_id = Uuid::from_u128(n);
        let observed_at = start + chrono::Duration::minutes(minute);
        let command = SignalCommand::RecordSignal {
            signal_id,
            channel: Channel::SocialMedia,
            category: Category::Delay,
            severity,
            flight: Some(FlightKey::new("LH", "400", start.date_naive()).unwrap()),
            passenger: None,
            reach: 100,
            summary: PersonalData("late".into()),
            source_ref: None,
            observed_at,
            kind: None,
        };
        let actor = Actor {
            id: "ingest-feedback".into(),
            role: Role::FlightOps,
        };
        execute::<Signal>(
            journal,
            &signal::stream_name(signal_id),
            &command,
            &CommandMeta::new(actor, Utc::now()),
        )
        .await
        .unwrap();
        signal_id
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_signals_becomes_one_incident_with_every_signal_attached() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let projector = Projector::new(store.clone(), Spikes::default()).unwrap();
        let projecting = tokio::spawn(projector.run(stop_rx.clone()));
        let config = ReactorConfig {
            poll: Duration::from_millis(10),
            ..ReactorConfig::default()
        };
        let reaction = SpikeReaction::new(journal.clone()).unwrap();
        let reacting = tokio::spawn(reactor::run(
            reaction,
            store.clone(),
            config,
            stop_rx.clone(),
        ));
        let mut signals = Vec::new();
        let start = Utc::now() - chrono::Duration::hours(1);
        for n in 1..=7 {
            signals.push(record(&journal, n, start, n as i64).await);
        }
        let model = crate::projection::ReadModel::open(&store, spikes::NAME).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let decisions = loop {
            let decisions = spikes::decisions_after(&model, 0, 10).unwrap();
            // Done when the third decision exists and the checkpoint has passed it: the
            // reactor's own writes interleave with the signals, so their positions vary.
            let carried_out = decisions.len() == 3
                && store.checkpoint(CHECKPOINT).unwrap() >= decisions[2].position;
            if carried_out {
                break decisions;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no three decisions after 60 s: {decisions:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let SpikeAction::Open { incident_id, .. } = decisions[0].action else {
            panic!("{decisions:?}")
        };
        stop_tx.send(true).unwrap();
        reacting.await.unwrap();
        projecting.await.unwrap().unwrap();
        // Run the same decisions again (a crash before the checkpoint): nothing changes.
        let head = store.head().position;
        store.save_checkpoint(CHECKPOINT, 0).unwrap();
        let again = SpikeReaction::new(journal.clone()).unwrap();
        assert_eq!(reactor::round(&again, &store, 256).await.unwrap(), 3);
        assert_eq!(store.head().position, head, "a repeat writes nothing");

        let (incident, _) = load::<Incident>(&store, &incident::stream_name(incident_id)).unwrap();
        assert_eq!(
            incident.signals,
            signals.iter().copied().collect(),
            "the burst and the later two"
        );
        assert_eq!(
            incident.correlation_key.as_deref(),
            Some(decisions[0].action_key())
        );
        for signal_id in signals {
            let (signal, _) = load::<Signal>(&store, &signal::stream_name(signal_id)).unwrap();
            assert_eq!(signal.incident_id, Some(incident_id));
        }
    }

    /// A signal more severe than its incident escalates it, once, with a reason naming
    /// the signal; a milder one never lowers it; a repeat writes nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_more_severe_signal_escalates_its_incident_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let start = Utc::now() - chrono::Duration::hours(1);
        for n in 1..=5 {
            record_at(&journal, n, start, n as i64, Severity::Low).await;
        }
        let critical = record_at(&journal, 6, start, 6, Severity::Critical).await;
        record_at(&journal, 7, start, 7, Severity::Medium).await;
        crate::projection::rebuild(&store, Spikes::default(), |_, _| {}).unwrap();
        let reaction = SpikeReaction::new(journal.clone()).unwrap();
        assert_eq!(reactor::round(&reaction, &store, 256).await.unwrap(), 3);

        let model = crate::projection::ReadModel::open(&store, spikes::NAME).unwrap();
        let decisions = spikes::decisions_after(&model, 0, 10).unwrap();
        let SpikeAction::Open { incident_id, .. } = decisions[0].action else {
            panic!("{decisions:?}")
        };
        let stream = incident::stream_name(incident_id);
        let (incident, _) = load::<Incident>(&store, &stream).unwrap();
        assert_eq!(incident.severity, Some(Severity::Critical));
        let escalations: Vec<String> = store
            .read_stream(&stream, 1, crate::store::Direction::Forward, 100)
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == "incident.severity_escalated")
            .map(|e| e.data.get().to_owned())
            .collect();
        assert_eq!(escalations.len(), 1, "{escalations:?}");
        assert!(
            escalations[0].contains(&critical.to_string()),
            "the reason names the signal: {escalations:?}"
        );

        let head = store.head().position;
        store.save_checkpoint(CHECKPOINT, 0).unwrap();
        let again = SpikeReaction::new(journal.clone()).unwrap();
        assert_eq!(reactor::round(&again, &store, 256).await.unwrap(), 3);
        assert_eq!(store.head().position, head, "a repeat writes nothing");
    }

    impl Decided {
        fn action_key(&self) -> &str {
            match &self.action {
                SpikeAction::Open {
                    correlation_key, ..
                } => correlation_key,
                SpikeAction::Attach { .. } => "",
            }
        }
    }
}
