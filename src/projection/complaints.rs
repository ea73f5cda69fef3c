//! Complaints and KPIs read model: one status summary per complaint (no customer
//! words, no contact details) and the customer-service KPIs per agent, department,
//! tier, channel and day.
//!
//! Each complaint contributes one set of counters ([`Counters`]) to every dimension
//! value it has — its tier, channel and day of receipt, the agent who acknowledged
//! it, each department it was routed to. When a complaint changes, its old
//! contribution is taken out and the new one put in, so a complaint routed late or
//! acknowledged by an agent still counts in full under them. Rates are computed by
//! the query from the integer counters.
//!
//! Keys:
//! - `Q <complaint:16>` → [`ComplaintSummary`] (JSON);
//! - `K <dimension> 0x00 <value>` → [`Counters`] (JSON).

use super::model::decoded;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{Category, Channel, PassengerId, Tier};
use crate::domain::complaint::{ComplaintEvent, Department};
use crate::domain::policy::sla::SlaKind;
use crate::store::RecordedEvent;

pub const NAME: &str = "complaints";

/// Where a complaint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Acknowledged,
    Routed,
    ResolutionProposed,
    Reopened,
    Closed,
}

/// One complaint, without the customer's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComplaintSummary {
    pub complaint_id: Uuid,
    pub passenger: PassengerId,
    pub incident_id: Option<Uuid>,
    pub channel: Channel,
    pub tier: Tier,
    pub category: Category,
    pub status: Status,
    pub received_at: DateTime<Utc>,
    pub agent: Option<String>,
    pub departments: Vec<Department>,
    pub first_response_secs: Option<u64>,
    pub progress_updates: u32,
    pub proposals: u32,
    pub reopens: u32,
    pub escalated_to: Option<String>,
    pub handling_secs: Option<u64>,
    pub breaches: Vec<SlaKind>,
}

/// KPI counters of one dimension value (sums of integer seconds, counts).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Counters {
    pub received: u64,
    pub acknowledged: u64,
    pub first_response_secs: u64,
    pub closed: u64,
    /// Closed with no service level breached.
    pub closed_on_time: u64,
    pub handling_secs: u64,
    pub proposals: u64,
    pub reopens: u64,
    pub breaches: u64,
    pub escalated: u64,
}

impl Counters {
    fn of(c: &ComplaintSummary) -> Counters {
        let closed = c.status == Status::Closed;
        Counters {
            received: 1,
            acknowledged: u64::from(c.first_response_secs.is_some()),
            first_response_secs: c.first_response_secs.unwrap_or(0),
            closed: u64::from(closed),
            closed_on_time: u64::from(closed && c.breaches.is_empty()),
            handling_secs: c.handling_secs.unwrap_or(0),
            proposals: u64::from(c.proposals),
            reopens: u64::from(c.reopens),
            breaches: c.breaches.len() as u64,
            escalated: u64::from(c.escalated_to.is_some()),
        }
    }

    fn add(&mut self, other: &Counters, add: bool) {
        let fields = [
            (&mut self.received, other.received),
            (&mut self.acknowledged, other.acknowledged),
            (&mut self.first_response_secs, other.first_response_secs),
            (&mut self.closed, other.closed),
            (&mut self.closed_on_time, other.closed_on_time),
            (&mut self.handling_secs, other.handling_secs),
            (&mut self.proposals, other.proposals),
            (&mut self.reopens, other.reopens),
            (&mut self.breaches, other.breaches),
            (&mut self.escalated, other.escalated),
        ];
        for (field, value) in fields {
            *field = if add {
                *field + value
            } else {
                field.saturating_sub(value)
            };
        }
    }
}

/// A KPI dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Agent,
    Department,
    Tier,
    Channel,
    Day,
}

impl Dimension {
    fn name(self) -> &'static str {
        match self {
            Dimension::Agent => "agent",
            Dimension::Department => "department",
            Dimension::Tier => "tier",
            Dimension::Channel => "channel",
            Dimension::Day => "day",
        }
    }
}

fn snake<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Every (dimension, value) a complaint counts under.
fn dimensions(c: &ComplaintSummary) -> Vec<(Dimension, String)> {
    let mut dims = vec![
        (Dimension::Tier, snake(&c.tier)),
        (Dimension::Channel, snake(&c.channel)),
        (Dimension::Day, c.received_at.date_naive().to_string()),
    ];
    if let Some(agent) = &c.agent {
        dims.push((Dimension::Agent, agent.clone()));
    }
    dims.extend(
        c.departments
            .iter()
            .map(|d| (Dimension::Department, snake(d))),
    );
    dims
}

