use super::*;
use crate::store::{EventStore, StoreConfig};

/// A source message id names one message: its redelivery changes nothing, a
/// different message under the same id is rejected with its own code, never
/// acknowledged as stored while its content is dropped.
#[tokio::test]
async fn a_source_message_id_reused_for_other_content_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(StoreConfig::new(dir.path())).unwrap();
    let ingest = CrisisIngest::new(store.clone());
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
    let ingest = CrisisIngest::new(SledStore::open(StoreConfig::new(dir.path())).unwrap());
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
