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
//! [`day`] is the other side of the same world: a day of operations as the ingest
//! messages flight ops and the channels send (schedules, manifests, delays with their
//! IATA codes, a storm's cancellations and rebookings, departures, arrivals, and the
//! customers' complaints, inquiries and suggestions with two spikes), for `crisisd
//! simulate` and anything else that wants realistic ingest. Its pieces — [`Rng`], the
//! routes ([`SPOKES`], [`HUBS`]), [`DELAY_CAUSES`], [`tier`], [`FEEDBACK_CHANNELS`],
//! [`Post`] — serve benchmarks too. It is seeded by a portable generator, so the same
//! [`DayConfig`] gives the same bytes on every machine.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::app::command::store_actor;
use crate::domain::common::{
    Actor, AirportCode, Category, Channel, Currency, FeedbackKind, FlightKey, Money, PassengerId,
    PersonalData, Role, Settlement, Severity, Tier,
};
use crate::domain::compensation::{self, CompensationCommand, OfferOption};
use crate::domain::complaint::{self, ComplaintCommand, Department, RemedySought};
use crate::domain::flight::FlightStatus;
use crate::domain::incident::{self, IncidentCommand as I, *};
use crate::domain::ingest::{
    DelayEntry, FeedbackMessageV1, FlightOpsMessageV1, FlightRef, ManifestMessageV1,
    ManifestPassengerV1,
};
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

// A day of operations as ingest messages: what `crisisd simulate` sends.

/// A small portable pseudo-random generator (SplitMix64): the same seed gives the same
/// numbers on every platform and with every version of every crate, so a simulated day
/// is reproducible from its seed alone.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: i64, high: i64) -> i64 {
        let span = (high - low).max(0) as u64 + 1;
        low + (self.next_u64() % span) as i64
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

/// A loyalty tier in the proportions of a large carrier's passengers: most have none.
pub fn tier(rng: &mut Rng) -> Tier {
    match rng.range(0, 99) {
        0..=1 => Tier::Diamond,
        2..=6 => Tier::Platinum,
        7..=18 => Tier::Gold,
        19..=38 => Tier::Silver,
        _ => Tier::None,
    }
}

/// Every customer channel that sends feedback.
pub const FEEDBACK_CHANNELS: [Channel; 5] = [
    Channel::SocialMedia,
    Channel::Hotline,
    Channel::Email,
    Channel::Web,
    Channel::App,
];

/// The hubs the simulated airline flies from; the storm hits the first.
pub const HUBS: [&str; 2] = ["FRA", "MUC"];

/// A destination served from the hubs: block time from the hub (minutes), seats of the
/// aircraft flying it, and an economy fare (EUR).
#[derive(Debug, Clone, Copy)]
pub struct Spoke {
    pub airport: &'static str,
    pub block_minutes: i64,
    pub seats: u32,
    pub fare_eur: u64,
}

const fn spoke(airport: &'static str, block_minutes: i64, seats: u32, fare_eur: u64) -> Spoke {
    Spoke {
        airport,
        block_minutes,
        seats,
        fare_eur,
    }
}

/// Where the hubs fly: short, medium and long haul.
pub const SPOKES: [Spoke; 16] = [
    spoke("LHR", 100, 180, 189),
    spoke("CDG", 75, 180, 169),
    spoke("AMS", 70, 150, 159),
    spoke("VIE", 80, 150, 149),
    spoke("CPH", 85, 150, 159),
    spoke("BER", 65, 180, 119),
    spoke("HAM", 60, 180, 109),
    spoke("MAD", 150, 180, 219),
    spoke("BCN", 125, 180, 199),
    spoke("FCO", 115, 180, 209),
    spoke("LIS", 185, 180, 239),
    spoke("DXB", 380, 280, 689),
    spoke("JFK", 520, 300, 799),
    spoke("ORD", 560, 290, 829),
    spoke("SFO", 680, 300, 949),
    spoke("NRT", 700, 300, 1_049),
];

/// An IATA AHM 730 delay code, the reason flight ops gives for it, and its usual minutes.
#[derive(Debug, Clone, Copy)]
pub struct DelayCause {
    pub code: &'static str,
    pub reason: &'static str,
    pub minutes: (u32, u32),
}

const fn cause(code: &'static str, reason: &'static str, low: u32, high: u32) -> DelayCause {
    DelayCause {
        code,
        reason,
        minutes: (low, high),
    }
}

