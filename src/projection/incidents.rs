//! Incidents read model: one summary per incident, from which the pipeline views are
//! queried — the **pipeline board**, **assess** (impact, who is assigned where and each
//! person's load), **plan** (plans awaiting approval, approved plans), **follow-up**
//! (survey response and satisfaction) and **review** (lessons and improvements).
//!
//! Everything is written by crisis staff (titles, plans, lessons); no passenger's words
//! or contact details enter this model, only passenger counts and ids of contacts and
//! surveys. Times come from the events (the envelope's `occurred_at` for stage changes);
//! anything relative to now (age in stage, active assignments) is computed by the
//! queries from a `now` they are given.
//!
//! Keys:
//! - `N <incident:16>` → [`IncidentSummary`] (JSON);
//! - `C <incident:16> <contact:16>` → the contact's latest outcome (JSON, `null` if none);
//! - `S <incident:16> <survey:16>` → a sent survey's method, passenger tier, answered flag;
//! - `T <passenger id>` → the passenger's tier (from the passenger's own stream);
//! - `P <incident:16> <kind:u8> <version:u32 BE>` → the drafted plan (JSON);
//! - `M <compensation:16>` → [`CompensationDue`]: its incident, deadline and settlement.

use crate::projection::model::{ModelError, ReadModel};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::runtime::{ModelTx, Projection};
use crate::domain::DomainEvent;
use crate::domain::common::{Category, FlightKey, Severity, Tier};
use crate::domain::compensation::ComputedOutline;
use crate::domain::incident::{
    CommunicationPlan, CompensationPlan, ContactOutcome, ImpactAssessment, Improvement,
    IncidentEvent, IncidentRole, PlanKind, Stage, SurveyMethod,
};
use crate::store::RecordedEvent;

pub const NAME: &str = "incidents";

/// A role assignment inside an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assignment {
    pub assignment_id: Uuid,
    pub role: IncidentRole,
    pub person: String,
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Assignment {
    /// Holds the role at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        let end = match (self.until, self.ended_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.from <= now && end.is_none_or(|end| now < end)
    }
}

/// One plan's progress: the latest drafted version and the approved one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanProgress {
    pub drafted_version: u32,
    pub approved_version: Option<u32>,
    pub approved_by: Option<String>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// A recorded improvement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImprovementEntry {
    pub improvement_id: Uuid,
    #[serde(flatten)]
    pub improvement: Improvement,
    pub recorded_at: DateTime<Utc>,
}

/// Surveys sent, answered and the sum of the answers' scores.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SurveyCounts {
    pub sent: u64,
    pub answered: u64,
    pub score_sum: u64,
}

impl SurveyCounts {
    /// Answered / sent (0 when none was sent).
    pub fn response_rate(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.answered as f64 / self.sent as f64
        }
    }

    /// Mean score 1–5 of the answers.
    pub fn satisfaction(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.score_sum as f64 / self.answered as f64)
    }

    fn add(&mut self, other: &SurveyCounts) {
        self.sent += other.sent;
        self.answered += other.answered;
        self.score_sum += other.score_sum;
    }
}

/// Survey figures of one incident, in all and per channel (survey method) and tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Surveys {
    pub sent: u64,
    pub answered: u64,
    pub score_sum: u64,
    pub by_method: BTreeMap<SurveyMethod, SurveyCounts>,
    /// By the passenger's tier when the survey was sent (`none` if not registered).
    pub by_tier: BTreeMap<Tier, SurveyCounts>,
}

/// What the model remembers of a sent survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
struct SentSurvey {
    method: SurveyMethod,
    tier: Tier,
    answered: bool,
}

