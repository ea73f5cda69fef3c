//! Service levels of the complaint loop: acknowledge within minutes, first feedback
//! within hours, resolve within working days — per tier, with channel adjustments and a
//! working-day calendar (weekend days and holidays, in one fixed UTC offset).
//!
//! Minutes and hours are wall-clock. Working days skip weekend days and holidays and keep
//! the time of day: a complaint received on Friday 17:00 with two working days to resolve
//! is due Tuesday 17:00; one received on a Saturday counts from Monday at the same time.
//! Deadlines and breaches are pure functions of the events' times, so a deadline task
//! and a replay agree.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Utc, Weekday};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::common::{Channel, Tier};

/// Targets for one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaTargets {
    pub acknowledge_minutes: u32,
    pub first_feedback_hours: u32,
    pub resolve_working_days: u32,
}

/// Which deadline.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SlaKind {
    Acknowledge,
    FirstFeedback,
    Resolve,
}

/// The SLA policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    /// The calendar's offset from UTC, in minutes (e.g. 60 for CET).
    pub utc_offset_minutes: i32,
    pub weekend: Vec<Weekday>,
    pub holidays: Vec<NaiveDate>,
    pub tiers: BTreeMap<Tier, SlaTargets>,
    /// Percent of the minute and hour targets per channel (50: twice as fast). Missing: 100.
    pub channel_percent: BTreeMap<Channel, u32>,
}

impl Default for SlaConfig {
    fn default() -> Self {
        let targets = |a, f, r| SlaTargets {
            acknowledge_minutes: a,
            first_feedback_hours: f,
            resolve_working_days: r,
        };
        SlaConfig {
            utc_offset_minutes: 0,
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays: Vec::new(),
            tiers: BTreeMap::from([
                (Tier::Diamond, targets(15, 2, 2)),
                (Tier::Platinum, targets(30, 4, 3)),
                (Tier::Gold, targets(60, 8, 5)),
                (Tier::Silver, targets(240, 24, 7)),
                (Tier::None, targets(1_440, 72, 10)),
            ]),
            channel_percent: BTreeMap::from([(Channel::SocialMedia, 50), (Channel::Airport, 50)]),
        }
    }
}

impl SlaConfig {
    /// Refuses a configuration that cannot give deadlines, naming the field to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.utc_offset_minutes.abs() > 14 * 60 {
            return Err("sla.utc_offset_minutes must be within ±840".into());
        }
        if self.weekend.len() >= 7 {
            return Err("sla.weekend leaves no working day".into());
        }
        for tier in [
            Tier::Diamond,
            Tier::Platinum,
            Tier::Gold,
            Tier::Silver,
            Tier::None,
        ] {
            let Some(t) = self.tiers.get(&tier) else {
                return Err(format!("sla.tiers lacks {tier:?}"));
            };
            if t.acknowledge_minutes == 0
                || t.first_feedback_hours == 0
                || t.resolve_working_days == 0
            {
                return Err(format!(
                    "sla.tiers.{tier:?}: every target must be above zero"
                ));
            }
        }
        if let Some((channel, p)) = self
            .channel_percent
            .iter()
            .find(|(_, p)| !(1..=100).contains(*p))
        {
            return Err(format!(
                "sla.channel_percent.{channel:?} is {p}; use 1 to 100"
            ));
        }
        Ok(())
    }

    fn is_working_day(&self, day: NaiveDate) -> bool {
        !self.weekend.contains(&day.weekday()) && !self.holidays.contains(&day)
    }

    /// The deadline of `kind` for a complaint received at `start`.
    pub fn deadline(
        &self,
        start: DateTime<Utc>,
        kind: SlaKind,
        tier: Tier,
        channel: Channel,
    ) -> DateTime<Utc> {
        let targets = self
            .tiers
            .get(&tier)
            .copied()
            .unwrap_or_else(|| SlaConfig::default().tiers[&Tier::None]);
        let percent = i64::from(self.channel_percent.get(&channel).copied().unwrap_or(100));
        match kind {
            SlaKind::Acknowledge => {
                start
                    + Duration::seconds(i64::from(targets.acknowledge_minutes) * 60 * percent / 100)
            }
            SlaKind::FirstFeedback => {
                start
                    + Duration::seconds(
                        i64::from(targets.first_feedback_hours) * 3600 * percent / 100,
                    )
            }
            SlaKind::Resolve => self.add_working_days(start, targets.resolve_working_days),
        }
    }

    /// `days` working days after `start`, at the same local time of day.
    pub fn add_working_days(&self, start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        let offset = FixedOffset::east_opt(self.utc_offset_minutes * 60).expect("validated offset");
        let mut local = start.with_timezone(&offset);
        let mut left = days;
        while left > 0 {
            local += Duration::days(1);
            if self.is_working_day(local.date_naive()) {
                left -= 1;
            }
        }
        local.with_timezone(&Utc)
    }
}