/// The everyday delays, carrier-caused and extraordinary alike.
pub const DELAY_CAUSES: [DelayCause; 7] = [
    cause("93", "late inbound aircraft", 25, 90),
    cause("81", "ATFM restriction en route (ATC capacity)", 20, 70),
    cause("63", "late crew boarding", 15, 45),
    cause("15", "boarding: missing passengers, bags offloaded", 10, 30),
    cause(
        "87",
        "airport facilities: jet bridge out of service",
        15,
        40,
    ),
    cause("41", "aircraft defect: hydraulic leak", 40, 150),
    cause("72", "weather at destination", 20, 80),
];
/// The technical defect that grounds one aircraft for hours (and makes a spike).
const LONG_DELAY: DelayCause = cause(
    "41",
    "aircraft defect: engine bleed valve replaced",
    200,
    300,
);
/// The storm's cause: weather at the departure station.
const STORM: DelayCause = cause(
    "71",
    "thunderstorms over the hub: runway capacity cut by ATC",
    120,
    180,
);

const FIRST_NAMES: [&str; 16] = [
    "Anna", "Ben", "Chloé", "David", "Elif", "Farid", "Greta", "Hiro", "Inês", "Jonas", "Kofi",
    "Lena", "Marta", "Noah", "Olga", "Pavel",
];
const LAST_NAMES: [&str; 16] = [
    "Almeida",
    "Berg",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hoffmann",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Müller",
    "Novak",
    "O'Brien",
    "Petrov",
];

/// What to simulate: `flights` flights on the 24 hours that end at `end`, each
/// manifest listing `passengers` of its passengers. The four name the day: the same
/// four give the same messages, ids included, and each is in the ids (a message id
/// names one message: a day of another shape never reuses one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayConfig {
    pub seed: u64,
    pub end: DateTime<Utc>,
    pub flights: u32,
    pub passengers: u32,
}

/// The ingest formats, as subject tokens (`crisis.ingest.<token>`) and HTTP paths
/// (`/v1/ingest/<token>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IngestKind {
    FlightOps,
    Manifest,
    Feedback,
}

impl IngestKind {
    pub const ALL: [IngestKind; 3] = [
        IngestKind::FlightOps,
        IngestKind::Manifest,
        IngestKind::Feedback,
    ];

    pub fn token(self) -> &'static str {
        match self {
            IngestKind::FlightOps => "flightops",
            IngestKind::Manifest => "manifest",
            IngestKind::Feedback => "feedback",
        }
    }
}

/// What a message stands for in the day's story.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Beat {
    Schedule,
    Manifest,
    Delay,
    Cancellation,
    Rebooking,
    Departure,
    Arrival,
    Complaint,
    Inquiry,
    Suggestion,
}

impl Beat {
    pub fn name(self) -> &'static str {
        match self {
            Beat::Schedule => "schedules",
            Beat::Manifest => "manifests",
            Beat::Delay => "delays",
            Beat::Cancellation => "cancellations",
            Beat::Rebooking => "rebookings",
            Beat::Departure => "departures",
            Beat::Arrival => "arrivals",
            Beat::Complaint => "complaints",
            Beat::Inquiry => "inquiries",
            Beat::Suggestion => "suggestions",
        }
    }
}

/// One message of the day: when it happens (the simulated time it carries), its
/// format, its part in the story and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub at: DateTime<Utc>,
    pub kind: IngestKind,
    pub beat: Beat,
    pub source_message_id: String,
    pub body: Vec<u8>,
}

/// The storm: at `at` it cancels the bank of flights leaving `hub` in the next hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storm {
    pub hub: &'static str,
    pub at: DateTime<Utc>,
    pub cancelled: Vec<FlightKey>,
}

/// A burst of posts about one flight, enough for crisisd's spike detector (by default 5
/// signals on one flight and category within 30 minutes) to open an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spike {
    pub flight: FlightKey,
    pub category: Category,
    pub posts: u32,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// A simulated day: its messages in the order they happen, and the story they tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    /// What every source message id of the day starts with (`sim-<seed>-…`).
    pub run: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub messages: Vec<Planned>,
    pub storm: Storm,
    pub spikes: Vec<Spike>,
    /// The delayed flights, the long delay first.
    pub delayed: Vec<FlightKey>,
}

/// The day's 24 hours end at `end`; its messages are built as typed ingest messages
/// (so their fields are the formats'), stamped with their simulated times (never after
/// `end`), sorted by time, then numbered: `sim-<seed>-<flights>x<passengers>-<end>-<n>`.
pub fn day(config: &DayConfig) -> Day {
    let mut builder = DayBuilder::new(config);
    builder.flights();
    builder.story();
    builder.finish()
}

