//! Compensations read model: every entitlement's status and amounts, totals per
//! incident and currency, and the legal payment deadlines still open — the money side
//! of the **execute** view (the contact side comes from the incidents model).
//!
//! Amounts are integer minor units per ISO 4217 currency; miles are counted apart. An
//! entitlement counts as owed once computed, offered once an offer is made, and then in
//! exactly one of accepted (awaiting payment), paid, failed (payment failed: still
//! owed) or declined. Paid and declined entitlements leave the open-deadline index.
//!
//! An incident cannot close before each compensation linked to it is settled, so the
//! model also keeps, in log order, the settlements an incident must record: one each
//! time a linked entitlement reaches a final state (paid, declined, failed), or an
//! entitlement already in one is linked. The settlement reactor
//! ([`crate::app::settlements`]) records them on the incident.
//!
//! Keys:
//! - `E <compensation:16>` → [`Entitlement`] (JSON);
//! - `T <incident:16>` → [`IncidentTotals`] (JSON): per currency, counts and amounts;
//! - `D <deadline µs:u64 BE> <compensation:16>` → empty: unsettled entitlements by deadline;
//! - `L <compensation:16>` → the incident it is linked to (16 bytes);
//! - `X <compensation:16>` → its last final state ([`Settlement`], JSON);
//! - `S <position:u64 BE>` → [`SettlementDue`] (JSON), in log order.

use super::model::decoded;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{Currency, FlightKey, Money, PassengerId, Settlement};
use crate::domain::compensation::{CompensationEvent, ComputedOutline, OfferOption, Regime};
use crate::domain::incident::IncidentEvent;
use crate::store::RecordedEvent;

pub const NAME: &str = "compensations";

/// Where an entitlement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Computed,
    Offered,
    Accepted,
    Paid,
    Failed,
    Declined,
}

/// One entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entitlement {
    pub compensation_id: Uuid,
    pub incident_id: Option<Uuid>,
    pub flight: FlightKey,
    pub passenger: PassengerId,
    pub governing: Regime,
    pub status: Status,
    pub entitled: Money,
    pub choice: Option<OfferOption>,
    pub paid: Option<OfferOption>,
    pub payment_deadline: DateTime<Utc>,
    pub paid_late: bool,
}

impl Entitlement {
    fn settled(&self) -> bool {
        matches!(self.status, Status::Paid | Status::Declined)
    }
}

/// Counts and sums of one currency.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Totals {
    pub owed: (u64, u64),
    pub offered: (u64, u64),
    pub accepted: (u64, u64),
    pub paid: (u64, u64),
    pub failed: (u64, u64),
    pub declined: (u64, u64),
}

/// An incident's compensation totals: per currency `(count, amount in minor units)`,
/// and miles accepted and paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentTotals {
    pub by_currency: BTreeMap<Currency, Totals>,
    pub miles_accepted: u64,
    pub miles_paid: u64,
}

/// A settlement an incident must record: its linked compensation reached a final state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SettlementDue {
    pub position: u64,
    pub incident_id: Uuid,
    pub compensation_id: Uuid,
    pub settlement: Settlement,
}

/// The compensations projection.
#[derive(Debug, Default)]
pub struct Compensations;

fn settlement_key(position: u64) -> Vec<u8> {
    let mut key = vec![b'S'];
    key.extend_from_slice(&position.to_be_bytes());
    key
}

/// Records that `incident_id` must learn `settlement` of `compensation_id`.
fn settlement_due(
    tx: &mut ModelTx<'_>,
    position: u64,
    incident_id: Uuid,
    compensation_id: Uuid,
    settlement: Settlement,
) {
    let due = SettlementDue {
        position,
        incident_id,
        compensation_id,
        settlement,
    };
    tx.insert_json(settlement_key(position), &due);
}

/// Settlements due after position `after`, in log order, at most `limit`.
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

fn key(tag: u8, id: Uuid) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(id.as_bytes());
    key
}

fn deadline_key(deadline: DateTime<Utc>, id: Uuid) -> Vec<u8> {
    let mut key = vec![b'D'];
    key.extend_from_slice(
        &u64::try_from(deadline.timestamp_micros())
            .unwrap_or(0)
            .to_be_bytes(),
    );
    key.extend_from_slice(id.as_bytes());
    key
}

/// The amount an option carries, if money.
fn money(option: &Option<OfferOption>) -> Option<Money> {
    match option {
        Some(OfferOption::Cash { amount } | OfferOption::Voucher { amount }) => Some(*amount),
        _ => None,
    }
}

fn miles(option: &Option<OfferOption>) -> u64 {
    match option {
        Some(OfferOption::Miles { miles }) => *miles,
        _ => 0,
    }
}

