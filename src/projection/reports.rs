//! Reports read model: the customer-service figures of each day — feedback, inquiries
//! and complaint volumes, resolutions, on-time handling, satisfaction, handling time,
//! breaches per tier, root causes — in total and per department, agent, tier, channel
//! and route; daily, weekly and monthly reports add the days up.
//!
//! **A report is what the log knew.** Each event counts on the UTC day it was
//! *recorded* (`recorded_at`, which only moves forward), never on a time its data
//! names: once a day is over no event can join it, so a report for a past period is the
//! same, byte for byte, whenever it is asked for. A complaint received on Monday and
//! closed on Thursday counts as received on Monday and resolved on Thursday.
//!
//! What counts where:
//! - `feedback`: messages from customer channels (signals); `inquiries`: those that are
//!   questions (the channel said so, or no identified passenger named a problem);
//!   `complaints`: complaints received;
//! - `proposals`, `resolved` (the customer accepted, the complaint closed), `reopens`
//!   (the customer refused a proposal); `closed_on_time`: resolved with no service
//!   level breached; `handling_secs`: receipt to close, summed over the resolved;
//! - `breaches`: service levels breached, per tier of the complaint;
//! - `root_causes`: resolved complaints per root cause of their accepted resolution;
//! - `suggestions` received (per channel) and `suggestions_adopted` (per department);
//! - `compensation_owed` (as computed, and as recomputations change it),
//!   `compensation_paid` and `care_spent` (care expenses recorded), per currency, in
//!   total and per route: what a day or a route cost;
//! - `quality_scored` and `quality_points`: supervisors' quality scores, counted for
//!   the agent whose resolution was accepted.
//!
//! Per root cause (`by=root_cause`): a complaint's figures from the proposal that named
//! the cause on; and the compensation of the entitlements a resolution offered: owed
//! from that proposal on (what the entitlement owed then, and what recomputations
//! change; a later proposal naming another cause moves it), paid as paid.
//!
//! A complaint counts under its tier, channel and route (its flight's origin and
//! destination, once flight ops reported the schedule), its department (the one
//! responsible for its root cause, else the first it was routed to) and its agent: the
//! agent who proposed the resolution for proposals, resolutions and reopens, the agent
//! who owned it for breaches. Feedback counts under its channel and route.
//!
//! Keys:
//! - `B <YYYY-MM-DD> <dimension tag> <value>` → [`Figures`] (JSON);
//! - `C <complaint:16>` → what the model remembers of a complaint (JSON);
//! - `R <flight stream>` → the flight's route, `FRA-JFK` (UTF-8);
//! - `G <suggestion:16>` → the department a suggestion was forwarded to (UTF-8);
//! - `M <compensation:16>` → its flight's route (JSON), for its later events;
//! - `K <compensation:16>` → the root cause of the resolution that offered it (UTF-8);
//! - `O <compensation:16>` → what it owes now (JSON money, absent when nothing);
//! - `X <root cause> 0 <complaint:16>` → empty: complaints whose resolution names it;
//! - `W <root cause> 0 <compensation:16>` → empty: entitlements offered under it.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{ModelError, ReadModel, decoded};
use super::runtime::{ModelTx, Projection};
use super::{csv_field, spelled};
use crate::domain::common::{
    Category, Channel, Currency, FeedbackKind, FlightKey, Money, RootCause, Tier,
};
use crate::domain::complaint::{ComplaintEvent, Department};
use crate::domain::flight::{self, FlightEvent};
use crate::domain::signal::SignalEvent;
use crate::store::RecordedEvent;

pub const NAME: &str = "reports";

/// What a report is counted by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// One row: everything.
    All,
    Department,
    Agent,
    Tier,
    Channel,
    /// Origin and destination of the flight, `FRA-JFK`.
    Route,
    /// The root cause of a complaint's resolution, from its proposal on; and the
    /// compensation paid on the entitlements resolutions offered.
    RootCause,
}

impl By {
    fn tag(self) -> u8 {
        match self {
            By::All => b'*',
            By::Department => b'd',
            By::Agent => b'a',
            By::Tier => b't',
            By::Channel => b'c',
            By::Route => b'r',
            By::RootCause => b'k',
        }
    }
}

/// A report's period.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    /// Monday to Sunday (ISO 8601).
    Week,
    Month,
}

/// The days of one period, first and last included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Period {
    pub kind: PeriodKind,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl Period {
    /// The period of `kind` holding `day`.
    pub fn containing(kind: PeriodKind, day: NaiveDate) -> Period {
        let first_day = match kind {
            PeriodKind::Day => day,
            PeriodKind::Week => {
                day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
            }
            PeriodKind::Month => day.with_day(1).expect("every month has a first day"),
        };
        let last_day = match kind {
            PeriodKind::Day => day,
            PeriodKind::Week => first_day + Duration::days(6),
            PeriodKind::Month => next_month(first_day) - Duration::days(1),
        };
        Period {
            kind,
            first_day,
            last_day,
        }
    }

    /// The period of `kind` holding `day`, or why there is none to report: its days
    /// must be written with four-digit years (0000 to 9999).
    pub fn of(kind: PeriodKind, day: NaiveDate) -> Result<Period, String> {
        let in_range = |d: NaiveDate| (0..=9999).contains(&d.year());
        if !in_range(day) {
            return Err(format!("{day} is outside the years 0000 to 9999"));
        }
        let period = Period::containing(kind, day);
        if !in_range(period.first_day) || !in_range(period.last_day) {
            return Err(format!(
                "the {} holding {day} reaches outside the years 0000 to 9999",
                spelled(&kind)
            ));
        }
        Ok(period)
    }

    /// The period just before this one.
    pub fn previous(&self) -> Period {
        Period::containing(self.kind, self.first_day - Duration::days(1))
    }

    fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let (first, last) = (self.first_day, self.last_day);
        first.iter_days().take_while(move |d| *d <= last)
    }
}