#[derive(Debug, Clone)]
struct SimPassenger {
    reference: String,
    name: String,
    tier: Tier,
    class: &'static str,
    fare_eur: u64,
    final_destination: Option<&'static str>,
    consent: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    OnTime { off_block: i64, on_block: i64 },
    Delayed { cause: DelayCause, minutes: u32 },
    Cancelled,
}

#[derive(Debug, Clone)]
struct SimFlight {
    key: FlightKey,
    origin: &'static str,
    destination: &'static str,
    departure: DateTime<Utc>,
    arrival: DateTime<Utc>,
    passenger_count: u32,
    passengers: Vec<SimPassenger>,
    fate: Fate,
    /// When passengers are told of the delay or the cancellation.
    notice: DateTime<Utc>,
    schedule_at: DateTime<Utc>,
    manifest_at: DateTime<Utc>,
}

struct DayBuilder<'a> {
    config: &'a DayConfig,
    rng: Rng,
    start: DateTime<Utc>,
    flights: Vec<SimFlight>,
    taken: std::collections::HashSet<String>,
    storm_at: DateTime<Utc>,
    storm_flights: usize,
    spikes: Vec<Spike>,
    messages: Vec<(DateTime<Utc>, IngestKind, Beat, serde_json::Value)>,
}

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

