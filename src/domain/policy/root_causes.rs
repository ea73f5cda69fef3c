//! The root-cause taxonomy of the crisis policy (`root_causes`): the codes a complaint's
//! resolution and an incident's review record, each with what it means and the
//! department that answers for it unless someone records otherwise. Reports count by
//! these codes, so a code, once used, stays in the file (describe it as retired rather
//! than delete it).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::RootCause;
use crate::domain::complaint::Department;

/// One root cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootCauseEntry {
    /// `area/cause`, e.g. `operations/delay`.
    pub code: RootCause,
    /// What it covers, for the staff who choose it.
    pub description: String,
    /// The department that answers for it by default.
    pub department: Department,
}

/// The taxonomy: every code a resolution or a review may record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RootCauses(pub Vec<RootCauseEntry>);

impl Default for RootCauses {
    fn default() -> Self {
        use Department as D;
        let entries = [
            (
                "operations/delay",
                "the flight left or arrived late",
                D::FlightOperations,
            ),
            (
                "operations/cancellation",
                "the flight was cancelled",
                D::FlightOperations,
            ),
            (
                "operations/diversion",
                "the flight landed elsewhere",
                D::FlightOperations,
            ),
            (
                "operations/weather",
                "weather the airline could not avoid",
                D::FlightOperations,
            ),
            (
                "operations/air_traffic",
                "air traffic control restrictions",
                D::FlightOperations,
            ),
            ("baggage/delayed", "a bag arrived late", D::Baggage),
            (
                "baggage/damaged",
                "a bag or its content was damaged",
                D::Baggage,
            ),
            ("baggage/lost", "a bag was lost", D::Baggage),
            (
                "ground/check_in",
                "check-in, queues, documents",
                D::GroundHandling,
            ),
            (
                "ground/boarding",
                "boarding, gates, denied boarding",
                D::GroundHandling,
            ),
            (
                "staff/conduct",
                "how staff treated the customer",
                D::CustomerCare,
            ),
            (
                "staff/information",
                "missing, late or wrong information given",
                D::CustomerCare,
            ),
            ("digital/app", "the app failed the customer", D::Digital),
            (
                "digital/website",
                "the website failed the customer",
                D::Digital,
            ),
            ("fare/rules", "fare conditions, fees, changes", D::Refunds),
            ("fare/refund", "a refund late, refused or wrong", D::Refunds),
            ("loyalty/miles", "miles, status, benefits", D::Loyalty),
            (
                "partner/codeshare",
                "a codeshare or interline partner's flight",
                D::Partners,
            ),
            (
                "partner/ground_handler",
                "a contracted ground handler",
                D::Partners,
            ),
            (
                "other/unclassified",
                "none of the above (say why in the resolution)",
                D::CustomerCare,
            ),
        ];
        RootCauses(
            entries
                .into_iter()
                .map(|(code, description, department)| RootCauseEntry {
                    code: RootCause::parse(code).expect("the shipped codes are valid"),
                    description: description.to_owned(),
                    department,
                })
                .collect(),
        )
    }
}

impl RootCauses {
    /// At least one code, each once.
    pub fn validate(&self) -> Result<(), String> {
        if self.0.is_empty() {
            return Err("root_causes: list at least one root cause".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, entry) in self.0.iter().enumerate() {
            if !seen.insert(&entry.code) {
                return Err(format!(
                    "root_causes[{i}].code: {} is listed twice; each code once",
                    entry.code
                ));
            }
            if entry.description.trim().is_empty() {
                return Err(format!(
                    "root_causes[{i}].description: say what {} covers",
                    entry.code
                ));
            }
        }
        Ok(())
    }

    /// The entry of `code`, if the taxonomy has it.
    pub fn get(&self, code: &RootCause) -> Option<&RootCauseEntry> {
        self.0.iter().find(|e| &e.code == code)
    }

    /// Refuses a code the taxonomy does not have, naming where the codes are.
    pub fn require(&self, code: &RootCause) -> Result<&RootCauseEntry, String> {
        self.get(code).ok_or_else(|| {
            format!(
                "{code} is not in the policy's root causes; use one of {} (or add it to root_causes in the crisis policy)",
                self.0
                    .iter()
                    .map(|e| e.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_taxonomy_is_valid_and_refuses_what_it_lacks() {
        let causes = RootCauses::default();
        causes.validate().unwrap();
        let delay = RootCause::parse("operations/delay").unwrap();
        assert_eq!(
            causes.require(&delay).unwrap().department,
            Department::FlightOperations
        );
        let unknown = RootCause::parse("operations/aliens").unwrap();
        assert!(
            causes
                .require(&unknown)
                .unwrap_err()
                .contains("operations/delay")
        );
        let twice = RootCauses(vec![causes.0[0].clone(), causes.0[0].clone()]);
        assert!(twice.validate().unwrap_err().contains("twice"));
        assert!(RootCauses(vec![]).validate().is_err());
    }

    #[test]
    fn codes_are_area_slash_cause_in_lower_case() {
        for good in ["operations/delay", "a/b", "digital/app_2"] {
            assert!(RootCause::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "operations",
            "Operations/delay",
            "a/b/c",
            "/delay",
            "a/",
            "a b/c",
            "1a/b",
        ] {
            assert!(RootCause::parse(bad).is_err(), "{bad}");
        }
        assert!(RootCause::parse(&format!("a/{}", "b".repeat(63))).is_err());
    }
}
