//! Synthetic but valid crisis histories, for load tests and benchmarks.
//!
//! Scenario `n` is one disrupted flight: signals from the channels, an incident the
//! crisis team walks through the pipeline (how far depends on `n`, so some stay open at
//! every stage), passengers registered, contacted, surveyed and compensated under the
//! real compensation policy, and complaints through their loop. Every event comes from
//! the domain's own `decide`, so histories are exactly as valid as real ones; a refused
//! command is a bug in this generator and panics.
//!
//! Deterministic: the same `n` and start give the same events (ids included), apart
//! from the store's own event ids. Ids and passengers include the start, so runs with
//! different starts never write into each other's streams.
//!
//! [`day`](super::day) is the other side of the same world: the ingest messages of a day
//! of operations, as `crisisd simulate` sends them.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::app::command::store_actor;
use crate::domain::common::{
    Actor, AirportCode, Category, Channel, Currency, FlightKey, Money, PassengerId, PersonalData,
    Role, Settlement, Severity, Tier,
};
use crate::domain::compensation::{self, CompensationCommand, OfferOption};
use crate::domain::complaint::{self, ComplaintCommand, Department, RemedySought};
use crate::domain::incident::{self, IncidentCommand as I, *};
use crate::domain::passenger::{self, ContactConsent, ContactDetails, PassengerCommand};
use crate::domain::policy::compensation::*;
use crate::domain::policy::compensation_policy::CompensationPolicy;
use crate::domain::signal::{self, SignalCommand};
use crate::domain::{Aggregate, Context, DomainEvent};
use crate::store::NewEvent;

/// Passengers per scenario.
const PASSENGERS: u32 = 8;
/// Signals per scenario.
const SIGNALS: u32 = 12;
/// Complaints per scenario.
const COMPLAINTS: u32 = 3;
const NAMESPACE: Uuid = Uuid::from_u128(0x3b0c_55e1_7f0a_4d52_a8c4_1e2f_9d6b_0c11);

/// The events of one stream produced by one command, in order.
pub struct Step {
    pub stream: String,
    pub events: Vec<NewEvent>,
}

/// Builds one aggregate's history through its `decide`.
struct Script<A: Aggregate> {
    stream: String,
    state: A,
}

impl<A: Aggregate> Script<A>
where
    A::Command: std::fmt::Debug,
    A::Error: std::fmt::Debug,
{
    fn new(stream: String) -> Self {
        Script {
            stream,
            state: A::default(),
        }
    }

    fn run(&mut self, steps: &mut Vec<Step>, command: A::Command, ctx: &Context) {
        let events = self.state.decide(&command, ctx).unwrap_or_else(|err| {
            panic!("workload bug: {} refused {command:?}: {err:?}", self.stream)
        });
        let actor = store_actor(&ctx.actor);
        let mut new = Vec::with_capacity(events.len());
        for event in events {
            new.push(NewEvent::new(
                event.event_type(),
                event.to_data(),
                actor.clone(),
                ctx.now,
            ));
            self.state = std::mem::take(&mut self.state).evolve(&event);
        }
        steps.push(Step {
            stream: self.stream.clone(),
            events: new,
        });
    }
}

