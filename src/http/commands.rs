//! Commands: `POST /v1/<aggregate>/{id}/{command}` with the command's fields as the JSON
//! body, e.g. `POST /v1/incidents/{id}/approve_communication_plan` `{"version": 2}`.
//!
//! One mechanism serves every aggregate: the route names the command (the snake_case
//! variant of the domain's command enum), the role table says who may issue it, the body
//! is deserialized into the domain command with the path's id where the command carries
//! it, and [`crate::app::command::execute`] loads, decides and appends. The actor comes
//! from the token. `Idempotency-Key` makes a retry return the original result; `If-Match`
//! (the stream version) turns a concurrent change into 412.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::AppState;
use super::auth::Caller;
use super::problem::Problem;
use super::routes::CARE;
use crate::app::command::{CommandMeta, Executed, execute, fingerprint};
use crate::domain::Aggregate;
use crate::domain::common::{PassengerId, Role, Role::*};
use crate::domain::compensation::Compensation;
use crate::domain::complaint::Complaint;
use crate::domain::incident::Incident;
use crate::domain::passenger::Passenger;

/// Longest accepted `Idempotency-Key`.
const IDEMPOTENCY_KEY_MAX: usize = 200;
/// Namespace of ids that `POST /v1/incidents` and `/v1/complaints` derive from an
/// `Idempotency-Key`, so a retried creation names the same aggregate.
const CREATE_NAMESPACE: Uuid = Uuid::from_u128(0x1c5e_77a2_0f3b_4d61_8a9e_5b20_c4d7_93f1);

const LEAD: &[Role] = &[CrisisLead];
/// Commands the service issues itself (spike detection, entitlements, deadlines).
const SYSTEM: &[Role] = &[Admin];

/// An aggregate the API drives.
pub trait CommandTarget:
    Aggregate<
        Command: DeserializeOwned + schemars::JsonSchema + Send + Sync,
        Event: Send + Sync,
        Error: Send + Sync,
    > + Send
    + Sync
    + 'static
{
    /// Path segment after `/v1/`.
    const COLLECTION: &'static str;
    /// The command that creates the aggregate and the field that holds its id, filled
    /// in from the path.
    const CREATE: (&'static str, &'static str);
    /// Every command the API accepts, with the roles that may issue it.
    const COMMANDS: &'static [(&'static str, &'static [Role])];

    /// The stream of the id in the path, or why the id is not valid.
    fn stream(id: &str) -> Result<(String, Value), Problem>;

    /// Rules that reach beyond the aggregate (another aggregate's facts), checked before
    /// the command is decided; none by default.
    fn check(_state: &AppState, _stream: &str, _command: &Self::Command) -> Result<(), Problem> {
        Ok(())
    }
}

fn uuid_id(collection: &str, id: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(id).map_err(|_| {
        Problem::not_found(format!("{collection} ids are UUIDs; {id:?} is not one")).field("id")
    })
}

impl CommandTarget for Incident {
    const COLLECTION: &'static str = "incidents";
    const CREATE: (&'static str, &'static str) = ("open_incident", "incident_id");
    const COMMANDS: &'static [(&'static str, &'static [Role])] = &[
        ("open_incident", LEAD),
        ("attach_signal", SYSTEM),
        ("start_assessment", LEAD),
        ("assess_impact", LEAD),
        ("start_planning", LEAD),
        ("draft_communication_plan", LEAD),
        ("draft_compensation_plan", LEAD),
        ("approve_communication_plan", LEAD),
        ("approve_compensation_plan", LEAD),
        ("start_execution", LEAD),
        ("publish_information", CARE),
        ("plan_contact", CARE),
        ("record_contact_outcome", CARE),
        ("start_follow_up", LEAD),
        ("send_survey", CARE),
        ("record_satisfaction", CARE),
        ("summarise_open_problems", LEAD),
        ("start_review", LEAD),
        ("record_lesson", LEAD),
        ("record_cause", LEAD),
        ("record_improvement", LEAD),
        ("close_incident", LEAD),
        ("reopen_incident", LEAD),
        ("escalate_severity", LEAD),
        ("deescalate_severity", LEAD),
        ("assign_role", LEAD),
        ("end_role_assignment", LEAD),
        ("link_compensation", SYSTEM),
        ("record_compensation_settlement", SYSTEM),
    ];

    fn stream(id: &str) -> Result<(String, Value), Problem> {
        let id = uuid_id(Self::COLLECTION, id)?;
        Ok((
            crate::domain::incident::stream_name(id),
            Value::String(id.to_string()),
        ))
    }

    /// Consent: a contact on a channel the passenger refused is refused, unless it is a
    /// mandatory service notice. A cause is one of the policy's taxonomy.
    fn check(state: &AppState, stream: &str, command: &Self::Command) -> Result<(), Problem> {
        use crate::domain::incident::IncidentCommand as C;
        match command {
            C::RecordCause { root_cause, .. } => return root_cause_known(state, root_cause),
            C::RecordLesson { knowledge, .. } => return knowledge_known(state, knowledge, ""),
            C::RecordImprovement { improvement, .. } => {
                return knowledge_known(state, &improvement.knowledge, "/improvement");
            }
            _ => {}
        }
        if let crate::domain::incident::IncidentCommand::DraftCommunicationPlan {
            template: Some(template),
            ..
        } = command
        {
            return template_current(state, template);
        }
        let crate::domain::incident::IncidentCommand::PlanContact {
            passenger,
            method,
            mandatory_notice,
            ..
        } = command
        else {
            return Ok(());
        };
        let (incident, _) = crate::app::command::load::<Incident>(state.store(), stream)?;
        match crate::app::consent::check(
            state.store(),
            &incident,
            passenger,
            *method,
            *mandatory_notice,
        )? {
            Ok(()) => Ok(()),
            Err(refused) => Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "consent_refused",
                refused.to_string(),
            )
            .field("/method")),
        }
    }
}

