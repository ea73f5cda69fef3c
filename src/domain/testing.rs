//! Test fixtures shared by the aggregates' tests: fixed instants, actors, ids.

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::domain::common::{Actor, Role};
use crate::domain::event::assert_round_trip;
use crate::domain::{Aggregate, Context};

/// 2026-11-22 08:00 UTC plus `minute` minutes.
pub fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap() + chrono::Duration::minutes(minute)
}

/// A context at `at(0)` for an actor of `role` with id `<role>-1` (e.g. `crisislead-1`).
pub fn ctx_as(role: Role) -> Context {
    ctx_at(role, 0)
}

/// A context at `at(minute)` for an actor of `role`.
pub fn ctx_at(role: Role, minute: i64) -> Context {
    Context::new(
        at(minute),
        Actor {
            id: format!("{role:?}-1").to_lowercase(),
            role,
        },
    )
}

/// A readable fixed uuid.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// Given: the state of aggregate `A` after `events`.
pub fn given<A: Aggregate>(events: &[A::Event]) -> A {
    events
        .iter()
        .fold(A::default(), |state, event| state.evolve(event))
}

/// When: the events `command` produces on the state after `events` (or the refusal),
/// decided in `ctx`; every produced event is checked to round-trip through its schema.
pub fn when_in<A>(
    events: &[A::Event],
    command: &A::Command,
    ctx: &Context,
) -> Result<Vec<A::Event>, A::Error>
where
    A: Aggregate,
    A::Event: PartialEq + std::fmt::Debug,
{
    let result = given::<A>(events).decide(command, ctx);
    for event in result.iter().flatten() {
        assert_round_trip(event);
    }
    result
}
