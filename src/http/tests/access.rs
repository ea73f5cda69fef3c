//! Tokens and roles on every route, the OpenAPI document, metrics.

use super::*;

#[tokio::test]
async fn a_request_without_a_valid_token_is_401_and_the_wrong_role_403() {
    let api = api().await;
    let uri = "/v1/incidents";
    let body = json!({"title": "t", "category": "delay", "severity": "high", "flight": null, "correlation_key": null, "signal_ids": []});
    let reply = api
        .call(None, Method::POST, uri, &[], Some(body.clone()))
        .await;
    problem(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(reply.headers.contains_key("www-authenticate"));
    let forged = api
        .call(
            None,
            Method::GET,
            uri,
            &[("authorization", "Bearer crisisd_forged")],
            None,
        )
        .await;
    problem(&forged, StatusCode::UNAUTHORIZED, "unauthorized");
    // The scheme is case-insensitive (RFC 9110 §11.1); a missing token is not one.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let header = format!("{scheme} {}", api.tokens["crisis_lead"]);
        let reply = api
            .call(None, Method::GET, uri, &[("authorization", &header)], None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme}: {}", reply.text);
    }
    for header in ["Bearer", "Bearer   ", "Basic abc", "bearertoken"] {
        let reply = api
            .call(None, Method::GET, uri, &[("authorization", header)], None)
            .await;
        problem(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    for role in ["agent", "auditor", "flight_ops"] {
        problem(
            &api.post(role, uri, body.clone()).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    problem(
        &api.get("flight_ops", uri).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        api.post("crisis_lead", uri, body.clone()).await.status,
        StatusCode::OK
    );
    assert_eq!(api.post("admin", uri, body).await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_command_in_the_role_tables_is_a_command_of_its_aggregate() {
    use super::commands::CommandTarget;
    fn check<A: CommandTarget>() {
        let schema = serde_json::to_value(schemars::schema_for!(A::Command)).unwrap();
        let text = schema.to_string();
        let mut variants: Vec<String> = schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                v["properties"]["command"]["const"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| {
                        v["properties"]["command"]["enum"][0]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| panic!("variant without a tag in {text}"))
            })
            .collect();
        variants.sort();
        // Commands with a route of their own (erasure also destroys a key).
        variants.retain(|v| v != "erase_passenger");
        let mut table: Vec<String> = A::COMMANDS.iter().map(|(n, _)| (*n).to_owned()).collect();
        table.sort();
        assert_eq!(
            table,
            variants,
            "{}: the role table must list every command",
            A::COLLECTION
        );
    }
    check::<crate::domain::incident::Incident>();
    check::<crate::domain::complaint::Complaint>();
    check::<crate::domain::compensation::Compensation>();
    check::<crate::domain::passenger::Passenger>();
}

/// Every GET route: 401 without a token, 403 for a role it does not serve, and an
/// answer (not a server error) for a role it serves.
#[tokio::test]
async fn every_query_route_checks_token_and_role() {
    let api = api().await;
    let opened = api.ok("crisis_lead", "/v1/incidents", open_body("x")).await;
    let id = incident_id(&opened);
    let routes = [
        "/v1/incidents".to_owned(),
        format!("/v1/incidents/{id}"),
        format!("/v1/incidents/{id}/timeline"),
        format!("/v1/incidents/{id}/impact"),
        format!("/v1/incidents/{id}/plans"),
        format!("/v1/incidents/{id}/execution"),
        format!("/v1/incidents/{id}/follow-up"),
        "/v1/plans/awaiting-approval".to_owned(),
        "/v1/people/loads".to_owned(),
        "/v1/follow-ups".to_owned(),
        "/v1/follow-ups/summary".to_owned(),
        "/v1/reviews".to_owned(),
        "/v1/complaints/kpis?dimension=agent".to_owned(),
        format!("/v1/complaints/{id}"),
        format!("/v1/complaints/{id}/timeline"),
        "/v1/passengers/FF1".to_owned(),
        format!("/v1/compensations/{id}"),
        "/v1/compensations/overdue".to_owned(),
        "/v1/monitor/feed".to_owned(),
        "/v1/monitor/counts?window=1h".to_owned(),
        "/v1/monitor/spikes".to_owned(),
        "/v1/projections".to_owned(),
        "/v1/audit/verify".to_owned(),
        "/v1/audit/events".to_owned(),
    ];
    for route in &routes {
        let anonymous = api.call(None, Method::GET, route, &[], None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{route}");
        problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
        let wrong = api.get("flight_ops", route).await;
        problem(&wrong, StatusCode::FORBIDDEN, "forbidden");
        let uri = match route.starts_with("/v1/audit") {
            true => route.clone(),
            false => format!(
                "{route}{}after={}",
                if route.contains('?') { "&" } else { "?" },
                opened["position"]
            ),
        };
        let answer = api.get("crisis_lead", &uri).await;
        assert!(
            answer.status == StatusCode::OK || answer.status == StatusCode::NOT_FOUND,
            "{route}: {} {}",
            answer.status,
            answer.text
        );
    }
}

/// Every `$ref` in `value` points into `components/schemas` of `document`.
fn refs_resolve(document: &Value, value: &Value, broken: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let target = r.strip_prefix('#').and_then(|p| document.pointer(p));
                if target.is_none() {
                    broken.push(r.clone());
                }
            }
            map.values().for_each(|v| refs_resolve(document, v, broken));
        }
        Value::Array(items) => items.iter().for_each(|v| refs_resolve(document, v, broken)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_every_route_in_it_is_served() {
    let api = api().await;
    let reply = api
        .call(None, Method::GET, "/openapi.json", &[], None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = reply.body;
    assert_eq!(document["openapi"], "3.1.0");
    let mut broken = Vec::new();
    refs_resolve(&document, &document, &mut broken);
    assert!(broken.is_empty(), "unresolved $refs: {broken:?}");
    let paths = document["paths"].as_object().unwrap();
    let mut operation_ids = std::collections::HashSet::new();
    let mut walked = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation_ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
                "{path}: duplicate operationId"
            );
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} declares its success"
            );
            // Every path parameter is declared, with a schema (schemathesis refuses
            // a document that leaves one out).
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    let declared =
                        operation["parameters"].as_array().unwrap().iter().any(|p| {
                            p["in"] == "path" && p["name"] == name && p["schema"].is_object()
                        });
                    assert!(declared, "{method} {path}: {{{name}}} is not declared");
                }
            }
            if path.starts_with("/v1/") {
                assert!(
                    operation["security"].is_array(),
                    "{method} {path} declares its roles"
                );
                assert!(
                    operation["x-roles"]
                        .as_array()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path}"
                );
            }
            if method == "post" && path.contains("/{id}/") {
                assert!(
                    operation["requestBody"]["content"]["application/json"]["schema"].is_object(),
                    "{path}"
                );
            }
            let uri = path
                .replace(
                    "{id}",
                    if path.starts_with("/v1/passengers") {
                        "FF1"
                    } else {
                        "0190a4b2-0000-7000-8000-000000000001"
                    },
                )
                .replace("{kind}", "feedback");
            let uri = if uri == "/v1/stream" {
                "/v1/stream?from=999999".to_owned()
            } else {
                uri
            };
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if uri.starts_with("/v1/stream") {
                let request = api.request(Some("admin"), m, &uri, &[], None);
                let response = api.router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{uri}");
                walked += 1;
                continue;
            }
            let answer = api.call(Some("admin"), m, &uri, &[], Some(json!({}))).await;
            assert!(
                answer.status != StatusCode::METHOD_NOT_ALLOWED
                    && !answer.text.contains("no such route")
                    && !answer.status.is_server_error(),
                "{method} {uri}: {} {}",
                answer.status,
                answer.text
            );
            walked += 1;
        }
    }
    assert!(walked > 60, "walked {walked} operations");
    // Each command is its own documented path with its own body schema.
    let approve = &paths["/v1/incidents/{id}/approve_communication_plan"]["post"];
    assert_eq!(approve["x-roles"], json!(["crisis_lead"]));
    let body = approve["requestBody"]["content"]["application/json"]["schema"].to_string();
    assert!(body.contains("version"), "{body}");
}

