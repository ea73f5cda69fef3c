//! Ingest over HTTP.

use super::*;

/// Ingest reads JSON only when the request says it is JSON (parameters such as charset
/// allowed); anything else is 415 and nothing is stored.
#[tokio::test]
async fn http_ingest_refuses_a_body_not_declared_json() {
    let api = api().await;
    let message = feedback_message("fb-media");
    let undeclared: [&[(&str, &str)]; 4] = [
        &[],
        &[("content-type", "text/plain")],
        &[("content-type", "application/x-www-form-urlencoded")],
        &[("content-type", "application/jsonl")],
    ];
    for headers in undeclared {
        let reply = api
            .call(
                Some("channel"),
                Method::POST,
                "/v1/ingest/feedback",
                headers,
                Some(message.clone()),
            )
            .await;
        problem(
            &reply,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
    }
    assert_eq!(api.store.head().position, 0, "nothing stored");
    for content_type in ["application/json", "Application/JSON; charset=utf-8"] {
        let reply = api
            .call(
                Some("channel"),
                Method::POST,
                "/v1/ingest/feedback",
                &[("content-type", content_type)],
                Some(message.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }
}

#[tokio::test]
async fn http_ingest_stores_valid_messages_once_and_rejects_bad_ones_with_the_field() {
    let api = api().await;
    let message = feedback_message("fb-1");
    let stored = api
        .post("channel", "/v1/ingest/feedback", message.clone())
        .await;
    assert_eq!(stored.status, StatusCode::ACCEPTED, "{}", stored.text);
    let again = api
        .post("channel", "/v1/ingest/feedback", message.clone())
        .await;
    assert_eq!(
        again.status,
        StatusCode::ACCEPTED,
        "a retry is accepted and changes nothing"
    );
    let events = api.get("admin", "/v1/audit/events").await;
    let lines: Vec<Value> = events
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let signals = lines
        .iter()
        .filter(|e| e["type"] == "signal.recorded")
        .count();
    assert_eq!(signals, 1, "{}", events.text);
    assert_eq!(
        lines[0]["actor"]["id"], "channel-1",
        "the actor comes from the token"
    );
    assert_eq!(lines[0]["actor"]["role"], "channel");
    // Feedback is a customer channel's, not flight operations'.
    let ops = api
        .post(
            "flight_ops",
            "/v1/ingest/feedback",
            feedback_message("fb-ops"),
        )
        .await;
    problem(&ops, StatusCode::FORBIDDEN, "forbidden");

    let mut bad = message.clone();
    bad["received_at"] = json!("yesterday");
    bad["source_message_id"] = json!("fb-2");
    let rejected = api.post("channel", "/v1/ingest/feedback", bad).await;
    assert_eq!(
        rejected.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        rejected.text
    );
    assert_eq!(rejected.body["field"], "/received_at", "{}", rejected.text);
    let mut version = message.clone();
    version["v"] = json!(9);
    let rejected = api.post("channel", "/v1/ingest/feedback", version).await;
    problem(
        &rejected,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unsupported_version",
    );
    problem(
        &api.post("flight_ops", "/v1/ingest/weather", json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    problem(
        &api.post("agent", "/v1/ingest/feedback", message).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

/// Feedback says what it is (issue 21): a suggestion joins the suggestion loop, an
/// inquiry stays a signal even from an identified passenger naming a problem, and a
/// complaint without its passenger is refused naming the field.
#[tokio::test]
async fn feedback_carries_suggestions_and_inquiries_as_well_as_complaints() {
    let api = api().await;
    let mut suggestion = feedback_message("fb-idea");
    suggestion["kind"] = json!("suggestion");
    suggestion["text"] = json!("a quiet zone at the gate, please");
    let stored = api
        .post("channel", "/v1/ingest/feedback", suggestion.clone())
        .await;
    assert_eq!(stored.status, StatusCode::ACCEPTED, "{}", stored.text);
    let again = api.post("channel", "/v1/ingest/feedback", suggestion).await;
    assert_eq!(
        again.status,
        StatusCode::ACCEPTED,
        "a redelivery changes nothing"
    );
    let id = crate::app::feedback::suggestion_id("fb-idea");
    let view = api
        .get(
            "agent",
            &format!("/v1/suggestions/{id}?after={}", api.store.head().position),
        )
        .await;
    assert_eq!(view.status, StatusCode::OK, "{}", view.text);
    assert_eq!(
        (&view.body["stage"], &view.body["channel"]),
        (&json!("received"), &json!("email"))
    );

    let mut inquiry = feedback_message("fb-question");
    inquiry["kind"] = json!("inquiry");
    let stored = api.post("channel", "/v1/ingest/feedback", inquiry).await;
    assert_eq!(stored.status, StatusCode::ACCEPTED, "{}", stored.text);
    let events = api.get("admin", "/v1/audit/events").await;
    let types: Vec<String> = events
        .text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        ["signal.recorded", "suggestion.received", "signal.recorded"],
        "no complaint from either"
    );
    let kinds: Vec<Value> = events
        .text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == "signal.recorded")
        .map(|e| e["data"]["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("suggestion"), json!("inquiry")]);

    let mut anonymous = feedback_message("fb-who");
    anonymous["kind"] = json!("complaint");
    anonymous.as_object_mut().unwrap().remove("passenger_ref");
    let refused = api.post("channel", "/v1/ingest/feedback", anonymous).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert!(refused.text.contains("passenger_ref"), "{}", refused.text);
    let today = chrono::Utc::now().date_naive();
    let report = api
        .get(
            "agent",
            &format!(
                "/v1/reports?period=day&date={today}&after={}",
                api.store.head().position
            ),
        )
        .await;
    let total = &report.body["total"];
    assert_eq!(
        (
            &total["feedback"],
            &total["inquiries"],
            &total["suggestions"],
            &total["complaints"]
        ),
        (&json!(2), &json!(1), &json!(1), &json!(0)),
        "{}",
        report.text
    );
}