/// What the model knows of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncidentSummary {
    pub incident_id: Uuid,
    pub title: String,
    pub category: Category,
    pub severity: Severity,
    pub flight: Option<FlightKey>,
    pub stage: Stage,
    pub opened_at: DateTime<Utc>,
    pub stage_entered_at: DateTime<Utc>,
    pub reopened: u32,
    pub signals: u64,
    pub impact: Option<ImpactAssessment>,
    pub impact_revision: u32,
    pub assignments: Vec<Assignment>,
    pub communication_plan: PlanProgress,
    pub compensation_plan: PlanProgress,
    pub information_published: u64,
    pub contacts_planned: u64,
    pub contacts_by_outcome: BTreeMap<ContactOutcome, u64>,
    pub surveys: Surveys,
    pub open_problems: u64,
    pub lessons: Vec<String>,
    pub improvements: Vec<ImprovementEntry>,
    pub compensations_linked: u64,
    pub compensations_settled: u64,
    /// Unsettled linked compensations and their legal payment deadlines.
    pub unsettled_deadlines: BTreeMap<Uuid, Option<DateTime<Utc>>>,
}

/// A compensation as far as incidents care.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CompensationDue {
    pub incident_id: Option<Uuid>,
    pub deadline: Option<DateTime<Utc>>,
    pub settled: bool,
}

/// The incidents projection.
#[derive(Debug, Default)]
pub struct Incidents;

