//! SLA deadlines read model: every complaint service level still running, by deadline.
//! The deadline task ([`crate::app::deadlines`]) reads it to find what has passed.
//!
//! A received complaint gets its three deadlines (acknowledge, first feedback, resolve)
//! from the SLA policy, its tier and channel; each leaves the model when its work is
//! done (acknowledged; a progress update or proposal; closed) or its breach is recorded.
//!
//! Keys:
//! - `D <deadline µs:u64 BE> <complaint id:16> <kind:u8>` → [`PendingDeadline`] (JSON):
//!   the running deadlines in deadline order;
//! - `C <complaint id:16>` → the complaint's running deadlines (JSON list), to find the
//!   `D` keys when work is done.

use super::model::decoded;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::complaint::ComplaintEvent;
use crate::domain::policy::sla::{SlaConfig, SlaKind};
use crate::store::RecordedEvent;

/// A service level still running for one complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PendingDeadline {
    pub complaint_id: Uuid,
    pub kind: SlaKind,
    pub deadline: DateTime<Utc>,
}

/// The SLA deadlines projection; the policy gives the deadlines of new complaints.
#[derive(Debug, Default)]
pub struct SlaDeadlines {
    pub policy: SlaConfig,
}

pub const NAME: &str = "sla_deadlines";

const KINDS: [SlaKind; 3] = [
    SlaKind::Acknowledge,
    SlaKind::FirstFeedback,
    SlaKind::Resolve,
];

fn kind_byte(kind: SlaKind) -> u8 {
    match kind {
        SlaKind::Acknowledge => 0,
        SlaKind::FirstFeedback => 1,
        SlaKind::Resolve => 2,
    }
}

fn deadline_key(pending: &PendingDeadline) -> Vec<u8> {
    // Deadlines before 1970 do not occur (they follow a receipt time); clamp to 0.
    let micros = u64::try_from(pending.deadline.timestamp_micros()).unwrap_or(0);
    let mut key = Vec::with_capacity(26);
    key.push(b'D');
    key.extend_from_slice(&micros.to_be_bytes());
    key.extend_from_slice(pending.complaint_id.as_bytes());
    key.push(kind_byte(pending.kind));
    key
}

fn complaint_key(complaint_id: Uuid) -> Vec<u8> {
    let mut key = vec![b'C'];
    key.extend_from_slice(complaint_id.as_bytes());
    key
}

/// The complaint id of a `complaint-<uuid>` stream.
fn complaint_id(stream: &str) -> Option<Uuid> {
    stream.strip_prefix("complaint-")?.parse().ok()
}

impl SlaDeadlines {
    fn start(&self, tx: &mut ModelTx<'_>, received: &crate::domain::complaint::ComplaintReceived) {
        let pending: Vec<PendingDeadline> = KINDS
            .iter()
            .map(|&kind| PendingDeadline {
                complaint_id: received.complaint_id,
                kind,
                deadline: self.policy.deadline(
                    received.received_at,
                    kind,
                    received.tier,
                    received.channel,
                ),
            })
            .collect();
        for deadline in &pending {
            tx.insert_json(deadline_key(deadline), deadline);
        }
        tx.insert_json(complaint_key(received.complaint_id), &pending);
    }

    /// Ends the deadlines of `kinds` for one complaint (those still running).
    fn end(tx: &mut ModelTx<'_>, complaint_id: Uuid, kinds: &[SlaKind]) -> Result<(), ModelError> {
        let key = complaint_key(complaint_id);
        let Some(pending) = tx.get_json::<Vec<PendingDeadline>>(&key)? else {
            return Ok(());
        };
        let (ended, running): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|p| kinds.contains(&p.kind));
        for deadline in &ended {
            tx.remove(deadline_key(deadline));
        }
        if running.is_empty() {
            tx.remove(key);
        } else {
            tx.insert_json(key, &running);
        }
        Ok(())
    }
}

impl Projection for SlaDeadlines {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = complaint_id(&event.stream) else {
            return Ok(());
        };
        let complaint_event = decoded::<ComplaintEvent>(event)?;
        use ComplaintEvent as E;
        match complaint_event {
            E::Received(received) => self.start(tx, &received),
            E::Acknowledged(_) => Self::end(tx, id, &[SlaKind::Acknowledge])?,
            E::ProgressUpdated(_) | E::ResolutionProposed(_) => {
                Self::end(tx, id, &[SlaKind::FirstFeedback])?
            }
            E::Closed(_) => Self::end(tx, id, &KINDS)?,
            E::SlaBreached(breach) => Self::end(tx, id, &[breach.kind])?,
            E::Routed(_)
            | E::Reopened(_)
            | E::Escalated(_)
            | E::LinkedToIncident(_)
            | E::ResponsibilityReassigned(_)
            | E::QualityScored(_) => {}
        }
        Ok(())
    }
}