/// A deterministic id, unique per workload start, scenario and index (`kind` is
/// `incident`, `signal`, `complaint`, `contact`, `survey`, `assignment`, `improvement`).
pub fn uuid(start: DateTime<Utc>, kind: &str, n: u64, i: u32) -> Uuid {
    let name = format!("{kind}/{}/{n}/{i}", start.timestamp_micros());
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

fn actor(role: Role, n: u64) -> Actor {
    let id = match role {
        Role::CrisisLead => format!("lead-{}", n % 5),
        Role::Agent => format!("agent-{}", n % 17),
        _ => format!("{role:?}-1").to_lowercase(),
    };
    Actor { id, role }
}

const TIERS: [Tier; 5] = [
    Tier::Diamond,
    Tier::Platinum,
    Tier::Gold,
    Tier::Silver,
    Tier::None,
];
const CHANNELS: [Channel; 4] = [
    Channel::SocialMedia,
    Channel::Hotline,
    Channel::Email,
    Channel::App,
];

/// Scenario `n`, starting at `start + n minutes`, as the commands' steps in order.
pub fn scenario(n: u64, start: DateTime<Utc>) -> Vec<Step> {
    let t0 = start + Duration::minutes(i64::try_from(n).unwrap_or(i64::MAX / 60_000));
    let at = |minute: i64| t0 + Duration::minutes(minute);
    let lead = |minute| Context::new(at(minute), actor(Role::CrisisLead, n));
    let agent = |minute| Context::new(at(minute), actor(Role::Agent, n));
    let date = t0.date_naive();
    let flight = FlightKey::new("LH", &(400 + n % 9_000).to_string(), date)
        .expect("generated flight keys are valid");
    let passengers: Vec<(PassengerId, Tier)> = (0..PASSENGERS)
        .map(|i| {
            (
                PassengerId(format!("P{}-{n}-{i}", start.timestamp())),
                TIERS[(n as usize + i as usize) % 5],
            )
        })
        .collect();
    let mut steps = Vec::new();

    // Passengers.
    for (passenger, tier) in &passengers {
        let mut script = Script::<passenger::Passenger>::new(passenger::stream_name(passenger));
        let register = PassengerCommand::RegisterPassenger {
            passenger_id: passenger.clone(),
            tier: *tier,
            contact: ContactDetails {
                name: PersonalData(format!("Passenger {}", passenger.0)),
                email: Some(PersonalData(format!("{}@example.org", passenger.0))),
                phone: None,
                language: Some("en-GB".into()),
            },
            consent: ContactConsent {
                email: true,
                ..ContactConsent::default()
            },
        };
        script.run(&mut steps, register, &agent(0));
    }

    // Signals from the channels.
    let signal_ids: Vec<Uuid> = (0..SIGNALS).map(|i| uuid(start, "signal", n, i)).collect();
    for (i, signal_id) in signal_ids.iter().enumerate() {
        let mut script = Script::<signal::Signal>::new(signal::stream_name(*signal_id));
        let record = SignalCommand::RecordSignal {
            signal_id: *signal_id,
            channel: CHANNELS[i % CHANNELS.len()],
            category: Category::Delay,
            severity: Severity::Medium,
            flight: Some(flight.clone()),
            passenger: Some(passengers[i % passengers.len()].0.clone()),
            reach: 1 + (n * 37 + i as u64 * 101) % 5_000,
            summary: PersonalData("flight late again".into()),
            source_ref: Some(format!("msg-{n}-{i}")),
            observed_at: at(i as i64),
            kind: None,
        };
        script.run(&mut steps, record, &agent(i as i64));
    }

    // The incident, as far through the pipeline as this scenario goes.
    let incident_id = uuid(start, "incident", n, 0);
    let mut inc = Script::<incident::Incident>::new(incident::stream_name(incident_id));
    let last_stage = n % 8; // 0: monitor … 6: review, 7: closed
    inc.run(
        &mut steps,
        I::OpenIncident {
            incident_id,
            title: format!("LH{} delay", 400 + n % 9_000),
            category: Category::Delay,
            severity: Severity::High,
            flight: Some(flight.clone()),
            correlation_key: None,
            signal_ids: signal_ids[..4].to_vec(),
        },
        &lead(15),
    );
    inc.run(
        &mut steps,
        I::AssignRole {
            assignment_id: uuid(start, "assignment", n, 0),
            role: IncidentRole::CrisisLead,
            person: actor(Role::CrisisLead, n).id,
            from: at(15),
            until: None,
        },
        &lead(15),
    );
    inc.run(
        &mut steps,
        I::AssignRole {
            assignment_id: uuid(start, "assignment", n, 1),
            role: IncidentRole::CustomerCare,
            person: actor(Role::Agent, n).id,
            from: at(16),
            until: Some(at(16 + 8 * 60)),
        },
        &lead(16),
    );
    if last_stage >= 1 {
        let mut by_tier = PassengersByTier::default();
        for (_, tier) in &passengers {
            match tier {
                Tier::Diamond => by_tier.diamond += 1,
                Tier::Platinum => by_tier.platinum += 1,
                Tier::Gold => by_tier.gold += 1,
                Tier::Silver => by_tier.silver += 1,
                Tier::None => by_tier.none += 1,
            }
        }
        inc.run(&mut steps, I::StartAssessment, &lead(20));
        let impact = ImpactAssessment {
            passengers: by_tier,
            operations: ImpactLevel::Medium,
            operations_note: "aircraft swap".into(),
            reputation: ImpactLevel::High,
            reputation_note: "trending on social media".into(),
        };
        inc.run(&mut steps, I::AssessImpact { impact }, &lead(25));
    }
    if last_stage >= 2 {
        inc.run(&mut steps, I::StartPlanning, &lead(30));
        let plan = CommunicationPlan {
            content: "apology, new departure time, care vouchers".into(),
            channels: [CommChannel::Sms, CommChannel::Email].into(),
        };
        inc.run(
            &mut steps,
            I::DraftCommunicationPlan {
                plan,
                template: None,
            },
            &lead(32),
        );
        let plan = incident::CompensationPlan {
            summary: "EU 261 art. 7 cash to every passenger".into(),
            goodwill: Some("2,000 miles".into()),
            budget: Some(Money::new(60_000 * u64::from(PASSENGERS), Currency::EUR)),
        };
        inc.run(&mut steps, I::DraftCompensationPlan { plan }, &lead(34));
    }
    if last_stage >= 3 {
        inc.run(
            &mut steps,
            I::ApproveCommunicationPlan { version: 1 },
            &lead(40),
        );
        inc.run(
            &mut steps,
            I::ApproveCompensationPlan { version: 1 },
            &lead(41),
        );
    }

    // Compensation entitlements, computed for every passenger once the flight is late.
    let compensation_ids: Vec<Uuid> = passengers
        .iter()
        .map(|(p, _)| compensation::compensation_id(&flight, p))
        .collect();
    for (i, ((passenger, tier), id)) in passengers.iter().zip(&compensation_ids).enumerate() {
        let mut comp = Script::<compensation::Compensation>::new(compensation::stream_name(*id));
        let decisions = decide(
            &fra_jfk_delay(*tier, true, at(45)),
            &CompensationPolicy::default_policy(),
        );
        let entitled = decisions
            .iter()
            .find(|d| d.regime == Regime::Eu261)
            .map(|d| d.entitled())
            .expect("EU 261 governs a departure from FRA");
        comp.run(
            &mut steps,
            CompensationCommand::ComputeEntitlement {
                compensation_id: *id,
                flight: flight.clone(),
                passenger: passenger.clone(),
                incident_id: Some(incident_id),
                decisions,
                governing: Some(Regime::Eu261),
                governing_reasoning: vec![],
            },
            &agent(45),
        );
        if last_stage >= 4 {
            let cash = OfferOption::Cash { amount: entitled };
            let offer = CompensationCommand::OfferCompensation {
                options: vec![cash.clone()],
            };
            comp.run(&mut steps, offer, &agent(60));
            match i % 4 {
                // Accepted, payment still outstanding (until the incident closes).
                2 if last_stage < 7 => comp.run(
                    &mut steps,
                    CompensationCommand::AcceptOffer { choice: cash },
                    &agent(90),
                ),
                3 => comp.run(
                    &mut steps,
                    CompensationCommand::DeclineOffer {
                        reason: "prefers to claim in court".into(),
                    },
                    &agent(90),
                ),
                _ => {
                    comp.run(
                        &mut steps,
                        CompensationCommand::AcceptOffer { choice: cash },
                        &agent(90),
                    );
                    comp.run(
                        &mut steps,
                        CompensationCommand::RecordPayment {
                            reference: format!("PAY-{n}-{i}"),
                        },
                        &agent(24 * 60),
                    );
                }
            }
        }
    }

    if last_stage >= 4 {
        inc.run(&mut steps, I::StartExecution, &lead(50));
        inc.run(
            &mut steps,
            I::PublishInformation {
                channel: CommChannel::Sms,
                content: "new departure 18:00".into(),
            },
            &lead(51),
        );
        for (i, ((passenger, _), compensation_id)) in
            passengers.iter().zip(&compensation_ids).enumerate()
        {
            let contact_id = uuid(start, "contact", n, i as u32);
            let method = ContactMethod::Email;
            let plan = I::PlanContact {
                contact_id,
                passenger: passenger.clone(),
                method,
                mandatory_notice: false,
            };
            inc.run(&mut steps, plan, &agent(52));
            let outcome = [ContactOutcome::Reached, ContactOutcome::LeftMessage][i % 2];
            let record = I::RecordContactOutcome {
                contact_id,
                outcome,
                note: String::new().into(),
            };
            inc.run(&mut steps, record, &agent(70));
            let link = I::LinkCompensation {
                compensation_id: *compensation_id,
                passenger: passenger.clone(),
            };
            inc.run(&mut steps, link, &agent(71));
        }
    }
    if last_stage >= 5 {
        inc.run(&mut steps, I::StartFollowUp, &lead(3 * 60));
        for (i, (passenger, _)) in passengers.iter().enumerate().take(4) {
            let survey_id = uuid(start, "survey", n, i as u32);
            let send = I::SendSurvey {
                survey_id,
                passenger: passenger.clone(),
                method: SurveyMethod::Email,
            };
            inc.run(&mut steps, send, &agent(3 * 60));
            if i < 3 {
                let score = 1 + ((n + i as u64) % 5) as u8;
                let answer = I::RecordSatisfaction { survey_id, score };
                inc.run(&mut steps, answer, &agent(2 * 24 * 60));
            }
        }
    }
    if last_stage >= 6 {
        inc.run(&mut steps, I::StartReview, &lead(3 * 24 * 60));
        let lesson = "swap aircraft earlier when the inbound is late".into();
        inc.run(
            &mut steps,
            I::RecordLesson {
                lesson,
                knowledge: Vec::new(),
            },
            &lead(3 * 24 * 60),
        );
        let improvement = Improvement {
            description: "alert ops at 60 min inbound delay".into(),
            owner: "ops-planning".into(),
            due: None,
            knowledge: Vec::new(),
        };
        let record = I::RecordImprovement {
            improvement_id: uuid(start, "improvement", n, 0),
            improvement,
        };
        inc.run(&mut steps, record, &lead(3 * 24 * 60));
    }
    if last_stage >= 7 {
        for (i, compensation_id) in compensation_ids.iter().enumerate() {
            let settlement = match i % 4 {
                3 => Settlement::Declined,
                _ => Settlement::Paid,
            };
            let settle = I::RecordCompensationSettlement {
                compensation_id: *compensation_id,
                settlement,
            };
            inc.run(&mut steps, settle, &lead(3 * 24 * 60));
        }
        let close = I::CloseIncident {
            summary: "all passengers reached and compensated".into(),
        };
        inc.run(&mut steps, close, &lead(3 * 24 * 60 + 1));
    }

    // Complaints through their loop; how far depends on the complaint.
    for c in 0..COMPLAINTS {
        let complaint_id = uuid(start, "complaint", n, c);
        let (passenger, tier) = &passengers[c as usize];
        let mut script = Script::<complaint::Complaint>::new(complaint::stream_name(complaint_id));
        let receive = ComplaintCommand::ReceiveComplaint {
            complaint_id,
            channel: CHANNELS[(n as usize + c as usize) % CHANNELS.len()],
            passenger: passenger.clone(),
            tier: *tier,
            category: Category::Delay,
            remedy_sought: RemedySought::Compensation,
            description: PersonalData("four hours late and nobody told us".into()),
            incident_id: Some(incident_id),
            flight: Some(flight.clone()),
            received_at: None,
        };
        let base = 30 + i64::from(c) * 7;
        script.run(&mut steps, receive, &agent(base));
        let depth = (n + u64::from(c)) % 6;
        if depth >= 1 {
            let apology = "We are sorry for the delay".into();
            let ack = ComplaintCommand::AcknowledgeComplaint { apology };
            script.run(&mut steps, ack, &agent(base + 10 + (n % 50) as i64));
        }
        if depth >= 2 {
            let route = ComplaintCommand::RouteComplaint {
                departments: [Department::CustomerCare, Department::Refunds].into(),
            };
            script.run(&mut steps, route, &agent(base + 90));
        }
        if depth >= 3 {
            let resolution = "EU 261 compensation paid".into();
            let propose = ComplaintCommand::ProposeResolution {
                resolution,
                compensation_id: Some(compensation_ids[c as usize]),
                root_cause: crate::domain::common::RootCause::parse("operations/delay")
                    .expect("a valid code"),
                responsible: Department::FlightOperations,
            };
            script.run(&mut steps, propose, &agent(base + 5 * 60));
        }
        if depth == 4 {
            let reason = "wants a voucher too".into();
            let reopen = ComplaintCommand::ReportDissatisfaction { reason };
            script.run(&mut steps, reopen, &agent(base + 24 * 60));
        }
        if depth == 5 {
            let comment = "thanks".into();
            let close = ComplaintCommand::ConfirmSatisfaction { comment };
            script.run(&mut steps, close, &agent(base + 24 * 60));
        }
    }
    steps
}

/// A 4 h delay FRA → JFK on a large EU carrier, caused by the carrier: the compensation
/// input the scenarios and tests decide on.
pub fn fra_jfk_delay(
    tier: Tier,
    passenger_accepted_change: bool,
    decided_at: DateTime<Utc>,
) -> CompensationInput {
    CompensationInput {
        origin: AirportCode::parse("FRA").expect("valid"),
        destination: AirportCode::parse("JFK").expect("valid"),
        origin_country: "DE".into(),
        destination_country: "US".into(),
        distance_km: 6_200,
        carrier: "LH".into(),
        carrier_listed: true,
        carrier_home: CarrierHome::Eu,
        carrier_size: CarrierSize::Large,
        disruption: Disruption::Delay {
            departure_delay_minutes: 240,
            arrival_delay_minutes: 240,
            overnight: false,
        },
        controllability: crate::domain::flight::Controllability::CarrierCaused,
        controllability_overridden: false,
        delays: Default::default(),
        diversion: None,
        fare: None,
        passenger_accepted_change,
        payment_method: PaymentMethod::Card,
        tier,
        decided_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_and_loop_position_occurs_and_nothing_is_refused() {
        let start = DateTime::parse_from_rfc3339("2026-11-22T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut types = std::collections::BTreeSet::new();
        let mut events = 0;
        for n in 0..48 {
            for step in scenario(n, start) {
                events += step.events.len();
                types.extend(step.events.iter().map(|e| e.event_type.clone()));
            }
        }
        assert!(events > 48 * 60, "{events} events");
        for expected in [
            "incident.closed",
            "incident.review_started",
            "incident.satisfaction_recorded",
            "compensation.paid",
            "compensation.declined",
            "complaint.closed",
            "complaint.reopened",
            "signal.recorded",
            "passenger.registered",
        ] {
            assert!(types.contains(expected), "no {expected} in {types:?}");
        }
    }
}
