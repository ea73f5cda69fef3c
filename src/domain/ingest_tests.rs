use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn known(code: &str) -> bool {
    crate::domain::policy::airports::is_known(code)
}

/// Read at midnight after the fixtures' flight day (the parser is pure: `now` is input).
fn limits() -> IngestLimits {
    IngestLimits::at("2026-11-23T00:00:00Z".parse().unwrap())
}

fn flight_ops_at(payload: &[u8]) -> Result<FlightOpsMessageV1, Rejection> {
    parse_flight_ops(payload, &limits(), &known)
}

fn feedback_at(payload: &[u8]) -> Result<FeedbackMessageV1, Rejection> {
    parse_feedback(payload, &limits())
}

fn flight_ops() -> Value {
    json!({
        "v": 1, "source_message_id": "aidx-0001", "carrier": "LH", "flight_number": "400",
        "origin_date": "2026-11-22", "origin": "FRA", "destination": "JFK",
        "scheduled_departure": "2026-11-22T10:00:00Z", "scheduled_arrival": "2026-11-22T18:40:00Z",
        "estimated_departure": "2026-11-22T13:30:00+01:00", "status": "delayed",
        "delays": [{"code": "41", "minutes": 150}, {"code": "93", "minutes": 60}],
        "change_reason": "aircraft defect", "notified_at": "2026-11-22T08:00:00Z", "passenger_count": 320
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

/// Byte-level edits for payloads a `Value` cannot hold (repeated keys).
trait ReplaceFirst {
    fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceFirst for Vec<u8> {
    fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let at = self
            .windows(from.len())
            .position(|w| w == from)
            .expect("the text to replace is there");
        [&self[..at], to, &self[at + from.len()..]].concat()
    }
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
    let message = flight_ops_at(&bytes(&flight_ops())).unwrap();
    assert_eq!(message.flight_key().to_string(), "LH400-2026-11-22");
    assert_eq!(
        message.estimated_departure.unwrap().to_rfc3339(),
        "2026-11-22T12:30:00+00:00"
    );
    assert_eq!(message.delays.len(), 2);
    assert_eq!(message.status, FlightStatus::Delayed);
    let fb = feedback_at(&bytes(&feedback())).unwrap();
    assert_eq!(fb.passenger().unwrap().0, "FF123456");
    assert_eq!(
        fb.flight.unwrap().flight_key().to_string(),
        "LH400-2026-11-22"
    );
    let minimal = json!({"v": 1, "source_message_id": "m", "channel": "hotline", "text": "", "received_at": "2026-11-22T12:00:00Z"});
    assert!(feedback_at(&bytes(&minimal)).is_ok());
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
            bytes(&with(flight_ops(), "/arrival_airport", Some(json!("QQQ")))),
            "unknown_airport",
            "/arrival_airport",
        ),
        (
            bytes(&with(flight_ops(), "/arrival_airport", Some(json!("BOS")))),
            "invalid_field",
            "/arrival_airport",
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
        match flight_ops_at(&payload) {
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
    let rejection =
        flight_ops_at(&bytes(&with(flight_ops(), "/origin", Some(json!("QQQ"))))).unwrap_err();
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
        let rejection = feedback_at(&bytes(&message)).unwrap_err();
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
    let parsed = feedback_at(&bytes(&feedback())).unwrap();
    let debug = format!("{parsed:?}");
    assert!(
        !debug.contains("1234567") && !debug.contains("FF123456"),
        "Debug hides the text and the passenger: {debug}"
    );
}

/// Sets `changes` (pointer → value; `None` removes) on `message`.
fn changed(message: Value, changes: &[(&str, Option<Value>)]) -> Value {
    changes.iter().fold(message, |m, (pointer, value)| {
        with(m, pointer, value.clone())
    })
}

/// The fixtures' flight on another origin date (schedule moved with it, no notice).
fn flight_on(date: &str) -> Value {
    changed(
        flight_ops(),
        &[
            ("/origin_date", Some(json!(date))),
            (
                "/scheduled_departure",
                Some(json!(format!("{date}T10:00:00Z"))),
            ),
            (
                "/scheduled_arrival",
                Some(json!(format!("{date}T18:40:00Z"))),
            ),
            ("/estimated_departure", None),
            ("/notified_at", None),
        ],
    )
}

fn outcome(result: Result<impl Sized, Rejection>) -> (&'static str, String) {
    match result {
        Ok(_) => ("ok", String::new()),
        Err(rejection) => (rejection.code, rejection.pointer),
    }
}

/// Bounds relative to `now` (2026-11-23T00:00Z here): origin dates 366 days back to 731
/// ahead, facts at most 366 days old and at most the skew (5 min) ahead, block time at
/// most 30 h, origin date within a day of the scheduled departure's UTC date.
#[test]
fn implausible_times_and_dates_are_out_of_range_at_their_field() {
    let at = |t: &str| Some(json!(t));
    let flight_cases = [
        (flight_on("0001-01-01"), ("out_of_range", "/origin_date")),
        (flight_on("9999-12-31"), ("out_of_range", "/origin_date")),
        (flight_on("2025-11-21"), ("out_of_range", "/origin_date")),
        (flight_on("2025-11-22"), ("ok", "")),
        (flight_on("2028-11-23"), ("ok", "")),
        (flight_on("2028-11-24"), ("out_of_range", "/origin_date")),
        (
            changed(flight_ops(), &[("/origin_date", at("2026-11-20"))]),
            ("out_of_range", "/origin_date"),
        ),
        (
            changed(flight_ops(), &[("/origin_date", at("2026-11-21"))]),
            ("ok", ""),
        ),
        (
            changed(flight_ops(), &[("/origin_date", at("2026-11-23"))]),
            ("ok", ""),
        ),
        (
            changed(
                flight_ops(),
                &[("/scheduled_arrival", at("2026-11-23T16:00:00Z"))],
            ),
            ("ok", ""),
        ),
        (
            changed(
                flight_ops(),
                &[("/scheduled_arrival", at("2026-11-23T16:00:01Z"))],
            ),
            ("out_of_range", "/scheduled_arrival"),
        ),
        (
            changed(
                flight_ops(),
                &[("/scheduled_arrival", at("2036-11-22T18:40:00Z"))],
            ),
            ("out_of_range", "/scheduled_arrival"),
        ),
        (
            changed(
                flight_ops(),
                &[("/notified_at", at("2026-11-23T00:05:00Z"))],
            ),
            ("ok", ""),
        ),
        (
            changed(
                flight_ops(),
                &[("/notified_at", at("2026-11-23T00:05:01Z"))],
            ),
            ("out_of_range", "/notified_at"),
        ),
        (
            changed(
                flight_ops(),
                &[("/actual_departure", at("2027-01-01T10:00:00Z"))],
            ),
            ("out_of_range", "/actual_departure"),
        ),
        (
            changed(
                flight_ops(),
                &[("/actual_departure", at("2025-11-21T23:59:59Z"))],
            ),
            ("out_of_range", "/actual_departure"),
        ),
        (
            changed(
                flight_ops(),
                &[
                    ("/actual_departure", at("2026-11-22T13:00:00Z")),
                    ("/actual_arrival", at("2046-11-22T21:00:00Z")),
                ],
            ),
            ("out_of_range", "/actual_arrival"),
        ),
        (
            changed(flight_ops(), &[("/change_reason", at(" "))]),
            ("invalid_field", "/change_reason"),
        ),
    ];
    for (message, (code, pointer)) in flight_cases {
        assert_eq!(
            outcome(flight_ops_at(&bytes(&message))),
            (code, pointer.to_owned()),
            "{message}"
        );
    }
    let feedback_cases = [
        (
            with(feedback(), "/received_at", at("2026-11-23T00:05:00Z")),
            ("ok", ""),
        ),
        (
            with(feedback(), "/received_at", at("2026-11-23T00:05:01Z")),
            ("out_of_range", "/received_at"),
        ),
        (
            with(feedback(), "/received_at", at("2056-11-22T12:00:00Z")),
            ("out_of_range", "/received_at"),
        ),
        (
            with(feedback(), "/received_at", at("2025-11-22T00:00:00Z")),
            ("ok", ""),
        ),
        (
            with(feedback(), "/received_at", at("1996-11-22T12:00:00Z")),
            ("out_of_range", "/received_at"),
        ),
        (
            with(feedback(), "/flight/origin_date", at("9999-12-31")),
            ("out_of_range", "/flight/origin_date"),
        ),
        (
            with(feedback(), "/flight/origin_date", at("0001-01-01")),
            ("out_of_range", "/flight/origin_date"),
        ),
    ];
    for (message, (code, pointer)) in feedback_cases {
        assert_eq!(
            outcome(feedback_at(&bytes(&message))),
            (code, pointer.to_owned()),
            "{message}"
        );
    }
    let strict = IngestLimits {
        clock_skew: TimeDelta::zero(),
        ..limits()
    };
    let a_second_ahead = with(feedback(), "/received_at", at("2026-11-23T00:00:01Z"));
    assert_eq!(
        outcome(parse_feedback(&bytes(&a_second_ahead), &strict)),
        ("out_of_range", "/received_at".to_owned()),
        "no tolerance configured"
    );
}

#[test]
fn unknown_fields_and_repeated_keys_are_refused_at_their_pointer() {
    let cases = [
        (
            bytes(&with(flight_ops(), "/gate", Some(json!("B22")))),
            ("unknown_field", "/gate"),
        ),
        (
            bytes(&with(
                flight_ops(),
                "/delays/0",
                Some(json!({"code": "41", "minutes": 150, "note": "x"})),
            )),
            ("unknown_field", "/delays/0/note"),
        ),
        (
            bytes(&with(
                with(flight_ops(), "/v", Some(json!(2))),
                "/gate",
                Some(json!("B22")),
            )),
            ("unsupported_version", "/v"),
        ),
        (
            br#"{"v": 1, "source_message_id": "m", "status": "delayed", "status": "cancelled"}"#
                .to_vec(),
            ("duplicate_key", "/status"),
        ),
        (
            bytes(&flight_ops())
                .into_iter()
                .collect::<Vec<u8>>()
                .replace_first(br#"{"code":"93","#, br#"{"code":"93","code":"41","#),
            ("duplicate_key", "/delays/1/code"),
        ),
    ];
    for (payload, (code, pointer)) in cases {
        let text = String::from_utf8_lossy(&payload).into_owned();
        assert_eq!(
            outcome(flight_ops_at(&payload)),
            (code, pointer.to_owned()),
            "{text}"
        );
    }
    let feedback_cases = [
        (
            bytes(&with(feedback(), "/flight/seat", Some(json!("12A")))),
            ("unknown_field", "/flight/seat"),
        ),
        (
            bytes(&{
                let mut message = feedback();
                message["a~b/c"] = json!(1);
                message
            }),
            ("unknown_field", "/a~0b~1c"),
        ),
        (
            bytes(&feedback())
                .replace_first(br#""text":"#, br#""text":"call +49 170 7654321","text":"#),
            ("duplicate_key", "/text"),
        ),
    ];
    for (payload, (code, pointer)) in feedback_cases {
        let rejection = feedback_at(&payload).unwrap_err();
        assert_eq!(
            (rejection.code, rejection.pointer.as_str()),
            (code, pointer)
        );
        assert_eq!(rejection.source_message_id.as_deref(), Some("tw-99"));
        assert!(
            !rejection.message.contains("7654321") && !rejection.message.contains("1234567"),
            "no customer words in {}",
            rejection.message
        );
    }
}

#[test]
fn passenger_ref_follows_the_one_passenger_id_rule() {
    for (id, expected) in [
        ("FF.123_4-5", ("ok", "")),
        ("jane.doe@example.com", ("invalid_field", "/passenger_ref")),
        ("FF 123", ("invalid_field", "/passenger_ref")),
        ("", ("invalid_field", "/passenger_ref")),
        ("Ä", ("invalid_field", "/passenger_ref")),
    ] {
        let message = with(feedback(), "/passenger_ref", Some(json!(id)));
        assert_eq!(
            outcome(feedback_at(&bytes(&message))),
            (expected.0, expected.1.to_owned()),
            "{id:?}"
        );
    }
}

/// The fields the parser knows are the schema's properties, and the schemas say that
/// no other is allowed.
#[test]
fn known_fields_are_the_schemas_properties() {
    fn properties(schema: &schemars::Schema) -> Vec<String> {
        let value = schema.as_value();
        assert_eq!(value["additionalProperties"], json!(false), "{value}");
        let mut names: Vec<String> = value["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }
    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
        names.sort();
        names
    }
    for (schema, fields) in [
        (schemars::schema_for!(FlightOpsMessageV1), FLIGHT_OPS_FIELDS),
        (schemars::schema_for!(DelayEntry), DELAY_FIELDS),
        (schemars::schema_for!(FeedbackMessageV1), FEEDBACK_FIELDS),
        (schemars::schema_for!(FlightRef), FLIGHT_REF_FIELDS),
        (
            schemars::schema_for!(ManifestMessageV1),
            manifest::MANIFEST_FIELDS,
        ),
        (
            schemars::schema_for!(ManifestPassengerV1),
            manifest::PASSENGER_FIELDS,
        ),
    ] {
        assert_eq!(properties(&schema), sorted(fields));
    }
}

#[test]
fn schemas_describe_both_formats() {
    let names: Vec<_> = schemas()
        .iter()
        .map(|(name, version, _)| format!("{name}.v{version}"))
        .collect();
    assert_eq!(names, vec!["flightops.v1", "feedback.v1", "manifest.v1"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn hostile_bytes_never_panic(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        let small = IngestLimits { max_bytes: 256, ..limits() };
        let _ = parse_flight_ops(&payload, &small, &known);
        let _ = parse_feedback(&payload, &small);
    }

    #[test]
    fn any_field_replaced_by_any_json_is_parsed_or_rejected_with_a_pointer(
        field in prop::sample::select(vec!["v", "source_message_id", "carrier", "flight_number", "origin_date", "origin", "destination", "scheduled_departure", "scheduled_arrival", "status", "delays", "passenger_count", "notified_at"]),
        replacement in prop_oneof![Just(Value::Null), any::<i64>().prop_map(Value::from), any::<bool>().prop_map(Value::from), ".{0,12}".prop_map(Value::from), Just(json!([{"code": 1}])), Just(json!({}))],
    ) {
        let message = with(flight_ops(), &format!("/{field}"), Some(replacement));
        if let Err(rejection) = flight_ops_at(&bytes(&message)) {
            prop_assert!(rejection.pointer.starts_with(&format!("/{field}")), "{} for field {}", rejection.pointer, field);
        }
    }
}

fn manifest() -> Value {
    json!({
        "v": 1, "source_message_id": "dcs-0001", "carrier": "LH", "flight_number": "400",
        "origin_date": "2026-11-22",
        "passengers": [
            {"passenger_ref": "FF1", "name": "Ada Lovelace", "tier": "gold", "booking_class": "Y",
             "fare": {"amount_minor": 45000, "currency": "EUR"}, "final_destination": "LAX",
             "contact_consent": ["sms", "email", "sms"], "boarded": true},
            {"passenger_ref": "FF2", "tier": "none", "booking_class": "J"}
        ]
    })
}

#[test]
fn a_manifest_lists_each_passenger_once_with_their_booking() {
    let parsed = parse_manifest(&bytes(&manifest()), &limits(), &known).unwrap();
    assert_eq!(parsed.passengers.len(), 2);
    let ada = &parsed.passengers[0];
    assert_eq!(
        ada.contact_consent,
        vec!["email", "sms"],
        "sorted, once each"
    );
    assert_eq!(ada.final_destination.as_deref(), Some("LAX"));
    assert!(ada.boarded && !parsed.passengers[1].boarded);
    assert!(
        !format!("{parsed:?}").contains("Ada"),
        "Debug holds no names"
    );
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(manifest(), "/passengers", None),
            "missing_field",
            "/passengers",
        ),
        (
            with(manifest(), "/passengers", Some(json!({}))),
            "invalid_field",
            "/passengers",
        ),
        (
            with(
                manifest(),
                "/passengers/1/passenger_ref",
                Some(json!("FF1")),
            ),
            "invalid_field",
            "/passengers/1/passenger_ref",
        ),
        (
            with(
                manifest(),
                "/passengers/1/passenger_ref",
                Some(json!("FF.2")),
            ),
            "invalid_field",
            "/passengers/1/passenger_ref",
        ),
        (
            with(manifest(), "/passengers/1/booking_class", Some(json!("y"))),
            "invalid_field",
            "/passengers/1/booking_class",
        ),
        (
            with(
                manifest(),
                "/passengers/0/fare/currency",
                Some(json!("eur")),
            ),
            "invalid_field",
            "/passengers/0/fare/currency",
        ),
        (
            with(
                manifest(),
                "/passengers/0/final_destination",
                Some(json!("QQQ")),
            ),
            "unknown_airport",
            "/passengers/0/final_destination",
        ),
        (
            with(
                manifest(),
                "/passengers/0/contact_consent/0",
                Some(json!("pigeon")),
            ),
            "invalid_field",
            "/passengers/0/contact_consent/0",
        ),
        (
            with(manifest(), "/passengers/0/name", Some(json!("  "))),
            "invalid_field",
            "/passengers/0/name",
        ),
        (
            with(manifest(), "/passengers/0/seat", Some(json!("12A"))),
            "unknown_field",
            "/passengers/0/seat",
        ),
        (
            with(manifest(), "/passengers/1/tier", None),
            "missing_field",
            "/passengers/1/tier",
        ),
    ];
    for (message, code, pointer) in cases {
        let rejection = parse_manifest(&bytes(&message), &limits(), &known).unwrap_err();
        assert_eq!(
            (rejection.code, rejection.pointer.as_str()),
            (code, pointer),
            "{}",
            rejection.message
        );
        assert!(!rejection.message.contains("Ada"), "{}", rejection.message);
    }
    let crowded: Vec<Value> = (0..=manifest::MANIFEST_PASSENGERS_MAX)
        .map(|i| json!({"passenger_ref": format!("P{i}"), "tier": "none", "booking_class": "Y"}))
        .collect();
    let big = with(manifest(), "/passengers", Some(Value::Array(crowded)));
    let limits = IngestLimits {
        max_bytes: MANIFEST_BYTES_MAX,
        ..limits()
    };
    let rejection = parse_manifest(&bytes(&big), &limits, &known).unwrap_err();
    assert_eq!(
        (rejection.code, rejection.pointer.as_str()),
        ("out_of_range", "/passengers")
    );
}
