//! Severity of a disruption or a crisis: from scope (passengers affected), VIP share,
//! the safety flag and channel reach, with thresholds from configuration.
//!
//! Each input is scored on its own ladder (Low < Medium < High < Critical) and the
//! severity is the highest score: monotone by construction — more of anything never
//! lowers it. A safety flag is at least High.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::Severity;

/// What severity is assessed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeverityInputs {
    pub passengers_affected: u32,
    /// Diamond and Platinum passengers among them.
    pub vip_passengers: u32,
    pub safety: bool,
    /// Audience of the signals (e.g. followers of social posts).
    pub reach: u64,
}

/// Thresholds at which each input reaches Medium, High and Critical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityConfig {
    pub passengers: [u32; 3],
    /// VIP share in percent of the passengers affected.
    pub vip_share_percent: [u32; 3],
    /// VIP share only counts with at least this many VIPs (one VIP of two is not a crisis).
    pub vip_passengers_min: u32,
    pub reach: [u64; 3],
}

impl Default for SeverityConfig {
    fn default() -> Self {
        SeverityConfig {
            passengers: [50, 300, 1_000],
            vip_share_percent: [10, 25, 50],
            vip_passengers_min: 5,
            reach: [10_000, 100_000, 1_000_000],
        }
    }
}

impl SeverityConfig {
    /// Refuses thresholds that are not strictly increasing, naming the field.
    pub fn validate(&self) -> Result<(), String> {
        let increasing = |t: [u64; 3]| t[0] > 0 && t[0] < t[1] && t[1] < t[2];
        if !increasing(self.passengers.map(u64::from)) {
            return Err("severity.passengers must be three increasing positive numbers".into());
        }
        if !increasing(self.vip_share_percent.map(u64::from)) || self.vip_share_percent[2] > 100 {
            return Err(
                "severity.vip_share_percent must be three increasing percentages up to 100".into(),
            );
        }
        if !increasing(self.reach) {
            return Err("severity.reach must be three increasing positive numbers".into());
        }
        Ok(())
    }
}

/// The assessed severity and which inputs set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SeverityAssessment {
    pub severity: Severity,
    pub reasons: Vec<String>,
}

fn ladder<T: PartialOrd + Copy>(value: T, thresholds: [T; 3]) -> Severity {
    match thresholds.iter().filter(|t| value >= **t).count() {
        0 => Severity::Low,
        1 => Severity::Medium,
        2 => Severity::High,
        _ => Severity::Critical,
    }
}

/// The severity of `inputs` under `config`.
pub fn assess(inputs: &SeverityInputs, config: &SeverityConfig) -> SeverityAssessment {
    let vip_share = if inputs.passengers_affected == 0 {
        0
    } else {
        (u64::from(inputs.vip_passengers.min(inputs.passengers_affected)) * 100
            / u64::from(inputs.passengers_affected)) as u32
    };
    let by_vip = if inputs.vip_passengers >= config.vip_passengers_min {
        ladder(vip_share, config.vip_share_percent)
    } else {
        Severity::Low
    };
    let scores = [
        (
            ladder(inputs.passengers_affected, config.passengers),
            format!("{} passengers affected", inputs.passengers_affected),
        ),
        (
            by_vip,
            format!("{} VIP passengers ({vip_share} %)", inputs.vip_passengers),
        ),
        (
            ladder(inputs.reach, config.reach),
            format!("reach {}", inputs.reach),
        ),
        (
            if inputs.safety {
                Severity::High
            } else {
                Severity::Low
            },
            "safety related".to_owned(),
        ),
    ];
    let severity = scores.iter().map(|(s, _)| *s).max().expect("four scores");
    let reasons = scores
        .into_iter()
        .filter(|(s, _)| *s == severity && severity > Severity::Low)
        .map(|(s, why)| format!("{why}: {s:?}"))
        .collect();
    SeverityAssessment { severity, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(passengers: u32, vips: u32, safety: bool, reach: u64) -> SeverityInputs {
        SeverityInputs {
            passengers_affected: passengers,
            vip_passengers: vips,
            safety,
            reach,
        }
    }

    #[test]
    fn each_input_can_set_the_severity() {
        let c = SeverityConfig::default();
        assert_eq!(
            assess(&inputs(10, 0, false, 10), &c).severity,
            Severity::Low
        );
        assert_eq!(
            assess(&inputs(50, 0, false, 10), &c).severity,
            Severity::Medium,
            "exactly at the threshold"
        );
        assert_eq!(
            assess(&inputs(1_200, 0, false, 10), &c).severity,
            Severity::Critical
        );
        assert_eq!(
            assess(&inputs(40, 12, false, 10), &c).severity,
            Severity::High,
            "30 % VIPs"
        );
        assert_eq!(
            assess(&inputs(40, 20, false, 10), &c).severity,
            Severity::Critical,
            "exactly 50 % VIPs"
        );
        assert_eq!(
            assess(&inputs(2, 2, false, 10), &c).severity,
            Severity::Low,
            "too few VIPs to count"
        );
        assert_eq!(
            assess(&inputs(1, 0, true, 0), &c).severity,
            Severity::High,
            "safety is at least High"
        );
        let viral = assess(&inputs(1, 0, false, 2_000_000), &c);
        assert_eq!(viral.severity, Severity::Critical);
        assert_eq!(viral.reasons, vec!["reach 2000000: Critical".to_owned()]);
    }

    #[test]
    fn bad_thresholds_are_refused_by_name() {
        let bad = SeverityConfig {
            reach: [10, 10, 20],
            ..SeverityConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("severity.reach"));
        assert!(SeverityConfig::default().validate().is_ok());
    }

    proptest! {
        #[test]
        fn more_of_anything_never_lowers_severity(p in 0u32..5_000, v in 0u32..5_000, s: bool, r in 0u64..5_000_000, dp in 0u32..1_000, dr in 0u64..1_000_000, ds: bool) {
            let c = SeverityConfig::default();
            let base = assess(&inputs(p, v.min(p), s, r), &c).severity;
            prop_assert!(assess(&inputs(p, v.min(p), s || ds, r + dr), &c).severity >= base);
            // More VIPs among the same passengers, or more passengers with the same VIP share.
            prop_assert!(assess(&inputs(p, (v + dp).min(p), s, r), &c).severity >= base);
            prop_assert!(assess(&inputs(p * 2, v.min(p) * 2, s, r), &c).severity >= base);
        }
    }
}