impl CommandTarget for crate::domain::knowledge::Entry {
    const COLLECTION: &'static str = "knowledge";
    const CREATE: (&'static str, &'static str) = ("publish_entry", "entry_id");
    const COMMANDS: &'static [(&'static str, &'static [Role])] = &[
        ("publish_entry", LEAD),
        ("revise_entry", LEAD),
        ("retire_entry", LEAD),
    ];

    fn stream(id: &str) -> Result<(String, Value), Problem> {
        let id = uuid_id(Self::COLLECTION, id)?;
        Ok((
            crate::domain::knowledge::stream_name(id),
            Value::String(id.to_string()),
        ))
    }
}

impl CommandTarget for crate::domain::suggestion::Suggestion {
    const COLLECTION: &'static str = "suggestions";
    const CREATE: (&'static str, &'static str) = ("receive_suggestion", "suggestion_id");
    const COMMANDS: &'static [(&'static str, &'static [Role])] = &[
        ("receive_suggestion", CARE),
        ("classify_suggestion", CARE),
        ("forward_suggestion", CARE),
        ("evaluate_suggestion", LEAD),
        ("notify_customer", CARE),
    ];

    fn stream(id: &str) -> Result<(String, Value), Problem> {
        let id = uuid_id(Self::COLLECTION, id)?;
        Ok((
            crate::domain::suggestion::stream_name(id),
            Value::String(id.to_string()),
        ))
    }

    /// A topic is a code of the policy's taxonomy.
    fn check(state: &AppState, _stream: &str, command: &Self::Command) -> Result<(), Problem> {
        match command {
            crate::domain::suggestion::SuggestionCommand::ClassifySuggestion { topic } => {
                root_cause_known(state, topic).map_err(|p| p.field("/topic"))
            }
            _ => Ok(()),
        }
    }
}

impl CommandTarget for Complaint {
    const COLLECTION: &'static str = "complaints";
    const CREATE: (&'static str, &'static str) = ("receive_complaint", "complaint_id");
    const COMMANDS: &'static [(&'static str, &'static [Role])] = &[
        ("receive_complaint", CARE),
        ("acknowledge_complaint", CARE),
        ("route_complaint", CARE),
        ("send_progress_update", CARE),
        ("propose_resolution", CARE),
        ("confirm_satisfaction", CARE),
        ("report_dissatisfaction", CARE),
        ("escalate_to_supervisor", CARE),
        ("reassign_responsibility", CARE),
        ("score_quality", LEAD),
        ("record_sla_breach", SYSTEM),
        ("link_to_incident", SYSTEM),
    ];

    fn stream(id: &str) -> Result<(String, Value), Problem> {
        let id = uuid_id(Self::COLLECTION, id)?;
        Ok((
            crate::domain::complaint::stream_name(id),
            Value::String(id.to_string()),
        ))
    }

    /// A resolution's root cause is one of the policy's taxonomy.
    fn check(state: &AppState, _stream: &str, command: &Self::Command) -> Result<(), Problem> {
        match command {
            crate::domain::complaint::ComplaintCommand::ProposeResolution {
                root_cause, ..
            } => root_cause_known(state, root_cause),
            _ => Ok(()),
        }
    }
}

