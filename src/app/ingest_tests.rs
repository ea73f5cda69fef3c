use super::*;
use crate::store::{SledStore, StoreConfig};

/// A source message id names one message: its redelivery changes nothing, a
/// different message under the same id is rejected with its own code, never
/// acknowledged as stored while its content is dropped.
#[tokio::test]
async fn a_source_message_id_reused_for_other_content_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let journal = crate::app::Journal::ephemeral(store.clone());
    let ingest = CrisisIngest::new(journal.clone());
    let actor = ingest_actor("test");
    let received_at = Utc::now().to_rfc3339();
    let feedback = |text: &str| {
        serde_json::json!({"v": 1, "source_message_id": "tw-1", "channel": "social_media",
            "text": text, "passenger_ref": "FF1", "category_hint": "delay",
            "received_at": received_at, "reach": 10})
        .to_string()
    };
    let stored = ingest
        .ingest("feedback", feedback("late").as_bytes(), &actor)
        .await;
    assert!(matches!(stored, Ok(Handled::Stored)), "{stored:?}");
    let head = store.head().position;
    let again = ingest
        .ingest("feedback", feedback("late").as_bytes(), &actor)
        .await;
    assert!(
        matches!(again, Ok(Handled::Stored)),
        "a redelivery: {again:?}"
    );
    let other = ingest
        .ingest("feedback", feedback("my bag is gone").as_bytes(), &actor)
        .await;
    let Ok(Handled::Rejected(rejection)) = other else {
        panic!("another message under a used id: {other:?}")
    };
    assert_eq!(
        (rejection.code.as_str(), rejection.pointer.as_str()),
        ("source_message_id_reused", "/source_message_id")
    );
    assert!(
        !rejection.message.contains("bag"),
        "no customer words in a rejection"
    );
    assert_eq!(store.head().position, head, "nothing more stored");

    let today = Utc::now().date_naive();
    let flight = |minutes: u32| {
        serde_json::json!({"v": 1, "source_message_id": "aidx-1", "carrier": "LH",
            "flight_number": "400", "origin_date": today.to_string(), "origin": "FRA",
            "destination": "JFK",
            "scheduled_departure": format!("{today}T10:00:00Z"),
            "scheduled_arrival": format!("{today}T18:00:00Z"),
            "status": "delayed", "delays": [{"code": "93", "minutes": minutes}],
            "passenger_count": 300})
        .to_string()
    };
    let stored = ingest
        .ingest("flightops", flight(30).as_bytes(), &actor)
        .await;
    assert!(matches!(stored, Ok(Handled::Stored)), "{stored:?}");
    let again = ingest
        .ingest("flightops", flight(30).as_bytes(), &actor)
        .await;
    assert!(matches!(again, Ok(Handled::Stored)), "{again:?}");
    let other = ingest
        .ingest("flightops", flight(90).as_bytes(), &actor)
        .await;
    assert!(
        matches!(&other, Ok(Handled::Rejected(r)) if r.code == "source_message_id_reused"),
        "{other:?}"
    );
}

