//! Complaints and KPIs read model: one status summary per complaint (no customer
//! words, no contact details) with its service-level deadlines, the queue of open
//! complaints, and the customer-service KPIs per agent, department, tier, channel and
//! day.
//!
//! Each complaint contributes one set of counters ([`Counters`]) to every tier,
//! channel, day and department it has. When a complaint changes, its old contribution
//! is taken out and the new one put in, so a complaint routed late still counts in full
//! under each department. Agents are credited per action instead, each with what they
//! did ([`credit`]): who acknowledged it (first response), who proposed each resolution
//! (the proposals, the reopens of a rejected one and the resolution of an accepted
//! one), who escalated it, who recorded it closed (closed, on time, handling time) and
//! whoever owned it when a deadline was breached. Rates are computed by the query from
//! the integer counters.
//!
//! Keys:
//! - `Q <complaint:16>` → [`ComplaintSummary`] (JSON);
//! - `A <complaint:16>` → [`Credits`] (JSON): what each agent did on the complaint;
//! - `O <received µs:u64 BE> <complaint:16>` → empty: the open complaints in order of
//!   receipt (the queue);
//! - `K <dimension> 0x00 <value>` → [`Counters`] (JSON);
//! - `C <YYYY-MM-DD> <complaint:16>` → empty: complaints closed that day (UTC), the
//!   supervisors' quality samples;
//! - `I <incident:16> <complaint:16>` → empty: the complaints of an incident.
//!
//! A supervisor's quality score counts for the complaint's tier, channel, day and
//! departments, and for the agent whose resolution the customer accepted.

use std::collections::BTreeMap;

use super::model::decoded;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel};
use super::runtime::{ModelTx, Projection};
use crate::domain::common::{Category, Channel, FlightKey, PassengerId, RootCause, Tier};
use crate::domain::complaint::{ComplaintEvent, Department};
use crate::domain::policy::sla::{SlaConfig, SlaKind};
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

/// Where one service level of a complaint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineState {
    /// Running: its work is not done yet.
    Pending,
    /// Its work was done by the deadline (or before its breach was recorded).
    Met,
    /// It passed with its work undone (`complaint.sla_breached`).
    Breached,
}

/// One service level of a complaint: acknowledge, first feedback or resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SlaDeadline {
    pub kind: SlaKind,
    /// When its work is due, from the SLA policy, the tier and the channel.
    pub due_at: DateTime<Utc>,
    pub state: DeadlineState,
    /// When its work was done (met deadlines).
    pub met_at: Option<DateTime<Utc>>,
    /// Seconds from the read to `due_at` while pending (negative: passed, its breach
    /// not recorded yet); `null` otherwise.
    #[serde(default)]
    pub time_left_secs: Option<i64>,
}

/// One complaint, without the customer's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ComplaintSummary {
    pub complaint_id: Uuid,
    pub passenger: PassengerId,
    pub incident_id: Option<Uuid>,
    /// The flight the complaint is about, when it names one.
    pub flight: Option<FlightKey>,
    pub channel: Channel,
    pub tier: Tier,
    pub category: Category,
    pub status: Status,
    pub received_at: DateTime<Utc>,
    /// The agent who acknowledged it.
    pub agent: Option<String>,
    /// Who has it now: the supervisor it was escalated to, else the agent who
    /// acknowledged it.
    pub owner: Option<String>,
    pub departments: Vec<Department>,
    pub first_response_secs: Option<u64>,
    pub progress_updates: u32,
    pub proposals: u32,
    pub reopens: u32,
    pub escalated_to: Option<String>,
    /// The root cause its last resolution proposal recorded (policy taxonomy).
    #[serde(default)]
    pub root_cause: Option<RootCause>,
    /// The department answering for the root cause now (reassignments included).
    #[serde(default)]
    pub responsible: Option<Department>,
    pub handling_secs: Option<u64>,
    /// When it closed.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    /// A supervisor's quality check of its handling.
    #[serde(default)]
    pub quality: Option<QualityScore>,
    pub breaches: Vec<SlaKind>,
    /// Its three service levels, each with its due time and state.
    pub deadlines: Vec<SlaDeadline>,
}

/// A supervisor's scores of a closed complaint's handling, 1 (poor) to 5 (excellent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QualityScore {
    pub accuracy: u8,
    pub attitude: u8,
    pub timeliness: u8,
}

