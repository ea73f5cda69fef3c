//! The suggestion aggregate: a customer's idea for the airline, in a loop of its own:
//! received → classified (a topic of the policy's root-cause taxonomy) → forwarded to a
//! department → evaluated, adopted or declined (within the policy's working days,
//! `suggestions.evaluate_working_days`) → the customer told once it is adopted.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::common::{Channel, DataSubject, PassengerId, PersonalData, RootCause};
use crate::domain::complaint::Department;
use crate::domain::event::domain_events;
use crate::domain::{Aggregate, Context};

/// The stream holding one suggestion: `suggestion-<uuid>`.
pub fn stream_name(suggestion_id: Uuid) -> String {
    format!("suggestion-{suggestion_id}")
}

/// What the department decided.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Adopted,
    Declined,
}

/// A request to a suggestion. Over HTTP the variant is named by the route and its
/// fields are the JSON body.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(
    tag = "command",
    content = "fields",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum SuggestionCommand {
    /// Registers a customer's suggestion (`received_at`: when the channel received it,
    /// else now; never in the future).
    ReceiveSuggestion {
        suggestion_id: Uuid,
        channel: Channel,
        /// The customer, when identified (only an identified customer can be told).
        passenger: Option<PassengerId>,
        /// The customer's words.
        text: PersonalData<String>,
        #[serde(default)]
        received_at: Option<DateTime<Utc>>,
    },
    /// Classifies it under a topic of the policy's root-cause taxonomy.
    ClassifySuggestion { topic: RootCause },
    /// Forwards it to the department that evaluates it.
    ForwardSuggestion { department: Department },
    /// The department's decision and why.
    EvaluateSuggestion { outcome: Outcome, reason: String },
    /// Tells the customer their suggestion was adopted.
    NotifyCustomer { message: String },
}

/// `suggestion.received`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SuggestionReceived {
    pub suggestion_id: Uuid,
    pub channel: Channel,
    pub passenger: Option<PassengerId>,
    /// The customer's words: personal data.
    pub text: PersonalData<String>,
    pub received_at: DateTime<Utc>,
}

/// `suggestion.classified`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SuggestionClassified {
    pub topic: RootCause,
    pub classified_by: String,
}

/// `suggestion.forwarded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SuggestionForwarded {
    pub department: Department,
    pub forwarded_by: String,
}

/// `suggestion.evaluated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SuggestionEvaluated {
    pub outcome: Outcome,
    pub reason: String,
    pub evaluated_by: String,
    pub evaluated_at: DateTime<Utc>,
}

/// `suggestion.customer_notified`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CustomerNotified {
    pub message: String,
    pub notified_by: String,
    pub notified_at: DateTime<Utc>,
}

domain_events! {
    /// Every fact a suggestion stream holds.
    pub enum SuggestionEvent {
        Received(SuggestionReceived) = "suggestion.received",
        Classified(SuggestionClassified) = "suggestion.classified",
        Forwarded(SuggestionForwarded) = "suggestion.forwarded",
        Evaluated(SuggestionEvaluated) = "suggestion.evaluated",
        CustomerNotified(CustomerNotified) = "suggestion.customer_notified",
    }
}

/// Why a suggestion refuses a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuggestionError {
    #[error("the suggestion has not been received")]
    NotReceived,
    #[error("the suggestion was already received")]
    AlreadyReceived,
    #[error("{field} must not be empty")]
    Required { field: &'static str },
    #[error("received_at {received_at} is in the future")]
    ReceivedInFuture { received_at: DateTime<Utc> },
    #[error("the suggestion is already evaluated")]
    AlreadyEvaluated,
    #[error("forward a suggestion once it is classified (classify_suggestion)")]
    NotClassified,
    #[error("the suggestion is already with {}", crate::domain::common::api_name(.department))]
    AlreadyForwarded { department: Department },
    #[error("evaluate a suggestion once it is forwarded to a department (forward_suggestion)")]
    NotForwarded,
    #[error("only an adopted suggestion is told to the customer")]
    NotAdopted,
    #[error("the customer is already told")]
    AlreadyNotified,
    #[error("the customer was not identified: there is no one to tell")]
    NoOneToTell,
}

