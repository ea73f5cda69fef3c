//! What must hold for every incident rebuilt from any accepted history.
//! `decide` is what keeps these true; the property tests (and auditors
//! replaying a stream) check them after every event.

use super::state::Incident;
use super::values::*;
use crate::domain::common::Settlement;

/// Every broken invariant of `state`, described; empty when the state is possible.
pub fn violations(state: &Incident) -> Vec<String> {
    let mut broken = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            broken.push(what.to_owned());
        }
    };
    if !state.is_opened() {
        check(
            *state == Incident::default(),
            "an unopened incident has no facts",
        );
        return broken;
    }
    let stage = state.stage;
    check(
        state.severity.is_some() && state.category.is_some(),
        "an opened incident has severity and category",
    );
    check(
        !state.title.trim().is_empty(),
        "an opened incident has a title",
    );
    check(
        state.impact.is_some() == (state.impact_revisions > 0),
        "impact revisions count the assessments",
    );
    if stage >= Stage::Plan {
        check(
            state.impact.is_some(),
            "planning and later stages have an impact assessment",
        );
    }
    if stage >= Stage::Execute {
        check(
            state.unapproved_plans().is_empty(),
            "execution and later stages have both plans approved",
        );
    }
    if stage >= Stage::FollowUp {
        check(
            state.pending_contacts().is_empty(),
            "follow-up and later stages have every contact answered",
        );
    }
    if stage == Stage::Closed {
        check(!state.lessons.is_empty(), "a closed incident has a lesson");
        check(
            state
                .improvements
                .values()
                .any(|i| !i.owner.trim().is_empty()),
            "a closed incident has an owned improvement",
        );
        check(
            state.unsettled_compensations().is_empty(),
            "a closed incident has every compensation settled",
        );
    }
    let scores_valid = state
        .surveys
        .values()
        .filter_map(|s| s.score)
        .all(|score| SCORE_RANGE.contains(&score));
    check(scores_valid, "satisfaction scores are within 1..=5");
    let reasons_given = state.compensations.values().all(|c| match &c.settlement {
        Some(Settlement::Failed { reason }) => !reason.trim().is_empty(),
        _ => true,
    });
    check(reasons_given, "failed compensations carry a reason");
    let ranges_valid = state
        .assignments
        .values()
        .all(|a| a.until.is_none_or(|until| until > a.from));
    check(ranges_valid, "role assignments end after they start");
    check(
        crisis_leads_disjoint(state),
        "crisis lead assignments never overlap",
    );
    broken
}

fn crisis_leads_disjoint(state: &Incident) -> bool {
    let leads: Vec<_> = state
        .assignments
        .values()
        .filter(|a| a.role == IncidentRole::CrisisLead)
        .collect();
    leads
        .iter()
        .enumerate()
        .all(|(i, a)| leads[i + 1..].iter().all(|b| !a.overlaps(b.from, b.until)))
}