fn next_month(first: NaiveDate) -> NaiveDate {
    let (year, month) = if first.month() == 12 {
        (first.year() + 1, 1)
    } else {
        (first.year(), first.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1).expect("the first of a month exists")
}

/// The counts of one day (or period) under one dimension value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Figures {
    pub feedback: u64,
    pub inquiries: u64,
    pub complaints: u64,
    pub proposals: u64,
    pub resolved: u64,
    pub reopens: u64,
    pub closed_on_time: u64,
    pub handling_secs: u64,
    /// Statutory cash owed under the governing regime, per currency in minor units:
    /// added when computed, the difference when recomputed (so a period's sum is what
    /// its computations changed).
    #[serde(default)]
    pub compensation_owed: BTreeMap<Currency, i64>,
    /// Cash and vouchers paid, per currency in minor units.
    #[serde(default)]
    pub compensation_paid: BTreeMap<Currency, u64>,
    /// Care expenses recorded (meals, hotels, transport), per currency in minor units.
    #[serde(default)]
    pub care_spent: BTreeMap<Currency, u64>,
    /// Customer suggestions received, and those a department adopted.
    #[serde(default)]
    pub suggestions: u64,
    #[serde(default)]
    pub suggestions_adopted: u64,
    /// Complaints a supervisor scored, and the sum of their three scores (1 to 5 each).
    #[serde(default)]
    pub quality_scored: u64,
    #[serde(default)]
    pub quality_points: u64,
    /// Service levels breached, per tier.
    pub breaches: BTreeMap<Tier, u64>,
    /// Resolved complaints per root cause.
    pub root_causes: BTreeMap<RootCause, u64>,
}

impl Figures {
    fn add(&mut self, other: &Figures) {
        self.feedback += other.feedback;
        self.inquiries += other.inquiries;
        self.complaints += other.complaints;
        self.proposals += other.proposals;
        self.resolved += other.resolved;
        self.reopens += other.reopens;
        self.closed_on_time += other.closed_on_time;
        self.handling_secs += other.handling_secs;
        for (currency, n) in &other.compensation_owed {
            *self.compensation_owed.entry(*currency).or_default() += n;
        }
        for (currency, n) in &other.compensation_paid {
            *self.compensation_paid.entry(*currency).or_default() += n;
        }
        for (currency, n) in &other.care_spent {
            *self.care_spent.entry(*currency).or_default() += n;
        }
        self.suggestions += other.suggestions;
        self.suggestions_adopted += other.suggestions_adopted;
        self.quality_scored += other.quality_scored;
        self.quality_points += other.quality_points;
        for (tier, n) in &other.breaches {
            *self.breaches.entry(*tier).or_default() += n;
        }
        for (cause, n) in &other.root_causes {
            *self.root_causes.entry(cause.clone()).or_default() += n;
        }
    }
}

/// What the model remembers of a complaint to attribute its later events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ComplaintFacts {
    tier: Option<Tier>,
    channel: Option<Channel>,
    route: Option<String>,
    department: Option<Department>,
    root_cause: Option<RootCause>,
    owner: Option<String>,
    proposer: Option<String>,
    breached: bool,
}

/// The reports projection.
#[derive(Debug, Default)]
pub struct Reports;

fn bucket_key(day: NaiveDate, by: By, value: &str) -> Vec<u8> {
    let mut key = bucket_prefix(day, by);
    key.extend_from_slice(value.as_bytes());
    key
}

fn bucket_prefix(day: NaiveDate, by: By) -> Vec<u8> {
    let mut key = vec![b'B'];
    key.extend_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
    key.push(by.tag());
    key
}

/// `tag` followed by the 16 bytes of `id`.
fn keyed(tag: u8, id: Uuid) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(id.as_bytes());
    key
}

/// `tag`, the root cause, a 0 byte, then the 16 bytes of `id`: an index of what counts
/// under a cause.
fn cause_index(tag: u8, cause: &str, id: Uuid) -> Vec<u8> {
    let mut key = cause_prefix(tag, cause);
    key.extend_from_slice(id.as_bytes());
    key
}

fn cause_prefix(tag: u8, cause: &str) -> Vec<u8> {
    let mut key = vec![tag];
    key.extend_from_slice(cause.as_bytes());
    key.push(0);
    key
}

/// The complaints whose resolution names `cause` now, and the entitlements offered by
/// resolutions naming it, by id.
pub fn under_cause(
    tree: &ReadModel,
    cause: &RootCause,
) -> Result<(Vec<Uuid>, Vec<Uuid>), ModelError> {
    let ids = |tag| -> Result<Vec<Uuid>, ModelError> {
        let prefix = cause_prefix(tag, cause.as_str());
        tree.prefix_keys(&prefix)
            .map(|k| Ok(Uuid::from_slice(&k?[prefix.len()..])?))
            .collect()
    };
    Ok((ids(b'X')?, ids(b'W')?))
}

/// Minor units as a signed amount (a recomputation may lower what is owed).
fn signed_minor(minor: u64) -> i64 {
    i64::try_from(minor).unwrap_or(i64::MAX)
}

fn complaint_key(id: Uuid) -> Vec<u8> {
    keyed(b'C', id)
}

fn route_key(flight: &FlightKey) -> Vec<u8> {
    let mut key = vec![b'R'];
    key.extend_from_slice(flight::stream_name(flight).as_bytes());
    key
}

impl ComplaintFacts {
    /// The dimension values this complaint's event counts under (`agent`: whose act).
    fn values(&self, agent: Option<&str>) -> Vec<(By, String)> {
        let mut values = vec![(By::All, String::new())];
        values.extend(self.tier.map(|t| (By::Tier, spelled(&t))));
        values.extend(self.channel.map(|c| (By::Channel, spelled(&c))));
        values.extend(self.route.clone().map(|r| (By::Route, r)));
        values.extend(self.department.map(|d| (By::Department, spelled(&d))));
        values.extend(agent.map(|a| (By::Agent, a.to_owned())));
        values.extend(
            self.root_cause
                .as_ref()
                .map(|c| (By::RootCause, c.as_str().to_owned())),
        );
        values
    }
}

/// Adds `change` to the day's bucket of each value.
fn count(
    tx: &mut ModelTx<'_>,
    day: NaiveDate,
    values: &[(By, String)],
    change: impl Fn(&mut Figures),
) -> Result<(), ModelError> {
    for (by, value) in values {
        let key = bucket_key(day, *by, value);
        let mut figures: Figures = tx.get_json(&key)?.unwrap_or_default();
        change(&mut figures);
        tx.insert_json(key, &figures);
    }
    Ok(())
}

