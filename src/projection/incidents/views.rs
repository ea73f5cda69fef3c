//! The views the pipeline's stages read from the incidents model.

use super::*;

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
    /// The flight it is about, if one.
    pub flight: Option<crate::domain::common::FlightKey>,
    /// Its complaints not yet closed (filled from the complaints model by the API).
    pub open_complaints: u64,
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
        flight: s.flight,
        open_complaints: 0,
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
    /// The person's roles, in incident order.
    pub assignments: Vec<RoleHeld>,
    pub load: usize,
}

/// A role a person holds in an open incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RoleHeld {
    pub incident_id: Uuid,
    pub role: IncidentRole,
}

/// Who is assigned where at `now` (open incidents only), busiest first.
pub fn loads(tree: &ReadModel, now: DateTime<Utc>) -> Result<Vec<PersonLoad>, ModelError> {
    let mut people: BTreeMap<String, Vec<RoleHeld>> = BTreeMap::new();
    for summary in summaries(tree) {
        let s = summary?;
        if s.stage == Stage::Closed {
            continue;
        }
        for a in s.assignments.iter().filter(|a| a.active_at(now)) {
            people.entry(a.person.clone()).or_default().push(RoleHeld {
                incident_id: s.incident_id,
                role: a.role,
            });
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
    pub communication: Option<ApprovedPlan<CommunicationPlan>>,
    pub compensation: Option<ApprovedPlan<CompensationPlan>>,
}

/// An approved plan and its drafting and approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ApprovedPlan<T> {
    pub progress: PlanProgress,
    pub plan: T,
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
    ) -> Result<Option<ApprovedPlan<T>>, ModelError> {
        let Some(version) = progress.approved_version else {
            return Ok(None);
        };
        let plan = tree.get(plan_key(id, kind, version))?.ok_or_else(|| {
            ModelError::Invalid(format!("approved plan version {version} is missing"))
        })?;
        Ok(Some(ApprovedPlan {
            progress: progress.clone(),
            plan,
        }))
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
    /// Root causes and the departments responsible.
    pub causes: Vec<crate::domain::incident::CauseRecorded>,
    pub improvements: Vec<ImprovementEntry>,
    /// The knowledge-base entries its lessons and improvements changed.
    pub knowledge: Vec<Uuid>,
}

/// Lessons, causes and improvements, by incident category and improvement owner.
pub fn review(
    tree: &ReadModel,
    category: Option<Category>,
    owner: Option<&str>,
) -> Result<Vec<ReviewEntry>, ModelError> {
    let mut found = Vec::new();
    for summary in summaries(tree) {
        let s = summary?;
        if category.is_some_and(|c| c != s.category)
            || (s.lessons.is_empty() && s.causes.is_empty() && s.improvements.is_empty())
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
            causes: s.causes,
            improvements,
            knowledge: s.knowledge,
        });
    }
    Ok(found)
}