/// Breached: done after the deadline, or not done and the deadline has passed at `now`.
/// Done exactly at the deadline is on time.
pub fn is_breached(
    deadline: DateTime<Utc>,
    done_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    done_at.map_or(now > deadline, |done| done > deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn minutes_and_hours_are_wall_clock_and_channels_adjust_them() {
        let c = SlaConfig::default();
        let start = utc(2026, 11, 21, 23, 50); // a Saturday night
        assert_eq!(
            c.deadline(start, SlaKind::Acknowledge, Tier::Diamond, Channel::Email),
            utc(2026, 11, 22, 0, 5)
        );
        assert_eq!(
            c.deadline(
                start,
                SlaKind::Acknowledge,
                Tier::Diamond,
                Channel::SocialMedia
            ),
            start + Duration::seconds(450),
            "social media: half"
        );
        assert_eq!(
            c.deadline(start, SlaKind::FirstFeedback, Tier::Gold, Channel::Hotline),
            utc(2026, 11, 22, 7, 50)
        );
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_and_keep_the_time() {
        let mut c = SlaConfig::default();
        let friday = utc(2026, 11, 20, 17, 0);
        assert_eq!(
            c.deadline(friday, SlaKind::Resolve, Tier::Diamond, Channel::Email),
            utc(2026, 11, 24, 17, 0),
            "Friday + 2 = Tuesday"
        );
        let saturday = utc(2026, 11, 21, 9, 30);
        assert_eq!(
            c.add_working_days(saturday, 1),
            utc(2026, 11, 23, 9, 30),
            "a weekend start counts from Monday"
        );
        c.holidays
            .push(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(
            c.add_working_days(friday, 1),
            utc(2026, 11, 24, 17, 0),
            "Monday is a holiday"
        );
    }

    #[test]
    fn the_calendar_offset_decides_which_day_it_is() {
        let c = SlaConfig {
            utc_offset_minutes: 9 * 60,
            ..SlaConfig::default()
        }; // Tokyo
        // Friday 23:30 UTC is already Saturday 08:30 in Tokyo: one working day is Monday.
        let start = utc(2026, 11, 20, 23, 30);
        assert_eq!(c.add_working_days(start, 1), utc(2026, 11, 22, 23, 30));
    }

    #[test]
    fn breaches_are_strictly_after_the_deadline() {
        let deadline = utc(2026, 11, 22, 12, 0);
        assert!(
            !is_breached(deadline, Some(deadline), deadline + Duration::hours(5)),
            "exactly at the deadline is on time"
        );
        assert!(is_breached(
            deadline,
            Some(deadline + Duration::seconds(1)),
            deadline
        ));
        assert!(!is_breached(deadline, None, deadline));
        assert!(is_breached(deadline, None, deadline + Duration::seconds(1)));
    }

    #[test]
    fn bad_configurations_name_the_field() {
        let mut c = SlaConfig::default();
        c.tiers.remove(&Tier::Gold);
        assert!(c.validate().unwrap_err().contains("Gold"));
        let c = SlaConfig {
            channel_percent: BTreeMap::from([(Channel::Email, 0)]),
            ..SlaConfig::default()
        };
        assert!(c.validate().unwrap_err().contains("channel_percent"));
        assert!(SlaConfig::default().validate().is_ok());
    }

    proptest! {
        #[test]
        fn a_higher_tier_is_never_due_later(start in 1_700_000_000i64..1_900_000_000, kind in prop::sample::select(vec![SlaKind::Acknowledge, SlaKind::FirstFeedback, SlaKind::Resolve]), channel in prop::sample::select(vec![Channel::Email, Channel::SocialMedia, Channel::Hotline])) {
            let c = SlaConfig::default();
            let start = DateTime::from_timestamp(start, 0).unwrap();
            let tiers = [Tier::Diamond, Tier::Platinum, Tier::Gold, Tier::Silver, Tier::None];
            let deadlines: Vec<_> = tiers.iter().map(|t| c.deadline(start, kind, *t, channel)).collect();
            prop_assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "{:?}", deadlines);
            prop_assert!(deadlines.iter().all(|d| *d > start));
        }
    }
}
