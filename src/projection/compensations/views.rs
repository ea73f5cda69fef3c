//! The reads of the compensations model: one entitlement, the overdue ones, an
//! incident's execute view, and the settlements due to incidents.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Entitlement, IncidentTotals, SettlementDue, deadline_key, key, settlement_key};
use crate::projection::model::{ModelError, ReadModel};

pub fn settlements_after(
    tree: &ReadModel,
    after: u64,
    limit: usize,
) -> Result<Vec<SettlementDue>, ModelError> {
    tree.range(settlement_key(after.saturating_add(1))..settlement_key(u64::MAX))
        .take(limit)
        .map(|entry| entry.map(|(_, due)| due))
        .collect()
}

pub fn entitlement(tree: &ReadModel, id: Uuid) -> Result<Option<Entitlement>, ModelError> {
    tree.get(key(b'E', id))
}

/// Unsettled entitlements whose legal payment deadline passed before `now`, earliest
/// first (failed payments included: the money is still owed).
pub fn overdue(tree: &ReadModel, now: DateTime<Utc>) -> Result<Vec<Entitlement>, ModelError> {
    let end = deadline_key(now, Uuid::nil());
    let mut found = Vec::new();
    for k in tree.keys(b"D".to_vec()..end) {
        let k = k?;
        let id = Uuid::from_slice(&k[9..])?;
        if let Some(e) = entitlement(tree, id)? {
            found.push(e);
        }
    }
    Ok(found)
}

/// The execute view of one incident: contacts made and compensation money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExecutionView {
    pub incident_id: Uuid,
    pub contacts_planned: u64,
    pub contacts_made: u64,
    pub contacts_by_outcome: BTreeMap<crate::domain::incident::ContactOutcome, u64>,
    pub compensation: IncidentTotals,
    pub overdue: Vec<Entitlement>,
}

/// Joins the incidents model (contacts) and this one (money) for one incident.
pub fn execution(
    incidents: &ReadModel,
    compensations: &ReadModel,
    incident_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<ExecutionView>, ModelError> {
    let Some(summary) = crate::projection::incidents::summary(incidents, incident_id)? else {
        return Ok(None);
    };
    let compensation = compensations
        .get(key(b'T', incident_id))?
        .unwrap_or_default();
    let overdue = overdue(compensations, now)?
        .into_iter()
        .filter(|e| e.incident_id == Some(incident_id))
        .collect();
    Ok(Some(ExecutionView {
        incident_id,
        contacts_planned: summary.contacts_planned,
        contacts_made: summary.contacts_by_outcome.values().sum(),
        contacts_by_outcome: summary.contacts_by_outcome,
        compensation,
        overdue,
    }))
}
