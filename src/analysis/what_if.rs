//! What-if replay: the log's history under a candidate crisis policy beside the policy
//! in force, and what would have differed. Nothing is written: the spike detector runs
//! as `serve` runs it, on a scratch tree; service levels are recomputed from each
//! complaint's own times.
//!
//! - **Service levels.** For each complaint, each deadline (acknowledge, first
//!   feedback, resolve) under either policy, from its receipt, tier and channel; a
//!   deadline is breached when its work was done after it, or not done by the end of
//!   the replay. Breaches one policy gives and the other does not are listed.
//! - **Spikes.** Signals feed the detector under either policy's spike rules; incidents
//!   opened by hand count for both, those the detector opened in the log are its
//!   outcome, not an input, and are left out. Openings are paired per correlation key
//!   in order: opened earlier or later (by how long), or only under one policy. An
//!   incident the candidate opens on another signal than the log's keeps open to the
//!   end (its closing in the log is the other incident's).
//!
//! - **Severity.** A customer's message gets its severity when it arrives, from its
//!   reach, whether it names a passenger and whether it is about safety: each is
//!   assessed again under either policy's thresholds, and the detector above is fed
//!   the severities of its side, so an incident opening at another severity shows.
//! - **Goodwill.** Each entitlement's goodwill decision is taken again from the facts
//!   its last computation recorded (tier, delay, journey), under either compensation
//!   policy's goodwill section and exchange rates: vouchers per currency and miles, and
//!   how many passengers would get something else.
//!
//! Both sides are computed the same way, so the policy in force against itself differs
//! in nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use uuid::Uuid;

use crate::domain::DomainEvent;
use crate::domain::common::{Category, Channel, Currency, Severity, Tier};
use crate::domain::compensation::{CompensationEvent, Regime};
use crate::domain::complaint::ComplaintEvent;
use crate::domain::policy::compensation::CompensationInput;
use crate::domain::policy::compensation_policy::CompensationPolicy;
use crate::domain::policy::crisis::CrisisPolicy;
use crate::domain::policy::severity::{self, SeverityConfig, SeverityInputs};
use crate::domain::policy::sla::{SlaConfig, SlaKind, is_breached};
use crate::domain::signal::{SignalEvent, SignalRecorded};
use crate::projection::model::decoded;
use crate::projection::spikes::{self, SpikeAction, Spikes};
use crate::projection::{ProjectionError, Scratch};
use crate::store::{RecordedEvent, SledStore, StoreError};

/// Events read from the log per step.
const BATCH_EVENTS: usize = 2048;

/// What went wrong replaying.
#[derive(Debug, thiserror::Error)]
pub enum WhatIfError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error("the scratch model cannot be read: {0}")]
    Model(#[from] crate::projection::ModelError),
}

/// One complaint's times, as its events give them.
#[derive(Debug, Clone, PartialEq)]
struct ComplaintTimes {
    received_at: DateTime<Utc>,
    tier: Tier,
    channel: Channel,
    acknowledged_at: Option<DateTime<Utc>>,
    first_feedback_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
}

impl ComplaintTimes {
    fn done(&self, kind: SlaKind) -> Option<DateTime<Utc>> {
        match kind {
            SlaKind::Acknowledge => self.acknowledged_at,
            SlaKind::FirstFeedback => self.first_feedback_at,
            SlaKind::Resolve => self.resolved_at,
        }
    }
}

/// A breach one policy gives and the other does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct BreachChange {
    pub complaint_id: Uuid,
    pub kind: SlaKind,
    pub tier: Tier,
    pub channel: Channel,
    pub deadline_in_force: DateTime<Utc>,
    pub deadline_candidate: DateTime<Utc>,
    /// When the work was done (`null`: not by the end of the replay).
    pub done_at: Option<DateTime<Utc>>,
}

/// Breaches under each policy and those that differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct BreachDiff {
    pub in_force: u64,
    pub candidate: u64,
    /// Breached under the candidate only.
    pub would_have_happened: Vec<BreachChange>,
    /// Breached under the policy in force only.
    pub would_not_have_happened: Vec<BreachChange>,
}

