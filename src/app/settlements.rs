//! The settlement reaction: an incident learns each final state its compensations reach.
//!
//! An incident cannot close while a compensation linked to it is unsettled. The
//! `compensations` read model says, in log order, when a linked entitlement was paid,
//! declined or failed (or an entitlement already in such a state was linked); this
//! reaction records each on the incident with `record_compensation_settlement`, as the
//! service's own actor. Each decision carries its own idempotency key (compensation and
//! position), so a repeat after a crash stores nothing twice, and a later final state
//! (a failed payment paid after all) is recorded in its turn.

use chrono::Utc;

use super::command::{CommandError, CommandMeta, Journal, execute};
use super::reactor::{Reaction, ReactorError};
use crate::domain::common::{Actor, Role};
use crate::domain::incident::{self, Incident, IncidentCommand};
use crate::projection::compensations::{self, SettlementDue};
use crate::projection::{ModelError, ReadModel};
use crate::store::{AppendError, StoreError};

/// The actor recorded on settlements.
pub fn settlement_actor() -> Actor {
    Actor {
        id: "crisisd-settlements".into(),
        role: Role::Admin,
    }
}

pub struct SettlementReaction {
    journal: Journal,
    model: ReadModel,
}

impl SettlementReaction {
    pub fn new(journal: Journal) -> Result<Self, StoreError> {
        let model = ReadModel::open(journal.store(), compensations::NAME)?;
        Ok(SettlementReaction { journal, model })
    }
}

impl Reaction for SettlementReaction {
    type Decision = SettlementDue;
    const CHECKPOINT: &'static str = "settlement-reactor";

    fn model(&self) -> &ReadModel {
        &self.model
    }

    fn decisions_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, SettlementDue)>, ModelError> {
        let due = compensations::settlements_after(&self.model, after, limit)?;
        Ok(due.into_iter().map(|d| (d.position, d)).collect())
    }

    async fn carry_out(&self, due: &SettlementDue) -> Result<(), ReactorError> {
        let stream = incident::stream_name(due.incident_id);
        let command = IncidentCommand::RecordCompensationSettlement {
            compensation_id: due.compensation_id,
            settlement: due.settlement.clone(),
        };
        let meta = CommandMeta {
            idempotency_key: Some(format!("settle:{}:{}", due.compensation_id, due.position)),
            ..CommandMeta::new(settlement_actor(), Utc::now())
        };
        match execute::<Incident>(&self.journal, &stream, &command, &meta).await {
            Ok(_) => Ok(()),
            Err(CommandError::Append(AppendError::Unavailable { reason })) => {
                Err(ReactorError::StoreClosed(reason))
            }
            // A refusal will not change by retrying: log and move on.
            Err(CommandError::Refused(refused)) => {
                tracing::warn!(%stream, compensation_id = %due.compensation_id, cause = %refused, "settlement refused by the incident; skipped");
                Ok(())
            }
            Err(err) => Err(ReactorError::Retry(format!("{stream}: {err}"))),
        }
    }
}