fn kpi_key(dimension: Dimension, value: &str) -> Vec<u8> {
    let mut key = vec![b'K'];
    key.extend_from_slice(dimension.name().as_bytes());
    key.push(0);
    key.extend_from_slice(value.as_bytes());
    key
}

fn summary_key(id: Uuid) -> Vec<u8> {
    let mut key = vec![b'Q'];
    key.extend_from_slice(id.as_bytes());
    key
}

/// The complaints projection.
#[derive(Debug, Default)]
pub struct Complaints;

fn account(tx: &mut ModelTx<'_>, c: &ComplaintSummary, add: bool) -> Result<(), ModelError> {
    let counters = Counters::of(c);
    for (dimension, value) in dimensions(c) {
        let key = kpi_key(dimension, &value);
        let mut total: Counters = tx.get_json(&key)?.unwrap_or_default();
        total.add(&counters, add);
        tx.insert_json(key, &total);
    }
    Ok(())
}

impl Projection for Complaints {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = event
            .stream
            .strip_prefix("complaint-")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(());
        };
        let decoded = decoded::<ComplaintEvent>(event)?;
        let before: Option<ComplaintSummary> = tx.get_json(&summary_key(id))?;
        use ComplaintEvent as E;
        let mut c = match (decoded, before.clone()) {
            (E::Received(r), _) => ComplaintSummary {
                complaint_id: r.complaint_id,
                passenger: r.passenger,
                incident_id: r.incident_id,
                channel: r.channel,
                tier: r.tier,
                category: r.category,
                status: Status::Received,
                received_at: r.received_at,
                agent: None,
                departments: Vec::new(),
                first_response_secs: None,
                progress_updates: 0,
                proposals: 0,
                reopens: 0,
                escalated_to: None,
                handling_secs: None,
                breaches: Vec::new(),
            },
            (_, None) => {
                return Err(ModelError::Invalid(format!(
                    "{} before complaint.received",
                    event.event_type
                )));
            }
            (E::Acknowledged(a), Some(mut c)) => {
                c.status = Status::Acknowledged;
                c.agent = Some(a.acknowledged_by);
                c.first_response_secs = Some(a.first_response_secs);
                c
            }
            (E::Routed(r), Some(mut c)) => {
                for d in r.departments {
                    if !c.departments.contains(&d) {
                        c.departments.push(d);
                    }
                }
                c.departments.sort();
                if c.status == Status::Acknowledged {
                    c.status = Status::Routed;
                }
                c
            }
            (E::ProgressUpdated(_), Some(mut c)) => {
                c.progress_updates += 1;
                c
            }
            (E::LinkedToIncident(l), Some(mut c)) => {
                c.incident_id = Some(l.incident_id);
                c
            }
            (E::ResolutionProposed(p), Some(mut c)) => {
                c.proposals = p.proposal;
                c.status = Status::ResolutionProposed;
                c
            }
            (E::Closed(closed), Some(mut c)) => {
                c.status = Status::Closed;
                c.handling_secs = Some(closed.handling_secs);
                c
            }
            (E::Reopened(_), Some(mut c)) => {
                c.reopens += 1;
                c.status = Status::Reopened;
                c
            }
            (E::Escalated(e), Some(mut c)) => {
                c.escalated_to = Some(e.supervisor);
                c
            }
            (E::SlaBreached(b), Some(mut c)) => {
                if !c.breaches.contains(&b.kind) {
                    c.breaches.push(b.kind);
                }
                c
            }
        };
        c.breaches.sort();
        if let Some(before) = &before {
            account(tx, before, false)?;
        }
        account(tx, &c, true)?;
        tx.insert_json(summary_key(id), &c);
        Ok(())
    }
}

/// One complaint's summary.
pub fn complaint(tree: &ReadModel, id: Uuid) -> Result<Option<ComplaintSummary>, ModelError> {
    tree.get(summary_key(id))
}