impl Reports {
    fn route(tx: &ModelTx<'_>, flight: Option<&FlightKey>) -> Result<Option<String>, ModelError> {
        let Some(flight) = flight else {
            return Ok(None);
        };
        Ok(tx
            .get(&route_key(flight))?
            .map(String::from_utf8)
            .transpose()?)
    }

    fn complaint(
        &self,
        event: &RecordedEvent,
        id: Uuid,
        tx: &mut ModelTx<'_>,
    ) -> Result<(), ModelError> {
        let day = event.recorded_at.date_naive();
        let key = complaint_key(id);
        let mut facts: ComplaintFacts = tx.get_json(&key)?.unwrap_or_default();
        use ComplaintEvent as E;
        match decoded::<ComplaintEvent>(event)? {
            E::Received(r) => {
                facts.tier = Some(r.tier);
                facts.channel = Some(r.channel);
                facts.route = Self::route(tx, r.flight.as_ref())?;
                count(tx, day, &facts.values(None), |f| f.complaints += 1)?;
            }
            E::Acknowledged(a) => facts.owner = Some(a.acknowledged_by),
            E::Escalated(e) => facts.owner = Some(e.supervisor),
            E::Routed(r) => {
                if facts.department.is_none() {
                    facts.department = r.departments.first().copied();
                }
            }
            E::ResolutionProposed(p) => {
                if let Some(cause) = &p.root_cause {
                    if let Some(before) = &facts.root_cause {
                        tx.remove(cause_index(b'X', before.as_str(), id));
                    }
                    tx.insert(cause_index(b'X', cause.as_str(), id), Vec::new());
                    facts.root_cause = p.root_cause.clone();
                    facts.department = p.responsible.or(facts.department);
                }
                facts.proposer = Some(p.proposed_by);
                // The entitlement the resolution offers: its payment counts for the cause.
                if let (Some(compensation), Some(cause)) = (p.compensation_id, &facts.root_cause) {
                    Self::attribute(tx, day, compensation, cause)?;
                }
                count(tx, day, &facts.values(facts.proposer.as_deref()), |f| {
                    f.proposals += 1
                })?;
            }
            E::ResponsibilityReassigned(r) => facts.department = Some(r.to),
            E::Closed(c) => {
                let on_time = u64::from(!facts.breached);
                let cause = facts.root_cause.clone();
                count(tx, day, &facts.values(facts.proposer.as_deref()), |f| {
                    f.resolved += 1;
                    f.closed_on_time += on_time;
                    f.handling_secs += c.handling_secs;
                    if let Some(cause) = &cause {
                        *f.root_causes.entry(cause.clone()).or_default() += 1;
                    }
                })?;
            }
            E::Reopened(_) => count(tx, day, &facts.values(facts.proposer.as_deref()), |f| {
                f.reopens += 1
            })?,
            E::SlaBreached(_) => {
                facts.breached = true;
                let tier = facts.tier.unwrap_or(Tier::None);
                count(tx, day, &facts.values(facts.owner.as_deref()), |f| {
                    *f.breaches.entry(tier).or_default() += 1;
                })?;
            }
            E::ProgressUpdated(_) | E::LinkedToIncident(_) => {}
            E::QualityScored(q) => {
                let points =
                    u64::from(q.accuracy) + u64::from(q.attitude) + u64::from(q.timeliness);
                count(tx, day, &facts.values(facts.proposer.as_deref()), |f| {
                    f.quality_scored += 1;
                    f.quality_points += points;
                })?;
            }
        }
        tx.insert_json(key, &facts);
        Ok(())
    }
}

impl Reports {
    /// A resolution naming `cause` offers the entitlement `compensation`: what it owes
    /// counts under the cause from `day` on (moved from the cause an earlier proposal
    /// named, if another).
    fn attribute(
        tx: &mut ModelTx<'_>,
        day: NaiveDate,
        compensation: Uuid,
        cause: &RootCause,
    ) -> Result<(), ModelError> {
        let key = keyed(b'K', compensation);
        let before = tx.get(&key)?.map(String::from_utf8).transpose()?;
        if before.as_deref() == Some(cause.as_str()) {
            return Ok(());
        }
        tx.insert(key, cause.as_str().as_bytes().to_vec());
        if let Some(before) = &before {
            tx.remove(cause_index(b'W', before, compensation));
        }
        tx.insert(cause_index(b'W', cause.as_str(), compensation), Vec::new());
        let Some(owed) = tx.get_json::<Money>(&keyed(b'O', compensation))? else {
            return Ok(());
        };
        let amount = signed_minor(owed.amount_minor);
        if let Some(before) = before {
            count(tx, day, &[(By::RootCause, before)], |f| {
                *f.compensation_owed.entry(owed.currency).or_default() -= amount;
            })?;
        }
        count(
            tx,
            day,
            &[(By::RootCause, cause.as_str().to_owned())],
            |f| {
                *f.compensation_owed.entry(owed.currency).or_default() += amount;
            },
        )
    }

