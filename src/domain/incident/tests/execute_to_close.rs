//! Executing, following up, reviewing, closing and reopening.

use super::*;

#[test]
fn publish_information_on_planned_channels() {
    let command = |channel| C::PublishInformation {
        channel,
        content: "New departure 14:00".into(),
    };
    let accepted = when(&executing(), command(CommChannel::Sms)).unwrap();
    assert!(matches!(&accepted[..], [E::InformationPublished(_)]));
    let refused = when(&executing(), command(CommChannel::Social));
    assert_eq!(
        refused,
        Err(Err_::ChannelNotInCommunicationPlan {
            channel: CommChannel::Social
        })
    );
    let early = when(&approved(), command(CommChannel::Sms));
    assert!(matches!(
        early,
        Err(Err_::WrongStage {
            command: "publish_information",
            ..
        })
    ));
}

#[test]
fn plan_contact() {
    let command = |n| C::PlanContact {
        contact_id: id(n),
        passenger: PassengerId("P2".into()),
        method: ContactMethod::Phone,
        mandatory_notice: false,
    };
    assert!(matches!(
        &when(&executing(), command(11)).unwrap()[..],
        [E::ContactPlanned(_)]
    ));
    assert_eq!(
        when(&executing(), command(10)),
        Err(Err_::ContactAlreadyPlanned { contact_id: id(10) })
    );
    assert!(matches!(
        when(&following_up(), command(11)),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn record_contact_outcome() {
    let command = |n| C::RecordContactOutcome {
        contact_id: id(n),
        outcome: ContactOutcome::LeftMessage,
        note: "vm".into(),
    };
    assert!(matches!(
        &when(&executing(), command(10)).unwrap()[..],
        [E::ContactOutcomeRecorded(_)]
    ));
    assert_eq!(
        when(&executing(), command(11)),
        Err(Err_::UnknownContact { contact_id: id(11) })
    );
}

#[test]
fn start_follow_up_requires_every_contact_outcome() {
    let pending = when(&executing(), C::StartFollowUp);
    assert_eq!(
        pending,
        Err(Err_::FollowUpRequiresContactOutcomes {
            pending: vec![id(10)]
        })
    );
    let answered = with(
        executing(),
        [E::ContactOutcomeRecorded(ContactOutcomeRecorded {
            contact_id: id(10),
            outcome: ContactOutcome::Unreachable,
            note: String::new().into(),
        })],
    );
    assert_eq!(
        when(&answered, C::StartFollowUp),
        Ok(vec![E::FollowUpStarted(stage(Stage::FollowUp))])
    );
}

#[test]
fn send_survey() {
    let command = |n| C::SendSurvey {
        survey_id: id(n),
        passenger: PassengerId("P1".into()),
        method: SurveyMethod::Phone,
    };
    assert!(matches!(
        &when(&following_up(), command(21)).unwrap()[..],
        [E::SurveySent(_)]
    ));
    assert_eq!(
        when(&following_up(), command(20)),
        Err(Err_::SurveyAlreadySent { survey_id: id(20) })
    );
    assert!(matches!(
        when(&executing(), command(21)),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn record_satisfaction() {
    let command = |n, score| C::RecordSatisfaction {
        survey_id: id(n),
        score,
    };
    let accepted = when(&following_up(), command(20, 5));
    assert_eq!(
        accepted,
        Ok(vec![E::SatisfactionRecorded(SatisfactionRecorded {
            survey_id: id(20),
            score: 5
        })])
    );
    assert_eq!(
        when(&following_up(), command(20, 0)),
        Err(Err_::ScoreOutOfRange { score: 0 })
    );
    assert_eq!(
        when(&following_up(), command(20, 6)),
        Err(Err_::ScoreOutOfRange { score: 6 })
    );
    assert_eq!(
        when(&following_up(), command(21, 3)),
        Err(Err_::UnknownSurvey { survey_id: id(21) })
    );
}

/// A survey has one answer, the first: a second is refused, naming the score it has.
#[test]
fn record_satisfaction_refuses_a_second_answer() {
    let answered = with(
        following_up(),
        [E::SatisfactionRecorded(SatisfactionRecorded {
            survey_id: id(20),
            score: 2,
        })],
    );
    let again = C::RecordSatisfaction {
        survey_id: id(20),
        score: 5,
    };
    let refused = when(&answered, again);
    assert_eq!(
        refused,
        Err(Err_::SurveyAlreadyAnswered {
            survey_id: id(20),
            score: 2
        })
    );
    let message = refused.unwrap_err().to_string();
    assert!(
        message.contains(&id(20).to_string()) && message.contains("already answered with score 2"),
        "{message}"
    );
}

/// Logs written before the one-answer rule may hold two answers: the first stands.
#[test]
fn evolve_keeps_the_first_answer_of_a_legacy_log() {
    let answer = |score| {
        E::SatisfactionRecorded(SatisfactionRecorded {
            survey_id: id(20),
            score,
        })
    };
    let state = given(&with(following_up(), [answer(2), answer(5)]));
    assert_eq!(state.surveys[&id(20)].score, Some(2));
}

#[test]
fn summarise_open_problems() {
    let command = || C::SummariseOpenProblems {
        problems: vec!["two bags missing".into()],
    };
    assert!(matches!(
        &when(&following_up(), command()).unwrap()[..],
        [E::OpenProblemsSummarised(_)]
    ));
    assert!(matches!(
        when(&executing(), command()),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn start_review() {
    assert_eq!(
        when(&following_up(), C::StartReview),
        Ok(vec![E::ReviewStarted(stage(Stage::Review))])
    );
    assert!(matches!(
        when(&executing(), C::StartReview),
        Err(Err_::WrongStage {
            command: "start_review",
            ..
        })
    ));
}

#[test]
fn record_lesson() {
    let accepted = when(
        &reviewing(),
        C::RecordLesson {
            lesson: "x".into(),
            knowledge: Vec::new(),
        },
    );
    assert_eq!(
        accepted,
        Ok(vec![E::LessonRecorded(LessonRecorded {
            lesson: "x".into(),
            knowledge: Vec::new(),
        })])
    );
    assert_eq!(
        when(
            &reviewing(),
            C::RecordLesson {
                lesson: "".into(),
                knowledge: Vec::new()
            }
        ),
        Err(Err_::Required { field: "lesson" })
    );
    assert!(matches!(
        when(
            &following_up(),
            C::RecordLesson {
                lesson: "x".into(),
                knowledge: Vec::new()
            }
        ),
        Err(Err_::WrongStage { .. })
    ));
}

#[test]
fn record_improvement_needs_owner() {
    let command = |n, owner: &str| C::RecordImprovement {
        improvement_id: id(n),
        improvement: Improvement {
            owner: owner.into(),
            ..improvement()
        },
    };
    assert!(matches!(
        &when(&reviewing(), command(31, "ops")).unwrap()[..],
        [E::ImprovementRecorded(_)]
    ));
    assert_eq!(
        when(&reviewing(), command(31, " ")),
        Err(Err_::ImprovementRequiresOwner)
    );
    assert_eq!(
        when(&reviewed(), command(30, "ops")),
        Err(Err_::ImprovementAlreadyRecorded {
            improvement_id: id(30)
        })
    );
}

#[test]
fn close_incident_requires_review_outcomes_and_settled_compensations() {
    let close = || C::CloseIncident {
        summary: "resolved".into(),
    };
    let accepted = when(&reviewed(), close());
    let closed_event = IncidentClosed {
        summary: "resolved".into(),
        closed_by: "crisislead-1".into(),
    };
    assert_eq!(accepted, Ok(vec![E::Closed(closed_event)]));
    assert_eq!(when(&reviewing(), close()), Err(Err_::CloseRequiresLesson));
    let lesson_only = with(
        reviewing(),
        [E::LessonRecorded(LessonRecorded {
            lesson: "l".into(),
            knowledge: Vec::new(),
        })],
    );
    assert_eq!(
        when(&lesson_only, close()),
        Err(Err_::CloseRequiresImprovementWithOwner)
    );
    assert!(matches!(
        when(&following_up(), close()),
        Err(Err_::WrongStage { .. })
    ));
    assert!(matches!(
        when_as(&reviewed(), close(), Role::Agent),
        Err(Err_::RequiresCrisisLead { .. })
    ));
    let link = E::CompensationLinked(CompensationLinked {
        compensation_id: id(40),
        passenger: PassengerId("P1".into()),
    });
    let unsettled = with(reviewed(), [link.clone()]);
    assert_eq!(
        when(&unsettled, close()),
        Err(Err_::CloseRequiresSettledCompensations {
            unsettled: vec![id(40)]
        })
    );
    for settlement in [
        Settlement::Paid,
        Settlement::Declined,
        Settlement::Failed {
            reason: "IBAN invalid".into(),
        },
    ] {
        let settled = with(
            reviewed(),
            [
                link.clone(),
                E::CompensationSettled(CompensationSettled {
                    compensation_id: id(40),
                    settlement,
                }),
            ],
        );
        assert!(when(&settled, close()).is_ok());
    }
}

#[test]
fn reopen_incident_returns_to_assessment() {
    let reopen = || C::ReopenIncident {
        reason: "new complaints".into(),
    };
    let events = when(&closed(), reopen()).unwrap();
    let state = given(&closed()).evolve(&events[0]);
    assert_eq!((state.stage, state.reopened_count), (Stage::Assess, 1));
    assert_eq!(when(&reviewed(), reopen()), Err(Err_::NotClosed));
    assert!(matches!(
        when_as(&closed(), reopen(), Role::Agent),
        Err(Err_::RequiresCrisisLead { .. })
    ));
    assert_eq!(
        when(&closed(), C::StartAssessment),
        Err(Err_::IncidentClosed)
    );
}