impl<'a> DayBuilder<'a> {
    fn new(config: &'a DayConfig) -> Self {
        let end = config.end;
        let mixed = config.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ end.timestamp() as u64;
        let mut rng = Rng::new(mixed);
        let start = end - Duration::hours(24);
        let storm_at = start + Duration::hours(14) + minutes(rng.range(0, 24) * 5);
        DayBuilder {
            config,
            rng,
            start,
            flights: Vec::new(),
            taken: Default::default(),
            storm_at,
            storm_flights: (config.flights as usize / 10).max(2),
            spikes: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// The storm's bank leaves the first hub within hours of it; the long delay is a
    /// short-haul flight in the morning (so it lands, late, within the day); the rest
    /// leave any time from four hours into the day to an hour before its end.
    fn flights(&mut self) {
        let total = self.config.flights as usize;
        for i in 0..total {
            let (departure, from_hub) = if i < self.storm_flights {
                let at = self.storm_at + minutes(45 + self.rng.range(0, 24) * 5);
                (at, Some(HUBS[0]))
            } else if i == self.storm_flights {
                let at = self.start + Duration::hours(5) + minutes(self.rng.range(0, 48) * 5);
                (at, None)
            } else {
                let span = (24 - 4 - 1) * 12;
                let at = self.start + Duration::hours(4) + minutes(self.rng.range(0, span) * 5);
                (at, None)
            };
            let short_haul = i == self.storm_flights;
            let flight = self.flight(departure, from_hub, short_haul);
            self.flights.push(flight);
        }
        for i in 0..total {
            let fate = if i < self.storm_flights {
                Fate::Cancelled
            } else if i == self.storm_flights {
                let minutes = self
                    .rng
                    .range(LONG_DELAY.minutes.0.into(), LONG_DELAY.minutes.1.into());
                Fate::Delayed {
                    cause: LONG_DELAY,
                    minutes: minutes as u32,
                }
            } else if self.rng.chance(22) {
                let cause = *self.rng.pick(&DELAY_CAUSES);
                let minutes = self
                    .rng
                    .range(cause.minutes.0.into(), cause.minutes.1.into());
                Fate::Delayed {
                    cause,
                    minutes: minutes as u32,
                }
            } else {
                Fate::OnTime {
                    off_block: self.rng.range(-3, 9),
                    on_block: self.rng.range(-12, 8),
                }
            };
            let notice = match fate {
                Fate::Cancelled => self.storm_at + minutes(self.rng.range(0, 20)),
                _ => self.flights[i].departure - minutes(self.rng.range(20, 60)),
            };
            let flight = &mut self.flights[i];
            flight.fate = fate;
            flight.notice = notice;
        }
    }

    fn flight(
        &mut self,
        departure: DateTime<Utc>,
        from_hub: Option<&'static str>,
        short_haul: bool,
    ) -> SimFlight {
        let hub = from_hub.unwrap_or_else(|| *self.rng.pick(&HUBS));
        let spokes: &[Spoke] = if short_haul { &SPOKES[..11] } else { &SPOKES };
        let spoke = *self.rng.pick(spokes);
        let outbound = from_hub.is_some() || self.rng.chance(55);
        let (origin, destination) = if outbound {
            (hub, spoke.airport)
        } else {
            (spoke.airport, hub)
        };
        let block = spoke.block_minutes + if hub == "MUC" { 5 } else { 0 };
        let carrier = if spoke.block_minutes < 200 && self.rng.chance(20) {
            "EW"
        } else {
            "LH"
        };
        let key = loop {
            let number = self.rng.range(1000, 9999).to_string();
            let key = FlightKey::new(carrier, &number, departure.date_naive())
                .expect("generated flight keys are valid");
            if self.taken.insert(key.to_string()) {
                break key;
            }
        };
        let passenger_count = spoke.seats * self.rng.range(70, 98) as u32 / 100;
        let listed = self.config.passengers.min(passenger_count).max(1);
        let passengers = (0..listed)
            .map(|_| self.passenger(&spoke, outbound, origin))
            .collect();
        let schedule_at =
            (self.start + minutes(self.rng.range(0, 20))).max(departure - Duration::hours(8));
        SimFlight {
            key,
            origin,
            destination,
            departure,
            arrival: departure + minutes(block),
            passenger_count,
            passengers,
            fate: Fate::OnTime {
                off_block: 0,
                on_block: 0,
            },
            notice: departure,
            schedule_at,
            manifest_at: (schedule_at + minutes(15)).max(departure - Duration::hours(3)),
        }
    }

    fn passenger(&mut self, spoke: &Spoke, outbound: bool, origin: &str) -> SimPassenger {
        let reference = loop {
            let reference = format!("FF{:010}", self.rng.next_u64() % 10_000_000_000);
            if self.taken.insert(reference.clone()) {
                break reference;
            }
        };
        let name = format!(
            "{} {}",
            self.rng.pick(&FIRST_NAMES),
            self.rng.pick(&LAST_NAMES)
        );
        let business = self.rng.chance(12);
        // Feeder passengers into the hub often fly on, long haul.
        let final_destination = (!outbound && self.rng.chance(30))
            .then(|| self.rng.pick(&SPOKES[11..]).airport)
            .filter(|airport| *airport != origin);
        let mut consent = Vec::new();
        for (channel, percent) in [("email", 80), ("sms", 50), ("app_push", 30), ("phone", 10)] {
            if self.rng.chance(percent) {
                consent.push(channel.to_owned());
            }
        }
        SimPassenger {
            reference,
            name,
            tier: tier(&mut self.rng),
            class: if business { "J" } else { "Y" },
            fare_eur: if business {
                spoke.fare_eur * 7 / 2
            } else {
                spoke.fare_eur
            },
            final_destination,
            consent,
        }
    }

    /// Every flight's messages, then the feedback the day brings.
    fn story(&mut self) {
        let flights = std::mem::take(&mut self.flights);
        for (i, flight) in flights.iter().enumerate() {
            self.flight_messages(flight);
            self.flight_feedback(flight, i);
        }
        self.background_feedback(&flights);
        self.flights = flights;
    }

    fn push(
        &mut self,
        at: DateTime<Utc>,
        kind: IngestKind,
        beat: Beat,
        body: impl serde::Serialize,
    ) {
        let mut value = serde_json::to_value(body).expect("ingest messages serialize");
        strip_nulls(&mut value);
        self.messages.push((at, kind, beat, value));
    }

    fn post(&mut self, post: Post<'_>) {
        let beat = match post.kind {
            FeedbackKind::Complaint => Beat::Complaint,
            FeedbackKind::Inquiry => Beat::Inquiry,
            FeedbackKind::Suggestion => Beat::Suggestion,
        };
        self.push(post.received_at, IngestKind::Feedback, beat, post.message());
    }

    fn flight_messages(&mut self, flight: &SimFlight) {
        let mut picture = FlightOpsMessageV1 {
            v: 1,
            source_message_id: String::new(),
            carrier: flight.key.carrier.clone(),
            flight_number: flight.key.number.clone(),
            origin_date: flight.key.date,
            origin: flight.origin.to_owned(),
            destination: flight.destination.to_owned(),
            scheduled_departure: flight.departure,
            scheduled_arrival: flight.arrival,
            estimated_departure: None,
            estimated_arrival: None,
            actual_departure: None,
            actual_arrival: None,
            arrival_airport: None,
            status: FlightStatus::OnTime,
            delays: Vec::new(),
            change_reason: None,
            notified_at: None,
            passenger_count: flight.passenger_count,
        };
        self.push(
            flight.schedule_at,
            IngestKind::FlightOps,
            Beat::Schedule,
            &picture,
        );
        let manifest = self.manifest(flight, None);
        self.push(
            flight.manifest_at,
            IngestKind::Manifest,
            Beat::Manifest,
            manifest,
        );
        let (off_block, on_block) = match flight.fate {
            Fate::Cancelled => {
                picture.status = FlightStatus::Cancelled;
                picture.delays = vec![delay(STORM.code, STORM.minutes.0)];
                picture.change_reason = Some(STORM.reason.to_owned());
                picture.notified_at = Some(flight.notice);
                self.push(
                    flight.notice,
                    IngestKind::FlightOps,
                    Beat::Cancellation,
                    &picture,
                );
                let rebooked = self.manifest(flight, Some(flight.notice));
                let at = flight.notice + minutes(40);
                self.push(at, IngestKind::Manifest, Beat::Rebooking, rebooked);
                return;
            }
            Fate::Delayed {
                cause,
                minutes: late,
            } => {
                let late = minutes(late.into());
                picture.status = FlightStatus::Delayed;
                picture.estimated_departure = Some(flight.departure + late);
                picture.estimated_arrival = Some(flight.arrival + late);
                picture.delays = vec![delay(cause.code, late.num_minutes() as u32)];
                picture.change_reason = Some(cause.reason.to_owned());
                picture.notified_at = Some(flight.notice);
                self.push(flight.notice, IngestKind::FlightOps, Beat::Delay, &picture);
                let on_block = late.num_minutes() + self.rng.range(-10, 5);
                (late.num_minutes(), on_block)
            }
            Fate::OnTime {
                off_block,
                on_block,
            } => (off_block, off_block + on_block),
        };
        let departed = flight.departure + minutes(off_block);
        picture.actual_departure = Some(departed);
        self.push(departed, IngestKind::FlightOps, Beat::Departure, &picture);
        let arrived = flight.arrival + minutes(on_block);
        picture.actual_arrival = Some(arrived);
        self.push(arrived, IngestKind::FlightOps, Beat::Arrival, &picture);
    }

    /// The flight's passenger list; after a cancellation at `cancelled`, with what each
    /// passenger chose: most take a later flight, some a refund, some have not decided.
    fn manifest(
        &mut self,
        flight: &SimFlight,
        cancelled: Option<DateTime<Utc>>,
    ) -> ManifestMessageV1 {
        let passengers = flight
            .passengers
            .iter()
            .map(|p| {
                let mut entry = ManifestPassengerV1 {
                    passenger_ref: p.reference.clone(),
                    name: Some(PersonalData(p.name.clone())),
                    tier: p.tier,
                    booking_class: p.class.to_owned(),
                    fare: Some(Money::new(p.fare_eur * 100, Currency::EUR)),
                    final_destination: p.final_destination.map(str::to_owned),
                    contact_consent: p.consent.clone(),
                    boarded: false,
                    rerouting: None,
                    refund_chosen: false,
                };
                if let Some(at) = cancelled {
                    match self.rng.range(0, 99) {
                        0..=59 => {
                            let departure = at + Duration::hours(self.rng.range(4, 16));
                            let block = flight.arrival - flight.departure;
                            let rerouting = serde_json::json!({
                                "flight_number": format!("{}{}", flight.key.carrier, self.rng.range(1000, 9999)),
                                "departure": departure,
                                "arrival": departure + block,
                                "accepted": self.rng.chance(85),
                            });
                            entry.rerouting = Some(
                                serde_json::from_value(rerouting).expect("a rerouting reads back"),
                            );
                        }
                        60..=84 => entry.refund_chosen = true,
                        _ => {}
                    }
                }
                entry
            })
            .collect();
        ManifestMessageV1 {
            v: 1,
            source_message_id: String::new(),
            carrier: flight.key.carrier.clone(),
            flight_number: flight.key.number.clone(),
            origin_date: flight.key.date,
            passengers,
        }
    }

    /// What the flight's passengers (and the internet) say about it.
    fn flight_feedback(&mut self, flight: &SimFlight, index: usize) {
        let landed = match flight.fate {
            Fate::Cancelled => None,
            Fate::Delayed { minutes: late, .. } => Some(flight.arrival + minutes(late.into())),
            Fate::OnTime { .. } => Some(flight.arrival),
        };
        match flight.fate {
            Fate::Cancelled => {
                if index == 0 {
                    self.spike(flight, Category::Cancellation, 8, 3);
                }
                for _ in 0..self.rng.range(2, 3) {
                    let at = flight.notice + minutes(self.rng.range(30, 240));
                    self.complaint(flight, at, Category::Cancellation);
                }
                let at = flight.notice + minutes(self.rng.range(60, 300));
                self.inquiry(Some(flight), at, Category::Refund, true);
            }
            Fate::Delayed { minutes: late, .. } => {
                if index == self.storm_flights {
                    self.spike(flight, Category::Delay, 6, 4);
                }
                if late >= 45 {
                    for _ in 0..self.rng.range(1, 2) {
                        let at = landed.expect("delayed flights land")
                            + minutes(self.rng.range(20, 180));
                        self.complaint(flight, at, Category::Delay);
                    }
                } else if self.rng.chance(50) {
                    let at = flight.notice + minutes(self.rng.range(5, 30));
                    self.inquiry(Some(flight), at, Category::Delay, true);
                }
            }
            Fate::OnTime { .. } => {}
        }
        if let Some(landed) = landed {
            if self.rng.chance(6) {
                let at = landed + minutes(self.rng.range(40, 120));
                self.complaint(flight, at, Category::BaggageLost);
            }
            if self.rng.chance(4) {
                let at = landed + minutes(self.rng.range(60, 300));
                self.complaint(flight, at, Category::Service);
            }
        }
    }

    /// `posts` posts about `flight`, `every` minutes apart from shortly after the notice:
    /// some passengers complain, the rest of the internet asks.
    fn spike(&mut self, flight: &SimFlight, category: Category, posts: u32, every: i64) {
        let from = flight.notice + minutes(5);
        for n in 0..posts {
            let at = from + minutes(i64::from(n) * every);
            let channel = if n % 4 == 3 {
                Channel::Hotline
            } else {
                Channel::SocialMedia
            };
            let passenger =
                (n % 2 == 0).then(|| self.rng.pick(&flight.passengers).reference.clone());
            let kind = if passenger.is_some() {
                FeedbackKind::Complaint
            } else {
                FeedbackKind::Inquiry
            };
            let reach = self.rng.range(200, 20_000) as u64;
            let text = self.text(category, kind);
            self.post(Post {
                received_at: at,
                channel,
                text,
                passenger_ref: passenger,
                flight: Some(&flight.key),
                category,
                kind,
                reach,
            });
        }
        self.spikes.push(Spike {
            flight: flight.key.clone(),
            category,
            posts,
            from,
            until: from + minutes(i64::from(posts - 1) * every),
        });
    }

    fn complaint(&mut self, flight: &SimFlight, at: DateTime<Utc>, category: Category) {
        let passenger = self.rng.pick(&flight.passengers).reference.clone();
        let channel = *self.rng.pick(&FEEDBACK_CHANNELS);
        let reach = if channel == Channel::SocialMedia {
            self.rng.range(20, 2_000) as u64
        } else {
            1
        };
        let text = self.text(category, FeedbackKind::Complaint);
        self.post(Post {
            received_at: at,
            channel,
            text,
            passenger_ref: Some(passenger),
            flight: Some(&flight.key),
            category,
            kind: FeedbackKind::Complaint,
            reach,
        });
    }

    fn inquiry(
        &mut self,
        flight: Option<&SimFlight>,
        at: DateTime<Utc>,
        category: Category,
        identified: bool,
    ) {
        let passenger = match flight {
            Some(flight) if identified => Some(self.rng.pick(&flight.passengers).reference.clone()),
            _ => None,
        };
        let channel = *self.rng.pick(&[
            Channel::Hotline,
            Channel::Web,
            Channel::SocialMedia,
            Channel::App,
        ]);
        let text = self.text(category, FeedbackKind::Inquiry);
        self.post(Post {
            received_at: at,
            channel,
            text,
            passenger_ref: passenger,
            flight: flight.map(|f| &f.key),
            category,
            kind: FeedbackKind::Inquiry,
            reach: 1,
        });
    }

    /// Questions about nothing in particular, and ideas, through the day.
    fn background_feedback(&mut self, flights: &[SimFlight]) {
        let day_minutes = 24 * 60 - 1;
        for _ in 0..(self.config.flights / 8).max(1) {
            let at = self.start + minutes(self.rng.range(0, day_minutes));
            let category = *self.rng.pick(&[
                Category::Refund,
                Category::Other,
                Category::Service,
                Category::BaggageDamaged,
            ]);
            self.inquiry(None, at, category, false);
        }
        for _ in 0..(self.config.flights / 15).max(1) {
            let at = self.start + minutes(self.rng.range(0, day_minutes));
            let flight = self.rng.chance(50).then(|| self.rng.pick(flights).clone());
            let passenger = flight
                .as_ref()
                .filter(|_| self.rng.chance(60))
                .map(|f| self.rng.pick(&f.passengers).reference.clone());
            let channel = *self.rng.pick(&[Channel::App, Channel::Web]);
            let text = self.text(Category::Service, FeedbackKind::Suggestion);
            self.post(Post {
                received_at: at,
                channel,
                text,
                passenger_ref: passenger,
                flight: flight.as_ref().map(|f| &f.key),
                category: Category::Service,
                kind: FeedbackKind::Suggestion,
                reach: 1,
            });
        }
    }

    fn text(&mut self, category: Category, kind: FeedbackKind) -> String {
        let texts: &[&str] = match (kind, category) {
            (FeedbackKind::Suggestion, _) => &[
                "Please show the gate change in the app before the announcement.",
                "A quiet zone at the gates would be lovely.",
                "Let me pick my rebooking myself in the app when a flight is cancelled.",
            ],
            (_, Category::Cancellation) => &[
                "Our flight was cancelled and nobody at the gate can tell us anything.",
                "Cancelled again! Queue at the transfer desk is two hours long.",
                "Flight cancelled, hotel voucher never came. We are sleeping at the airport.",
            ],
            (FeedbackKind::Inquiry, Category::Delay) => &[
                "Will I still make my connection with this delay?",
                "Is there a new departure time yet?",
            ],
            (_, Category::Delay) => &[
                "Four hours at the gate without information or water.",
                "Landed far too late and missed my meeting. I want compensation.",
                "Another delay and no one tells us why.",
            ],
            (_, Category::BaggageLost) => &[
                "My suitcase did not arrive. The tracing number does not work.",
                "Bag missing since yesterday, medication inside.",
            ],
            (_, Category::Refund) => &[
                "How do I get my ticket refunded after the cancellation?",
                "When will the refund reach my card?",
            ],
            (_, Category::BaggageDamaged) => &["How do I report a damaged suitcase?"],
            (_, Category::Service) => &[
                "The crew was rude when I asked for water.",
                "The lounge was closed and nobody said so.",
                "Can I change my seat online?",
            ],
            _ => &["Where do I find my booking reference?"],
        };
        (*self.rng.pick(texts)).to_owned()
    }

    /// Keeps what happens by the end, in time order (ties in the order made), and
    /// numbers it.
    fn finish(self) -> Day {
        let end = self.config.end;
        let mut messages: Vec<_> = self
            .messages
            .into_iter()
            .filter(|(at, ..)| *at <= end)
            .collect();
        messages.sort_by_key(|(at, ..)| *at);
        // Everything that shapes the day is in its ids: a message id names one message.
        let config = self.config;
        let run = format!(
            "sim-{}-{}x{}-{}",
            config.seed,
            config.flights,
            config.passengers,
            end.format("%Y%m%dT%H%M%SZ")
        );
        let messages = messages
            .into_iter()
            .enumerate()
            .map(|(n, (at, kind, beat, mut body))| {
                let source_message_id = format!("{run}-{n:05}");
                body["source_message_id"] = serde_json::Value::String(source_message_id.clone());
                Planned {
                    at,
                    kind,
                    beat,
                    source_message_id,
                    body: serde_json::to_vec(&body).expect("JSON"),
                }
            })
            .collect();
        let delayed = self
            .flights
            .iter()
            .skip(self.storm_flights)
            .filter(|f| matches!(f.fate, Fate::Delayed { .. }))
            .map(|f| f.key.clone())
            .collect();
        Day {
            run,
            start: self.start,
            end,
            messages,
            storm: Storm {
                hub: HUBS[0],
                at: self.storm_at,
                cancelled: self.flights[..self.storm_flights]
                    .iter()
                    .map(|f| f.key.clone())
                    .collect(),
            },
            spikes: self.spikes,
            delayed,
        }
    }
}

fn delay(code: &str, minutes: u32) -> DelayEntry {
    DelayEntry {
        code: code.to_owned(),
        minutes,
    }
}

/// One customer's message, as a channel forwards it.
#[derive(Debug, Clone)]
pub struct Post<'a> {
    pub received_at: DateTime<Utc>,
    pub channel: Channel,
    /// The customer's words (personal data once sent).
    pub text: String,
    /// A loyalty number: an identified passenger.
    pub passenger_ref: Option<String>,
    pub flight: Option<&'a FlightKey>,
    pub category: Category,
    pub kind: FeedbackKind,
    pub reach: u64,
}

impl Post<'_> {
    /// The `crisis.ingest.feedback` message (its source id is left for the sender).
    pub fn message(self) -> FeedbackMessageV1 {
        FeedbackMessageV1 {
            v: 1,
            source_message_id: String::new(),
            channel: self.channel,
            text: PersonalData(self.text),
            passenger_ref: self.passenger_ref,
            flight: self.flight.map(|f| FlightRef {
                carrier: f.carrier.clone(),
                flight_number: f.number.clone(),
                origin_date: f.date,
            }),
            category_hint: Some(self.category),
            received_at: self.received_at,
            reach: Some(self.reach),
            kind: Some(self.kind),
        }
    }
}