/// An incident opening that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OpeningChange {
    pub correlation_key: String,
    /// When the detector opened it under the policy in force (`null`: it did not).
    pub in_force: Option<DateTime<Utc>>,
    /// When it would have under the candidate (`null`: it would not have).
    pub candidate: Option<DateTime<Utc>>,
    /// `candidate - in_force` in seconds: negative is earlier.
    pub shift_secs: Option<i64>,
    /// The severity it opened at under each policy.
    pub severity_in_force: Option<Severity>,
    pub severity_candidate: Option<Severity>,
}

/// Customers' messages per severity under each policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SeverityDiff {
    pub in_force: BTreeMap<Severity, u64>,
    pub candidate: BTreeMap<Severity, u64>,
    /// Messages assessed at another severity.
    pub changed: u64,
}

/// Incidents the spike detector opens under each policy and the openings that differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct IncidentDiff {
    pub in_force: u64,
    pub candidate: u64,
    pub changes: Vec<OpeningChange>,
}

/// Goodwill under one policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GoodwillCost {
    /// Vouchers per currency, in minor units.
    pub vouchers: BTreeMap<Currency, u64>,
    pub miles: u64,
}

/// Goodwill under each policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct GoodwillDiff {
    /// Entitlements replayed.
    pub entitlements: u64,
    pub in_force: GoodwillCost,
    pub candidate: GoodwillCost,
    /// Entitlements whose goodwill would differ.
    pub changed: u64,
}

/// The policies compared: crisis policies (service levels, spikes) and compensation
/// policies (goodwill, exchange rates).
pub struct Policies<'a> {
    pub crisis: (&'a CrisisPolicy, &'a CrisisPolicy),
    pub compensation: (&'a CompensationPolicy, &'a CompensationPolicy),
}

/// What a candidate policy would have changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct WhatIfReport {
    /// The log positions replayed.
    pub from: u64,
    pub to: u64,
    pub events: u64,
    /// The end of the replay: work not done by then is breached when its deadline
    /// passed before it (the last replayed event's recording time).
    pub until: Option<DateTime<Utc>>,
    pub breaches: BreachDiff,
    pub incidents: IncidentDiff,
    pub severity: SeverityDiff,
    pub goodwill: GoodwillDiff,
}

/// Replays positions `from..=to` of `store` under the policies in force and the
/// candidates.
pub fn replay(
    store: &SledStore,
    policies: &Policies<'_>,
    from: u64,
    to: u64,
) -> Result<WhatIfReport, WhatIfError> {
    let (in_force, candidate) = policies.crisis;
    let detector = |policy: &CrisisPolicy| {
        Scratch::new(Spikes {
            config: policy.spike.clone(),
        })
    };
    let (mut now, mut then) = (detector(in_force)?, detector(candidate)?);
    let to = to.min(store.head().position);
    let detector = crate::app::spikes::reactor_actor();
    let mut complaints: BTreeMap<Uuid, ComplaintTimes> = BTreeMap::new();
    let mut goodwill_inputs: BTreeMap<Uuid, CompensationInput> = BTreeMap::new();
    let mut severity = SeverityDiff::default();
    let (mut events, mut until, mut next) = (0u64, None, from.max(1));
    while next <= to {
        let batch = store.read_all(next, BATCH_EVENTS)?;
        let batch: Vec<RecordedEvent> =
            batch.into_iter().take_while(|e| e.position <= to).collect();
        let Some(last) = batch.last() else { break };
        next = last.position + 1;
        until = Some(last.recorded_at);
        events += batch.len() as u64;
        // The detector's own openings are what is compared, not an input.
        let inputs: Vec<&RecordedEvent> = batch
            .iter()
            .filter(|e| !(e.event_type == "incident.opened" && e.actor.id == detector.id))
            .collect();
        let (mine, theirs) = assessed(
            &inputs,
            (&in_force.severity, &candidate.severity),
            &mut severity,
        )?;
        now.apply(mine.iter().map(AsRef::as_ref))?;
        then.apply(theirs.iter().map(AsRef::as_ref))?;
        for event in &batch {
            complaint_times(event, &mut complaints)?;
            goodwill_input(event, &mut goodwill_inputs)?;
        }
    }
    let end = until.unwrap_or_else(Utc::now);
    Ok(WhatIfReport {
        from: from.max(1),
        to,
        events,
        until,
        breaches: breaches(&complaints, &in_force.sla, &candidate.sla, end),
        incidents: openings(&now.model(), &then.model())?,
        severity,
        goodwill: goodwill(&goodwill_inputs, policies.compensation),
    })
}

