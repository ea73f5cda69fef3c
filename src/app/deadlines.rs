//! The deadline task: turns passed SLA deadlines into `complaint.sla_breached` events.
//!
//! Time passing is not an event, so something must notice it. This task wakes every
//! [`DeadlineConfig::tick`], asks the `sla_deadlines` read model for deadlines that have
//! passed, and records each breach on its complaint through the normal command path.
//! The breach is then part of history: replays, projections and auditors agree on it
//! without looking at a clock.
//!
//! Safe to repeat: each breach command carries an idempotency key per complaint and
//! service level, and `decide` refuses a breach already recorded or whose work is done,
//! so a read model that lags one tick behind costs a no-op, never a second event.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::command::{CommandError, CommandMeta, Journal, execute};
use crate::domain::common::{Actor, Role};
use crate::domain::complaint::{self, Complaint, ComplaintCommand, ComplaintError};
use crate::projection::ReadModel;
use crate::projection::sla_deadlines::{self, PendingDeadline};
use crate::store::StoreError;

/// How the deadline task runs.
#[derive(Debug, Clone)]
pub struct DeadlineConfig {
    /// How often it looks for passed deadlines (a breach is recorded at most this late).
    pub tick: Duration,
    /// Most breaches recorded per tick; the rest wait for the next one.
    pub per_tick_max: usize,
    /// Longest wait after a failing tick (doubles from `tick` up to this).
    pub backoff_max: Duration,
}

impl Default for DeadlineConfig {
    fn default() -> Self {
        DeadlineConfig {
            tick: Duration::from_secs(5),
            per_tick_max: 500,
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// The actor recorded on breach events.
pub fn deadline_actor() -> Actor {
    Actor {
        id: "crisisd-deadlines".into(),
        role: Role::Admin,
    }
}

/// Watches the SLA deadlines model and records breaches.
pub struct DeadlineTask {
    journal: Journal,
    model: ReadModel,
    config: DeadlineConfig,
}

impl DeadlineTask {
    pub fn new(journal: Journal, config: DeadlineConfig) -> Result<Self, StoreError> {
        let model = ReadModel::open(journal.store(), sla_deadlines::NAME)?;
        Ok(DeadlineTask {
            journal,
            model,
            config,
        })
    }

    /// Runs until `shutdown` turns true or the store closes.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut wait = self.config.tick;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            match self.tick().await {
                Ok(recorded) => {
                    if recorded > 0 {
                        tracing::info!(breaches = recorded, "SLA breaches recorded");
                    }
                    wait = self.config.tick;
                }
                Err(TickError::StoreClosed) => return,
                Err(TickError::Failed(reason)) => {
                    wait = (wait * 2).min(self.config.backoff_max);
                    tracing::warn!(cause = %reason, retry_in_s = wait.as_secs_f64(), "recording SLA breaches failed; retrying");
                }
            }
        }
    }

    /// Records every due breach (up to the per-tick limit); returns how many were new.
    pub async fn tick(&self) -> Result<usize, TickError> {
        let now = Utc::now();
        let due = sla_deadlines::due(&self.model, now, self.config.per_tick_max)
            .map_err(|err| TickError::Failed(err.to_string()))?;
        let mut recorded = 0;
        for pending in due {
            if self.record(&pending).await? {
                recorded += 1;
            }
        }
        Ok(recorded)
    }

    /// True when a new breach event was stored.
    async fn record(&self, pending: &PendingDeadline) -> Result<bool, TickError> {
        let stream = complaint::stream_name(pending.complaint_id);
        let command = ComplaintCommand::RecordSlaBreach {
            kind: pending.kind,
            deadline: pending.deadline,
        };
        let meta = CommandMeta {
            idempotency_key: Some(format!("sla-breach-{:?}", pending.kind)),
            ..CommandMeta::new(deadline_actor(), Utc::now())
        };
        match execute::<Complaint>(&self.journal, &stream, &command, &meta).await {
            Ok(executed) => {
                if !executed.duplicate {
                    crate::metrics::METRICS
                        .sla_breaches
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(!executed.duplicate)
            }
            // The model has not yet applied what made the deadline moot; it will.
            Err(CommandError::Refused(
                ComplaintError::SlaAlreadyBreached { .. }
                | ComplaintError::SlaMet { .. }
                | ComplaintError::ComplaintClosed,
            )) => Ok(false),
            Err(CommandError::Append(crate::store::AppendError::Unavailable { .. })) => {
                Err(TickError::StoreClosed)
            }
            Err(err) => Err(TickError::Failed(format!(
                "{stream} ({:?} deadline): {err}",
                pending.kind
            ))),
        }
    }
}

/// Why a tick stopped early.
#[derive(Debug)]
pub enum TickError {
    /// The store refuses writes (shutting down, or failed): the task ends.
    StoreClosed,
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Journal;
    use crate::domain::common::{Category, Channel, PassengerId, PersonalData, Tier};
    use crate::domain::complaint::{ComplaintEvent, RemedySought};
    use crate::domain::policy::sla::SlaKind;
    use crate::projection::{Projector, sla_deadlines::SlaDeadlines};
    use crate::store::{Direction, SledStore, StoreConfig};