#[test]
fn one_flights_messages_share_a_lane_key_and_bad_input_still_gets_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let ingest = CrisisIngest::new(crate::app::Journal::ephemeral(store));
    let flight = |number: &str, extra: &str| {
        format!(
            r#"{{"v":1,"carrier":"LH","flight_number":"{number}","origin_date":"2026-11-22",{extra}"status":"delayed"}}"#
        )
    };
    let key = |kind: &str, payload: &str| ingest.lane_key(kind, payload.as_bytes());
    assert_eq!(
        key("flightops", &flight("123", "")),
        key(
            "flightops",
            &flight("123", r#""source_message_id":"m-2","passenger_count":180,"#)
        ),
        "the same flight, whatever else the message holds"
    );
    assert_ne!(
        key("flightops", &flight("123", "")),
        key("flightops", &flight("124", ""))
    );
    // An escaped key is read as its text.
    assert_eq!(
        key("flightops", &flight("123", "")),
        key("flightops", &flight("12\\u0033", ""))
    );
    assert_ne!(
        key("feedback", r#"{"source_message_id":"a"}"#),
        key("feedback", r#"{"source_message_id":"b"}"#)
    );
    // Feedback naming a flight shares the flight's lane: stored in the order it came.
    let about = |source: &str, number: &str| {
        format!(
            r#"{{"source_message_id":"{source}","flight":{{"carrier":"LH","flight_number":"{number}","origin_date":"2026-11-22"}}}}"#
        )
    };
    assert_eq!(
        key("feedback", &about("a", "123")),
        key("feedback", &about("b", "123"))
    );
    assert_eq!(
        key("feedback", &about("a", "123")),
        key("flightops", &flight("123", ""))
    );
    assert_ne!(
        key("feedback", &about("a", "123")),
        key("feedback", &about("a", "124"))
    );
    for hostile in [
        "",
        "not json",
        "[1,2]",
        r#"{"carrier":7}"#,
        "{\"carrier\":\"LH\"",
    ] {
        key("flightops", hostile);
        key("feedback", hostile);
    }
}

fn open_store() -> (tempfile::TempDir, SledStore, crate::app::Journal) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let journal = crate::app::Journal::ephemeral(store.clone());
    (dir, store, journal)
}

/// An instant in whole seconds, as senders write them.
fn whole_seconds(at: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap()
}

fn stamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Ingests `payload`; the rejection's (code, pointer), or `("stored", "")`.
async fn outcome_of(ingest: &CrisisIngest, kind: &str, payload: &str) -> (String, String) {
    match ingest
        .ingest(kind, payload.as_bytes(), &ingest_actor("test"))
        .await
    {
        Ok(Handled::Stored) => ("stored".into(), String::new()),
        Ok(Handled::Rejected(rejection)) => (rejection.code, rejection.pointer),
        Err(transient) => panic!("transient failure: {transient}"),
    }
}

/// A message for LH400 departing on `day`, with `changes` over the base picture.
fn lh400(source: &str, day: chrono::NaiveDate, changes: serde_json::Value) -> String {
    let mut message = serde_json::json!({"v": 1, "source_message_id": source, "carrier": "LH",
        "flight_number": "400", "origin_date": day.to_string(), "origin": "FRA",
        "destination": "JFK", "scheduled_departure": format!("{day}T10:00:00Z"),
        "scheduled_arrival": format!("{day}T18:40:00Z"), "status": "on_time",
        "passenger_count": 300});
    for (field, value) in changes.as_object().unwrap() {
        message[field] = value.clone();
    }
    message.to_string()
}

/// A complaint's service levels run from when the channel received the message, not
/// from when crisisd got to it (later still behind a NATS backlog).
#[tokio::test]
async fn a_complaint_from_feedback_counts_its_deadlines_from_the_message_s_receipt() {
    use crate::app::feedback::complaint_id;
    use crate::domain::common::{Channel, Tier};
    use crate::domain::complaint::{self, Complaint};
    use crate::domain::policy::sla::SlaConfig;
    use crate::projection::sla_deadlines::{self, SlaDeadlines};

    let (_dir, store, journal) = open_store();
    let ingest = CrisisIngest::new(journal.clone());
    let received_at = whole_seconds(Utc::now() - chrono::Duration::hours(2));
    let message = serde_json::json!({"v": 1, "source_message_id": "hotline-7",
        "channel": "hotline", "text": "we waited six hours at the gate",
        "passenger_ref": "FF7", "category_hint": "delay", "received_at": stamp(received_at)});
    assert_eq!(
        outcome_of(&ingest, "feedback", &message.to_string()).await,
        ("stored".into(), String::new())
    );
    let (complaint, _) =
        load::<Complaint>(&store, &complaint::stream_name(complaint_id("hotline-7"))).unwrap();
    assert_eq!(complaint.received.unwrap().received_at, received_at);
    crate::projection::rebuild(&store, SlaDeadlines::default(), |_, _| {}).unwrap();
    let running = sla_deadlines::running(
        &crate::projection::ReadModel::open(&store, sla_deadlines::NAME).unwrap(),
    )
    .unwrap();
    assert_eq!(running.len(), 3, "{running:?}");
    let policy = SlaConfig::default();
    for pending in running {
        assert_eq!(
            pending.deadline,
            policy.deadline(received_at, pending.kind, Tier::None, Channel::Hotline),
            "{:?} counts from the message's received_at",
            pending.kind
        );
    }
}

/// A sender's clock a few seconds ahead loses nothing; a time far ahead is refused at
/// its field, and a domain refusal names the message field its command came from.
#[tokio::test]
async fn a_notice_seconds_ahead_is_accepted_and_every_refusal_names_its_field() {
    use crate::domain::flight::{Flight, FlightStatus};

    let (_dir, store, journal) = open_store();
    let ingest = CrisisIngest::new(journal.clone());
    let day = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let ahead = |seconds: i64| stamp(Utc::now() + chrono::Duration::seconds(seconds));
    let delayed = serde_json::json!({"status": "delayed", "change_reason": "late inbound",
        "delays": [{"code": "93", "minutes": 45}], "notified_at": ahead(3)});
    let first = lh400("ops-1", day, delayed);
    assert_eq!(
        outcome_of(&ingest, "flightops", &first).await,
        ("stored".into(), String::new()),
        "a notice 3 s ahead of crisisd's clock"
    );
    let stored = store.head().position;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        outcome_of(&ingest, "flightops", &first).await,
        ("stored".into(), String::new()),
        "its redelivery, the notice now taken as a later now"
    );
    assert_eq!(store.head().position, stored, "and stored once");
    let key = crate::domain::common::FlightKey::new("LH", "400", day).unwrap();
    let (state, _) = load::<Flight>(&store, &flight::stream_name(&key)).unwrap();
    assert!(state.schedule.is_some(), "the schedule is kept");
    assert_eq!(
        (state.status, state.delays.len()),
        (FlightStatus::Delayed, 1)
    );
    assert!(
        state
            .passengers_notified_at
            .is_some_and(|at| at <= Utc::now())
    );

    let head = store.head().position;
    let past = |hour: u32| format!("{day}T{hour:02}:00:00Z");
    let cases = [
        (
            serde_json::json!({"notified_at": ahead(3600)}),
            ("out_of_range", "/notified_at"),
        ),
        (
            serde_json::json!({"actual_departure": ahead(3600)}),
            ("out_of_range", "/actual_departure"),
        ),
        (
            serde_json::json!({"actual_departure": past(11), "actual_arrival": ahead(3600)}),
            ("out_of_range", "/actual_arrival"),
        ),
        (
            serde_json::json!({"status": "diverted", "change_reason": "weather"}),
            ("refused", "/status"),
        ),
        (
            serde_json::json!({"status": "delayed", "delays": [{"code": "93", "minutes": 45}],
                "actual_arrival": past(20)}),
            ("refused", "/actual_arrival"),
        ),
    ];
    for (n, (changes, (code, pointer))) in cases.into_iter().enumerate() {
        let message = lh400(&format!("ops-bad-{n}"), day, changes.clone());
        assert_eq!(
            outcome_of(&ingest, "flightops", &message).await,
            (code.to_owned(), pointer.to_owned()),
            "{changes}"
        );
    }
    assert_eq!(store.head().position, head, "nothing refused is stored");
    let cancelled = serde_json::json!({"status": "cancelled", "change_reason": "crew"});
    assert_eq!(
        outcome_of(&ingest, "flightops", &lh400("ops-2", day, cancelled)).await,
        ("stored".into(), String::new())
    );
    let departed = serde_json::json!({"status": "cancelled", "actual_departure": past(11)});
    assert_eq!(
        outcome_of(&ingest, "flightops", &lh400("ops-3", day, departed)).await,
        ("refused".into(), "/actual_departure".into()),
        "a cancelled flight does not depart"
    );
    let no_tolerance =
        CrisisIngest::new(journal.clone()).with_clock_skew(std::time::Duration::ZERO);
    let notice = serde_json::json!({"status": "cancelled", "notified_at": ahead(3)});
    assert_eq!(
        outcome_of(&no_tolerance, "flightops", &lh400("ops-4", day, notice)).await,
        ("out_of_range".into(), "/notified_at".into()),
        "the tolerance is configurable"
    );
}

