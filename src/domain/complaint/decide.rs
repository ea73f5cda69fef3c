//! `decide` for complaints: the received → acknowledged → routed → proposed →
//! closed / reopened loop, with KPI durations computed from `Context::now`.

use chrono::{DateTime, Utc};

use super::command::ComplaintCommand as C;
use super::error::ComplaintError as Error;
use super::events::*;
use super::state::{Complaint, ComplaintStatus as S};
use crate::domain::Context;
use crate::domain::common::{PersonalData, RootCause};

type Decision = Result<Vec<ComplaintEvent>, Error>;

/// How far back a complaint's receipt may be dated (the ingest bound for messages).
pub const RECEIVED_DAYS_MAX: i64 = 366;

/// The events `command` produces on `state`, or the rule it breaks.
pub(super) fn decide(state: &Complaint, command: &C, ctx: &Context) -> Decision {
    match (state.status, command) {
        (S::None, C::ReceiveComplaint { .. }) => receive(command, ctx),
        (_, C::ReceiveComplaint { .. }) => Err(Error::AlreadyReceived),
        (S::None, _) => Err(Error::NotReceived),
        // A closed complaint still belongs to the incident it was about, and
        // responsibility is traced after it closed too.
        (_, C::LinkToIncident { incident_id }) => link(state, *incident_id, ctx),
        (
            _,
            C::ReassignResponsibility {
                responsible,
                reason,
            },
        ) => reassign(state, *responsible, reason, ctx),
        (
            S::Closed,
            C::ScoreQuality {
                accuracy,
                attitude,
                timeliness,
                note,
            },
        ) => score(state, [*accuracy, *attitude, *timeliness], note, ctx),
        (_, C::ScoreQuality { .. }) => Err(Error::QualityNeedsClosed),
        (S::Closed, _) => Err(Error::ComplaintClosed),
        (_, C::AcknowledgeComplaint { apology }) => acknowledge(state, apology, ctx),
        (_, C::RouteComplaint { departments }) => route(state, departments, ctx),
        (_, C::SendProgressUpdate { message }) => progress(state, message, ctx),
        (
            _,
            C::ProposeResolution {
                resolution,
                compensation_id,
                root_cause,
                responsible,
            },
        ) => propose(
            state,
            resolution,
            *compensation_id,
            (root_cause, *responsible),
            ctx,
        ),
        (_, C::ConfirmSatisfaction { comment }) => close(state, comment, ctx),
        (_, C::ReportDissatisfaction { reason }) => reopen(state, reason, ctx),
        (_, C::EscalateToSupervisor { supervisor, reason }) => {
            escalate(state, supervisor, reason, ctx)
        }
        (_, C::RecordSlaBreach { kind, deadline }) => breach(state, *kind, *deadline, ctx),
    }
}

fn link(state: &Complaint, incident_id: uuid::Uuid, ctx: &Context) -> Decision {
    if let Some(linked) = state.incident_id {
        return Err(Error::AlreadyLinked {
            incident_id: linked,
        });
    }
    Ok(vec![ComplaintEvent::LinkedToIncident(LinkedToIncident {
        incident_id,
        linked_at: ctx.now,
    })])
}

fn require_text(field: &'static str, text: &str) -> Result<(), Error> {
    if text.trim().is_empty() {
        Err(Error::Required { field })
    } else {
        Ok(())
    }
}

/// Whole seconds since receipt; zero if a skewed clock puts `now` earlier.
fn secs_since_receipt(state: &Complaint, now: DateTime<Utc>) -> u64 {
    let received_at = state
        .received
        .as_ref()
        .expect("a received complaint has its receipt")
        .received_at;
    u64::try_from((now - received_at).num_seconds()).unwrap_or(0)
}

fn receive(command: &C, ctx: &Context) -> Decision {
    let C::ReceiveComplaint {
        complaint_id,
        channel,
        passenger,
        tier,
        category,
        remedy_sought,
        description,
        incident_id,
        flight,
        received_at,
    } = command
    else {
        unreachable!("receive is only called with ReceiveComplaint")
    };
    require_text("passenger", &passenger.0)?;
    if let Some(flight) = flight {
        flight
            .check()
            .map_err(|reason| Error::InvalidFlight { reason })?;
    }
    let received_at = received_at.unwrap_or(ctx.now);
    if received_at > ctx.now {
        return Err(Error::ReceivedInFuture { received_at });
    }
    if received_at < ctx.now - chrono::Duration::days(RECEIVED_DAYS_MAX) {
        return Err(Error::ReceivedTooLongAgo {
            received_at,
            days_max: RECEIVED_DAYS_MAX,
        });
    }
    Ok(vec![ComplaintEvent::Received(ComplaintReceived {
        complaint_id: *complaint_id,
        channel: *channel,
        passenger: passenger.clone(),
        tier: *tier,
        category: *category,
        remedy_sought: *remedy_sought,
        description: description.clone(),
        incident_id: *incident_id,
        flight: flight.clone(),
        received_at,
    })])
}

fn acknowledge(state: &Complaint, apology: &str, ctx: &Context) -> Decision {
    if state.status != S::Received {
        return Err(Error::AlreadyAcknowledged);
    }
    require_text("apology", apology)?;
    Ok(vec![ComplaintEvent::Acknowledged(ComplaintAcknowledged {
        apology: apology.to_owned(),
        acknowledged_by: ctx.actor.id.clone(),
        acknowledged_at: ctx.now,
        first_response_secs: secs_since_receipt(state, ctx.now),
    })])
}