/// The state of one suggestion stream.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
pub struct Suggestion {
    pub received: Option<SuggestionReceived>,
    pub topic: Option<RootCause>,
    pub department: Option<Department>,
    pub outcome: Option<Outcome>,
    pub notified: bool,
}

fn required(field: &'static str, text: &str) -> Result<(), SuggestionError> {
    if text.trim().is_empty() {
        return Err(SuggestionError::Required { field });
    }
    Ok(())
}

impl Aggregate for Suggestion {
    type Command = SuggestionCommand;
    type Event = SuggestionEvent;
    type Error = SuggestionError;

    fn decide(
        &self,
        command: &SuggestionCommand,
        ctx: &Context,
    ) -> Result<Vec<SuggestionEvent>, SuggestionError> {
        use SuggestionCommand as C;
        use SuggestionError as Error;
        let by = ctx.actor.id.clone();
        match (&self.received, command) {
            (
                None,
                C::ReceiveSuggestion {
                    suggestion_id,
                    channel,
                    passenger,
                    text,
                    received_at,
                },
            ) => {
                required("text", &text.0)?;
                let received_at = received_at.unwrap_or(ctx.now);
                if received_at > ctx.now {
                    return Err(Error::ReceivedInFuture { received_at });
                }
                Ok(vec![SuggestionEvent::Received(SuggestionReceived {
                    suggestion_id: *suggestion_id,
                    channel: *channel,
                    passenger: passenger.clone(),
                    text: text.clone(),
                    received_at,
                })])
            }
            (Some(_), C::ReceiveSuggestion { .. }) => Err(Error::AlreadyReceived),
            (None, _) => Err(Error::NotReceived),
            (Some(_), C::NotifyCustomer { message }) => {
                if self.outcome != Some(Outcome::Adopted) {
                    return Err(Error::NotAdopted);
                }
                if self.notified {
                    return Err(Error::AlreadyNotified);
                }
                if self
                    .received
                    .as_ref()
                    .is_some_and(|r| r.passenger.is_none())
                {
                    return Err(Error::NoOneToTell);
                }
                required("message", message)?;
                Ok(vec![SuggestionEvent::CustomerNotified(CustomerNotified {
                    message: message.clone(),
                    notified_by: by,
                    notified_at: ctx.now,
                })])
            }
            (Some(_), _) if self.outcome.is_some() => Err(Error::AlreadyEvaluated),
            (Some(_), C::ClassifySuggestion { topic }) => {
                Ok(vec![SuggestionEvent::Classified(SuggestionClassified {
                    topic: topic.clone(),
                    classified_by: by,
                })])
            }
            (Some(_), C::ForwardSuggestion { department }) => {
                if self.topic.is_none() {
                    return Err(Error::NotClassified);
                }
                if self.department == Some(*department) {
                    return Err(Error::AlreadyForwarded {
                        department: *department,
                    });
                }
                Ok(vec![SuggestionEvent::Forwarded(SuggestionForwarded {
                    department: *department,
                    forwarded_by: by,
                })])
            }
            (Some(_), C::EvaluateSuggestion { outcome, reason }) => {
                if self.department.is_none() {
                    return Err(Error::NotForwarded);
                }
                required("reason", reason)?;
                Ok(vec![SuggestionEvent::Evaluated(SuggestionEvaluated {
                    outcome: *outcome,
                    reason: reason.clone(),
                    evaluated_by: by,
                    evaluated_at: ctx.now,
                })])
            }
        }
    }

    fn evolve(mut self, event: &SuggestionEvent) -> Self {
        match event {
            SuggestionEvent::Received(r) => self.received = Some(r.clone()),
            SuggestionEvent::Classified(c) => self.topic = Some(c.topic.clone()),
            SuggestionEvent::Forwarded(f) => self.department = Some(f.department),
            SuggestionEvent::Evaluated(e) => self.outcome = Some(e.outcome),
            SuggestionEvent::CustomerNotified(_) => self.notified = true,
        }
        self
    }