fn key(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = vec![tag];
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

fn summary_key(id: Uuid) -> Vec<u8> {
    key(b'N', &[id.as_bytes()])
}

fn plan_key(id: Uuid, kind: PlanKind, version: u32) -> Vec<u8> {
    let kind = match kind {
        PlanKind::Communication => 0u8,
        PlanKind::Compensation => 1,
    };
    key(b'P', &[id.as_bytes(), &[kind], &version.to_be_bytes()])
}

fn incident_id(stream: &str) -> Option<Uuid> {
    stream.strip_prefix("incident-")?.parse().ok()
}

impl Incidents {
    fn incident(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(id) = incident_id(&event.stream) else {
            return Ok(());
        };
        let decoded =
            IncidentEvent::from_data(&event.event_type, event.schema_version, event.data.get())
                .map_err(ModelError::from)?;
        let at = event.occurred_at;
        use IncidentEvent as E;
        let mut summary = match decoded {
            E::Opened(opened) => {
                let summary = IncidentSummary {
                    incident_id: opened.incident_id,
                    title: opened.title,
                    category: opened.category,
                    severity: opened.severity,
                    flight: opened.flight,
                    stage: Stage::Monitor,
                    opened_at: opened.opened_at,
                    stage_entered_at: opened.opened_at,
                    reopened: 0,
                    signals: opened.signal_ids.len() as u64,
                    impact: None,
                    impact_revision: 0,
                    assignments: Vec::new(),
                    communication_plan: PlanProgress::default(),
                    compensation_plan: PlanProgress::default(),
                    information_published: 0,
                    contacts_planned: 0,
                    contacts_by_outcome: BTreeMap::new(),
                    surveys: Surveys::default(),
                    open_problems: 0,
                    lessons: Vec::new(),
                    improvements: Vec::new(),
                    compensations_linked: 0,
                    compensations_settled: 0,
                    unsettled_deadlines: BTreeMap::new(),
                };
                tx.insert_json(summary_key(id), &summary);
                return Ok(());
            }
            other => {
                let Some(summary) = tx.get_json::<IncidentSummary>(&summary_key(id))? else {
                    return Err(ModelError::Invalid(format!(
                        "{} before incident.opened",
                        event.event_type
                    )));
                };
                (summary, other)
            }
        };
        let (ref mut s, decoded) = summary;
        let enter = |s: &mut IncidentSummary, stage| {
            s.stage = stage;
            s.stage_entered_at = at;
        };
        match decoded {
            E::Opened(_) => unreachable!("handled above"),
            E::SignalAttached(_) => s.signals += 1,
            E::AssessmentStarted(e)
            | E::PlanningStarted(e)
            | E::ExecutionStarted(e)
            | E::FollowUpStarted(e)
            | E::ReviewStarted(e) => enter(s, e.stage),
            E::ImpactAssessed(e) => {
                s.impact = Some(e.impact);
                s.impact_revision = e.revision;
            }
            E::CommunicationPlanDrafted(e) => {
                s.communication_plan.drafted_version = e.version;
                tx.insert_json(plan_key(id, PlanKind::Communication, e.version), &e.plan);
            }
            E::CompensationPlanDrafted(e) => {
                s.compensation_plan.drafted_version = e.version;
                tx.insert_json(plan_key(id, PlanKind::Compensation, e.version), &e.plan);
            }
            E::CommunicationPlanApproved(e) | E::CompensationPlanApproved(e) => {
                let plan = if event.event_type == "incident.communication_plan_approved" {
                    &mut s.communication_plan
                } else {
                    &mut s.compensation_plan
                };
                plan.approved_version = Some(e.version);
                plan.approved_by = Some(e.approved_by);
                plan.approved_at = Some(at);
            }
            E::InformationPublished(_) => s.information_published += 1,
            E::ContactPlanned(e) => {
                s.contacts_planned += 1;
                let contact = key(b'C', &[id.as_bytes(), e.contact_id.as_bytes()]);
                tx.insert_json(contact, &Option::<ContactOutcome>::None);
            }
            E::ContactOutcomeRecorded(e) => {
                let contact = key(b'C', &[id.as_bytes(), e.contact_id.as_bytes()]);
                let previous: Option<ContactOutcome> = tx.get_json(&contact)?.flatten();
                if let Some(previous) = previous
                    && let Some(count) = s.contacts_by_outcome.get_mut(&previous)
                {
                    *count = count.saturating_sub(1);
                }
                *s.contacts_by_outcome.entry(e.outcome).or_default() += 1;
                tx.insert_json(contact, &Some(e.outcome));
            }
            E::SurveySent(e) => {
                let tier = tx
                    .get_json::<Tier>(&key(b'T', &[e.passenger.0.as_bytes()]))?
                    .unwrap_or(Tier::None);
                s.surveys.sent += 1;
                s.surveys.by_method.entry(e.method).or_default().sent += 1;
                s.surveys.by_tier.entry(tier).or_default().sent += 1;
                let survey = key(b'S', &[id.as_bytes(), e.survey_id.as_bytes()]);
                let sent = SentSurvey {
                    method: e.method,
                    tier,
                    answered: false,
                };
                tx.insert_json(survey, &sent);
            }
            E::SatisfactionRecorded(e) => {
                // A survey has one answer, the first (as in `evolve`): a second answer in
                // a log written before `decide` refused it counts for nothing.
                let survey = key(b'S', &[id.as_bytes(), e.survey_id.as_bytes()]);
                if let Some(sent) = tx.get_json::<SentSurvey>(&survey)?
                    && !sent.answered
                {
                    let score = u64::from(e.score);
                    s.surveys.answered += 1;
                    s.surveys.score_sum += score;
                    for counts in [
                        s.surveys.by_method.entry(sent.method).or_default(),
                        s.surveys.by_tier.entry(sent.tier).or_default(),
                    ] {
                        counts.answered += 1;
                        counts.score_sum += score;
                    }
                    let answered = SentSurvey {
                        answered: true,
                        ..sent
                    };
                    tx.insert_json(survey, &answered);
                }
            }
            E::OpenProblemsSummarised(e) => s.open_problems = e.problems.len() as u64,
            E::LessonRecorded(e) => s.lessons.push(e.lesson),
            E::ImprovementRecorded(e) => s.improvements.push(ImprovementEntry {
                improvement_id: e.improvement_id,
                improvement: e.improvement,
                recorded_at: at,
            }),
            E::Closed(_) => enter(s, Stage::Closed),
            E::Reopened(_) => {
                s.reopened += 1;
                enter(s, Stage::Assess);
            }
            E::SeverityEscalated(e) | E::SeverityDeescalated(e) => s.severity = e.to,
            E::RoleAssigned(e) => s.assignments.push(Assignment {
                assignment_id: e.assignment_id,
                role: e.role,
                person: e.person,
                from: e.from,
                until: e.until,
                ended_at: None,
            }),
            E::RoleAssignmentEnded(e) => {
                if let Some(a) = s
                    .assignments
                    .iter_mut()
                    .find(|a| a.assignment_id == e.assignment_id)
                {
                    a.ended_at = Some(e.at);
                }
            }
            E::CompensationLinked(e) => {
                s.compensations_linked += 1;
                let due_key = key(b'M', &[e.compensation_id.as_bytes()]);
                let mut due: CompensationDue = tx.get_json(&due_key)?.unwrap_or_default();
                due.incident_id = Some(id);
                if !due.settled {
                    s.unsettled_deadlines
                        .insert(e.compensation_id, due.deadline);
                }
                tx.insert_json(due_key, &due);
            }
            E::CompensationSettled(e) => {
                s.compensations_settled += 1;
                s.unsettled_deadlines.remove(&e.compensation_id);
            }
        }
        tx.insert_json(summary_key(id), s);
        Ok(())
    }

    /// Keeps the deadlines of compensations on their incidents' summaries.
    fn compensation(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let Some(compensation_id) = event
            .stream
            .strip_prefix("compensation-")
            .and_then(|id| id.parse::<Uuid>().ok())
        else {
            return Ok(());
        };
        let due_key = key(b'M', &[compensation_id.as_bytes()]);
        let computed = match event.event_type.as_str() {
            ComputedOutline::EVENT_TYPE => Some(
                ComputedOutline::from_data(event.schema_version, event.data.get())
                    .map_err(ModelError::from)?,
            ),
            "compensation.paid" | "compensation.declined" => None,
            _ => return Ok(()),
        };
        let mut due: CompensationDue = tx.get_json(&due_key)?.unwrap_or_default();
        match computed {
            Some(computed) => {
                due.deadline = Some(computed.payment_deadline);
                due.incident_id = due.incident_id.or(computed.incident_id);
            }
            None => due.settled = true,
        }
        if let Some(incident) = due.incident_id
            && let Some(mut summary) = tx.get_json::<IncidentSummary>(&summary_key(incident))?
        {
            if due.settled {
                summary.unsettled_deadlines.remove(&compensation_id);
            } else if summary.unsettled_deadlines.contains_key(&compensation_id) {
                summary
                    .unsettled_deadlines
                    .insert(compensation_id, due.deadline);
            }
            tx.insert_json(summary_key(incident), &summary);
        }
        tx.insert_json(due_key, &due);
        Ok(())
    }
}

impl Projection for Incidents {
    fn name(&self) -> &'static str {
        NAME
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        if event.stream.starts_with("passenger-") {
            let tier = match event.event_type.as_str() {
                "passenger.registered" | "passenger.tier_changed" => {
                    let decoded = crate::domain::passenger::PassengerEvent::from_data(
                        &event.event_type,
                        event.schema_version,
                        event.data.get(),
                    )
                    .map_err(ModelError::from)?;
                    match decoded {
                        crate::domain::passenger::PassengerEvent::Registered(r) => r.tier,
                        crate::domain::passenger::PassengerEvent::TierChanged(t) => t.to,
                        _ => return Ok(()),
                    }
                }
                _ => return Ok(()),
            };
            let passenger = event.stream.strip_prefix("passenger-").unwrap_or_default();
            tx.insert_json(key(b'T', &[passenger.as_bytes()]), &tier);
            Ok(())
        } else if event.stream.starts_with("incident-") {
            self.incident(event, tx)
        } else if event.stream.starts_with("compensation-") {
            self.compensation(event, tx)
        } else {
            Ok(())
        }
    }
}