    fn agent() -> Actor {
        Actor {
            id: "agent-1".into(),
            role: Role::Agent,
        }
    }

    async fn receive(journal: &Journal, n: u128, days_ago: i64) -> String {
        let id = uuid::Uuid::from_u128(n);
        let command = ComplaintCommand::ReceiveComplaint {
            complaint_id: id,
            channel: Channel::Email,
            passenger: PassengerId(format!("P{n}")),
            tier: Tier::Gold,
            category: Category::Delay,
            remedy_sought: RemedySought::Apology,
            description: PersonalData("late".into()),
            incident_id: None,
            flight: None,
            received_at: None,
        };
        let meta = CommandMeta::new(agent(), Utc::now() - chrono::Duration::days(days_ago));
        let stream = complaint::stream_name(id);
        execute::<Complaint>(journal, &stream, &command, &meta)
            .await
            .unwrap();
        stream
    }

    fn breaches(store: &SledStore, stream: &str) -> Vec<SlaKind> {
        store
            .read_stream(stream, 1, Direction::Forward, 100)
            .unwrap()
            .iter()
            .filter_map(|e| {
                use crate::domain::DomainEvent;
                match ComplaintEvent::from_data(&e.event_type, e.schema_version, e.data.get()) {
                    Ok(ComplaintEvent::SlaBreached(b)) => {
                        assert_eq!(e.actor.id, "crisisd-deadlines");
                        Some(b.kind)
                    }
                    _ => None,
                }
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passed_deadlines_become_breach_events_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let journal = crate::app::Journal::ephemeral(store.clone());
        let old = receive(&journal, 1, 30).await; // every deadline passed
        let fresh = receive(&journal, 2, 0).await; // none passed
        let acknowledged = receive(&journal, 3, 30).await;
        let in_time = Utc::now() - chrono::Duration::days(30) + chrono::Duration::minutes(10);
        let meta = CommandMeta::new(agent(), in_time);
        execute::<Complaint>(
            &journal,
            &acknowledged,
            &ComplaintCommand::AcknowledgeComplaint {
                apology: "sorry".into(),
            },
            &meta,
        )
        .await
        .unwrap();

        let (stop_tx, stop_rx) = watch::channel(false);
        let projector = Projector::new(store.clone(), SlaDeadlines::default()).unwrap();
        let status = projector.status();
        let projecting = tokio::spawn(projector.run(stop_rx.clone()));
        let config = DeadlineConfig {
            tick: Duration::from_millis(20),
            ..DeadlineConfig::default()
        };
        let task = DeadlineTask::new(journal.clone(), config).unwrap();
        let watching = tokio::spawn(task.run(stop_rx));
        // Wait until the model has applied the breaches (it then holds only the fresh
        // complaint's deadlines), then a few more ticks to prove nothing repeats.
        let model = crate::projection::ReadModel::open(&store, sla_deadlines::NAME).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = sla_deadlines::running(&model).unwrap();
            if left.len() == 3 && status.lock().unwrap().position == store.head().position {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "breaches not applied after 60 s: {} deadlines running",
                left.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop_tx.send(true).unwrap();
        watching.await.unwrap();
        projecting.await.unwrap().unwrap();

        assert_eq!(
            breaches(&store, &old),
            vec![
                SlaKind::Acknowledge,
                SlaKind::FirstFeedback,
                SlaKind::Resolve
            ]
        );
        assert_eq!(breaches(&store, &fresh), vec![]);
        assert_eq!(
            breaches(&store, &acknowledged),
            vec![SlaKind::FirstFeedback, SlaKind::Resolve],
            "acknowledged in time: no acknowledgement breach"
        );
        assert!(
            sla_deadlines::running(&model)
                .unwrap()
                .iter()
                .all(|p| p.complaint_id == uuid::Uuid::from_u128(2)),
            "only the fresh complaint's deadlines still run"
        );
    }
}