fn route(
    state: &Complaint,
    departments: &std::collections::BTreeSet<Department>,
    ctx: &Context,
) -> Decision {
    match state.status {
        S::Received => return Err(Error::RoutingRequiresAcknowledgement),
        S::ResolutionProposed => return Err(Error::ResolutionAlreadyPending),
        _ => {}
    }
    if departments.is_empty() {
        return Err(Error::NoDepartment);
    }
    let routed = ComplaintRouted {
        departments: departments.clone(),
        routed_by: ctx.actor.id.clone(),
        routed_at: ctx.now,
    };
    Ok(vec![ComplaintEvent::Routed(routed)])
}

fn progress(state: &Complaint, message: &str, ctx: &Context) -> Decision {
    if matches!(state.status, S::Received | S::Acknowledged) {
        return Err(Error::UpdateRequiresRouting {
            status: state.status,
        });
    }
    require_text("message", message)?;
    let update = ProgressUpdated {
        message: message.to_owned(),
        sent_by: ctx.actor.id.clone(),
        sent_at: ctx.now,
    };
    Ok(vec![ComplaintEvent::ProgressUpdated(update)])
}

fn propose(
    state: &Complaint,
    resolution: &str,
    compensation_id: Option<uuid::Uuid>,
    (root_cause, responsible): (&RootCause, Department),
    ctx: &Context,
) -> Decision {
    match state.status {
        S::Routed | S::Reopened => {}
        S::ResolutionProposed => return Err(Error::ResolutionAlreadyPending),
        status => return Err(Error::ResolutionRequiresRouting { status }),
    }
    require_text("resolution", resolution)?;
    Ok(vec![ComplaintEvent::ResolutionProposed(
        ResolutionProposed {
            proposal: state.proposals + 1,
            resolution: resolution.to_owned(),
            compensation_id,
            root_cause: Some(root_cause.clone()),
            responsible: Some(responsible),
            proposed_by: ctx.actor.id.clone(),
            proposed_at: ctx.now,
        },
    )])
}

/// Hands the responsibility for the complaint's root cause to another department, with
/// the reason: the recorded department is never edited.
fn reassign(state: &Complaint, to: Department, reason: &str, ctx: &Context) -> Decision {
    let Some(from) = state.responsible else {
        return Err(Error::NoResponsibilityYet);
    };
    if from == to {
        return Err(Error::AlreadyResponsible { department: to });
    }
    require_text("reason", reason)?;
    Ok(vec![ComplaintEvent::ResponsibilityReassigned(
        ResponsibilityReassigned {
            from,
            to,
            reason: reason.to_owned(),
            reassigned_by: ctx.actor.id.clone(),
            reassigned_at: ctx.now,
        },
    )])
}

/// A supervisor's one quality check of a closed complaint.
fn score(state: &Complaint, scores: [u8; 3], note: &str, ctx: &Context) -> Decision {
    if state.quality_scored {
        return Err(Error::QualityAlreadyScored);
    }
    if let Some(score) = scores.iter().find(|s| !(1..=5).contains(*s)) {
        return Err(Error::QualityOutOfRange { score: *score });
    }
    let [accuracy, attitude, timeliness] = scores;
    Ok(vec![ComplaintEvent::QualityScored(QualityScored {
        accuracy,
        attitude,
        timeliness,
        note: note.to_owned(),
        scored_by: ctx.actor.id.clone(),
        scored_at: ctx.now,
    })])
}

fn close(state: &Complaint, comment: &PersonalData<String>, ctx: &Context) -> Decision {
    if state.status != S::ResolutionProposed {
        return Err(Error::NoResolutionPending);
    }
    Ok(vec![ComplaintEvent::Closed(ComplaintClosed {
        comment: comment.clone(),
        closed_at: ctx.now,
        handling_secs: secs_since_receipt(state, ctx.now),
    })])
}

fn reopen(state: &Complaint, reason: &PersonalData<String>, ctx: &Context) -> Decision {
    if state.status != S::ResolutionProposed {
        return Err(Error::NoResolutionPending);
    }
    require_text("reason", reason.expose())?;
    Ok(vec![ComplaintEvent::Reopened(ComplaintReopened {
        reason: reason.clone(),
        reopened_at: ctx.now,
    })])
}

fn escalate(state: &Complaint, supervisor: &str, reason: &str, ctx: &Context) -> Decision {
    if state.escalated_to.is_some() {
        return Err(Error::AlreadyEscalated);
    }
    require_text("supervisor", supervisor)?;
    require_text("reason", reason)?;
    Ok(vec![ComplaintEvent::Escalated(ComplaintEscalated {
        supervisor: supervisor.to_owned(),
        reason: reason.to_owned(),
        escalated_by: ctx.actor.id.clone(),
        escalated_at: ctx.now,
    })])
}

fn breach(
    state: &Complaint,
    kind: crate::domain::policy::sla::SlaKind,
    deadline: DateTime<Utc>,
    ctx: &Context,
) -> Decision {
    if state.breached.contains(&kind) {
        return Err(Error::SlaAlreadyBreached { kind });
    }
    if state.sla_met(kind) {
        return Err(Error::SlaMet { kind });
    }
    if !crate::domain::policy::sla::is_breached(deadline, None, ctx.now) {
        return Err(Error::SlaNotDue { kind, deadline });
    }
    Ok(vec![ComplaintEvent::SlaBreached(SlaBreached {
        kind,
        deadline,
        detected_at: ctx.now,
    })])
}
