use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn known(code: &str) -> bool {
    crate::domain::policy::airports::is_known(code)
}

fn flight_ops() -> Value {
    json!({
        "v": 1, "source_message_id": "aidx-0001", "carrier": "LH", "flight_number": "400",
        "origin_date": "2026-11-22", "origin": "FRA", "destination": "JFK",
        "scheduled_departure": "2026-11-22T10:00:00Z", "scheduled_arrival": "2026-11-22T18:40:00Z",
        "estimated_departure": "2026-11-22T13:30:00+01:00", "status": "delayed",
        "delays": [{"code": "41", "minutes": 150}, {"code": "93", "minutes": 60}],
        "change_reason": "aircraft defect", "notified_at": "2026-11-22T08:00:00Z", "passenger_count": 320,
        "a_field_from_the_future": true
    })
}

fn feedback() -> Value {
    json!({
        "v": 1, "source_message_id": "tw-99", "channel": "social_media",
        "text": "Stuck at FRA for 4 hours, my phone is +49 170 1234567",
        "passenger_ref": "FF123456", "flight": {"carrier": "LH", "flight_number": "400", "origin_date": "2026-11-22"},
        "category_hint": "delay", "received_at": "2026-11-22T12:00:00Z", "reach": 15000
    })
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn with(mut value: Value, pointer: &str, new: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut value
    } else {
        value.pointer_mut(parent).unwrap()
    };
    match (target, new) {
        (Value::Object(map), Some(v)) => {
            map.insert(key.to_owned(), v);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(v)) => items[key.parse::<usize>().unwrap()] = v,
        _ => unreachable!(),
    }
    value
}

#[test]
fn valid_messages_parse_with_normalised_times() {
    let message =
        parse_flight_ops(&bytes(&flight_ops()), INGEST_MESSAGE_BYTES_MAX, &known).unwrap();
    assert_eq!(message.flight_key().to_string(), "LH400-2026-11-22");
    assert_eq!(
        message.estimated_departure.unwrap().to_rfc3339(),
        "2026-11-22T12:30:00+00:00"
    );
    assert_eq!(message.delays.len(), 2);
    assert_eq!(message.status, FlightStatus::Delayed);
    let fb = parse_feedback(&bytes(&feedback()), INGEST_MESSAGE_BYTES_MAX).unwrap();
    assert_eq!(fb.passenger().unwrap().0, "FF123456");
    assert_eq!(
        fb.flight.unwrap().flight_key().to_string(),
        "LH400-2026-11-22"
    );
    let minimal = json!({"v": 1, "source_message_id": "m", "channel": "hotline", "text": "", "received_at": "2026-11-22T12:00:00Z"});
    assert!(parse_feedback(&bytes(&minimal), INGEST_MESSAGE_BYTES_MAX).is_ok());
}

#[test]
fn malformed_flight_ops_messages_name_code_and_field() {
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (b"not json".to_vec(), "not_json", ""),
        (b"[1,2,3]".to_vec(), "not_json", ""),
        (vec![0xff, 0xfe, 0xfd], "not_json", ""),
        (vec![b' '; INGEST_MESSAGE_BYTES_MAX + 1], "too_large", ""),
        (
            bytes(&with(flight_ops(), "/v", Some(json!(2)))),
            "unsupported_version",
            "/v",
        ),
        (
            bytes(&with(flight_ops(), "/v", None)),
            "missing_field",
            "/v",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/source_message_id",
                Some(json!("has space")),
            )),
            "invalid_field",
            "/source_message_id",
        ),
        (
            bytes(&with(flight_ops(), "/carrier", Some(json!("lufthansa")))),
            "out_of_range",
            "/carrier",
        ),
        (
            bytes(&with(flight_ops(), "/carrier", Some(json!("l1")))),
            "invalid_field",
            "/carrier",
        ),
        (
            bytes(&with(flight_ops(), "/flight_number", Some(json!("40000")))),
            "invalid_field",
            "/flight_number",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/origin_date",
                Some(json!("22/11/2026")),
            )),
            "invalid_field",
            "/origin_date",
        ),
        (
            bytes(&with(flight_ops(), "/origin", Some(json!("QQQ")))),
            "unknown_airport",
            "/origin",
        ),
        (
            bytes(&with(flight_ops(), "/destination", Some(json!("FRA")))),
            "invalid_field",
            "/destination",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/scheduled_arrival",
                Some(json!("2026-11-22T09:00:00Z")),
            )),
            "out_of_range",
            "/scheduled_arrival",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/scheduled_departure",
                Some(json!("tomorrow")),
            )),
            "invalid_field",
            "/scheduled_departure",
        ),
        (
            bytes(&with(flight_ops(), "/status", Some(json!("late")))),
            "invalid_field",
            "/status",
        ),
        (
            bytes(&with(flight_ops(), "/status", None)),
            "missing_field",
            "/status",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/delays/1",
                Some(json!({"code": "9X", "minutes": 5})),
            )),
            "invalid_field",
            "/delays/1/code",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/delays/1",
                Some(json!({"code": "93", "minutes": -5})),
            )),
            "invalid_field",
            "/delays/1/minutes",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/delays/0",
                Some(json!({"code": "93", "minutes": 99999})),
            )),
            "out_of_range",
            "/delays/0/minutes",
        ),
        (
            bytes(&with(flight_ops(), "/delays", Some(json!("41:150")))),
            "invalid_field",
            "/delays",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/passenger_count",
                Some(json!(1_000_000)),
            )),
            "out_of_range",
            "/passenger_count",
        ),
        (
            bytes(&with(flight_ops(), "/passenger_count", Some(json!(1.5)))),
            "invalid_field",
            "/passenger_count",
        ),
        (
            bytes(&with(
                flight_ops(),
                "/actual_departure",
                Some(json!("2026-11-22T13:00:00Z")),
            ))
            .into_iter()
            .chain(Vec::new())
            .collect(),
            "ok",
            "",
        ),
    ];
    for (payload, code, pointer) in cases {
        match parse_flight_ops(&payload, INGEST_MESSAGE_BYTES_MAX, &known) {
            Ok(_) => assert_eq!(code, "ok", "{code} {pointer}: accepted"),
            Err(rejection) => {
                assert_eq!(
                    (rejection.code, rejection.pointer.as_str()),
                    (code, pointer),
                    "{}",
                    rejection.message
                );
                assert!(!rejection.message.is_empty());
            }
        }
    }
    let rejection = parse_flight_ops(
        &bytes(&with(flight_ops(), "/origin", Some(json!("QQQ")))),
        INGEST_MESSAGE_BYTES_MAX,
        &known,
    )
    .unwrap_err();
    assert_eq!(
        rejection.source_message_id.as_deref(),
        Some("aidx-0001"),
        "rejections carry the source id"
    );
}