/// Origin dates in year 1 or 9999, receipt times decades away, a ten-year block time,
/// an origin date days from the departure, unknown fields and duplicate keys are each
/// refused with their code and field, and nothing of them is stored.
#[tokio::test]
async fn implausible_messages_are_refused_with_their_code_and_field() {
    let (_dir, store, journal) = open_store();
    let ingest = CrisisIngest::new(journal.clone());
    let day = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let years = |n: i64| stamp(Utc::now() + chrono::Duration::days(365 * n));
    let on = |date: &str| {
        serde_json::json!({"origin_date": date, "scheduled_departure": format!("{date}T10:00:00Z"),
            "scheduled_arrival": format!("{date}T18:40:00Z")})
    };
    let with_second = |message: String, key_and_value: &str| {
        format!("{},{key_and_value}}}", &message[..message.len() - 1])
    };
    let flight_cases = [
        (
            lh400("f-1", day, on("0001-01-01")),
            "out_of_range",
            "/origin_date",
        ),
        (
            lh400("f-2", day, on("9999-12-31")),
            "out_of_range",
            "/origin_date",
        ),
        (
            lh400(
                "f-3",
                day,
                serde_json::json!({"scheduled_arrival": years(10)}),
            ),
            "out_of_range",
            "/scheduled_arrival",
        ),
        (
            lh400(
                "f-4",
                day,
                serde_json::json!({
                    "scheduled_departure": format!("{}T10:00:00Z", day + chrono::Days::new(5)),
                    "scheduled_arrival": format!("{}T18:40:00Z", day + chrono::Days::new(5))}),
            ),
            "out_of_range",
            "/origin_date",
        ),
        (
            lh400("f-5", day, serde_json::json!({"gate": "B22"})),
            "unknown_field",
            "/gate",
        ),
        (
            lh400(
                "f-6",
                day,
                serde_json::json!({"delays": [{"code": "93", "minutes": 5, "note": "x"}]}),
            ),
            "unknown_field",
            "/delays/0/note",
        ),
        (
            with_second(
                lh400("f-7", day, serde_json::json!({})),
                r#""status":"cancelled""#,
            ),
            "duplicate_key",
            "/status",
        ),
    ];
    let feedback = |source: &str, changes: serde_json::Value| {
        let mut message = serde_json::json!({"v": 1, "source_message_id": source,
            "channel": "email", "text": "my bag never arrived", "passenger_ref": "FF9",
            "flight": {"carrier": "LH", "flight_number": "400", "origin_date": day.to_string()},
            "category_hint": "baggage_lost", "received_at": stamp(Utc::now())});
        for (field, value) in changes.as_object().unwrap() {
            message[field] = value.clone();
        }
        message.to_string()
    };
    let feedback_cases = [
        (
            feedback("b-1", serde_json::json!({"received_at": years(-30)})),
            "out_of_range",
            "/received_at",
        ),
        (
            feedback("b-2", serde_json::json!({"received_at": years(30)})),
            "out_of_range",
            "/received_at",
        ),
        (
            feedback(
                "b-3",
                serde_json::json!({"flight": {"carrier": "LH", "flight_number": "400",
                    "origin_date": "9999-12-31"}}),
            ),
            "out_of_range",
            "/flight/origin_date",
        ),
        (
            feedback(
                "b-4",
                serde_json::json!({"flight": {"carrier": "LH", "flight_number": "400",
                    "origin_date": day.to_string(), "seat": "12A"}}),
            ),
            "unknown_field",
            "/flight/seat",
        ),
        (
            feedback("b-5", serde_json::json!({})).replacen(
                r#""flight":{"#,
                r#""flight":{"carrier":"LX","#,
                1,
            ),
            "duplicate_key",
            "/flight/carrier",
        ),
        (
            with_second(
                feedback("b-6", serde_json::json!({})),
                r#""text":"call me on +49 170 1234567""#,
            ),
            "duplicate_key",
            "/text",
        ),
    ];
    let head = store.head().position;
    for (kind, cases) in [
        ("flightops", &flight_cases[..]),
        ("feedback", &feedback_cases[..]),
    ] {
        for (payload, code, pointer) in cases {
            let rejection = ingest
                .ingest(kind, payload.as_bytes(), &ingest_actor("test"))
                .await;
            let Ok(Handled::Rejected(rejection)) = rejection else {
                panic!("{payload}: {rejection:?}")
            };
            assert_eq!(
                (rejection.code.as_str(), rejection.pointer.as_str()),
                (*code, *pointer),
                "{payload}: {}",
                rejection.message
            );
            assert!(
                !rejection.message.contains("1234567") && !rejection.message.contains("bag"),
                "no customer words in {}",
                rejection.message
            );
        }
    }
    assert_eq!(store.head().position, head, "nothing implausible is stored");
    let dotted = feedback("b-7", serde_json::json!({"passenger_ref": "FF.1234"}));
    assert_eq!(
        outcome_of(&ingest, "feedback", &dotted).await,
        ("stored".into(), String::new()),
        "a passenger id with '.' follows the one passenger-id rule"
    );
}