impl QualityScore {
    fn points(&self) -> u64 {
        u64::from(self.accuracy) + u64::from(self.attitude) + u64::from(self.timeliness)
    }
}

impl ComplaintSummary {
    /// The summary as read at `now`: each pending deadline with its time left.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        for d in &mut self.deadlines {
            d.time_left_secs =
                (d.state == DeadlineState::Pending).then(|| (d.due_at - now).num_seconds());
        }
        self
    }

    /// The earliest deadline still running.
    pub fn next_deadline(&self) -> Option<&SlaDeadline> {
        self.deadlines
            .iter()
            .filter(|d| d.state == DeadlineState::Pending)
            .min_by_key(|d| d.due_at)
    }

    fn met(&mut self, kind: SlaKind, at: DateTime<Utc>) {
        for d in &mut self.deadlines {
            if d.kind == kind && d.state == DeadlineState::Pending {
                d.state = DeadlineState::Met;
                d.met_at = Some(at);
            }
        }
    }
}

/// KPI counters of one dimension value (sums of integer seconds, counts).
///
/// Under a tier, channel, day or department every field counts complaints. Under an
/// agent each counts what that agent did: `received` the complaints they acted on,
/// `acknowledged` and `first_response_secs` their acknowledgements, `proposals` the
/// resolutions they proposed, `resolved` and `reopens` how the customer answered
/// those, `closed`, `closed_on_time` and `handling_secs` the complaints they recorded
/// closed, `escalated` their escalations, `breaches` the deadlines breached while they
/// owned the complaint.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(default)]
pub struct Counters {
    pub received: u64,
    pub acknowledged: u64,
    pub first_response_secs: u64,
    pub closed: u64,
    /// Closed with no service level breached.
    pub closed_on_time: u64,
    pub handling_secs: u64,
    pub proposals: u64,
    /// Proposals the customer accepted (the complaint closed on them).
    pub resolved: u64,
    /// Proposals the customer rejected (the complaint reopened).
    pub reopens: u64,
    pub breaches: u64,
    pub escalated: u64,
    /// Complaints a supervisor scored, and the sum of their three scores.
    #[serde(default)]
    pub quality_scored: u64,
    #[serde(default)]
    pub quality_points: u64,
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
            resolved: u64::from(closed),
            reopens: u64::from(c.reopens),
            breaches: c.breaches.len() as u64,
            escalated: u64::from(c.escalated_to.is_some()),
            quality_scored: u64::from(c.quality.is_some()),
            quality_points: c.quality.map_or(0, |q| q.points()),
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
            (&mut self.resolved, other.resolved),
            (&mut self.reopens, other.reopens),
            (&mut self.breaches, other.breaches),
            (&mut self.escalated, other.escalated),
            (&mut self.quality_scored, other.quality_scored),
            (&mut self.quality_points, other.quality_points),
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

/// What each agent did on one complaint, and who proposed the resolution the customer
/// is answering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credits {
    pub agents: BTreeMap<String, Counters>,
    pub last_proposer: Option<String>,
}