/// The knowledge entry `id` as its stream has it now (`None`: never published): read
/// from the log, not a read model, so an entry published a moment ago is found.
fn knowledge_entry(
    state: &AppState,
    id: uuid::Uuid,
) -> Result<Option<crate::domain::knowledge::Entry>, Problem> {
    use crate::domain::knowledge::{Entry, stream_name};
    let (entry, _) = crate::app::command::load::<Entry>(state.store(), &stream_name(id))?;
    Ok(entry.published.is_some().then_some(entry))
}

/// 422 `unknown_knowledge_entry` unless every one of `entries` is in the knowledge
/// base (`at`: where the list is in the body).
fn knowledge_known(state: &AppState, entries: &[uuid::Uuid], at: &str) -> Result<(), Problem> {
    for (n, id) in entries.iter().enumerate() {
        if knowledge_entry(state, *id)?.is_none() {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_knowledge_entry",
                format!("no knowledge entry {id} (GET /v1/knowledge lists them; publish it first)"),
            )
            .field(format!("{at}/knowledge/{n}")));
        }
    }
    Ok(())
}

/// 422 `unknown_template` unless `template` is a knowledge-base template in use, at its
/// current version (a plan starts from what the template says now).
fn template_current(
    state: &AppState,
    template: &crate::domain::incident::TemplateRef,
) -> Result<(), Problem> {
    use crate::domain::knowledge::EntryKind;
    let refused = |why: String| {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_template", why).field("/template")
    };
    let id = template.entry_id;
    match knowledge_entry(state, id)? {
        None => Err(refused(format!(
            "no knowledge entry {id} (GET /v1/knowledge?kind=template lists the templates)"
        ))),
        Some(e) if e.published.as_ref().map(|p| p.kind) != Some(EntryKind::Template) => {
            Err(refused(format!("knowledge entry {id} is not a template")))
        }
        Some(e) if e.retired => Err(refused(format!("template {id} is retired"))),
        Some(e) if e.version != template.version => Err(refused(format!(
            "template {id} is at version {}, not {}: start from its current text",
            e.version, template.version
        ))),
        Some(_) => Ok(()),
    }
}

/// 422 `unknown_root_cause` unless the policy's taxonomy has `code`.
fn root_cause_known(
    state: &AppState,
    code: &crate::domain::common::RootCause,
) -> Result<(), Problem> {
    state
        .policy()
        .root_causes
        .require(code)
        .map(|_| ())
        .map_err(|why| {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_root_cause", why)
                .field("/root_cause")
        })
}

impl CommandTarget for Compensation {
    const COLLECTION: &'static str = "compensations";
    const CREATE: (&'static str, &'static str) = ("compute_entitlement", "compensation_id");
    const COMMANDS: &'static [(&'static str, &'static [Role])] = &[
        ("compute_entitlement", SYSTEM),
        ("recompute_entitlement", SYSTEM),
        ("choose_governing_regime", CARE),
        ("offer_compensation", CARE),
        ("accept_offer", CARE),
        ("decline_offer", CARE),
        ("record_payment", CARE),
        ("record_payment_failure", CARE),
        ("record_care_expense", CARE),
    ];

    fn stream(id: &str) -> Result<(String, Value), Problem> {
        let id = uuid_id(Self::COLLECTION, id)?;
        Ok((
            crate::domain::compensation::stream_name(id),
            Value::String(id.to_string()),
        ))
    }
}

impl CommandTarget for Passenger {
    const COLLECTION: &'static str = "passengers";
    const CREATE: (&'static str, &'static str) = ("register_passenger", "passenger_id");
    const COMMANDS: &'static [(&'static str, &'static [Role])] = &[
        ("register_passenger", CARE),
        ("change_tier", CARE),
        ("update_contact_details", CARE),
        ("change_consent", CARE),
        ("record_rerouting", CARE),
    ];

    fn stream(id: &str) -> Result<(String, Value), Problem> {
        let id = passenger_id(id)?;
        Ok((
            crate::domain::passenger::stream_name(&id),
            Value::String(id.0),
        ))
    }
}