/// Leaves out what a message does not say: `null` fields are noise to a reader.
fn strip_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
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

    fn a_day(seed: u64, flights: u32) -> Day {
        let end = DateTime::parse_from_rfc3339("2026-11-22T14:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        day(&DayConfig {
            seed,
            end,
            flights,
            passengers: 8,
        })
    }

    /// Every message of a day is one crisisd reads, at the end of that day: the formats
    /// and the plausibility rules hold, nothing is in the future.
    #[test]
    fn a_days_messages_are_all_valid_ingest_and_in_time_order() {
        use crate::domain::ingest::{
            IngestLimits, parse_feedback, parse_flight_ops, parse_manifest,
        };
        use crate::domain::policy::airports::is_known;
        for (seed, flights) in [(1, 5), (2, 20), (3, 120)] {
            let day = a_day(seed, flights);
            let limits = IngestLimits {
                max_bytes: crate::domain::ingest::MANIFEST_BYTES_MAX,
                clock_skew: chrono::TimeDelta::zero(),
                ..IngestLimits::at(day.end)
            };
            let mut ids = std::collections::HashSet::new();
            let mut previous = day.start;
            for message in &day.messages {
                assert!(
                    message.at >= previous && message.at <= day.end,
                    "{message:?}"
                );
                previous = message.at;
                assert!(ids.insert(message.source_message_id.clone()));
                let parsed = match message.kind {
                    IngestKind::FlightOps => parse_flight_ops(&message.body, &limits, &is_known)
                        .map(|m| m.source_message_id),
                    IngestKind::Manifest => parse_manifest(&message.body, &limits, &is_known)
                        .map(|m| m.source_message_id),
                    IngestKind::Feedback => {
                        parse_feedback(&message.body, &limits).map(|m| m.source_message_id)
                    }
                };
                assert_eq!(
                    parsed.unwrap_or_else(|r| panic!(
                        "{r:?} in {}",
                        String::from_utf8_lossy(&message.body)
                    )),
                    message.source_message_id
                );
            }
            let count = |beat| day.messages.iter().filter(|m| m.beat == beat).count();
            assert_eq!(count(Beat::Schedule), flights as usize);
            assert_eq!(count(Beat::Cancellation), (flights as usize / 10).max(2));
            assert_eq!(day.storm.cancelled.len(), count(Beat::Cancellation));
            assert!(
                count(Beat::Delay) >= 1 && count(Beat::Complaint) >= 4,
                "seed {seed}"
            );
            assert!(
                count(Beat::Suggestion) >= 1 && count(Beat::Inquiry) >= 2,
                "seed {seed}"
            );
        }
    }

    /// Each spike is what the default spike rule opens an incident for: at least five
    /// posts on one flight and category within 30 minutes.
    #[test]
    fn each_spike_is_enough_posts_on_one_flight_within_the_window() {
        let day = a_day(4, 20);
        assert_eq!(day.spikes.len(), 2);
        for spike in &day.spikes {
            assert!(
                spike.until - spike.from <= Duration::minutes(30),
                "{spike:?}"
            );
            let posts = day
                .messages
                .iter()
                .filter(|m| m.kind == IngestKind::Feedback)
                .map(|m| serde_json::from_slice::<serde_json::Value>(&m.body).unwrap())
                .filter(|v| {
                    v["flight"]["flight_number"] == spike.flight.number.as_str()
                        && v["category_hint"] == serde_json::to_value(spike.category).unwrap()
                })
                .filter(|v| {
                    let at: DateTime<Utc> = v["received_at"].as_str().unwrap().parse().unwrap();
                    at >= spike.from && at <= spike.until
                })
                .count();
            assert!(
                posts >= 5 && posts as u32 == spike.posts,
                "{posts} posts in {spike:?}"
            );
        }
    }
}