fn summaries(tree: &ReadModel) -> impl Iterator<Item = Result<IncidentSummary, ModelError>> + '_ {
    tree.prefix(b"N").map(|entry| entry.map(|(_, value)| value))
}

/// One incident's summary.
pub fn summary(tree: &ReadModel, id: Uuid) -> Result<Option<IncidentSummary>, ModelError> {
    tree.get(summary_key(id))
}

/// Which open incidents the board shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BoardFilter {
    pub stage: Option<Stage>,
    pub min_severity: Option<Severity>,
}

/// One line of the pipeline board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BoardRow {
    pub incident_id: Uuid,
    pub title: String,
    pub category: Category,
    pub stage: Stage,
    pub severity: Severity,
    /// When the incident entered its current stage. The board's order: most severe
    /// first, then earliest into its stage (longest in it), then incident id.
    pub stage_entered_at: DateTime<Utc>,
    /// Seconds from `stage_entered_at` to the moment of the answer (0 if later); it
    /// grows with the clock, so it does not order the board.
    pub age_in_stage_seconds: i64,
    pub lead: Option<String>,
    pub passengers_affected: u64,
    /// The earliest legal payment deadline of its unsettled compensations.
    pub next_deadline: Option<DateTime<Utc>>,
}

impl BoardRow {
    /// The row's place on the board.
    pub fn key(&self) -> BoardKey {
        BoardKey {
            severity: self.severity,
            stage_entered_at: self.stage_entered_at,
            incident_id: self.incident_id,
        }
    }
}