/// One side's events: as logged, or a customer's message at that side's severity.
type Side<'a> = Vec<Cow<'a, RecordedEvent>>;

/// Each side's copy of `events`, customers' messages at the severity that side's
/// thresholds give them (other events borrowed as they are), counted in `diff`.
fn assessed<'a>(
    events: &[&'a RecordedEvent],
    (in_force, candidate): (&SeverityConfig, &SeverityConfig),
    diff: &mut SeverityDiff,
) -> Result<(Side<'a>, Side<'a>), crate::projection::ModelError> {
    let (mut mine, mut theirs) = (
        Vec::with_capacity(events.len()),
        Vec::with_capacity(events.len()),
    );
    for &event in events {
        if event.event_type != "signal.recorded" || event.actor.role != "channel" {
            mine.push(Cow::Borrowed(event));
            theirs.push(Cow::Borrowed(event));
            continue;
        }
        let SignalEvent::Recorded(signal) = decoded::<SignalEvent>(event)? else {
            continue;
        };
        let inputs = SeverityInputs {
            passengers_affected: u32::from(signal.passenger.is_some()),
            vip_passengers: 0,
            safety: signal.category == Category::Safety,
            reach: signal.reach,
        };
        let (a, b) = (
            severity::assess(&inputs, in_force).severity,
            severity::assess(&inputs, candidate).severity,
        );
        *diff.in_force.entry(a).or_default() += 1;
        *diff.candidate.entry(b).or_default() += 1;
        diff.changed += u64::from(a != b);
        for (side, assessed) in [(&mut mine, a), (&mut theirs, b)] {
            let copy = SignalEvent::Recorded(SignalRecorded {
                severity: assessed,
                ..signal.clone()
            });
            side.push(Cow::Owned(RecordedEvent {
                data: serde_json::value::to_raw_value(&copy.to_data())
                    .map_err(crate::projection::ModelError::from)?,
                decoded: Default::default(),
                ..event.clone()
            }));
        }
    }
    Ok((mine, theirs))
}

/// Keeps the facts each entitlement's last computation decided its goodwill on.
fn goodwill_input(
    event: &RecordedEvent,
    inputs: &mut BTreeMap<Uuid, CompensationInput>,
) -> Result<(), crate::projection::ModelError> {
    if !matches!(
        event.event_type.as_str(),
        "compensation.computed" | "compensation.recomputed"
    ) {
        return Ok(());
    }
    let Some(id) = crate::projection::stream_uuid(&event.stream, "compensation-") else {
        return Ok(());
    };
    let decisions = match decoded::<CompensationEvent>(event)? {
        CompensationEvent::Computed(c) => c.decisions,
        CompensationEvent::Recomputed(r) => r.decisions,
        _ => return Ok(()),
    };
    if let Some(d) = decisions.into_iter().find(|d| d.regime == Regime::Goodwill) {
        inputs.insert(id, d.inputs);
    }
    Ok(())
}

fn goodwill(
    inputs: &BTreeMap<Uuid, CompensationInput>,
    (in_force, candidate): (&CompensationPolicy, &CompensationPolicy),
) -> GoodwillDiff {
    let mut diff = GoodwillDiff {
        entitlements: inputs.len() as u64,
        ..GoodwillDiff::default()
    };
    for input in inputs.values() {
        let decide = |policy: &CompensationPolicy| {
            let d = policy
                .goodwill
                .decide(input, policy.exchange_rates.as_ref());
            (d.voucher, d.miles)
        };
        let (now, then) = (decide(in_force), decide(candidate));
        diff.changed += u64::from(now != then);
        for ((voucher, miles), cost) in [(now, &mut diff.in_force), (then, &mut diff.candidate)] {
            if let Some(v) = voucher {
                *cost.vouchers.entry(v.currency).or_default() += v.amount_minor;
            }
            cost.miles += miles.unwrap_or(0);
        }
    }
    diff
}

