//! The crisis policy file: severity thresholds, spike detection, SLA targets with their
//! working-day calendar, and the root-cause taxonomy, in one JSON document (`deploy/crisis-policy.json`, which is
//! also the built-in default). Every section and every field is optional: what a file
//! leaves out keeps its default. Unknown fields are refused, so a typo cannot silently
//! leave a default in force.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::root_causes::RootCauses;
use super::severity::SeverityConfig;
use super::sla::SlaConfig;
use super::spike::SpikeConfig;

/// The shipped policy, identical to [`CrisisPolicy::default`] (a test keeps them equal).
#[cfg(test)]
pub const DEFAULT_POLICY_JSON: &str = include_str!("../../../deploy/crisis-policy.json");

/// Thresholds and targets the running service decides by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CrisisPolicy {
    /// When a signal or an incident is Medium, High or Critical.
    pub severity: SeverityConfig,
    /// When a burst of signals with one correlation key opens an incident.
    pub spike: SpikeConfig,
    /// Response deadlines per tier and channel, and the calendar of working days.
    pub sla: SlaConfig,
    /// The root causes resolutions and reviews record, each with the department that
    /// answers for it.
    pub root_causes: RootCauses,
    /// How long a department has to evaluate a customer's suggestion.
    pub suggestions: SuggestionPolicy,
}

/// The suggestion loop's deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SuggestionPolicy {
    /// Working days (of the SLA calendar) from receipt to the department's evaluation.
    pub evaluate_working_days: u32,
}

impl Default for SuggestionPolicy {
    fn default() -> Self {
        SuggestionPolicy {
            evaluate_working_days: 10,
        }
    }
}

impl CrisisPolicy {
    /// Parses and validates a policy file, naming the field to fix.
    pub fn parse(text: &str) -> Result<CrisisPolicy, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let policy: CrisisPolicy = serde_path_to_error::deserialize(de).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            }
        })?;
        policy.severity.validate()?;
        policy.spike.validate()?;
        policy.sla.validate()?;
        policy.root_causes.validate()?;
        if policy.suggestions.evaluate_working_days == 0 {
            return Err(
                "suggestions.evaluate_working_days: give a department at least one working day"
                    .into(),
            );
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Category;

    #[test]
    fn the_shipped_file_is_the_default() {
        assert_eq!(
            CrisisPolicy::parse(DEFAULT_POLICY_JSON),
            Ok(CrisisPolicy::default())
        );
    }

    #[test]
    fn missing_sections_and_fields_keep_their_defaults() {
        let policy = CrisisPolicy::parse(
            r#"{"sla": {"holidays": ["2026-12-25"]}, "spike": {"signals_min": 10}}"#,
        )
        .unwrap();
        assert_eq!(policy.severity, SeverityConfig::default());
        assert_eq!(policy.spike.signals_min, 10);
        assert_eq!(
            policy.spike.window_minutes,
            SpikeConfig::default().window_minutes
        );
        assert_eq!(policy.sla.holidays.len(), 1);
        assert_eq!(policy.sla.tiers, SlaConfig::default().tiers);
        assert_eq!(CrisisPolicy::parse("{}"), Ok(CrisisPolicy::default()));
    }

    #[test]
    fn signals_without_a_flight_have_their_own_rule_a_file_may_change_in_part() {
        let policy = CrisisPolicy::parse(
            r#"{"spike": {"without_flight": {"categories": ["safety", "refund"]}}}"#,
        )
        .unwrap();
        let without_flight = &policy.spike.without_flight;
        assert_eq!(
            without_flight.categories,
            vec![Category::Safety, Category::Refund]
        );
        assert_eq!(without_flight.signals_min, 25, "the default stays");
        assert_eq!(without_flight.window_minutes, 30);
        assert_eq!(policy.spike.signals_min, 5, "the flight rule is untouched");
        let defaults = SpikeConfig::default().without_flight;
        assert!(defaults.signals_min > SpikeConfig::default().signals_min);
        for inquiry in [Category::Other, Category::Service] {
            assert!(!defaults.categories.contains(&inquiry), "{inquiry:?}");
        }
    }

    #[test]
    fn mistakes_are_refused_naming_the_field() {
        let cases = [
            (r#"{"spike": {"signals_minimum": 3}}"#, "spike"),
            (r#"{"spikes": {}}"#, "spikes"),
            (
                r#"{"sla": {"holidays": ["25/12/2026"]}}"#,
                "sla.holidays[0]",
            ),
            (r#"{"severity": {"reach": [5, 4, 3]}}"#, "severity.reach"),
            (r#"{"spike": {"signals_min": 1}}"#, "spike.signals_min"),
            (
                r#"{"sla": {"weekend": ["Mon","Tue","Wed","Thu","Fri","Sat","Sun"]}}"#,
                "sla.weekend",
            ),
            (
                r#"{"spike": {"without_flight": {"category": ["safety"]}}}"#,
                "spike.without_flight",
            ),
            (
                r#"{"spike": {"without_flight": {"categories": ["bags"]}}}"#,
                "spike.without_flight.categories[0]",
            ),
            (
                r#"{"spike": {"without_flight": {"signals_min": 1}}}"#,
                "spike.without_flight.signals_min",
            ),
            ("not json", "expected"),
        ];
        for (text, named) in cases {
            let err = CrisisPolicy::parse(text).unwrap_err();
            assert!(err.contains(named), "{text}: {err:?} does not name {named}");
        }
    }
}