/// Adds (`add`) or removes one entitlement's part of its incident totals.
fn account(totals: &mut IncidentTotals, e: &Entitlement, add: bool) {
    let apply = |slot: &mut (u64, u64), amount: u64| {
        if add {
            slot.0 += 1;
            slot.1 += amount;
        } else {
            slot.0 = slot.0.saturating_sub(1);
            slot.1 = slot.1.saturating_sub(amount);
        }
    };
    let entitled = e.entitled;
    {
        let t = totals.by_currency.entry(entitled.currency).or_default();
        apply(&mut t.owed, entitled.amount_minor);
        if e.status != Status::Computed {
            apply(&mut t.offered, entitled.amount_minor);
        }
        if e.status == Status::Declined {
            apply(&mut t.declined, entitled.amount_minor);
        }
    }
    let chosen = money(&e.choice);
    match e.status {
        Status::Accepted | Status::Failed => {
            if let Some(m) = chosen {
                let t = totals.by_currency.entry(m.currency).or_default();
                let target = if e.status == Status::Accepted {
                    &mut t.accepted
                } else {
                    &mut t.failed
                };
                apply(target, m.amount_minor);
            }
            if e.status == Status::Accepted {
                let m = miles(&e.choice);
                totals.miles_accepted = if add {
                    totals.miles_accepted + m
                } else {
                    totals.miles_accepted.saturating_sub(m)
                };
            }
        }
        Status::Paid => {
            if let Some(m) = money(&e.paid) {
                let t = totals.by_currency.entry(m.currency).or_default();
                apply(&mut t.paid, m.amount_minor);
            }
            let m = miles(&e.paid);
            totals.miles_paid = if add {
                totals.miles_paid + m
            } else {
                totals.miles_paid.saturating_sub(m)
            };
        }
        Status::Computed | Status::Offered | Status::Declined => {}
    }
}

impl Compensations {
    /// Replaces `before` by `after` in the incident totals and the deadline index.
    fn update(
        tx: &mut ModelTx<'_>,
        before: Option<&Entitlement>,
        after: &Entitlement,
    ) -> Result<(), ModelError> {
        if let Some(before) = before {
            if let Some(incident) = before.incident_id {
                let mut totals: IncidentTotals =
                    tx.get_json(&key(b'T', incident))?.unwrap_or_default();
                account(&mut totals, before, false);
                tx.insert_json(key(b'T', incident), &totals);
            }
            tx.remove(deadline_key(
                before.payment_deadline,
                before.compensation_id,
            ));
        }
        if let Some(incident) = after.incident_id {
            let mut totals: IncidentTotals = tx.get_json(&key(b'T', incident))?.unwrap_or_default();
            account(&mut totals, after, true);
            tx.insert_json(key(b'T', incident), &totals);
        }
        if !after.settled() {
            tx.insert(
                deadline_key(after.payment_deadline, after.compensation_id),
                Vec::new(),
            );
        }
        tx.insert_json(key(b'E', after.compensation_id), after);
        Ok(())
    }
}

impl Projection for Compensations {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: links, final states and the settlements due (`L`, `X`, `S` keys).
    fn version(&self) -> u32 {
        2
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let (t, v, d) = (
            event.event_type.as_str(),
            event.schema_version,
            event.data.get(),
        );
        if t == "incident.compensation_linked" {
            let IncidentEvent::CompensationLinked(link) = decoded::<IncidentEvent>(event)? else {
                return Err(ModelError::Invalid(format!(
                    "{t} decoded as another incident event"
                )));
            };
            let incident_id = event
                .stream
                .strip_prefix("incident-")
                .and_then(|id| id.parse::<Uuid>().ok());
            if let Some(incident) = incident_id {
                tx.insert(
                    key(b'L', link.compensation_id),
                    incident.as_bytes().to_vec(),
                );
                if let Some(settled) =
                    tx.get_json::<Settlement>(&key(b'X', link.compensation_id))?
                {
                    settlement_due(tx, event.position, incident, link.compensation_id, settled);
                }
            }
            let Some(before) = tx.get_json::<Entitlement>(&key(b'E', link.compensation_id))? else {
                // Linked before it was computed: the computation names its incident.
                return Ok(());
            };
            if before.incident_id.is_some() || incident_id.is_none() {
                return Ok(());
            }
            let after = Entitlement {
                incident_id,
                ..before.clone()
            };
            return Self::update(tx, Some(&before), &after);
        }
        let Some(id) = event
            .stream
            .strip_prefix("compensation-")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(());
        };
        let before: Option<Entitlement> = tx.get_json(&key(b'E', id))?;
        if t == ComputedOutline::EVENT_TYPE {
            let c = ComputedOutline::from_data(v, d)?;
            let after = Entitlement {
                compensation_id: id,
                incident_id: c.incident_id,
                flight: c.flight,
                passenger: c.passenger,
                governing: c.governing,
                status: Status::Computed,
                entitled: c.entitled,
                choice: None,
                paid: None,
                payment_deadline: c.payment_deadline,
                paid_late: false,
            };
            return Self::update(tx, before.as_ref(), &after);
        }
        let decoded = decoded::<CompensationEvent>(event)?;
        let settled = match &decoded {
            CompensationEvent::Paid(_) => Some(Settlement::Paid),
            CompensationEvent::Declined(_) => Some(Settlement::Declined),
            CompensationEvent::Failed(f) => Some(Settlement::Failed {
                reason: f.reason.clone(),
            }),
            _ => None,
        };
        if let Some(settled) = settled {
            tx.insert_json(key(b'X', id), &settled);
            if let Some(incident) = tx.get(&key(b'L', id))? {
                let incident = Uuid::from_slice(&incident)?;
                settlement_due(tx, event.position, incident, id, settled);
            }
        }
        let after = match (decoded, &before) {
            // Handled above through its outline.
            (CompensationEvent::Computed(_), _) => return Ok(()),
            (_, None) => {
                return Err(ModelError::Invalid(format!(
                    "{t} before compensation.computed"
                )));
            }
            (CompensationEvent::Offered(_), Some(b)) => Entitlement {
                status: Status::Offered,
                ..b.clone()
            },
            (CompensationEvent::Accepted(a), Some(b)) => Entitlement {
                status: Status::Accepted,
                choice: Some(a.choice),
                ..b.clone()
            },
            (CompensationEvent::Declined(_), Some(b)) => Entitlement {
                status: Status::Declined,
                ..b.clone()
            },
            (CompensationEvent::Paid(p), Some(b)) => Entitlement {
                status: Status::Paid,
                paid: Some(p.paid),
                paid_late: p.late,
                ..b.clone()
            },
            (CompensationEvent::Failed(_), Some(b)) => Entitlement {
                status: Status::Failed,
                ..b.clone()
            },
        };
        Self::update(tx, before.as_ref(), &after)
    }
}