#[test]
fn malformed_feedback_messages_name_code_and_field_without_quoting_the_customer() {
    let cases = vec![
        (
            with(feedback(), "/channel", Some(json!("pigeon"))),
            "invalid_field",
            "/channel",
        ),
        (with(feedback(), "/text", None), "missing_field", "/text"),
        (
            with(feedback(), "/text", Some(json!("x".repeat(10_001)))),
            "out_of_range",
            "/text",
        ),
        (
            with(
                feedback(),
                "/passenger_ref",
                Some(json!("jane.doe@example.com")),
            ),
            "invalid_field",
            "/passenger_ref",
        ),
        (
            with(
                feedback(),
                "/flight",
                Some(json!({"carrier": "LH", "flight_number": "abc", "origin_date": "2026-11-22"})),
            ),
            "invalid_field",
            "/flight/flight_number",
        ),
        (
            with(
                feedback(),
                "/flight",
                Some(json!({"carrier": "LH", "flight_number": "400"})),
            ),
            "missing_field",
            "/flight/origin_date",
        ),
        (
            with(feedback(), "/category_hint", Some(json!("rude"))),
            "invalid_field",
            "/category_hint",
        ),
        (
            with(feedback(), "/received_at", None),
            "missing_field",
            "/received_at",
        ),
        (
            with(feedback(), "/reach", Some(json!(-1))),
            "invalid_field",
            "/reach",
        ),
    ];
    for (message, code, pointer) in cases {
        let rejection = parse_feedback(&bytes(&message), INGEST_MESSAGE_BYTES_MAX).unwrap_err();
        assert_eq!(
            (rejection.code, rejection.pointer.as_str()),
            (code, pointer),
            "{}",
            rejection.message
        );
        assert!(
            !rejection.message.contains("jane.doe") && !rejection.message.contains("1234567"),
            "no personal data in {}",
            rejection.message
        );
    }
    let parsed = parse_feedback(&bytes(&feedback()), INGEST_MESSAGE_BYTES_MAX).unwrap();
    let debug = format!("{parsed:?}");
    assert!(
        !debug.contains("1234567") && !debug.contains("FF123456"),
        "Debug hides the text and the passenger: {debug}"
    );
}

#[test]
fn schemas_describe_both_formats() {
    let names: Vec<_> = schemas()
        .iter()
        .map(|(name, version, _)| format!("{name}.v{version}"))
        .collect();
    assert_eq!(names, vec!["flightops.v1", "feedback.v1"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn hostile_bytes_never_panic(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_flight_ops(&payload, 256, &known);
        let _ = parse_feedback(&payload, 256);
    }

    #[test]
    fn any_field_replaced_by_any_json_is_parsed_or_rejected_with_a_pointer(
        field in prop::sample::select(vec!["v", "source_message_id", "carrier", "flight_number", "origin_date", "origin", "destination", "scheduled_departure", "scheduled_arrival", "status", "delays", "passenger_count", "notified_at"]),
        replacement in prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from), any::<bool>().prop_map(Value::from), ".{0,12}".prop_map(Value::from), Just(json!([{"code": 1}])), Just(json!({}))],
    ) {
        let message = with(flight_ops(), &format!("/{field}"), Some(replacement));
        if let Err(rejection) = parse_flight_ops(&bytes(&message), INGEST_MESSAGE_BYTES_MAX, &known) {
            prop_assert!(rejection.pointer.starts_with(&format!("/{field}")), "{} for field {}", rejection.pointer, field);
        }
    }
}
