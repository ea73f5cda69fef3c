//! Subject names. Stream names are `<aggregate>-<id>` in `[A-Za-z0-9_-]` and event types
//! `<aggregate>.<fact>` (both validated by the store), so every part is a safe subject
//! token; no personal data ever appears in a subject.

/// All published events.
pub const EVENTS_ALL: &str = "crisis.events.>";
/// JetStream stream holding every published event.
pub const EVENTS_STREAM: &str = "CRISIS_EVENTS";

/// `crisis.events.<aggregate>.<id>.<fact>` for an event of `stream` with `event_type`.
pub fn event_subject(stream: &str, event_type: &str) -> String {
    let (aggregate, id) = stream.split_once('-').unwrap_or((stream, "_"));
    let fact = event_type
        .split_once('.')
        .map_or(event_type, |(_, fact)| fact);
    format!("crisis.events.{aggregate}.{id}.{fact}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_contract() {
        let stream = "incident-0190c6f2-6a4b-7cc1-9a2e-000000000001";
        assert_eq!(
            event_subject(stream, "incident.assessed"),
            "crisis.events.incident.0190c6f2-6a4b-7cc1-9a2e-000000000001.assessed"
        );
        assert_eq!(
            event_subject("flight-LH123-2026-11-22", "flight.delayed"),
            "crisis.events.flight.LH123-2026-11-22.delayed"
        );
        assert_eq!(
            event_subject("compensation-1", "compensation.payment.failed"),
            "crisis.events.compensation.1.payment.failed"
        );
    }
}