impl Credits {
    /// `agent`'s counters on this complaint, counting it as one they acted on.
    fn of(&mut self, agent: &str) -> &mut Counters {
        let counters = self.agents.entry(agent.to_owned()).or_default();
        counters.received = 1;
        counters
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

/// Every (dimension, value) but the agents a complaint counts under.
fn dimensions(c: &ComplaintSummary) -> Vec<(Dimension, String)> {
    let mut dims = vec![
        (Dimension::Tier, super::spelled(&c.tier)),
        (Dimension::Channel, super::spelled(&c.channel)),
        (Dimension::Day, c.received_at.date_naive().to_string()),
    ];
    dims.extend(
        c.departments
            .iter()
            .map(|d| (Dimension::Department, super::spelled(d))),
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

fn id_key(tag: u8, id: Uuid) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(id.as_bytes());
    key
}

/// The key of a complaint closed on `day` (`None`: the day's prefix).
fn closed_key(day: NaiveDate, id: Option<Uuid>) -> Vec<u8> {
    let mut key = vec![b'C'];
    key.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
    if let Some(id) = id {
        key.extend_from_slice(id.as_bytes());
    }
    key
}

fn summary_key(id: Uuid) -> Vec<u8> {
    id_key(b'Q', id)
}

/// The queue key of an open complaint: receipt time, then id.
fn open_key(received_at: DateTime<Utc>, id: Uuid) -> Vec<u8> {
    let micros = u64::try_from(received_at.timestamp_micros()).unwrap_or(0);
    let mut key = Vec::with_capacity(25);
    key.push(b'O');
    key.extend_from_slice(&micros.to_be_bytes());
    key.extend_from_slice(id.as_bytes());
    key
}

/// The complaints projection; the SLA policy gives each complaint's deadlines (as the
/// deadline task's model computes them).
#[derive(Debug, Default)]
pub struct Complaints {
    pub sla: SlaConfig,
}

fn add_counters(
    tx: &mut ModelTx<'_>,
    dimension: Dimension,
    value: &str,
    counters: &Counters,
    add: bool,
) -> Result<(), ModelError> {
    let key = kpi_key(dimension, value);
    let mut total: Counters = tx.get_json(&key)?.unwrap_or_default();
    total.add(counters, add);
    tx.insert_json(key, &total);
    Ok(())
}

fn account(
    tx: &mut ModelTx<'_>,
    c: &ComplaintSummary,
    credits: &Credits,
    add: bool,
) -> Result<(), ModelError> {
    let counters = Counters::of(c);
    for (dimension, value) in dimensions(c) {
        add_counters(tx, dimension, &value, &counters, add)?;
    }
    for (agent, counters) in &credits.agents {
        add_counters(tx, Dimension::Agent, agent, counters, add)?;
    }
    Ok(())
}

impl Complaints {
    fn received(&self, r: crate::domain::complaint::ComplaintReceived) -> ComplaintSummary {
        let kinds = [
            SlaKind::Acknowledge,
            SlaKind::FirstFeedback,
            SlaKind::Resolve,
        ];
        ComplaintSummary {
            deadlines: kinds
                .into_iter()
                .map(|kind| SlaDeadline {
                    kind,
                    due_at: self.sla.deadline(r.received_at, kind, r.tier, r.channel),
                    state: DeadlineState::Pending,
                    met_at: None,
                    time_left_secs: None,
                })
                .collect(),
            complaint_id: r.complaint_id,
            passenger: r.passenger,
            incident_id: r.incident_id,
            flight: r.flight,
            channel: r.channel,
            tier: r.tier,
            category: r.category,
            status: Status::Received,
            received_at: r.received_at,
            agent: None,
            owner: None,
            departments: Vec::new(),
            first_response_secs: None,
            progress_updates: 0,
            proposals: 0,
            reopens: 0,
            escalated_to: None,
            root_cause: None,
            responsible: None,
            closed_at: None,
            quality: None,
            handling_secs: None,
            breaches: Vec::new(),
        }
    }
}

impl Projection for Complaints {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: flight, owner and deadlines in the summary, the open queue (`O` keys), agents
    /// credited per action (`A` keys, the `resolved` counter).
    /// 3: closing times, quality scores and the complaints closed per day.
    fn version(&self) -> u32 {
        3
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
        let credits_before: Credits = tx.get_json(&id_key(b'A', id))?.unwrap_or_default();
        let mut credits = credits_before.clone();
        use ComplaintEvent as E;
        let mut c = match (decoded, before.clone()) {
            (E::Received(r), _) => self.received(r),
            (_, None) => {
                return Err(ModelError::Invalid(format!(
                    "{} before complaint.received",
                    event.event_type
                )));
            }
            (E::Acknowledged(a), Some(mut c)) => {
                let mine = credits.of(&a.acknowledged_by);
                mine.acknowledged = 1;
                mine.first_response_secs = a.first_response_secs;
                c.status = Status::Acknowledged;
                c.met(SlaKind::Acknowledge, a.acknowledged_at);
                c.agent = Some(a.acknowledged_by);
                c.first_response_secs = Some(a.first_response_secs);
                c
            }
            (E::Routed(r), Some(mut c)) => {
                credits.of(&r.routed_by);
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
            (E::ProgressUpdated(p), Some(mut c)) => {
                credits.of(&p.sent_by);
                c.met(SlaKind::FirstFeedback, p.sent_at);
                c.progress_updates += 1;
                c
            }
            (E::LinkedToIncident(l), Some(mut c)) => {
                c.incident_id = Some(l.incident_id);
                c
            }
            (E::ResolutionProposed(p), Some(mut c)) => {
                credits.of(&p.proposed_by).proposals += 1;
                credits.last_proposer = Some(p.proposed_by);
                c.met(SlaKind::FirstFeedback, p.proposed_at);
                c.proposals = p.proposal;
                c.status = Status::ResolutionProposed;
                if p.root_cause.is_some() {
                    c.root_cause = p.root_cause;
                    c.responsible = p.responsible;
                }
                c
            }
            (E::ResponsibilityReassigned(r), Some(mut c)) => {
                credits.of(&r.reassigned_by);
                c.responsible = Some(r.to);
                c
            }
            (E::Closed(closed), Some(mut c)) => {
                if let Some(proposer) = credits.last_proposer.clone() {
                    credits.of(&proposer).resolved += 1;
                }
                let mine = credits.of(&event.actor.id);
                mine.closed = 1;
                mine.closed_on_time = u64::from(c.breaches.is_empty());
                mine.handling_secs = closed.handling_secs;
                c.met(SlaKind::Resolve, closed.closed_at);
                c.status = Status::Closed;
                c.handling_secs = Some(closed.handling_secs);
                c.closed_at = Some(closed.closed_at);
                tx.insert(
                    closed_key(closed.closed_at.date_naive(), Some(id)),
                    Vec::new(),
                );
                c
            }
            (E::QualityScored(q), Some(mut c)) => {
                let score = QualityScore {
                    accuracy: q.accuracy,
                    attitude: q.attitude,
                    timeliness: q.timeliness,
                };
                if let Some(proposer) = credits.last_proposer.clone() {
                    let mine = credits.of(&proposer);
                    mine.quality_scored = 1;
                    mine.quality_points = score.points();
                }
                c.quality = Some(score);
                c
            }
            (E::Reopened(_), Some(mut c)) => {
                if let Some(proposer) = credits.last_proposer.clone() {
                    credits.of(&proposer).reopens += 1;
                }
                c.reopens += 1;
                c.status = Status::Reopened;
                c
            }
            (E::Escalated(e), Some(mut c)) => {
                credits.of(&e.escalated_by).escalated = 1;
                c.escalated_to = Some(e.supervisor);
                c
            }
            (E::SlaBreached(b), Some(mut c)) => {
                if let Some(owner) = &c.owner {
                    credits.of(owner).breaches += 1;
                }
                for d in &mut c.deadlines {
                    if d.kind == b.kind && d.state == DeadlineState::Pending {
                        d.state = DeadlineState::Breached;
                    }
                }
                if !c.breaches.contains(&b.kind) {
                    c.breaches.push(b.kind);
                }
                c
            }
        };
        c.breaches.sort();
        c.owner = c.escalated_to.clone().or_else(|| c.agent.clone());
        if let Some(before) = &before {
            account(tx, before, &credits_before, false)?;
        }
        account(tx, &c, &credits, true)?;
        if let Some(incident) = c.incident_id
            && before.as_ref().and_then(|b| b.incident_id) != Some(incident)
        {
            let mut key = id_key(b'I', incident);
            key.extend_from_slice(id.as_bytes());
            tx.insert(key, Vec::new());
        }
        match (&before, c.status) {
            (None, _) => tx.insert(open_key(c.received_at, id), Vec::new()),
            (Some(_), Status::Closed) => tx.remove(open_key(c.received_at, id)),
            (Some(_), _) => {}
        }
        if credits != credits_before {
            tx.insert_json(id_key(b'A', id), &credits);
        }
        tx.insert_json(summary_key(id), &c);
        Ok(())
    }
}

/// A supervisor's sample of the complaints closed on `day` and not yet scored: at most
/// `size`, in an order fixed by each complaint's id and the day (the same sample
/// whoever asks, spread over every agent's work, not the first ones closed).
pub fn quality_sample(
    tree: &ReadModel,
    day: NaiveDate,
    size: usize,
) -> Result<Vec<ComplaintSummary>, ModelError> {
    let prefix = closed_key(day, None);
    let mut drawn = Vec::new();
    for key in tree.prefix_keys(&prefix) {
        let key = key?;
        let id = Uuid::from_slice(&key[prefix.len()..])?;
        let mut seed = id.as_bytes().to_vec();
        seed.extend_from_slice(&prefix);
        drawn.push((*blake3::hash(&seed).as_bytes(), id));
    }
    drawn.sort();
    let mut sample = Vec::new();
    for (_, id) in drawn {
        if sample.len() == size {
            break;
        }
        if let Some(c) = complaint(tree, id)?
            && c.quality.is_none()
        {
            sample.push(c);
        }
    }
    Ok(sample)
}

/// The complaints of an incident (received in it or linked to it), by id.
pub fn of_incident(tree: &ReadModel, incident: Uuid) -> Result<Vec<ComplaintSummary>, ModelError> {
    let prefix = id_key(b'I', incident);
    let mut found = Vec::new();
    for key in tree.prefix_keys(&prefix) {
        let key = key?;
        if let Some(c) = complaint(tree, Uuid::from_slice(&key[prefix.len()..])?)? {
            found.push(c);
        }
    }
    Ok(found)
}

/// How many complaints of an incident are not yet closed.
pub fn open_of_incident(tree: &ReadModel, incident: Uuid) -> Result<u64, ModelError> {
    Ok(of_incident(tree, incident)?
        .iter()
        .filter(|c| c.status != Status::Closed)
        .count() as u64)
}

/// One complaint's summary.
pub fn complaint(tree: &ReadModel, id: Uuid) -> Result<Option<ComplaintSummary>, ModelError> {
    tree.get(summary_key(id))
}

/// Which open complaints a queue read wants (every `None` matches all).
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub status: Option<Status>,
    pub tier: Option<Tier>,
    pub channel: Option<Channel>,
    pub category: Option<Category>,
    pub owner: Option<String>,
    pub flight: Option<FlightKey>,
    pub incident_id: Option<Uuid>,
    /// Only complaints with (`true`) or without (`false`) a breached deadline.
    pub breached: Option<bool>,
    /// Only complaints with a pending deadline due before this instant.
    pub due_before: Option<DateTime<Utc>>,
}

impl QueueFilter {
    fn matches(&self, c: &ComplaintSummary) -> bool {
        self.status.is_none_or(|s| s == c.status)
            && self.tier.is_none_or(|t| t == c.tier)
            && self.channel.is_none_or(|ch| ch == c.channel)
            && self.category.is_none_or(|cat| cat == c.category)
            && self
                .owner
                .as_ref()
                .is_none_or(|o| c.owner.as_ref() == Some(o))
            && self
                .flight
                .as_ref()
                .is_none_or(|f| c.flight.as_ref() == Some(f))
            && self.incident_id.is_none_or(|i| c.incident_id == Some(i))
            && self.breached.is_none_or(|b| b != c.breaches.is_empty())
            && self
                .due_before
                .is_none_or(|before| c.next_deadline().is_some_and(|d| d.due_at < before))
    }
}

/// Where a queue read resumes: after the complaint received at `received_at` with `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCursor {
    pub received_at: DateTime<Utc>,
    pub id: Uuid,
}

impl std::fmt::Display for QueueCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}",
            self.received_at.timestamp_micros(),
            self.id.simple()
        )
    }
}