/// One entitlement.
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
    let Some(summary) = super::incidents::summary(incidents, incident_id)? else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DomainEvent;
    use crate::domain::incident::ContactOutcome;
    use crate::projection::incidents::Incidents;
    use crate::projection::testing::{rebuilt, start, store_with};
    use crate::testing::workload::uuid;
    use chrono::Duration;

    #[test]
    fn the_computed_outline_reads_what_the_full_event_holds_but_its_decisions() {
        let computed: Vec<_> = crate::testing::workload::scenario(4, start())
            .into_iter()
            .flat_map(|step| step.events)
            .filter(|e| e.event_type == ComputedOutline::EVENT_TYPE)
            .collect();
        assert!(!computed.is_empty());
        for event in computed {
            let data = event.data.to_string();
            let outline = ComputedOutline::from_data(1, &data).unwrap();
            let CompensationEvent::Computed(full) =
                CompensationEvent::from_data(&event.event_type, 1, &data).unwrap()
            else {
                panic!("a computed event");
            };
            assert!(!full.decisions.is_empty());
            let expected = ComputedOutline {
                compensation_id: full.compensation_id,
                flight: full.flight,
                passenger: full.passenger,
                incident_id: full.incident_id,
                governing: full.governing,
                entitled: full.entitled,
                payment_deadline: full.payment_deadline,
                computed_at: full.computed_at,
            };
            assert_eq!(outline, expected);
            assert!(
                ComputedOutline::from_data(2, &data).is_err(),
                "versions are checked"
            );
        }
    }

    #[tokio::test]
    async fn execution_counts_contacts_and_money_per_currency_and_finds_overdue_payments() {
        // Scenario 4: 8 passengers, each owed EUR 600 under EU 261; offers to all;
        // passengers 3 and 7 decline, 2 and 6 accept but are unpaid, the rest are paid.
        let (_dir, store) = store_with(&[4]).await;
        let incidents = rebuilt(&store, Incidents);
        let tree = rebuilt(&store, Compensations);
        let incident = uuid(start(), "incident", 4, 0);
        let view = execution(&incidents, &tree, incident, start())
            .unwrap()
            .unwrap();
        let eur = |count, euros: u64| (count, euros * 100);
        assert_eq!(
            view,
            ExecutionView {
                incident_id: incident,
                contacts_planned: 8,
                contacts_made: 8,
                contacts_by_outcome: [
                    (ContactOutcome::Reached, 4),
                    (ContactOutcome::LeftMessage, 4)
                ]
                .into(),
                compensation: IncidentTotals {
                    by_currency: [(
                        Currency::EUR,
                        Totals {
                            owed: eur(8, 4_800),
                            offered: eur(8, 4_800),
                            accepted: eur(2, 1_200),
                            paid: eur(4, 2_400),
                            failed: (0, 0),
                            declined: eur(2, 1_200),
                        }
                    )]
                    .into(),
                    miles_accepted: 0,
                    miles_paid: 0,
                },
                overdue: vec![],
            }
        );
        // A week and a day later the two unpaid ones are past their legal deadline.
        let later = start() + Duration::days(8);
        let overdue = overdue(&tree, later).unwrap();
        assert_eq!(overdue.len(), 2);
        assert!(
            overdue
                .iter()
                .all(|e| e.status == Status::Accepted && e.incident_id == Some(incident))
        );
        let view = execution(&incidents, &tree, incident, later)
            .unwrap()
            .unwrap();
        assert_eq!(view.overdue, overdue);
    }
}