/// The passenger of a `/v1/passengers/{id}` route. Passenger ids are pseudonymous keys
/// (loyalty or customer numbers), 1–64 of `A–Z a–z 0–9 - _ .`; a '.' is refused here
/// all the same: the passenger's stream is named after the id and stream names (NATS
/// subject tokens) take no '.', so no such passenger can have a record.
pub fn passenger_id(id: &str) -> Result<PassengerId, Problem> {
    if id.contains('.') {
        return Err(Problem::not_found(
            "passenger records are kept for ids of A-Z, a-z, 0-9, '-' and '_' only (the id names the passenger's stream, which takes no '.')",
        )
        .field("id"));
    }
    PassengerId::parse(id).map_err(|rule| Problem::not_found(rule).field("id"))
}

/// What a command answers: where its events landed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CommandResult {
    pub stream: String,
    /// The stream's version after the command: send it as `If-Match` next time.
    pub stream_version: u64,
    /// Global position of the last event: pass it as `?after=` to read your writes.
    pub position: u64,
    /// True when an `Idempotency-Key` retry found the original events.
    pub duplicate: bool,
    pub events: Vec<EventRef>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EventRef {
    pub id: Uuid,
    pub stream_version: u64,
    pub position: u64,
}

impl IntoResponse for CommandResult {
    fn into_response(self) -> Response {
        let etag = HeaderValue::from_str(&format!("\"{}\"", self.stream_version))
            .expect("a number is a valid header value");
        let mut response = (StatusCode::OK, Json(self)).into_response();
        response.headers_mut().insert(header::ETAG, etag);
        response
    }
}

impl From<Executed> for CommandResult {
    fn from(executed: Executed) -> Self {
        CommandResult {
            stream: executed.stream,
            stream_version: executed.stream_version,
            position: executed.position,
            duplicate: executed.duplicate,
            events: executed
                .events
                .into_iter()
                .map(|e| EventRef {
                    id: e.id,
                    stream_version: e.stream_version,
                    position: e.position,
                })
                .collect(),
        }
    }
}

fn parse_fields<C: DeserializeOwned>(
    command: &str,
    fields: Map<String, Value>,
) -> Result<C, Problem> {
    let tagged = serde_json::json!({"command": command, "fields": fields});
    serde_path_to_error::deserialize(tagged).map_err(|err| {
        let path = err.path().to_string();
        let path = path
            .strip_prefix("fields")
            .unwrap_or(&path)
            .trim_start_matches('.');
        let pointer = format!("/{}", path.replace('.', "/"));
        let detail = match err.inner().to_string() {
            unit if unit.contains("expected unit variant") => {
                format!("{command} takes no fields; send an empty body")
            }
            other => format!("{pointer}: {other}"),
        };
        Problem::bad_request("invalid_body", detail).field(pointer)
    })
}

/// Runs `command` (a route segment) with `body` on the aggregate `id` for `caller`.
pub async fn run<A: CommandTarget>(
    state: &AppState,
    caller: &Caller,
    id: &str,
    command: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<CommandResult, Problem> {
    let Some((_, roles)) = A::COMMANDS.iter().find(|(name, _)| *name == command) else {
        let known: Vec<&str> = A::COMMANDS.iter().map(|(name, _)| *name).collect();
        return Err(Problem::not_found(format!(
            "{} has no command {command:?}; it has: {}",
            A::COLLECTION,
            known.join(", ")
        ))
        .field("command"));
    };
    caller.require(roles)?;
    let (stream, id_value) = A::stream(id)?;
    let mut fields = body_object(body)?;
    if fields.contains_key("command") {
        return Err(Problem::bad_request(
            "invalid_body",
            "the route names the command; remove \"command\" from the body",
        )
        .field("/command"));
    }
    let (create, id_field) = A::CREATE;
    if command == create {
        match fields.get(id_field) {
            Some(given) if *given != id_value => {
                return Err(Problem::bad_request(
                    "invalid_body",
                    format!("{id_field} in the body differs from the id in the path; omit it"),
                )
                .field(format!("/{id_field}")));
            }
            _ => {
                fields.insert(id_field.to_owned(), id_value);
            }
        }
    }
    let request = serde_json::json!({"command": command, "fields": fields});
    // Adjacently tagged, so the field path of an error survives deserialization.
    // A command without fields (`start_assessment`) is a unit variant: no content.
    let empty = fields.is_empty();
    let parsed = if empty {
        serde_json::from_value(serde_json::json!({"command": command})).ok()
    } else {
        None
    };
    let parsed: A::Command = match parsed {
        Some(parsed) => parsed,
        None => parse_fields(command, fields)?,
    };

    let meta = command_meta(caller, A::COLLECTION, command, headers, &request)?;
    A::check(state, &stream, &parsed)?;
    let executed = execute::<A>(state.journal(), &stream, &parsed, &meta).await?;
    Ok(executed.into())
}

pub(super) fn body_object(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut fields)) => {
            fields.values_mut().for_each(integral_numbers);
            Ok(fields)
        }
        Ok(_) => {
            Err(Problem::bad_request("invalid_body", "the body must be a JSON object").field(""))
        }
        Err(err) => Err(Problem::bad_request(
            "invalid_json",
            format!("the body is not JSON: {err}"),
        )
        .field("")),
    }
}