/// The KPIs of one dimension value.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct KpiRow {
    pub value: String,
    pub counters: Counters,
    pub first_response_avg_secs: Option<f64>,
    /// Closed with no breach / closed.
    pub on_time_rate: Option<f64>,
    /// Closed / received.
    pub resolution_rate: f64,
    /// Reopens / proposals.
    pub reopen_rate: Option<f64>,
    pub handling_avg_secs: Option<f64>,
    /// Proposals the customer accepted / proposals answered.
    pub satisfaction: Option<f64>,
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// KPIs per value of `dimension` (all values, or only `value`), in value order.
pub fn kpis(
    tree: &ReadModel,
    dimension: Dimension,
    value: Option<&str>,
) -> Result<Vec<KpiRow>, ModelError> {
    let prefix = kpi_key(dimension, "");
    let mut rows = Vec::new();
    for entry in tree.prefix(&prefix) {
        let (key, c): (_, Counters) = entry?;
        let name = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
        if value.is_some_and(|wanted| wanted != name) {
            continue;
        }
        rows.push(KpiRow {
            value: name,
            first_response_avg_secs: ratio(c.first_response_secs, c.acknowledged),
            on_time_rate: ratio(c.closed_on_time, c.closed),
            resolution_rate: ratio(c.closed, c.received).unwrap_or(0.0),
            reopen_rate: ratio(c.reopens, c.proposals),
            handling_avg_secs: ratio(c.handling_secs, c.closed),
            satisfaction: ratio(c.closed, c.closed + c.reopens),
            counters: c,
        });
    }
    Ok(rows)
}

/// The day key of an instant, as the `day` dimension writes it.
pub fn day(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::testing::{rebuilt, start, store_with};

    #[tokio::test]
    async fn kpis_per_dimension_from_the_complaint_loop() {
        // Scenarios 0..6, 3 complaints each; complaint c of scenario n goes to depth
        // (n + c) % 6: 0 received, 1 acknowledged, 2 routed, 3 proposed, 4 reopened,
        // 5 closed. Every depth occurs three times (18 complaints).
        let (_dir, store) = store_with(&[0, 1, 2, 3, 4, 5]).await;
        let tree = rebuilt(&store, Complaints);
        let day = kpis(&tree, Dimension::Day, None).unwrap();
        assert_eq!(day.len(), 1, "all on 2026-11-22");
        let row = &day[0];
        assert_eq!(row.value, "2026-11-22");
        assert_eq!(
            row.counters,
            Counters {
                received: 18,
                acknowledged: 15,
                // Acknowledged 10 + n min after receipt.
                first_response_secs: row.counters.first_response_secs,
                closed: 3,
                closed_on_time: 3,
                handling_secs: 3 * 24 * 3600,
                proposals: 9,
                reopens: 3,
                breaches: 0,
                escalated: 0,
            }
        );
        let mut expected_first_response = 0;
        for n in 0..6u64 {
            for c in 0..3u64 {
                if (n + c) % 6 >= 1 {
                    expected_first_response += (10 + n % 50) * 60;
                }
            }
        }
        assert_eq!(row.counters.first_response_secs, expected_first_response);
        assert_eq!(row.resolution_rate, 3.0 / 18.0);
        assert_eq!(row.reopen_rate, Some(3.0 / 9.0));
        assert_eq!(row.satisfaction, Some(0.5));
        assert_eq!(row.on_time_rate, Some(1.0));
        assert_eq!(row.handling_avg_secs, Some(24.0 * 3600.0));
        let departments = kpis(&tree, Dimension::Department, None).unwrap();
        assert_eq!(
            departments
                .iter()
                .map(|r| (r.value.as_str(), r.counters.received))
                .collect::<Vec<_>>(),
            vec![("customer_care", 12), ("refunds", 12)],
            "routed complaints (depth 2 and beyond) count in full under each department"
        );
        let agents = kpis(&tree, Dimension::Agent, Some("agent-3")).unwrap();
        assert_eq!(agents.len(), 1);
        assert_eq!(
            agents[0].counters.received, 3,
            "scenario 3's complaints, all acknowledged"
        );
        let tiers: u64 = kpis(&tree, Dimension::Tier, None)
            .unwrap()
            .iter()
            .map(|r| r.counters.received)
            .sum();
        assert_eq!(tiers, 18);
    }

    #[tokio::test]
    async fn a_summary_carries_status_and_times_but_never_the_customers_words() {
        let (_dir, store) = store_with(&[5]).await;
        let tree = rebuilt(&store, Complaints);
        // Scenario 5, complaint 0: depth 5, closed.
        let id = crate::testing::workload::uuid(start(), "complaint", 5, 0);
        let c = complaint(&tree, id).unwrap().unwrap();
        assert_eq!(
            (c.status, c.proposals, c.handling_secs, c.agent.as_deref()),
            (Status::Closed, 1, Some(24 * 3600), Some("agent-5"))
        );
        let raw: Vec<u8> = store
            .model_tree(NAME)
            .unwrap()
            .iter()
            .flat_map(|e| e.unwrap().1.to_vec())
            .collect();
        assert!(!String::from_utf8_lossy(&raw).contains("nobody told us"));
    }
}