/// A place on the pipeline board: most severe first, then earliest into its stage, then
/// incident id. Only facts from the log enter it, never the clock, so a page that starts
/// after a key neither skips nor repeats a row that kept its severity and stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardKey {
    pub severity: Severity,
    pub stage_entered_at: DateTime<Utc>,
    pub incident_id: Uuid,
}

impl Ord for BoardKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .severity
            .cmp(&self.severity)
            .then(self.stage_entered_at.cmp(&other.stage_entered_at))
            .then(self.incident_id.cmp(&other.incident_id))
    }
}

impl PartialOrd for BoardKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl BoardKey {
    /// The key as a cursor: `<severity>.<seconds>.<nanoseconds>.<incident id>`, every
    /// character URL-safe. Clients treat it as opaque.
    pub fn encode(&self) -> String {
        let severity = serde_json::to_value(self.severity)
            .ok()
            .and_then(|name| name.as_str().map(str::to_owned))
            .unwrap_or_default();
        let at = self.stage_entered_at;
        format!(
            "{severity}.{}.{}.{}",
            at.timestamp(),
            at.timestamp_subsec_nanos(),
            self.incident_id
        )
    }

    /// The key [`BoardKey::encode`] wrote, or `None` for any other text.
    pub fn decode(cursor: &str) -> Option<Self> {
        let [severity, seconds, nanos, incident_id] =
            <[&str; 4]>::try_from(cursor.split('.').collect::<Vec<_>>()).ok()?;
        let severity = serde_json::from_value(serde_json::Value::from(severity)).ok()?;
        let stage_entered_at =
            DateTime::from_timestamp(seconds.parse().ok()?, nanos.parse().ok()?)?;
        let key = BoardKey {
            severity,
            stage_entered_at,
            incident_id: incident_id.parse().ok()?,
        };
        // One text per key: a cursor that merely parses (`+1`, `00`, upper-case ids) is
        // not one this API returned.
        (key.encode() == cursor).then_some(key)
    }
}

/// A page of the board and the key of its last row when more rows follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardPage {
    pub rows: Vec<BoardRow>,
    pub next: Option<BoardKey>,
}

/// Up to `limit` open incidents in board order (see [`BoardKey`]), strictly after
/// `after` when given. `now` only computes ages and the active lead.
pub fn board(
    tree: &ReadModel,
    now: DateTime<Utc>,
    filter: &BoardFilter,
    after: Option<&BoardKey>,
    limit: usize,
) -> Result<BoardPage, ModelError> {
    assert!(limit > 0, "a board page holds at least one row");
    let mut rows = Vec::new();
    for summary in summaries(tree) {
        let s = summary?;
        if s.stage == Stage::Closed
            || filter.stage.is_some_and(|stage| stage != s.stage)
            || filter.min_severity.is_some_and(|min| s.severity < min)
        {
            continue;
        }
        let row = board_row(s, now);
        if after.is_none_or(|after| row.key() > *after) {
            rows.push(row);
        }
    }
    rows.sort_by_key(BoardRow::key);
    let next = (rows.len() > limit).then(|| rows[limit - 1].key());
    rows.truncate(limit);
    Ok(BoardPage { rows, next })
}