    /// Compensation counts under its flight's route: owed as computed (and as each
    /// recomputation changes it), paid as paid; and under the root cause of the
    /// resolution that offered it.
    fn compensation(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        use crate::domain::compensation::{CompensationEvent as E, OfferOption};
        let Some(id) = super::stream_uuid(&event.stream, "compensation-") else {
            return Ok(());
        };
        let key = keyed(b'M', id);
        let owed_key = keyed(b'O', id);
        let day = event.recorded_at.date_naive();
        let mut values = vec![(By::All, String::new())];
        let with_cause = |tx: &ModelTx<'_>, values: &mut Vec<(By, String)>| {
            let route: Option<String> = tx.get_json(&key)?.flatten();
            values.extend(route.map(|r| (By::Route, r)));
            if let Some(cause) = tx.get(&keyed(b'K', id))? {
                values.push((By::RootCause, String::from_utf8(cause)?));
            }
            Ok::<_, ModelError>(())
        };
        match decoded::<E>(event)? {
            E::Computed(c) => {
                let route = Self::route(tx, Some(&c.flight))?;
                tx.insert_json(key.clone(), &route);
                values.extend(route.map(|r| (By::Route, r)));
                if let Some(owed) = c.entitled {
                    tx.insert_json(owed_key, &owed);
                    let amount = signed_minor(owed.amount_minor);
                    count(tx, day, &values, |f| {
                        *f.compensation_owed.entry(owed.currency).or_default() += amount;
                    })?;
                }
                Ok(())
            }
            E::Recomputed(r) => {
                with_cause(tx, &mut values)?;
                match r.entitled {
                    Some(owed) => tx.insert_json(owed_key, &owed),
                    None => tx.remove(owed_key),
                }
                let signed = |m: Option<Money>, sign: i64| {
                    m.map(|m| (m.currency, sign * signed_minor(m.amount_minor)))
                };
                let changes: Vec<_> = [signed(r.previous_entitled, -1), signed(r.entitled, 1)]
                    .into_iter()
                    .flatten()
                    .collect();
                count(tx, day, &values, |f| {
                    for (currency, amount) in &changes {
                        *f.compensation_owed.entry(*currency).or_default() += amount;
                    }
                })
            }
            E::CareExpenseRecorded(e) => {
                with_cause(tx, &mut values)?;
                count(tx, day, &values, |f| {
                    *f.care_spent.entry(e.amount.currency).or_default() += e.amount.amount_minor;
                })
            }
            E::Paid(p) => {
                with_cause(tx, &mut values)?;
                let amount = match p.paid {
                    OfferOption::Cash { amount } | OfferOption::Voucher { amount } => amount,
                    OfferOption::Miles { .. } => return Ok(()),
                };
                count(tx, day, &values, |f| {
                    *f.compensation_paid.entry(amount.currency).or_default() += amount.amount_minor;
                })
            }
            _ => Ok(()),
        }
    }

    /// Suggestions count under their channel when received, and under the department
    /// that adopted them.
    fn suggestion(&self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        use crate::domain::suggestion::{Outcome, SuggestionEvent as E};
        let Some(id) = super::stream_uuid(&event.stream, "suggestion-") else {
            return Ok(());
        };
        let key = keyed(b'G', id);
        let day = event.recorded_at.date_naive();
        match decoded::<E>(event)? {
            E::Received(r) => count(
                tx,
                day,
                &[(By::All, String::new()), (By::Channel, spelled(&r.channel))],
                |f| f.suggestions += 1,
            ),
            E::Forwarded(f) => {
                tx.insert(key, spelled(&f.department).into_bytes());
                Ok(())
            }
            E::Evaluated(e) if e.outcome == Outcome::Adopted => {
                let mut values = vec![(By::All, String::new())];
                if let Some(department) = tx.get(&key)? {
                    values.push((By::Department, String::from_utf8(department)?));
                }
                count(tx, day, &values, |f| f.suggestions_adopted += 1)
            }
            _ => Ok(()),
        }
    }
}

impl Projection for Reports {
    fn name(&self) -> &'static str {
        NAME
    }

    /// 2: what an entitlement owes is kept (`O`) and counts under its root cause.
    fn version(&self) -> u32 {
        2
    }

    fn apply(&mut self, event: &RecordedEvent, tx: &mut ModelTx<'_>) -> Result<(), ModelError> {
        let t = event.event_type.as_str();
        if t.starts_with("complaint.") {
            let Some(id) = super::stream_uuid(&event.stream, "complaint-") else {
                return Ok(());
            };
            return self.complaint(event, id, tx);
        }
        match t {
            "flight.scheduled" => {
                let FlightEvent::Scheduled(s) = decoded::<FlightEvent>(event)? else {
                    return Ok(());
                };
                let route = format!("{}-{}", s.origin.as_str(), s.destination.as_str());
                tx.insert(route_key(&s.flight), route.into_bytes());
                Ok(())
            }
            "suggestion.received" | "suggestion.forwarded" | "suggestion.evaluated" => {
                self.suggestion(event, tx)
            }
            "compensation.computed"
            | "compensation.recomputed"
            | "compensation.paid"
            | "compensation.care_expense_recorded" => self.compensation(event, tx),
            "signal.recorded" => {
                let SignalEvent::Recorded(s) = decoded::<SignalEvent>(event)? else {
                    return Ok(());
                };
                let mut values = vec![(By::All, String::new()), (By::Channel, spelled(&s.channel))];
                values.extend(Self::route(tx, s.flight.as_ref())?.map(|r| (By::Route, r)));
                // Signals recorded before crisisd kept the kind: a complaint when an
                // identified passenger named a problem, as feedback ingest decided.
                let complaint_like = s.passenger.is_some() && s.category != Category::Other;
                let inquiry = u64::from(match s.kind {
                    Some(kind) => kind == FeedbackKind::Inquiry,
                    None => !complaint_like,
                });
                count(tx, event.recorded_at.date_naive(), &values, |f| {
                    f.feedback += 1;
                    f.inquiries += inquiry;
                })
            }
            _ => Ok(()),
        }
    }
}

/// One row of a report: a dimension value's figures and the rates they give.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ReportRow {
    /// The department, agent, tier, channel or route (empty in the `all` row).
    pub value: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// Resolved / complaints received in the period.
    pub resolution_rate: Option<f64>,
    /// Resolved with no breach / resolved.
    pub on_time_rate: Option<f64>,
    /// Resolved / (resolved + reopens): how often a proposal satisfied.
    pub satisfaction: Option<f64>,
    /// Receipt to close, averaged over the resolved.
    pub average_handling_secs: Option<u64>,
    /// The supervisors' quality scores, averaged over the three and the complaints
    /// scored (1 to 5).
    pub quality: Option<f64>,
}

impl ReportRow {
    fn of(value: String, figures: Figures) -> ReportRow {
        let ratio = |a: u64, b: u64| (b > 0).then(|| round(a as f64 / b as f64));
        ReportRow {
            resolution_rate: ratio(figures.resolved, figures.complaints),
            on_time_rate: ratio(figures.closed_on_time, figures.resolved),
            satisfaction: ratio(figures.resolved, figures.resolved + figures.reopens),
            average_handling_secs: (figures.resolved > 0)
                .then(|| figures.handling_secs / figures.resolved),
            quality: (figures.quality_scored > 0).then(|| {
                round(figures.quality_points as f64 / (3 * figures.quality_scored) as f64)
            }),
            value,
            figures,
        }
    }
}

/// Four decimals: a report reads the same on every machine.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A root cause's count in a period and the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct CauseTrend {
    pub root_cause: RootCause,
    pub resolved: u64,
    pub previous: u64,
    /// `resolved - previous`.
    pub change: i64,
}