/// Running deadlines that passed before `now`, earliest first, at most `limit`.
pub fn due(
    tree: &ReadModel,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<PendingDeadline>, ModelError> {
    let now_micros = u64::try_from(now.timestamp_micros()).unwrap_or(0);
    let mut end = vec![b'D'];
    end.extend_from_slice(&now_micros.to_be_bytes());
    tree.range(b"D".to_vec()..end)
        .take(limit)
        .map(|entry| entry.map(|(_, value)| value))
        .collect()
}

/// Every running deadline, earliest first.
pub fn running(tree: &ReadModel) -> Result<Vec<PendingDeadline>, ModelError> {
    due(tree, DateTime::<Utc>::MAX_UTC, usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainEvent;
    use crate::domain::common::{Category, Channel, PassengerId, PersonalData, Tier};
    use crate::domain::complaint::{ComplaintAcknowledged, ComplaintReceived, RemedySought};
    use crate::domain::testing::at;
    use crate::projection::rebuild;
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig};

    async fn append(store: &SledStore, stream: &str, event: ComplaintEvent) {
        let actor = Actor {
            id: "agent-1".into(),
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

    fn received(n: u128, tier: Tier, channel: Channel) -> ComplaintEvent {
        ComplaintEvent::Received(ComplaintReceived {
            complaint_id: Uuid::from_u128(n),
            channel,
            passenger: PassengerId(format!("P{n}")),
            tier,
            category: Category::Delay,
            remedy_sought: RemedySought::Compensation,
            description: PersonalData("private words".into()),
            incident_id: None,
            flight: None,
            received_at: at(0),
        })
    }

    fn stream(n: u128) -> String {
        crate::domain::complaint::stream_name(Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn deadlines_run_from_receipt_until_the_work_is_done_or_breached() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        // Platinum by social media: 30 min × 50% to acknowledge, 4 h × 50% for feedback.
        append(
            &store,
            &stream(1),
            received(1, Tier::Platinum, Channel::SocialMedia),
        )
        .await;
        append(&store, &stream(2), received(2, Tier::Gold, Channel::Email)).await;
        append(
            &store,
            &stream(2),
            ComplaintEvent::Acknowledged(ComplaintAcknowledged {
                apology: "sorry".into(),
                acknowledged_by: "agent-1".into(),
                acknowledged_at: at(5),
                first_response_secs: 300,
            }),
        )
        .await;
        append(
            &store,
            &stream(1),
            ComplaintEvent::SlaBreached(crate::domain::complaint::SlaBreached {
                kind: SlaKind::FirstFeedback,
                deadline: at(120),
                detected_at: at(121),
            }),
        )
        .await;
        rebuild(&store, SlaDeadlines::default(), |_, _| {}).unwrap();
        let tree = crate::projection::ReadModel::open(&store, NAME).unwrap();
        let pending = |n: u128, kind, minute| PendingDeadline {
            complaint_id: Uuid::from_u128(n),
            kind,
            deadline: at(minute),
        };
        // 2026-11-22 is a Sunday: working days count from Monday at the same time.
        let platinum_resolve = at(0) + chrono::Duration::days(3);
        let gold_resolve = at(0) + chrono::Duration::days(5);
        assert_eq!(
            running(&tree).unwrap(),
            vec![
                pending(1, SlaKind::Acknowledge, 15),
                pending(2, SlaKind::FirstFeedback, 8 * 60),
                PendingDeadline {
                    deadline: platinum_resolve,
                    ..pending(1, SlaKind::Resolve, 0)
                },
                PendingDeadline {
                    deadline: gold_resolve,
                    ..pending(2, SlaKind::Resolve, 0)
                },
            ],
            "acknowledged and breached deadlines are gone; the rest in deadline order"
        );
        assert_eq!(
            due(&tree, at(16), 10).unwrap(),
            vec![pending(1, SlaKind::Acknowledge, 15)]
        );
        assert_eq!(
            due(&tree, at(15), 10).unwrap(),
            vec![],
            "a deadline is due only once it has passed"
        );
        assert_eq!(due(&tree, at(9 * 60), 1).unwrap().len(), 1, "limit holds");
    }
}