/// Keeps each complaint's receipt and the times its work was done.
fn complaint_times(
    event: &RecordedEvent,
    complaints: &mut BTreeMap<Uuid, ComplaintTimes>,
) -> Result<(), crate::projection::ModelError> {
    if !event.event_type.starts_with("complaint.") {
        return Ok(());
    }
    let Some(id) = crate::projection::stream_uuid(&event.stream, "complaint-") else {
        return Ok(());
    };
    use ComplaintEvent as E;
    let decoded = decoded::<ComplaintEvent>(event)?;
    if let E::Received(r) = &decoded {
        complaints.insert(
            id,
            ComplaintTimes {
                received_at: r.received_at,
                tier: r.tier,
                channel: r.channel,
                acknowledged_at: None,
                first_feedback_at: None,
                resolved_at: None,
            },
        );
        return Ok(());
    }
    let Some(times) = complaints.get_mut(&id) else {
        return Ok(());
    };
    match decoded {
        E::Acknowledged(a) => {
            times.acknowledged_at.get_or_insert(a.acknowledged_at);
        }
        E::ProgressUpdated(p) => {
            times.first_feedback_at.get_or_insert(p.sent_at);
        }
        E::ResolutionProposed(p) => {
            times.first_feedback_at.get_or_insert(p.proposed_at);
        }
        E::Closed(c) => {
            times.resolved_at.get_or_insert(c.closed_at);
        }
        _ => {}
    }
    Ok(())
}

const KINDS: [SlaKind; 3] = [
    SlaKind::Acknowledge,
    SlaKind::FirstFeedback,
    SlaKind::Resolve,
];

fn breaches(
    complaints: &BTreeMap<Uuid, ComplaintTimes>,
    in_force: &SlaConfig,
    candidate: &SlaConfig,
    end: DateTime<Utc>,
) -> BreachDiff {
    let mut diff = BreachDiff::default();
    for (id, c) in complaints {
        for kind in KINDS {
            let deadline = |sla: &SlaConfig| sla.deadline(c.received_at, kind, c.tier, c.channel);
            let (now, then) = (deadline(in_force), deadline(candidate));
            let done = c.done(kind);
            let (breached_now, breached_then) =
                (is_breached(now, done, end), is_breached(then, done, end));
            diff.in_force += u64::from(breached_now);
            diff.candidate += u64::from(breached_then);
            if breached_now == breached_then {
                continue;
            }
            let change = BreachChange {
                complaint_id: *id,
                kind,
                tier: c.tier,
                channel: c.channel,
                deadline_in_force: now,
                deadline_candidate: then,
                done_at: done,
            };
            if breached_then {
                diff.would_have_happened.push(change);
            } else {
                diff.would_not_have_happened.push(change);
            }
        }
    }
    diff
}

/// Per correlation key, the detector's openings in log order: when, at what severity.
type Openings = BTreeMap<String, Vec<(DateTime<Utc>, Severity)>>;

/// The detector's openings per correlation key, in log order, with their severity.
fn opened(model: &crate::projection::ReadModel) -> Result<Openings, crate::projection::ModelError> {
    let mut by_key = Openings::new();
    for decided in spikes::decisions_after(model, 0, usize::MAX)? {
        if let SpikeAction::Open {
            correlation_key,
            detected_at,
            severity,
            ..
        } = decided.action
        {
            by_key
                .entry(correlation_key)
                .or_default()
                .push((detected_at, severity));
        }
    }
    Ok(by_key)
}

