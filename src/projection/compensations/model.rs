//! How each event changes the compensations model (see the module docs for its keys).

use super::{
    CareExpense, Compensations, Entitlement, IncidentTotals, NAME, RegimeOwed, SettlementDue,
    Status, deadline_key, flight_prefix, incident_key, key, settlement_key,
};
use crate::domain::common::{Money, Settlement};
use crate::domain::compensation::{CompensationEvent, ComputedOutline, OfferOption};
use crate::domain::incident::IncidentEvent;
use crate::projection::model::{ModelError, decoded};
use crate::projection::runtime::{ModelTx, Projection};
use crate::store::RecordedEvent;
use uuid::Uuid;

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
/// The totals of `entitlements`, as the model keeps an incident's.
pub fn totals_of<'a>(entitlements: impl IntoIterator<Item = &'a Entitlement>) -> IncidentTotals {
    let mut totals = IncidentTotals::default();
    for e in entitlements {
        account(&mut totals, e, true);
    }
    totals
}

fn account(totals: &mut IncidentTotals, e: &Entitlement, add: bool) {
    let apply = |slot: &mut super::Tally, amount: u64| {
        if add {
            slot.count += 1;
            slot.amount_minor += amount;
        } else {
            slot.count = slot.count.saturating_sub(1);
            slot.amount_minor = slot.amount_minor.saturating_sub(amount);
        }
    };
    // Care is spent whatever the cash claim (also when it owes nothing).
    for expense in &e.care_expenses {
        let t = totals
            .by_currency
            .entry(expense.amount.currency)
            .or_default();
        apply(&mut t.care_spent, expense.amount.amount_minor);
    }
    if e.status == Status::NothingOwed {
        return;
    }
    if let Some(entitled) = e.entitled {
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
        Status::Computed | Status::Offered | Status::Declined | Status::NothingOwed => {}
    }
}

impl Compensations {
    /// Replaces `before` by `after` in the incident totals and the deadline index. An
    /// index key already in place is not written again: most events change an
    /// entitlement's status, not its incident, flight or deadline, and every key written
    /// costs the model a sled insert.
    fn update(
        tx: &mut ModelTx<'_>,
        before: Option<&Entitlement>,
        after: &Entitlement,
    ) -> Result<(), ModelError> {
        if let Some(before) = before
            && let Some(incident) = before.incident_id
        {
            let mut totals: IncidentTotals = tx.get_json(&key(b'T', incident))?.unwrap_or_default();
            account(&mut totals, before, false);
            tx.insert_json(key(b'T', incident), &totals);
        }
        if let Some(incident) = after.incident_id {
            let mut totals: IncidentTotals = tx.get_json(&key(b'T', incident))?.unwrap_or_default();
            account(&mut totals, after, true);
            tx.insert_json(key(b'T', incident), &totals);
            if before.is_none_or(|b| b.incident_id != after.incident_id) {
                tx.insert(
                    incident_key(incident, Some(after.compensation_id)),
                    Vec::new(),
                );
            }
        }
        // The deadline index holds the entitlements not yet settled.
        let running = |e: &Entitlement| {
            (!e.settled()).then(|| deadline_key(e.payment_deadline, e.compensation_id))
        };
        let (was, is) = (before.and_then(running), running(after));
        if was != is {
            if let Some(was) = was {
                tx.remove(was);
            }
            if let Some(is) = is {
                tx.insert(is, Vec::new());
            }
        }
        tx.insert_json(key(b'E', after.compensation_id), after);
        if before.is_none_or(|b| b.flight != after.flight) {
            let mut flight = flight_prefix(&after.flight);
            flight.extend_from_slice(after.compensation_id.as_bytes());
            tx.insert(flight, Vec::new());
        }
        Ok(())
    }
}

