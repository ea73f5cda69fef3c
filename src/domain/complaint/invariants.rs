//! What must hold for every complaint rebuilt from any accepted history.

use super::state::{Complaint, ComplaintStatus as S};

/// Every broken invariant of `state`, described; empty when the state is possible.
pub fn violations(state: &Complaint) -> Vec<String> {
    let mut broken = Vec::new();
    let mut check = |ok: bool, what: &str| {
        if !ok {
            broken.push(what.to_owned());
        }
    };
    let Some(received) = &state.received else {
        check(
            *state == Complaint::default(),
            "an unreceived complaint has no facts",
        );
        return broken;
    };
    let status = state.status;
    check(status != S::None, "a received complaint has a status");
    if status >= S::Acknowledged {
        let acknowledged_after_receipt = state
            .acknowledged_at
            .is_some_and(|at| at >= received.received_at);
        check(
            acknowledged_after_receipt,
            "past receipt, a complaint has been acknowledged after it arrived",
        );
    }
    if status >= S::Routed {
        check(
            !state.departments.is_empty(),
            "past acknowledgement, a complaint is routed to a department",
        );
    }
    let pending = match status {
        S::ResolutionProposed | S::Closed => 1,
        _ => 0,
    };
    if status >= S::ResolutionProposed {
        check(
            state.proposals == state.reopened_count + pending,
            "every reopening answers exactly one proposal",
        );
    } else {
        check(
            state.proposals == 0 && state.reopened_count == 0,
            "no proposals before routing",
        );
    }
    check(
        (status == S::Closed) == state.closed_at.is_some(),
        "closed exactly when a closing time is known",
    );
    check(
        state.closed_at.is_none_or(|at| at >= received.received_at),
        "closed after received",
    );
    broken
}