fn openings(
    in_force: &crate::projection::ReadModel,
    candidate: &crate::projection::ReadModel,
) -> Result<IncidentDiff, crate::projection::ModelError> {
    let (now, then) = (opened(in_force)?, opened(candidate)?);
    let mut diff = IncidentDiff {
        in_force: now.values().map(|v| v.len() as u64).sum(),
        candidate: then.values().map(|v| v.len() as u64).sum(),
        changes: Vec::new(),
    };
    let keys: std::collections::BTreeSet<&String> = now.keys().chain(then.keys()).collect();
    for key in keys {
        let (a, b) = (
            now.get(key).map_or(&[][..], Vec::as_slice),
            then.get(key).map_or(&[][..], Vec::as_slice),
        );
        for i in 0..a.len().max(b.len()) {
            let (x, y) = (a.get(i).copied(), b.get(i).copied());
            if x == y {
                continue;
            }
            diff.changes.push(OpeningChange {
                correlation_key: key.clone(),
                in_force: x.map(|(at, _)| at),
                candidate: y.map(|(at, _)| at),
                shift_secs: x.zip(y).map(|((x, _), (y, _))| (y - x).num_seconds()),
                severity_in_force: x.map(|(_, s)| s),
                severity_candidate: y.map(|(_, s)| s),
            });
        }
    }
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::DomainEvent;
    use crate::domain::common::{Category, PassengerId, PersonalData, Severity};
    use crate::domain::complaint::{ComplaintAcknowledged, ComplaintReceived, RemedySought};
    use crate::domain::signal::{SignalEvent, SignalRecorded};
    use crate::store::{Actor, AppendRequest, ExpectedVersion, NewEvent, StoreConfig};

    async fn append(store: &SledStore, stream: &str, event: &impl DomainEvent) {
        // Customers' messages come from a channel; the rest from an agent.
        let role = if stream.starts_with("signal-") {
            "channel"
        } else {
            "agent"
        };
        let actor = Actor {
            id: format!("{role}-1"),
            role: role.into(),
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

    /// Crisis policies compared, the compensation policy the built-in one on both sides.
    fn policies<'a>(in_force: &'a CrisisPolicy, candidate: &'a CrisisPolicy) -> Policies<'a> {
        static BUILT_IN: std::sync::LazyLock<CompensationPolicy> =
            std::sync::LazyLock::new(CompensationPolicy::default_policy);
        Policies {
            crisis: (in_force, candidate),
            compensation: (&BUILT_IN, &BUILT_IN),
        }
    }

    /// 08:00 two days ago: the minute and hour deadlines of the history have passed
    /// when it is replayed, the working-day ones not.
    fn base() -> DateTime<Utc> {
        (Utc::now() - Duration::days(2))
            .date_naive()
            .and_hms_opt(8, 0, 0)
            .unwrap()
            .and_utc()
    }

    async fn complaint(store: &SledStore, n: u128, tier: Tier, acknowledged_after: Option<i64>) {
        let id = Uuid::from_u128(n);
        let stream = format!("complaint-{id}");
        let received = ComplaintEvent::Received(ComplaintReceived {
            complaint_id: id,
            channel: Channel::Email,
            passenger: PassengerId(format!("P{n}")),
            tier,
            category: Category::Delay,
            remedy_sought: RemedySought::Compensation,
            description: PersonalData("late".into()),
            incident_id: None,
            flight: None,
            received_at: base(),
        });
        append(store, &stream, &received).await;
        if let Some(minutes) = acknowledged_after {
            let at = base() + Duration::minutes(minutes);
            let ack = ComplaintEvent::Acknowledged(ComplaintAcknowledged {
                apology: "sorry".into(),
                acknowledged_by: "agent-1".into(),
                acknowledged_at: at,
                first_response_secs: minutes as u64 * 60,
            });
            append(store, &stream, &ack).await;
        }
    }

    async fn signal(store: &SledStore, n: u128, minute: i64) {
        let id = Uuid::from_u128(1000 + n);
        let recorded = SignalEvent::Recorded(SignalRecorded {
            signal_id: id,
            channel: Channel::SocialMedia,
            category: Category::Delay,
            severity: Severity::Medium,
            flight: Some(
                crate::domain::common::FlightKey::new("LH", "400", base().date_naive()).unwrap(),
            ),
            passenger: None,
            reach: 10,
            summary: PersonalData("late again".into()),
            source_ref: None,
            correlation_key: "LH400|delay".into(),
            observed_at: base() + Duration::minutes(minute),
            kind: None,
        });
        append(store, &format!("signal-{id}"), &recorded).await;
    }

    /// A gold complaint acknowledged after 40 minutes, a silver one after 3 hours, a
    /// gold one never; three delay posts about one flight within ten minutes.
    async fn history() -> (tempfile::TempDir, SledStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        complaint(&store, 1, Tier::Gold, Some(40)).await;
        complaint(&store, 2, Tier::Silver, Some(180)).await;
        complaint(&store, 3, Tier::Gold, None).await;
        for (n, minute) in [(1, 0), (2, 4), (3, 9)] {
            signal(&store, n, minute).await;
        }
        (dir, store)
    }

    #[tokio::test]
    async fn the_policy_in_force_against_itself_changes_nothing() {
        let (_dir, store) = history().await;
        let policy = CrisisPolicy::default();
        let report = replay(&store, &policies(&policy, &policy), 1, u64::MAX).unwrap();
        assert_eq!(report.events, 8);
        assert_eq!(report.breaches.in_force, report.breaches.candidate);
        assert!(report.breaches.would_have_happened.is_empty());
        assert!(report.breaches.would_not_have_happened.is_empty());
        assert_eq!(report.incidents.changes, vec![]);
        // Complaint 3 was never worked on: its acknowledge and first-feedback deadlines
        // passed; 1 and 2 were acknowledged in time but never answered (resolving has
        // working days left).
        assert_eq!(report.breaches.in_force, 2 + 1 + 1);
    }

    #[tokio::test]
    async fn a_stricter_policy_reports_exactly_the_breaches_and_openings_it_implies() {
        let (_dir, store) = history().await;
        let in_force = CrisisPolicy::default();
        let mut candidate = in_force.clone();
        // Gold acknowledged within 30 minutes (not 60), silver within 2 hours (not 4);
        // three posts within 10 minutes make a spike (not five within 30).
        candidate
            .sla
            .tiers
            .get_mut(&Tier::Gold)
            .unwrap()
            .acknowledge_minutes = 30;
        candidate
            .sla
            .tiers
            .get_mut(&Tier::Silver)
            .unwrap()
            .acknowledge_minutes = 120;
        candidate.spike.signals_min = 3;
        candidate.spike.window_minutes = 10;
        let report = replay(&store, &policies(&in_force, &candidate), 1, u64::MAX).unwrap();
        let new: Vec<(Uuid, SlaKind)> = report
            .breaches
            .would_have_happened
            .iter()
            .map(|b| (b.complaint_id, b.kind))
            .collect();
        assert_eq!(
            new,
            vec![
                (Uuid::from_u128(1), SlaKind::Acknowledge),
                (Uuid::from_u128(2), SlaKind::Acknowledge)
            ],
            "complaint 3 was breached either way"
        );
        assert_eq!(report.breaches.would_not_have_happened, vec![]);
        assert_eq!(report.breaches.candidate, report.breaches.in_force + 2);
        let gold = &report.breaches.would_have_happened[0];
        assert_eq!(gold.deadline_candidate, base() + Duration::minutes(30));
        assert_eq!(gold.done_at, Some(base() + Duration::minutes(40)));
        assert_eq!(
            report.incidents.changes,
            vec![OpeningChange {
                correlation_key: "LH400|delay".into(),
                in_force: None,
                candidate: Some(base() + Duration::minutes(9)),
                shift_secs: None,
                severity_in_force: None,
                severity_candidate: Some(Severity::Low),
            }]
        );
        assert_eq!(
            (report.incidents.in_force, report.incidents.candidate),
            (0, 1)
        );
        // And the other way round: the default policy would have spared them.
        let back = replay(&store, &policies(&candidate, &in_force), 1, u64::MAX).unwrap();
        assert_eq!(back.breaches.would_not_have_happened.len(), 2);
        // A range replays only its positions.
        let first = replay(&store, &policies(&in_force, &candidate), 1, 2).unwrap();
        assert_eq!((first.from, first.to, first.events), (1, 2, 2));
    }

    /// Lower reach thresholds make the three posts (10 followers each) Medium: the
    /// candidate's spike opens at Medium, the policy in force's at Low.
    #[tokio::test]
    async fn severity_thresholds_are_assessed_again_for_customers_messages() {
        let (_dir, store) = history().await;
        let mut in_force = CrisisPolicy::default();
        in_force.spike.signals_min = 3;
        in_force.spike.window_minutes = 10;
        let mut candidate = in_force.clone();
        candidate.severity.reach = [5, 100, 1_000];
        let report = replay(&store, &policies(&in_force, &candidate), 1, u64::MAX).unwrap();
        assert_eq!(report.severity.changed, 3);
        assert_eq!(
            report.severity.in_force,
            BTreeMap::from([(Severity::Low, 3)])
        );
        assert_eq!(
            report.severity.candidate,
            BTreeMap::from([(Severity::Medium, 3)])
        );
        let [change] = &report.incidents.changes[..] else {
            panic!("{:?}", report.incidents)
        };
        assert_eq!(change.shift_secs, Some(0), "opened at the same signal");
        assert_eq!(
            (change.severity_in_force, change.severity_candidate),
            (Some(Severity::Low), Some(Severity::Medium))
        );
    }
}