impl Projection for Compensations {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: links, final states and the settlements due (`L`, `X`, `S` keys);
    /// 3: entitlements owing nothing are settled as computed (`nothing_owed`);
    /// 4: the entitlements of each incident (`G` keys);
    /// 5: care expenses, on the entitlement and in the totals.
    fn version(&self) -> u32 {
        5
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
            let status = if c.owes_nothing() {
                tx.insert_json(key(b'X', id), &Settlement::NothingOwed);
                if let Some(incident) = tx.get(&key(b'L', id))? {
                    let incident = Uuid::from_slice(&incident)?;
                    settlement_due(tx, event.position, incident, id, Settlement::NothingOwed);
                }
                Status::NothingOwed
            } else {
                Status::Computed
            };
            let after = Entitlement {
                compensation_id: id,
                incident_id: c.incident_id,
                flight: c.flight,
                passenger: c.passenger,
                governing: c.governing,
                status,
                entitled: c.entitled,
                choice: None,
                paid: None,
                payment_deadline: c.payment_deadline,
                paid_late: false,
                regimes: c
                    .decisions
                    .iter()
                    .map(|d| RegimeOwed {
                        regime: d.regime,
                        cash: d.cash,
                        care: d.care.clone(),
                        refund: d.refund.clone(),
                    })
                    .collect(),
                positions: vec![event.position],
                review_required: false,
                care_expenses: Vec::new(),
            };
            return Self::update(tx, before.as_ref(), &after);
        }
        let decoded = decoded::<CompensationEvent>(event)?;
        // As the aggregate has it: a recomputation owing nothing settles an entitlement
        // that is (back) at computed: it was, or its open offer answered another amount.
        let now_owes_nothing = match (&decoded, &before) {
            (CompensationEvent::Recomputed(r), Some(b)) => {
                let reopened = b.entitled != r.entitled
                    && matches!(
                        b.status,
                        Status::Offered | Status::Accepted | Status::Failed
                    );
                r.decisions.iter().all(|d| d.owes_nothing())
                    && (b.status == Status::Computed || reopened)
            }
            _ => false,
        };
        let settled = match &decoded {
            _ if now_owes_nothing => Some(Settlement::NothingOwed),
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
        let mut after = match (decoded, &before) {
            // Handled above through its outline.
            (CompensationEvent::Computed(_), _) => return Ok(()),
            (_, None) => {
                return Err(ModelError::Invalid(format!(
                    "{t} before compensation.computed"
                )));
            }
            (CompensationEvent::GoverningChosen(c), Some(b)) => Entitlement {
                governing: Some(c.regime),
                entitled: Some(c.entitled),
                payment_deadline: c.payment_deadline,
                ..b.clone()
            },
            (CompensationEvent::Recomputed(r), Some(b)) => {
                let changed = b.entitled != r.entitled;
                let status = match b.status {
                    _ if now_owes_nothing => Status::NothingOwed,
                    Status::Offered | Status::Accepted | Status::Failed if changed => {
                        Status::Computed
                    }
                    Status::NothingOwed if !r.decisions.iter().all(|d| d.owes_nothing()) => {
                        Status::Computed
                    }
                    status => status,
                };
                let reset = status == Status::Computed && b.status != Status::Computed;
                Entitlement {
                    governing: r.governing,
                    entitled: r.entitled,
                    payment_deadline: r.payment_deadline,
                    regimes: r.decisions.iter().map(RegimeOwed::of).collect(),
                    status,
                    choice: if reset { None } else { b.choice.clone() },
                    review_required: b.review_required || r.review_required,
                    ..b.clone()
                }
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
            (CompensationEvent::CareExpenseRecorded(e), Some(b)) => {
                let mut after = b.clone();
                after.care_expenses.push(CareExpense {
                    duty: e.duty,
                    amount: e.amount,
                    reference: e.reference,
                    position: event.position,
                });
                after
            }
        };
        after.positions.push(event.position);
        Self::update(tx, before.as_ref(), &after)
    }
}