    /// The customer, or for someone not identified, the suggestion itself.
    fn data_subject(&self, event: &SuggestionEvent) -> Option<DataSubject> {
        let SuggestionEvent::Received(r) = event else {
            return None;
        };
        Some(match &r.passenger {
            Some(passenger) => DataSubject::Passenger(passenger.clone()),
            None => DataSubject::Suggestion(r.suggestion_id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::common::Role;
    use crate::domain::testing::{at, ctx_as, id};

    use SuggestionCommand as C;
    use SuggestionError as Error;

    fn receive(passenger: Option<&str>) -> C {
        C::ReceiveSuggestion {
            suggestion_id: id(1),
            channel: Channel::App,
            passenger: passenger.map(|p| PassengerId(p.into())),
            text: PersonalData("let me choose my seat in the app".into()),
            received_at: Some(at(0)),
        }
    }

    /// Runs `commands` in order from nothing; the events, or the first refusal.
    fn run(commands: &[C]) -> Result<Suggestion, SuggestionError> {
        let mut state = Suggestion::default();
        let ctx = ctx_as(Role::Agent);
        for command in commands {
            for event in state.decide(command, &ctx)? {
                state = state.evolve(&event);
            }
        }
        Ok(state)
    }

    fn topic() -> C {
        C::ClassifySuggestion {
            topic: RootCause::parse("digital/app").unwrap(),
        }
    }

    fn forward(department: Department) -> C {
        C::ForwardSuggestion { department }
    }

    fn evaluate(outcome: Outcome) -> C {
        C::EvaluateSuggestion {
            outcome,
            reason: "on the roadmap".into(),
        }
    }

    fn notify() -> C {
        C::NotifyCustomer {
            message: "thank you: it ships in March".into(),
        }
    }

    #[test]
    fn a_suggestion_goes_round_its_loop_and_an_adopted_one_is_told() {
        let state = run(&[
            receive(Some("FF1")),
            topic(),
            forward(Department::Digital),
            evaluate(Outcome::Adopted),
            notify(),
        ])
        .unwrap();
        assert_eq!(state.outcome, Some(Outcome::Adopted));
        assert!(state.notified);
        assert_eq!(state.department, Some(Department::Digital));
    }

    #[test]
    fn each_step_needs_the_one_before_and_happens_once() {
        assert_eq!(run(&[topic()]), Err(Error::NotReceived));
        assert_eq!(
            run(&[receive(None), receive(None)]),
            Err(Error::AlreadyReceived)
        );
        assert_eq!(
            run(&[receive(None), forward(Department::Digital)]),
            Err(Error::NotClassified)
        );
        assert_eq!(
            run(&[receive(None), topic(), evaluate(Outcome::Declined)]),
            Err(Error::NotForwarded)
        );
        let forwarded = [receive(Some("FF1")), topic(), forward(Department::Digital)];
        assert_eq!(
            run(&[&forwarded[..], &[forward(Department::Digital)]].concat()),
            Err(Error::AlreadyForwarded {
                department: Department::Digital
            })
        );
        assert_eq!(
            run(&[&forwarded[..], &[evaluate(Outcome::Declined), notify()]].concat()),
            Err(Error::NotAdopted)
        );
        assert_eq!(
            run(&[&forwarded[..], &[evaluate(Outcome::Declined), topic()]].concat()),
            Err(Error::AlreadyEvaluated)
        );
        assert_eq!(
            run(&[
                &forwarded[..],
                &[evaluate(Outcome::Adopted), notify(), notify()]
            ]
            .concat()),
            Err(Error::AlreadyNotified)
        );
        let anonymous = [receive(None), topic(), forward(Department::Digital)];
        assert_eq!(
            run(&[&anonymous[..], &[evaluate(Outcome::Adopted), notify()]].concat()),
            Err(Error::NoOneToTell)
        );
    }

    #[test]
    fn the_words_belong_to_the_customer_or_to_the_suggestion() {
        let ctx = ctx_as(Role::Agent);
        let state = Suggestion::default();
        let named = state.decide(&receive(Some("FF1")), &ctx).unwrap();
        assert_eq!(
            state.data_subject(&named[0]),
            Some(DataSubject::Passenger(PassengerId("FF1".into())))
        );
        let anonymous = state.decide(&receive(None), &ctx).unwrap();
        assert_eq!(
            state.data_subject(&anonymous[0]),
            Some(DataSubject::Suggestion(id(1)))
        );
    }
}