/// A periodic report.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Report {
    pub period: Period,
    pub by: By,
    /// Whether the period is over: then the report never changes.
    pub complete: bool,
    /// Every value with something in the period, by value.
    pub rows: Vec<ReportRow>,
    /// Everything together.
    pub total: ReportRow,
    /// The ten root causes most resolved in the period, with the previous period's
    /// count: most first, then by code.
    pub top_root_causes: Vec<CauseTrend>,
}

/// The figures of `period` per value of `by`.
fn sums(
    tree: &ReadModel,
    period: &Period,
    by: By,
) -> Result<BTreeMap<String, Figures>, ModelError> {
    let mut sums: BTreeMap<String, Figures> = BTreeMap::new();
    for day in period.days() {
        let prefix = bucket_prefix(day, by);
        for entry in tree.prefix::<_, Figures>(&prefix) {
            let (key, figures) = entry?;
            let value = String::from_utf8(key[prefix.len()..].to_vec())?;
            sums.entry(value).or_default().add(&figures);
        }
    }
    Ok(sums)
}

/// The report of `period` by `by`; `today` (UTC) says whether the period is over.
pub fn report(
    tree: &ReadModel,
    period: Period,
    by: By,
    today: NaiveDate,
) -> Result<Report, ModelError> {
    let rows = sums(tree, &period, by)?;
    let total = sums(tree, &period, By::All)?.remove("").unwrap_or_default();
    let before = sums(tree, &period.previous(), By::All)?
        .remove("")
        .unwrap_or_default();
    let mut top: Vec<CauseTrend> = total
        .root_causes
        .iter()
        .map(|(cause, &resolved)| {
            let previous = before.root_causes.get(cause).copied().unwrap_or(0);
            CauseTrend {
                root_cause: cause.clone(),
                resolved,
                previous,
                change: resolved as i64 - previous as i64,
            }
        })
        .collect();
    top.sort_by(|a, b| {
        b.resolved
            .cmp(&a.resolved)
            .then_with(|| a.root_cause.cmp(&b.root_cause))
    });
    top.truncate(10);
    Ok(Report {
        period,
        by,
        complete: period.last_day < today,
        rows: rows
            .into_iter()
            .map(|(value, figures)| ReportRow::of(value, figures))
            .collect(),
        total: ReportRow::of(String::new(), total),
        top_root_causes: top,
    })
}