fn board_row(s: IncidentSummary, now: DateTime<Utc>) -> BoardRow {
    BoardRow {
        incident_id: s.incident_id,
        lead: s
            .assignments
            .iter()
            .find(|a| a.role == IncidentRole::CrisisLead && a.active_at(now))
            .map(|a| a.person.clone()),
        passengers_affected: s.impact.as_ref().map_or(0, |i| i.passengers.total()),
        next_deadline: s.unsettled_deadlines.values().flatten().min().copied(),
        stage_entered_at: s.stage_entered_at,
        age_in_stage_seconds: (now - s.stage_entered_at).num_seconds().max(0),
        title: s.title,
        category: s.category,
        stage: s.stage,
        severity: s.severity,
    }
}

/// The assess view of one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ImpactView {
    pub incident_id: Uuid,
    pub revision: u32,
    pub impact: Option<ImpactAssessment>,
    pub active_assignments: Vec<Assignment>,
}

pub fn impact(
    tree: &ReadModel,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<ImpactView>, ModelError> {
    Ok(summary(tree, id)?.map(|s| ImpactView {
        incident_id: s.incident_id,
        revision: s.impact_revision,
        impact: s.impact,
        active_assignments: s
            .assignments
            .into_iter()
            .filter(|a| a.active_at(now))
            .collect(),
    }))
}

/// One person's active roles across open incidents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PersonLoad {
    pub person: String,
    /// (incident, role) pairs, in incident order.
    pub assignments: Vec<(Uuid, IncidentRole)>,
    pub load: usize,
}

/// Who is assigned where at `now` (open incidents only), busiest first.
pub fn loads(tree: &ReadModel, now: DateTime<Utc>) -> Result<Vec<PersonLoad>, ModelError> {
    let mut people: BTreeMap<String, Vec<(Uuid, IncidentRole)>> = BTreeMap::new();
    for summary in summaries(tree) {
        let s = summary?;
        if s.stage == Stage::Closed {
            continue;
        }
        for a in s.assignments.iter().filter(|a| a.active_at(now)) {
            people
                .entry(a.person.clone())
                .or_default()
                .push((s.incident_id, a.role));
        }
    }
    let mut loads: Vec<PersonLoad> = people
        .into_iter()
        .map(|(person, assignments)| PersonLoad {
            person,
            load: assignments.len(),
            assignments,
        })
        .collect();
    loads.sort_by(|a, b| b.load.cmp(&a.load).then_with(|| a.person.cmp(&b.person)));
    Ok(loads)
}

/// A plan version waiting for a crisis lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AwaitingApproval {
    pub incident_id: Uuid,
    pub kind: PlanKind,
    pub version: u32,
}

/// Plans whose latest draft is not approved, per incident and kind.
pub fn awaiting_approval(tree: &ReadModel) -> Result<Vec<AwaitingApproval>, ModelError> {
    let mut waiting = Vec::new();
    for summary in summaries(tree) {
        let s = summary?;
        for (kind, plan) in [
            (PlanKind::Communication, &s.communication_plan),
            (PlanKind::Compensation, &s.compensation_plan),
        ] {
            if plan.drafted_version > 0 && plan.approved_version != Some(plan.drafted_version) {
                waiting.push(AwaitingApproval {
                    incident_id: s.incident_id,
                    kind,
                    version: plan.drafted_version,
                });
            }
        }
    }
    waiting.sort_by_key(|w| (w.incident_id, w.kind));
    Ok(waiting)
}

/// The approved plans of one incident, with who approved them and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ApprovedPlans {
    pub communication: Option<(PlanProgress, CommunicationPlan)>,
    pub compensation: Option<(PlanProgress, CompensationPlan)>,
}