/// Writes `790.0` as `790`: JSON does not tell the two apart (JSON Schema calls both an
/// integer), but the typed commands would refuse the first for an integer field. Only
/// numbers an f64 holds exactly (up to 2^53) are rewritten.
fn integral_numbers(value: &mut Value) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() <= EXACT
            {
                // In range and without a fraction: the cast is exact.
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// What every command request carries besides its body: the caller, an `Idempotency-Key`
/// scoped to caller and route and bound to `request` (the same key with another request
/// is refused), and an `If-Match` stream version.
pub(super) fn command_meta(
    caller: &Caller,
    collection: &str,
    command: &str,
    headers: &HeaderMap,
    request: &Value,
) -> Result<CommandMeta, Problem> {
    let mut meta = CommandMeta::new(caller.actor.clone(), Utc::now());
    if let Some(key) = idempotency_key(headers)? {
        meta.idempotency_key = Some(scoped_key(caller, collection, command, &key));
        meta.request_fingerprint = Some(fingerprint(request));
    }
    meta.expected_version = if_match(headers)?;
    // Set by the HTTP layer on every request: the events share the request's id.
    meta.correlation_id = headers
        .get(super::CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok(meta)
}

/// A body that is one JSON object, decoded into `T`; a field that does not fit is
/// `invalid_body` at its JSON pointer.
pub(super) fn typed_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let fields = body_object(body)?;
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|err| {
        let pointer = format!("/{}", err.path().to_string().replace('.', "/"));
        Problem::bad_request("invalid_body", format!("{pointer}: {}", err.inner())).field(pointer)
    })
}

/// An `Idempotency-Key` belongs to its caller and route: the same key sent by another
/// actor, or to another command, is another key (the stream is part of every id
/// derived from it already).
fn scoped_key(caller: &Caller, collection: &str, command: &str, key: &str) -> String {
    format!("{}\n{collection}/{command}\n{key}", caller.actor.id)
}

pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        Problem::bad_request(
            "invalid_header",
            format!("Idempotency-Key must be 1-{IDEMPOTENCY_KEY_MAX} visible ASCII characters"),
        )
        .field("Idempotency-Key")
    };
    let key = value.to_str().map_err(|_| bad())?.trim();
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// `If-Match: "3"` (or `3`): the stream version the caller decided against.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_matches('"'))
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::bad_request(
                "invalid_header",
                "If-Match must be the stream version from the ETag of your last read or command, e.g. \"3\"",
            )
            .field("If-Match")
        })
}

type CommandPath = Path<(String, String)>;

/// A new aggregate's id: derived from the caller's `Idempotency-Key` (a retry names
/// the same aggregate; another caller's key names another) or a fresh UUID v7.
fn new_id<A: CommandTarget>(caller: &Caller, headers: &HeaderMap) -> Result<Uuid, Problem> {
    Ok(match idempotency_key(headers)? {
        Some(key) => Uuid::new_v5(
            &CREATE_NAMESPACE,
            scoped_key(caller, A::COLLECTION, A::CREATE.0, &key).as_bytes(),
        ),
        None => Uuid::now_v7(),
    })
}

/// `POST /v1/<collection>/{id}/{command}`: any command of `A` on one aggregate.
pub(super) async fn command<A: CommandTarget>(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, command)): CommandPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<CommandResult, Problem> {
    run::<A>(&state, &caller, &id, &command, &headers, &body).await
}

/// `POST /v1/<collection>`: `A`'s creating command under a new id.
pub(super) async fn create<A: CommandTarget>(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<CommandResult, Problem> {
    let id = new_id::<A>(&caller, &headers)?.to_string();
    run::<A>(&state, &caller, &id, A::CREATE.0, &headers, &body).await
}