/// The report's rows as CSV (RFC 4180), the total last (value `*`).
pub fn report_csv(report: &Report) -> String {
    let tiers = [
        Tier::Diamond,
        Tier::Platinum,
        Tier::Gold,
        Tier::Silver,
        Tier::None,
    ];
    let mut out = String::from(
        "period,first_day,last_day,by,value,feedback,inquiries,complaints,proposals,resolved,reopens,closed_on_time,handling_secs,resolution_rate,on_time_rate,satisfaction,average_handling_secs,quality,suggestions,suggestions_adopted",
    );
    for tier in tiers {
        out.push_str(&format!(",breaches_{}", spelled(&tier)));
    }
    // Money per currency the report has, in minor units: owed_EUR, paid_EUR, ...
    let total = ReportRow {
        value: "*".into(),
        ..report.total.clone()
    };
    let rows: Vec<&ReportRow> = report.rows.iter().chain(std::iter::once(&total)).collect();
    let currencies: std::collections::BTreeSet<Currency> = rows
        .iter()
        .flat_map(|r| {
            let f = &r.figures;
            f.compensation_owed
                .keys()
                .chain(f.compensation_paid.keys())
                .chain(f.care_spent.keys())
                .copied()
        })
        .collect();
    for currency in &currencies {
        let code = spelled(currency);
        out.push_str(&format!(",owed_{code},paid_{code},care_{code}"));
    }
    out.push_str("\r\n");
    let opt = |x: Option<f64>| x.map_or_else(String::new, |x| x.to_string());
    for row in rows {
        let f = &row.figures;
        let mut fields = vec![
            spelled(&report.period.kind),
            report.period.first_day.to_string(),
            report.period.last_day.to_string(),
            spelled(&report.by),
            row.value.clone(),
        ];
        fields.extend(
            [
                f.feedback,
                f.inquiries,
                f.complaints,
                f.proposals,
                f.resolved,
                f.reopens,
                f.closed_on_time,
                f.handling_secs,
            ]
            .map(|n| n.to_string()),
        );
        fields.push(opt(row.resolution_rate));
        fields.push(opt(row.on_time_rate));
        fields.push(opt(row.satisfaction));
        fields.push(
            row.average_handling_secs
                .map_or_else(String::new, |s| s.to_string()),
        );
        fields.push(opt(row.quality));
        fields.push(f.suggestions.to_string());
        fields.push(f.suggestions_adopted.to_string());
        for tier in tiers {
            fields.push(f.breaches.get(&tier).copied().unwrap_or(0).to_string());
        }
        for currency in &currencies {
            let of = |m: &BTreeMap<Currency, u64>| m.get(currency).copied().unwrap_or(0);
            let owed = f.compensation_owed.get(currency).copied().unwrap_or(0);
            fields.extend([
                owed.to_string(),
                of(&f.compensation_paid).to_string(),
                of(&f.care_spent).to_string(),
            ]);
        }
        let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::DomainEvent;
    use crate::domain::common::{AirportCode, PassengerId, PersonalData, Severity};
    use crate::domain::complaint::{
        ComplaintAcknowledged, ComplaintClosed, ComplaintReceived, ComplaintReopened,
        ComplaintRouted, RemedySought, ResolutionProposed, ResponsibilityReassigned, SlaBreached,
    };
    use crate::domain::flight::FlightScheduled;
    use crate::domain::policy::sla::SlaKind;
    use crate::domain::signal::SignalRecorded;
    use crate::projection::runtime::apply_recorded;
    use crate::store::{Actor, RecordedEvent, SledStore, StoreConfig, codec::HashBytes};

    /// A history as the log would hold it, each event recorded when the test says.
    struct History {
        events: Vec<RecordedEvent>,
    }

    impl History {
        fn at(
            &mut self,
            recorded: &str,
            stream: &str,
            actor: &str,
            event: &impl DomainEvent,
        ) -> &mut Self {
            let recorded_at: DateTime<Utc> = recorded.parse().unwrap();
            let position = self.events.len() as u64 + 1;
            self.events.push(RecordedEvent {
                id: Uuid::from_u128(u128::from(position)),
                stream: stream.into(),
                stream_version: position,
                position,
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                occurred_at: recorded_at,
                recorded_at,
                actor: Actor {
                    id: actor.into(),
                    role: "agent".into(),
                },
                correlation_id: Uuid::nil(),
                causation_id: Uuid::nil(),
                data: serde_json::value::to_raw_value(&event.to_data()).unwrap(),
                prev_hash: HashBytes([0; 32]),
                hash: HashBytes([0; 32]),
                decoded: Default::default(),
            });
            self
        }
    }

    fn lh400() -> FlightKey {
        FlightKey::new("LH", "400", "2026-11-23".parse().unwrap()).unwrap()
    }

    fn cause(code: &str) -> RootCause {
        RootCause::parse(code).unwrap()
    }

    fn complaint(n: u128) -> (Uuid, String) {
        let id = Uuid::from_u128(n);
        (id, format!("complaint-{id}"))
    }

    fn received(id: Uuid, tier: Tier, flight: Option<FlightKey>) -> ComplaintEvent {
        ComplaintEvent::Received(ComplaintReceived {
            complaint_id: id,
            channel: Channel::Email,
            passenger: PassengerId("P1".into()),
            tier,
            category: crate::domain::common::Category::Delay,
            remedy_sought: RemedySought::Compensation,
            description: PersonalData("late".into()),
            incident_id: None,
            flight,
            received_at: "2026-11-23T08:00:00Z".parse().unwrap(),
        })
    }

    fn proposed(n: u32, code: &str, by: &str) -> ComplaintEvent {
        ComplaintEvent::ResolutionProposed(ResolutionProposed {
            proposal: n,
            resolution: "a voucher".into(),
            compensation_id: None,
            root_cause: Some(cause(code)),
            responsible: Some(Department::FlightOperations),
            proposed_by: by.into(),
            proposed_at: "2026-11-23T09:00:00Z".parse().unwrap(),
        })
    }

    fn closed(handling_secs: u64) -> ComplaintEvent {
        ComplaintEvent::Closed(ComplaintClosed {
            comment: PersonalData("ok".into()),
            closed_at: "2026-11-24T09:00:00Z".parse().unwrap(),
            handling_secs,
        })
    }

    /// A week of customer service on LH400 (FRA-JFK): the scripted history.
    fn week() -> History {
        let mut h = History { events: Vec::new() };
        let (a, sa) = complaint(1);
        let (b, sb) = complaint(2);
        let (c, sc) = complaint(3);
        let schedule = FlightEvent::Scheduled(FlightScheduled {
            flight: lh400(),
            origin: AirportCode::parse("FRA").unwrap(),
            destination: AirportCode::parse("JFK").unwrap(),
            scheduled_departure: "2026-11-23T10:00:00Z".parse().unwrap(),
            scheduled_arrival: "2026-11-23T18:40:00Z".parse().unwrap(),
            passenger_count: 300,
        });
        let signal = |passenger: Option<&str>| {
            SignalEvent::Recorded(SignalRecorded {
                signal_id: Uuid::nil(),
                channel: Channel::SocialMedia,
                category: crate::domain::common::Category::Delay,
                severity: Severity::Low,
                flight: Some(lh400()),
                passenger: passenger.map(|p| PassengerId(p.into())),
                reach: 1,
                summary: PersonalData("late".into()),
                source_ref: None,
                correlation_key: "k".into(),
                observed_at: "2026-11-23T08:00:00Z".parse().unwrap(),
                kind: None,
            })
        };
        let ack = |by: &str| {
            ComplaintEvent::Acknowledged(ComplaintAcknowledged {
                apology: "sorry".into(),
                acknowledged_by: by.into(),
                acknowledged_at: "2026-11-23T08:10:00Z".parse().unwrap(),
                first_response_secs: 600,
            })
        };
        let routed = ComplaintEvent::Routed(ComplaintRouted {
            departments: [Department::Baggage].into(),
            routed_by: "ana".into(),
            routed_at: "2026-11-23T08:20:00Z".parse().unwrap(),
        });
        let breach = ComplaintEvent::SlaBreached(SlaBreached {
            kind: SlaKind::Resolve,
            deadline: "2026-11-24T08:00:00Z".parse().unwrap(),
            detected_at: "2026-11-24T08:00:01Z".parse().unwrap(),
        });
        let reopened = ComplaintEvent::Reopened(ComplaintReopened {
            reason: PersonalData("not enough".into()),
            reopened_at: "2026-11-24T10:00:00Z".parse().unwrap(),
        });
        let reassigned = ComplaintEvent::ResponsibilityReassigned(ResponsibilityReassigned {
            from: Department::FlightOperations,
            to: Department::Partners,
            reason: "the handler".into(),
            reassigned_by: "lead".into(),
            reassigned_at: "2026-11-25T09:00:00Z".parse().unwrap(),
        });
        // Previous week: one complaint resolved as a delay.
        let (z, sz) = complaint(9);
        h.at(
            "2026-11-17T08:00:00Z",
            &sz,
            "channel",
            &received(z, Tier::Silver, None),
        )
        .at(
            "2026-11-17T09:00:00Z",
            &sz,
            "ana",
            &proposed(1, "operations/delay", "ana"),
        )
        .at("2026-11-18T09:00:00Z", &sz, "ana", &closed(3600));
        // Monday: the flight, two signals (one an inquiry), three complaints.
        h.at(
            "2026-11-23T06:00:00Z",
            "flight-LH400-2026-11-23",
            "ops",
            &schedule,
        )
        .at("2026-11-23T08:00:00Z", "signal-1", "channel", &signal(None))
        .at(
            "2026-11-23T08:00:01Z",
            "signal-2",
            "channel",
            &signal(Some("P1")),
        )
        .at(
            "2026-11-23T08:00:02Z",
            &sa,
            "channel",
            &received(a, Tier::Gold, Some(lh400())),
        )
        .at(
            "2026-11-23T08:00:03Z",
            &sb,
            "channel",
            &received(b, Tier::Silver, Some(lh400())),
        )
        .at(
            "2026-11-23T08:00:04Z",
            &sc,
            "channel",
            &received(c, Tier::Gold, None),
        )
        .at("2026-11-23T08:10:00Z", &sa, "ana", &ack("ana"))
        .at("2026-11-23T08:20:00Z", &sa, "ana", &routed)
        .at("2026-11-23T08:30:00Z", &sb, "ben", &ack("ben"))
        .at(
            "2026-11-23T09:00:00Z",
            &sa,
            "ana",
            &proposed(1, "operations/delay", "ana"),
        )
        .at(
            "2026-11-23T09:30:00Z",
            &sb,
            "ben",
            &proposed(1, "baggage/delayed", "ben"),
        );
        // Tuesday: b's deadline passes, a is accepted, b's proposal refused.
        h.at("2026-11-24T08:00:01Z", &sb, "crisisd", &breach)
            .at("2026-11-24T09:00:00Z", &sa, "ana", &closed(90_000))
            .at("2026-11-24T10:00:00Z", &sb, "ben", &reopened);
        // Wednesday: a's responsibility moves on; b is accepted at last.
        h.at("2026-11-25T09:00:00Z", &sa, "lead", &reassigned)
            .at(
                "2026-11-25T10:00:00Z",
                &sb,
                "ben",
                &proposed(2, "baggage/delayed", "ben"),
            )
            .at("2026-11-25T11:00:00Z", &sb, "ben", &closed(180_000));
        h
    }

    fn model(history: &History) -> (tempfile::TempDir, ReadModel) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
        let tree = apply_recorded(&store, &mut Reports, &history.events);
        (dir, tree)
    }

    fn monday() -> NaiveDate {
        "2026-11-23".parse().unwrap()
    }

    #[test]
    fn a_week_counts_each_fact_on_the_day_it_was_recorded() {
        let (_dir, tree) = model(&week());
        let period = Period::containing(PeriodKind::Week, "2026-11-26".parse().unwrap());
        assert_eq!(
            (period.first_day, period.last_day),
            (monday(), "2026-11-29".parse().unwrap())
        );
        let report = report(&tree, period, By::All, "2026-12-01".parse().unwrap()).unwrap();
        assert!(report.complete);
        let t = &report.total;
        assert_eq!(
            (
                t.figures.feedback,
                t.figures.inquiries,
                t.figures.complaints
            ),
            (2, 1, 3)
        );
        assert_eq!(
            (t.figures.proposals, t.figures.resolved, t.figures.reopens),
            (3, 2, 1)
        );
        assert_eq!(
            t.figures.closed_on_time, 1,
            "b breached its resolve deadline"
        );
        assert_eq!(t.figures.breaches, BTreeMap::from([(Tier::Silver, 1)]));
        assert_eq!(
            (t.resolution_rate, t.on_time_rate),
            (Some(0.6667), Some(0.5))
        );
        assert_eq!(t.satisfaction, Some(0.6667));
        assert_eq!(t.average_handling_secs, Some(135_000));
        assert_eq!(
            report.top_root_causes,
            vec![
                CauseTrend {
                    root_cause: cause("baggage/delayed"),
                    resolved: 1,
                    previous: 0,
                    change: 1
                },
                CauseTrend {
                    root_cause: cause("operations/delay"),
                    resolved: 1,
                    previous: 1,
                    change: 0
                },
            ]
        );
        // The day reports add up to the week's.
        let tuesday = Period::containing(PeriodKind::Day, "2026-11-24".parse().unwrap());
        let day = super::report(&tree, tuesday, By::All, monday()).unwrap();
        assert!(!day.complete, "asked on Monday, Tuesday is not over");
        assert_eq!(
            (
                day.total.figures.resolved,
                day.total.figures.reopens,
                day.total.figures.complaints
            ),
            (1, 1, 0)
        );
    }

    #[test]
    fn rows_per_department_agent_tier_channel_and_route() {
        let (_dir, tree) = model(&week());
        let period = Period::containing(PeriodKind::Week, monday());
        let today = "2026-12-01".parse().unwrap();
        let rows = |by| {
            report(&tree, period, by, today)
                .unwrap()
                .rows
                .into_iter()
                .map(|r| (r.value, r.figures.complaints, r.figures.resolved))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            rows(By::Tier),
            vec![("gold".into(), 2, 1), ("silver".into(), 1, 1)]
        );
        assert_eq!(rows(By::Route), vec![("FRA-JFK".into(), 2, 2)]);
        // a was routed to baggage, then its proposal made flight operations
        // responsible: counted there from the proposal on (the move to partners came
        // after it closed, so nothing of this week counts under partners).
        assert_eq!(
            rows(By::Department),
            vec![("flight_operations".into(), 0, 2)]
        );
        // Resolutions count for the agent who proposed them.
        assert_eq!(
            rows(By::Agent),
            vec![("ana".into(), 0, 1), ("ben".into(), 0, 1)]
        );
        assert_eq!(
            rows(By::RootCause),
            vec![
                ("baggage/delayed".into(), 0, 1),
                ("operations/delay".into(), 0, 1)
            ]
        );
        let channels = report(&tree, period, By::Channel, today).unwrap();
        let social = channels
            .rows
            .iter()
            .find(|r| r.value == "social_media")
            .unwrap();
        assert_eq!((social.figures.feedback, social.figures.inquiries), (2, 1));
    }

    #[test]
    fn a_report_for_a_past_period_is_the_same_whenever_it_is_asked_for() {
        let mut history = week();
        let (dir, tree) = model(&history);
        let period = Period::containing(PeriodKind::Month, monday());
        assert_eq!(period.last_day, "2026-11-30".parse::<NaiveDate>().unwrap());
        let today: NaiveDate = "2026-12-02".parse().unwrap();
        let before =
            serde_json::to_string(&report(&tree, period, By::Agent, today).unwrap()).unwrap();
        let csv_before = report_csv(&report(&tree, period, By::Agent, today).unwrap());
        drop((tree, dir));
        // December brings more: a responsibility change and a reopening about November's
        // complaints, a new complaint.
        let (_, sa) = complaint(1);
        let (d, sd) = complaint(4);
        history
            .at(
                "2026-12-01T08:00:00Z",
                &sa,
                "lead",
                &ComplaintEvent::ResponsibilityReassigned(ResponsibilityReassigned {
                    from: Department::Partners,
                    to: Department::Legal,
                    reason: "claim".into(),
                    reassigned_by: "lead".into(),
                    reassigned_at: "2026-12-01T08:00:00Z".parse().unwrap(),
                }),
            )
            .at(
                "2026-12-01T09:00:00Z",
                &sd,
                "channel",
                &received(d, Tier::Gold, None),
            );
        let (_dir, tree) = model(&history);
        let later = serde_json::to_string(
            &report(&tree, period, By::Agent, "2027-03-01".parse().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(before, later);
        assert_eq!(
            csv_before,
            report_csv(&report(&tree, period, By::Agent, today).unwrap())
        );
        let december = Period::containing(PeriodKind::Month, "2026-12-01".parse().unwrap());
        let now = report(&tree, december, By::All, today).unwrap();
        assert_eq!(now.total.figures.complaints, 1);
    }

    /// What a root cause cost: what the entitlement its resolution offered owes from
    /// the proposal on (as recomputed, moved when another proposal names another
    /// cause), and its payment.
    #[test]
    fn compensation_owed_and_paid_count_for_the_root_cause_of_the_resolution_that_offered_it() {
        use crate::domain::common::{Currency, Money};
        use crate::domain::compensation::{
            CompensationComputed, CompensationEvent, CompensationPaid, CompensationRecomputed,
            OfferOption,
        };
        let mut h = week();
        let (e, se) = complaint(5);
        let offered = Uuid::from_u128(77);
        let stream = format!("compensation-{offered}");
        let eur = |minor| Some(Money::new(minor, Currency::EUR));
        let computed = CompensationEvent::Computed(CompensationComputed {
            compensation_id: offered,
            flight: lh400(),
            passenger: crate::domain::common::PassengerId::parse("PAX-1").unwrap(),
            incident_id: None,
            decisions: Vec::new(),
            governing: None,
            governing_reasoning: Vec::new(),
            entitled: eur(40_000),
            payment_deadline: "2026-12-26T08:00:00Z".parse().unwrap(),
            computed_at: "2026-11-26T07:00:00Z".parse().unwrap(),
        });
        let recomputed = CompensationEvent::Recomputed(CompensationRecomputed {
            decisions: Vec::new(),
            governing: None,
            governing_reasoning: Vec::new(),
            entitled: eur(25_000),
            payment_deadline: "2026-12-26T08:00:00Z".parse().unwrap(),
            supersedes: 1,
            previous_entitled: eur(40_000),
            reason: "later arrival report".into(),
            review_required: false,
            recomputed_at: "2026-11-26T08:45:00Z".parse().unwrap(),
        });
        let ComplaintEvent::ResolutionProposed(mut first) = proposed(1, "operations/delay", "ana")
        else {
            unreachable!()
        };
        first.compensation_id = Some(offered);
        let ComplaintEvent::ResolutionProposed(mut p) = proposed(1, "fare/refund", "ana") else {
            unreachable!()
        };
        p.compensation_id = Some(offered);
        let paid = CompensationEvent::Paid(CompensationPaid {
            paid: OfferOption::Cash {
                amount: Money::new(25_000, Currency::EUR),
            },
            reference: "SEPA-1".into(),
            paid_at: "2026-11-26T09:00:00Z".parse().unwrap(),
            late: false,
        });
        h.at("2026-11-26T07:00:00Z", &stream, "crisisd", &computed)
            .at(
                "2026-11-26T08:00:00Z",
                &se,
                "channel",
                &received(e, Tier::Gold, None),
            )
            .at(
                "2026-11-26T08:10:00Z",
                &se,
                "ana",
                &ComplaintEvent::ResolutionProposed(first),
            )
            .at(
                "2026-11-26T08:30:00Z",
                &se,
                "ana",
                &ComplaintEvent::ResolutionProposed(p),
            )
            .at("2026-11-26T08:45:00Z", &stream, "crisisd", &recomputed)
            .at("2026-11-26T09:00:00Z", &stream, "ana", &paid);
        let (_dir, tree) = model(&h);
        let period = Period::containing(PeriodKind::Week, monday());
        let by_cause = report(&tree, period, By::RootCause, "2026-12-01".parse().unwrap()).unwrap();
        let refund = by_cause
            .rows
            .iter()
            .find(|r| r.value == "fare/refund")
            .unwrap();
        assert_eq!(
            refund.figures.compensation_paid,
            BTreeMap::from([(Currency::EUR, 25_000)])
        );
        assert_eq!(
            refund.figures.compensation_owed,
            BTreeMap::from([(Currency::EUR, 25_000)])
        );
        assert_eq!(refund.figures.proposals, 1);
        let delay = by_cause
            .rows
            .iter()
            .find(|r| r.value == "operations/delay")
            .unwrap();
        assert_eq!(
            delay.figures.compensation_owed,
            BTreeMap::from([(Currency::EUR, 0)])
        );
        // The whole week owes what the entitlement owes now; the CSV says it per currency.
        let all = report(&tree, period, By::All, "2026-12-01".parse().unwrap()).unwrap();
        assert_eq!(
            all.total.figures.compensation_owed,
            BTreeMap::from([(Currency::EUR, 25_000)])
        );
        let csv = report_csv(&by_cause);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(
            lines[0].ends_with(",owed_EUR,paid_EUR,care_EUR"),
            "{}",
            lines[0]
        );
        let refund_line = lines.iter().find(|l| l.contains(",fare/refund,")).unwrap();
        assert!(refund_line.ends_with(",25000,25000,0"), "{refund_line}");
        // What counts under each cause, for its cause-to-cost page.
        assert_eq!(
            under_cause(&tree, &cause("fare/refund")).unwrap(),
            (vec![e], vec![offered])
        );
        let (complaints, offered_under_delay) =
            under_cause(&tree, &cause("operations/delay")).unwrap();
        assert!(
            !complaints.contains(&e),
            "its later proposal named another cause"
        );
        assert_eq!(offered_under_delay, Vec::<Uuid>::new());
    }

    #[test]
    fn the_csv_has_a_row_per_value_and_the_total_last() {
        let (_dir, tree) = model(&week());
        let period = Period::containing(PeriodKind::Week, monday());
        let csv =
            report_csv(&report(&tree, period, By::Tier, "2026-12-01".parse().unwrap()).unwrap());
        let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 4, "{csv}");
        assert!(lines[0].starts_with("period,first_day,last_day,by,value,feedback"));
        assert_eq!(
            lines[3],
            "week,2026-11-23,2026-11-29,tier,*,2,1,3,3,2,1,1,270000,0.6667,0.5,0.6667,135000,,0,0,0,0,0,1,0"
        );
    }
}