pub fn approved(tree: &ReadModel, id: Uuid) -> Result<Option<ApprovedPlans>, ModelError> {
    let Some(s) = summary(tree, id)? else {
        return Ok(None);
    };
    fn load<T: serde::de::DeserializeOwned>(
        tree: &ReadModel,
        id: Uuid,
        kind: PlanKind,
        progress: &PlanProgress,
    ) -> Result<Option<(PlanProgress, T)>, ModelError> {
        let Some(version) = progress.approved_version else {
            return Ok(None);
        };
        let plan = tree.get(plan_key(id, kind, version))?.ok_or_else(|| {
            ModelError::Invalid(format!("approved plan version {version} is missing"))
        })?;
        Ok(Some((progress.clone(), plan)))
    }
    Ok(Some(ApprovedPlans {
        communication: load(tree, id, PlanKind::Communication, &s.communication_plan)?,
        compensation: load(tree, id, PlanKind::Compensation, &s.compensation_plan)?,
    }))
}

/// Survey response and satisfaction of one incident.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FollowUpView {
    pub incident_id: Uuid,
    pub stage: Stage,
    pub surveys: Surveys,
    /// Answered / sent (0 when none was sent).
    pub response_rate: f64,
    /// Mean score 1–5 of the answers.
    pub satisfaction: Option<f64>,
    pub open_problems: u64,
}

fn follow_up_view(s: IncidentSummary) -> FollowUpView {
    let all = SurveyCounts {
        sent: s.surveys.sent,
        answered: s.surveys.answered,
        score_sum: s.surveys.score_sum,
    };
    FollowUpView {
        incident_id: s.incident_id,
        stage: s.stage,
        response_rate: all.response_rate(),
        satisfaction: all.satisfaction(),
        open_problems: s.open_problems,
        surveys: s.surveys,
    }
}

pub fn follow_up(tree: &ReadModel, id: Uuid) -> Result<Option<FollowUpView>, ModelError> {
    Ok(summary(tree, id)?.map(follow_up_view))
}

/// Incidents in follow-up with unanswered surveys or open problems.
pub fn open_follow_ups(tree: &ReadModel) -> Result<Vec<FollowUpView>, ModelError> {
    let mut open = Vec::new();
    for summary in summaries(tree) {
        let s = summary?;
        if s.stage == Stage::FollowUp
            && (s.surveys.answered < s.surveys.sent || s.open_problems > 0)
        {
            open.push(follow_up_view(s));
        }
    }
    Ok(open)
}

/// Survey figures across every incident, per channel (survey method) and tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FollowUpSummary {
    pub by_method: BTreeMap<SurveyMethod, SurveyCounts>,
    pub by_tier: BTreeMap<Tier, SurveyCounts>,
}

pub fn follow_up_summary(tree: &ReadModel) -> Result<FollowUpSummary, ModelError> {
    let mut summary = FollowUpSummary::default();
    for incident in summaries(tree) {
        let s = incident?;
        for (method, counts) in &s.surveys.by_method {
            summary.by_method.entry(*method).or_default().add(counts);
        }
        for (tier, counts) in &s.surveys.by_tier {
            summary.by_tier.entry(*tier).or_default().add(counts);
        }
    }
    Ok(summary)
}

/// A lesson or improvement found by the review search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReviewEntry {
    pub incident_id: Uuid,
    pub category: Category,
    pub lessons: Vec<String>,
    pub improvements: Vec<ImprovementEntry>,
}

/// Lessons and improvements, by incident category and improvement owner.
pub fn review(
    tree: &ReadModel,
    category: Option<Category>,
    owner: Option<&str>,
) -> Result<Vec<ReviewEntry>, ModelError> {
    let mut found = Vec::new();
    for summary in summaries(tree) {
        let s = summary?;
        if category.is_some_and(|c| c != s.category)
            || (s.lessons.is_empty() && s.improvements.is_empty())
        {
            continue;
        }
        let improvements: Vec<ImprovementEntry> = s
            .improvements
            .into_iter()
            .filter(|i| owner.is_none_or(|o| i.improvement.owner == o))
            .collect();
        if owner.is_some() && improvements.is_empty() {
            continue;
        }
        found.push(ReviewEntry {
            incident_id: s.incident_id,
            category: s.category,
            lessons: s.lessons,
            improvements,
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests;