/// Every operation of the document: 401 without a token, 403 for a role it does not
/// serve, a problem for invalid input from a role it serves.
#[tokio::test]
async fn every_operation_refuses_missing_tokens_wrong_roles_and_invalid_input() {
    let api = api().await;
    let document = api
        .call(None, Method::GET, "/openapi.json", &[], None)
        .await
        .body;
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let uri = path
                .replace(
                    "{id}",
                    if path.starts_with("/v1/passengers") {
                        "FF1"
                    } else {
                        "0190a4b2-0000-7000-8000-000000000001"
                    },
                )
                .replace("{kind}", "feedback");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == "post").then(|| json!({"bogus": 1}));
            let anonymous = api.call(None, m.clone(), &uri, &[], body.clone()).await;
            problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
            let roles: Vec<&str> = operation["x-roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            // A route for every role (`/v1/cluster`: where to write) has no outsider.
            let outsider = ["flight_ops", "auditor", "agent", "crisis_lead"]
                .into_iter()
                .find(|r| !roles.contains(r));
            if let Some(outsider) = outsider {
                let refused = api
                    .call(Some(outsider), m.clone(), &uri, &[], body.clone())
                    .await;
                problem(&refused, StatusCode::FORBIDDEN, "forbidden");
            } else {
                assert_eq!(
                    path, "/v1/cluster",
                    "only /v1/cluster is open to every role"
                );
            }
            let has_params = operation["parameters"]
                .as_array()
                .is_some_and(|p| !p.is_empty());
            if method == "post" || has_params {
                let uri = if method == "get" {
                    format!("{uri}?bogus=1")
                } else {
                    uri
                };
                let invalid = api.call(Some(roles[0]), m, &uri, &[], body).await;
                assert!(
                    invalid.status.is_client_error()
                        && invalid.headers["content-type"] == "application/problem+json",
                    "{method} {uri}: {} {}",
                    invalid.status,
                    invalid.text
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked}");
}

#[tokio::test]
async fn metrics_show_head_lag_and_answers_without_ids_or_personal_data() {
    let api = api().await;
    let opened = api
        .ok("crisis_lead", "/v1/incidents", open_body("Ada's flight"))
        .await;
    api.get(
        "auditor",
        &format!("/v1/incidents?after={}", opened["position"]),
    )
    .await;
    let metrics = api.call(None, Method::GET, "/metrics", &[], None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = metrics.text;
    assert!(text.contains("crisisd_store_head_position 1\n"), "{text}");
    assert!(
        text.contains("crisisd_projection_position{projection=\"incidents\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("crisisd_projection_lag_events{projection=\"timeline\"}"),
        "{text}"
    );
    // One batch of one event: the incident's keys and the checkpoint.
    assert!(
        text.contains("crisisd_projection_batches_total{projection=\"incidents\"} 1\n"),
        "{text}"
    );
    let written: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("crisisd_projection_keys_written_total{projection=\"incidents\"} ")
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("keys written by the incidents model: {text}"));
    assert!(written >= 2, "{text}");
    assert!(
        text.contains("crisisd_follower_lag_events{follower=\"nats-publisher\"} 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("crisisd_http_responses_total{class=\"2xx\"} 0\n"),
        "{text}"
    );
    let stream = opened["stream"].as_str().unwrap();
    assert!(!text.contains(stream) && !text.contains("Ada"), "{text}");
}