impl std::str::FromStr for QueueCursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (micros, id) = s.split_once('.').ok_or(())?;
        let micros: i64 = micros.parse().map_err(|_| ())?;
        Ok(QueueCursor {
            received_at: DateTime::from_timestamp_micros(micros).ok_or(())?,
            id: Uuid::try_parse(id).map_err(|_| ())?,
        })
    }
}

/// Open complaints matching `filter`, oldest receipt first, after `cursor`: at most
/// `limit`, reading at most `scan_max` open complaints. Answers the page and, when more
/// may follow, the cursor to continue from (after the last one read when the scan cap
/// stopped it).
pub fn queue(
    tree: &ReadModel,
    filter: &QueueFilter,
    cursor: Option<QueueCursor>,
    limit: usize,
    scan_max: usize,
) -> Result<(Vec<ComplaintSummary>, Option<QueueCursor>), ModelError> {
    let start = match cursor {
        // The key right after the cursor's.
        Some(c) => {
            let mut key = open_key(c.received_at, c.id);
            key.push(0);
            key
        }
        None => vec![b'O'],
    };
    let mut items = Vec::new();
    let mut last = None;
    for (scanned, key) in tree.keys(start..vec![b'P']).enumerate() {
        let key = key?;
        let id = Uuid::from_slice(&key[9..])?;
        if scanned == scan_max || items.len() == limit {
            return Ok((items, last));
        }
        let Some(c) = complaint(tree, id)? else {
            continue;
        };
        last = Some(QueueCursor {
            received_at: c.received_at,
            id,
        });
        if filter.matches(&c) {
            items.push(c);
        }
    }
    Ok((items, None))
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
    /// Proposals the customer accepted / proposals answered (accepted or rejected).
    pub satisfaction: Option<f64>,
    /// The supervisors' quality scores (1 to 5), averaged over the three scores and
    /// the complaints scored.
    pub quality_avg: Option<f64>,
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
            satisfaction: ratio(c.resolved, c.resolved + c.reopens),
            quality_avg: ratio(c.quality_points, 3 * c.quality_scored),
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
        let tree = rebuilt(&store, Complaints::default());
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
                resolved: 3,
                reopens: 3,
                breaches: 0,
                escalated: 0,
                quality_scored: 0,
                quality_points: 0,
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
        let tree = rebuilt(&store, Complaints::default());
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

    mod by_hand {
        use super::super::*;
        use crate::domain::DomainEvent;
        use crate::domain::common::{Category, Channel, PassengerId, PersonalData, Tier};
        use crate::domain::complaint::{
            ComplaintAcknowledged, ComplaintClosed, ComplaintEscalated, ComplaintReceived,
            ComplaintReopened, RemedySought, ResolutionProposed, SlaBreached,
        };
        use crate::domain::testing::at;
        use crate::projection::testing::rebuilt;
        use crate::store::{
            Actor, AppendRequest, ExpectedVersion, NewEvent, SledStore, StoreConfig,
        };

        async fn append(store: &SledStore, n: u128, by: &str, event: ComplaintEvent) {
            let actor = Actor {
                id: by.into(),
                role: "agent".into(),
            };
            let new = NewEvent::new(event.event_type(), event.to_data(), actor, Utc::now());
            let stream = crate::domain::complaint::stream_name(Uuid::from_u128(n));
            store
                .append(AppendRequest::single(
                    stream,
                    ExpectedVersion::Any,
                    vec![new],
                ))
                .await
                .unwrap();
        }

        fn received(n: u128, tier: Tier, minute: i64, flight: Option<&str>) -> ComplaintEvent {
            ComplaintEvent::Received(ComplaintReceived {
                complaint_id: Uuid::from_u128(n),
                channel: Channel::Email,
                passenger: PassengerId(format!("P{n}")),
                tier,
                category: Category::Delay,
                remedy_sought: RemedySought::Compensation,
                description: PersonalData("private words".into()),
                incident_id: None,
                flight: flight.map(|number| {
                    FlightKey::new("LH", number, "2026-11-22".parse().unwrap()).unwrap()
                }),
                received_at: at(minute),
            })
        }

        fn acknowledged(by: &str, minute: i64) -> ComplaintEvent {
            ComplaintEvent::Acknowledged(ComplaintAcknowledged {
                apology: "sorry".into(),
                acknowledged_by: by.into(),
                acknowledged_at: at(minute),
                first_response_secs: minute as u64 * 60,
            })
        }

        fn proposed(by: &str, proposal: u32, minute: i64) -> ComplaintEvent {
            ComplaintEvent::ResolutionProposed(ResolutionProposed {
                proposal,
                resolution: "a voucher".into(),
                compensation_id: None,
                root_cause: None,
                responsible: None,
                proposed_by: by.into(),
                proposed_at: at(minute),
            })
        }

        fn agent_row(tree: &ReadModel, agent: &str) -> Counters {
            let rows = kpis(tree, Dimension::Agent, Some(agent)).unwrap();
            assert_eq!(rows.len(), 1, "{agent} has KPIs");
            rows[0].counters
        }

        #[tokio::test]
        async fn each_action_is_credited_to_the_agent_who_did_it() {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
            // Ann acknowledges, Bob proposes (rejected), Eve escalates to Sam, Sam
            // proposes (accepted), Kim records the customer's satisfaction.
            append(&store, 1, "intake", received(1, Tier::Gold, 0, None)).await;
            append(&store, 1, "ann", acknowledged("ann", 10)).await;
            append(&store, 1, "bob", proposed("bob", 1, 60)).await;
            let reopened = ComplaintEvent::Reopened(ComplaintReopened {
                reason: PersonalData("not enough".into()),
                reopened_at: at(90),
            });
            append(&store, 1, "kim", reopened).await;
            let escalated = ComplaintEvent::Escalated(ComplaintEscalated {
                supervisor: "sam".into(),
                reason: "second rejection risk".into(),
                escalated_by: "eve".into(),
                escalated_at: at(100),
            });
            append(&store, 1, "eve", escalated).await;
            append(&store, 1, "sam", proposed("sam", 2, 120)).await;
            let closed = ComplaintEvent::Closed(ComplaintClosed {
                comment: PersonalData("fine".into()),
                closed_at: at(180),
                handling_secs: 180 * 60,
            });
            append(&store, 1, "kim", closed).await;
            let tree = rebuilt(&store, Complaints::default());

            let ann = agent_row(&tree, "ann");
            assert_eq!(
                (
                    ann.received,
                    ann.acknowledged,
                    ann.first_response_secs,
                    ann.closed
                ),
                (1, 1, 600, 0)
            );
            let bob = agent_row(&tree, "bob");
            assert_eq!((bob.proposals, bob.reopens, bob.resolved), (1, 1, 0));
            let sam = agent_row(&tree, "sam");
            assert_eq!((sam.proposals, sam.reopens, sam.resolved), (1, 0, 1));
            let eve = agent_row(&tree, "eve");
            assert_eq!((eve.escalated, eve.proposals, eve.acknowledged), (1, 0, 0));
            let kim = agent_row(&tree, "kim");
            assert_eq!(
                (
                    kim.closed,
                    kim.closed_on_time,
                    kim.handling_secs,
                    kim.proposals
                ),
                (1, 1, 180 * 60, 0)
            );
            let rows = kpis(&tree, Dimension::Agent, None).unwrap();
            let satisfaction: Vec<_> = rows
                .iter()
                .map(|r| (r.value.as_str(), r.satisfaction))
                .collect();
            assert!(satisfaction.contains(&("bob", Some(0.0))));
            assert!(satisfaction.contains(&("sam", Some(1.0))));
            assert!(
                rows.iter().all(|r| r.value != "intake"),
                "receiving is not an agent's action"
            );
            // The tier row counts the complaint once, whole.
            let gold = &kpis(&tree, Dimension::Tier, Some("gold")).unwrap()[0];
            assert_eq!(
                (
                    gold.counters.received,
                    gold.counters.proposals,
                    gold.counters.resolved
                ),
                (1, 2, 1)
            );
            assert_eq!(gold.satisfaction, Some(0.5));
            let c = complaint(&tree, Uuid::from_u128(1)).unwrap().unwrap();
            assert_eq!(
                c.owner.as_deref(),
                Some("sam"),
                "escalated: the supervisor owns it"
            );
        }

        #[tokio::test]
        async fn deadlines_show_pending_met_and_breached_and_a_breach_counts_against_the_owner() {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
            append(&store, 1, "intake", received(1, Tier::Gold, 0, None)).await;
            append(&store, 1, "ann", acknowledged("ann", 10)).await;
            let breach = ComplaintEvent::SlaBreached(SlaBreached {
                kind: SlaKind::FirstFeedback,
                deadline: at(8 * 60),
                detected_at: at(8 * 60 + 1),
            });
            append(&store, 1, "deadlines", breach).await;
            let tree = rebuilt(&store, Complaints::default());
            let c = complaint(&tree, Uuid::from_u128(1))
                .unwrap()
                .unwrap()
                .at(at(9 * 60));
            let states: Vec<_> = c
                .deadlines
                .iter()
                .map(|d| (d.kind, d.state, d.time_left_secs))
                .collect();
            let resolve_due = c.deadlines[2].due_at;
            assert_eq!(
                states,
                vec![
                    (SlaKind::Acknowledge, DeadlineState::Met, None),
                    (SlaKind::FirstFeedback, DeadlineState::Breached, None),
                    (
                        SlaKind::Resolve,
                        DeadlineState::Pending,
                        Some((resolve_due - at(9 * 60)).num_seconds())
                    ),
                ]
            );
            // Gold: acknowledge within 60 min, feedback within 8 h (policy defaults).
            assert_eq!(c.deadlines[0].due_at, at(60));
            assert_eq!(c.deadlines[0].met_at, Some(at(10)));
            assert_eq!(c.deadlines[1].due_at, at(8 * 60));
            assert_eq!(agent_row(&tree, "ann").breaches, 1);
        }

        #[tokio::test]
        async fn the_queue_lists_open_complaints_oldest_first_filtered_with_a_stable_cursor() {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
            // 1..=9, received a minute apart; odd ones about LH400, Gold; 3 is closed.
            for n in 1..=9u128 {
                let (tier, flight) = if n % 2 == 1 {
                    (Tier::Gold, Some("400"))
                } else {
                    (Tier::Silver, None)
                };
                append(&store, n, "intake", received(n, tier, n as i64, flight)).await;
            }
            append(&store, 3, "ann", acknowledged("ann", 20)).await;
            append(&store, 3, "ann", proposed("ann", 1, 30)).await;
            let closed = ComplaintEvent::Closed(ComplaintClosed {
                comment: PersonalData("ok".into()),
                closed_at: at(40),
                handling_secs: 37 * 60,
            });
            append(&store, 3, "ann", closed).await;
            append(&store, 5, "ann", acknowledged("ann", 20)).await;
            let tree = rebuilt(&store, Complaints::default());
            let ids = |items: &[ComplaintSummary]| {
                items
                    .iter()
                    .map(|c| c.complaint_id.as_u128())
                    .collect::<Vec<_>>()
            };
            let all = QueueFilter::default();
            let (page, next) = queue(&tree, &all, None, 3, usize::MAX).unwrap();
            assert_eq!(ids(&page), vec![1, 2, 4], "closed 3 is not in the queue");
            let cursor: QueueCursor = next.unwrap().to_string().parse().unwrap();
            let (page, next) = queue(&tree, &all, Some(cursor), 3, usize::MAX).unwrap();
            assert_eq!(ids(&page), vec![5, 6, 7]);
            let (page, next) = queue(&tree, &all, next, 3, usize::MAX).unwrap();
            assert_eq!((ids(&page), next), (vec![8, 9], None));

            let flight = QueueFilter {
                flight: Some(FlightKey::new("LH", "400", "2026-11-22".parse().unwrap()).unwrap()),
                ..QueueFilter::default()
            };
            let (page, _) = queue(&tree, &flight, None, 10, usize::MAX).unwrap();
            assert_eq!(ids(&page), vec![1, 5, 7, 9]);
            let owned = QueueFilter {
                owner: Some("ann".into()),
                status: Some(Status::Acknowledged),
                ..QueueFilter::default()
            };
            assert_eq!(
                ids(&queue(&tree, &owned, None, 10, usize::MAX).unwrap().0),
                vec![5]
            );
            let silver = QueueFilter {
                tier: Some(Tier::Silver),
                ..QueueFilter::default()
            };
            // A scan cap of 3 reads 1, 2, 4 and answers 2, 4 with a cursor after 4.
            let (page, next) = queue(&tree, &silver, None, 10, 3).unwrap();
            assert_eq!(ids(&page), vec![2, 4]);
            let (page, next) = queue(&tree, &silver, next, 10, 3).unwrap();
            assert_eq!(ids(&page), vec![6], "reads 5, 6, 7");
            let (page, next) = queue(&tree, &silver, next, 10, 3).unwrap();
            assert_eq!((ids(&page), next), (vec![8], None));
            // Due before minute 2 + 240 (Silver acknowledges within 4 h): 1 is Gold
            // (due at 61), 2 is due at 242, 4 at 244.
            let urgent = QueueFilter {
                due_before: Some(at(243)),
                ..QueueFilter::default()
            };
            assert_eq!(
                ids(&queue(&tree, &urgent, None, 10, usize::MAX).unwrap().0),
                vec![1, 2, 7, 9],
                "5 was acknowledged: its next deadline is first feedback at 8 h"
            );
        }
    }
}
