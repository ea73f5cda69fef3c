//! The route table: every route is declared once with its roles, parameters and
//! schemas. [`Routes`] builds the axum router (with a role check in front of each
//! route) and the OpenAPI 3.1 document from the same declarations, so the document
//! covers every route and says truthfully who may call it.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::AppState;
use super::auth::{Caller, role_name};
use super::commands::{self, CommandResult, CommandTarget};
use super::problem::Problem;
use crate::domain::common::Role;

/// Who reads: every role that works on incidents and complaints.
pub const READERS: &[Role] = &[Role::Agent, Role::CrisisLead, Role::Auditor];
/// Who cares for passengers: agents and crisis leads.
pub const CARE: &[Role] = &[Role::Agent, Role::CrisisLead];
/// Who audits: auditors and crisis leads.
pub const AUDIT: &[Role] = &[Role::Auditor, Role::CrisisLead];

/// The schema of `T` for [`Op::request`], [`Op::response`], [`Op::query`] and
/// [`Op::path`]: a reference into the document's components.
pub fn schema<T: schemars::JsonSchema>(generator: &mut SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// Makes the schema of a type, registering its definitions in the document.
pub type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

/// What the document says of one operation.
pub struct Op {
    summary: &'static str,
    /// Empty: no token needed.
    roles: &'static [Role],
    /// The path's parameters (`{command}` aside): a struct, one field per parameter.
    path: Option<SchemaFn>,
    /// The query string: a struct, one field per parameter, its doc the description.
    query: Option<SchemaFn>,
    request: Option<SchemaFn>,
    /// Example and schema per command (the command routes).
    commands: Vec<(String, &'static [Role], Value)>,
    /// The body field crisisd fills in itself (the aggregate's id, from the path or
    /// new): left out of the documented bodies, since a different value is refused.
    id_field: Option<&'static str>,
    response: Option<SchemaFn>,
    /// The status of a success (200 unless said otherwise).
    status: u16,
    media: &'static str,
}

/// Starts the description of an operation.
pub fn op(summary: &'static str) -> Op {
    Op {
        summary,
        roles: &[],
        path: None,
        query: None,
        request: None,
        commands: Vec::new(),
        id_field: None,
        response: None,
        status: 200,
        media: "application/json",
    }
}

impl Op {
    pub fn roles(mut self, roles: &'static [Role]) -> Self {
        self.roles = roles;
        self
    }
    /// The path parameters, from the type the handler parses them into.
    pub fn path(mut self, schema: SchemaFn) -> Self {
        self.path = Some(schema);
        self
    }
    /// The query parameters, from the type the handler decodes the query string into
    /// (unknown parameters refused), so the document and the server cannot disagree.
    pub fn query(mut self, schema: SchemaFn) -> Self {
        self.query = Some(schema);
        self
    }
    /// The body field crisisd fills in with the aggregate's id.
    pub fn id_field(mut self, field: &'static str) -> Self {
        self.id_field = Some(field);
        self
    }
    pub fn request(mut self, schema: SchemaFn) -> Self {
        self.request = Some(schema);
        self
    }
    pub fn response(mut self, schema: SchemaFn) -> Self {
        self.response = Some(schema);
        self
    }
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
    pub fn media(mut self, media: &'static str) -> Self {
        self.media = media;
        self
    }
    /// The commands a `{command}` route accepts: (name, roles) from the role table;
    /// their bodies come from the command enum's schema.
    pub fn commands(mut self, table: &'static [(&'static str, &'static [Role])]) -> Self {
        self.commands = table
            .iter()
            .map(|(name, roles)| ((*name).to_owned(), *roles, Value::Null))
            .collect();
        self
    }
}

/// The router and the document, built together.
pub struct Routes {
    router: Router<AppState>,
    state: AppState,
    generator: SchemaGenerator,
    paths: Map<String, Value>,
}

impl Routes {
    pub fn new(state: AppState) -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
        });
        Routes {
            router: Router::new(),
            state,
            generator: settings.into_generator(),
            paths: Map::new(),
        }
    }

    pub fn get<H, T>(self, path: &str, op: Op, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add("get", path, op, get(handler))
    }

    pub fn post<H, T>(self, path: &str, op: Op, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add("post", path, op, post(handler))
    }

    /// `POST /v1/<collection>/{id}/{command}` for every command of `A`, documented once
    /// per command with its roles and fields (`{id}` as `id` describes it).
    pub fn commands_of<A: CommandTarget>(self, summary: &'static str, id: SchemaFn) -> Self {
        let path = format!("/v1/{}/{{id}}/{{command}}", A::COLLECTION);
        let op = op(summary)
            .path(id)
            .roles(CARE)
            .commands(A::COMMANDS)
            .id_field(A::CREATE.1)
            .request(schema::<A::Command>)
            .response(schema::<CommandResult>);
        self.post(&path, op, commands::command::<A>)
    }

    /// `POST /v1/<collection>`: `A`'s creating command under an id crisisd chooses, for
    /// the roles that may issue it.
    pub fn create<A: CommandTarget>(self, summary: &'static str) -> Self {
        let path = format!("/v1/{}", A::COLLECTION);
        let i = A::COMMANDS
            .iter()
            .position(|(name, _)| *name == A::CREATE.0)
            .expect("every creating command is in its aggregate's role table");
        let creating = &A::COMMANDS[i..=i];
        let roles = creating[0].1;
        let op = op(summary)
            .roles(roles)
            .commands(creating)
            .id_field(A::CREATE.1)
            .request(schema::<A::Command>)
            .response(schema::<CommandResult>);
        self.post(&path, op, commands::create::<A>)
    }

    fn add(mut self, method: &str, path: &str, op: Op, route: MethodRouter<AppState>) -> Self {
        let route = if op.roles.is_empty() {
            route
        } else {
            let roles = op.roles;
            route.route_layer(middleware::from_fn_with_state(
                self.state.clone(),
                move |state: State<AppState>, request: Request, next: Next| {
                    require(roles, state, request, next)
                },
            ))
        };
        self.router = self.router.route(path, route);
        self.document(method, path, op);
        self
    }

    /// A command route is documented once per command, with that command's fields as
    /// the body (`{command}` replaced by its name).
    fn document(&mut self, method: &str, path: &str, op: Op) {
        if !op.commands.is_empty() {
            let enum_schema = op.request.map(|f| f(&mut self.generator).to_value());
            let variants = enum_schema
                .as_ref()
                .and_then(|s| resolve(s, &self.generator))
                .and_then(|s| s.get("oneOf").cloned())
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            for (name, roles, _) in &op.commands {
                let variant = variants.iter().find(|v| {
                    v.pointer("/properties/command/const") == Some(&Value::String(name.clone()))
                });
                let mut fields = variant
                    .and_then(|v| v.pointer("/properties/fields"))
                    .and_then(|f| resolve(f, &self.generator))
                    .unwrap_or_else(|| json!({"type": "object", "maxProperties": 0}));
                if let Some(id_field) = op.id_field {
                    without_field(&mut fields, id_field);
                }
                let concrete = path.replace("{command}", name);
                let single = Op {
                    summary: op.summary,
                    roles,
                    path: op.path,
                    query: None,
                    request: None,
                    commands: Vec::new(),
                    id_field: None,
                    response: op.response,
                    status: op.status,
                    media: op.media,
                };
                let mut operation = self.operation(&single, Some(fields));
                operation["operationId"] = json!(format!(
                    "{method}_{}",
                    concrete
                        .replace(['/', '{', '}', '-'], "_")
                        .trim_matches('_')
                ));
                if concrete != path {
                    operation["summary"] = json!(format!("{}: {name}", op.summary));
                }
                self.insert(method, &concrete, operation);
            }
            return;
        }
        let request = op.request.map(|f| f(&mut self.generator).to_value());
        let mut operation = self.operation(&op, request);
        operation["operationId"] = json!(format!(
            "{method}_{}",
            path.replace(['/', '{', '}', '-'], "_").trim_matches('_')
        ));
        self.insert(method, path, operation);
    }

    fn insert(&mut self, method: &str, path: &str, operation: Value) {
        let entry = self
            .paths
            .entry(path.to_owned())
            .or_insert_with(|| json!({}));
        entry[method] = operation;
    }

    fn operation(&mut self, op: &Op, request: Option<Value>) -> Value {
        let mut parameters = Vec::new();
        for (place, schema) in [("path", op.path), ("query", op.query)] {
            if let Some(schema) = schema {
                let schema = schema(&mut self.generator).to_value();
                parameters.extend(self.parameters(place, &schema));
            }
        }
        let success = op.status.to_string();
        let mut operation = json!({
            "summary": op.summary,
            "parameters": parameters,
            "responses": {
                success.clone(): {"description": "Success"},
                "default": {"description": "An error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        });
        if let Some(response) = op.response {
            let schema = response(&mut self.generator).to_value();
            operation["responses"][&success]["content"] = json!({op.media: {"schema": schema}});
        } else if op.media != "application/json" {
            operation["responses"][&success]["content"] = json!({op.media: {}});
        }
        if let Some(schema) = request {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        if !op.roles.is_empty() {
            operation["security"] = json!([{"bearer": []}]);
            let roles: Vec<String> = op.roles.iter().map(|r| role_name(*r)).collect();
            operation["x-roles"] = json!(roles);
            operation["description"] = json!(format!(
                "Roles: {} (and admin). 401 without a valid token, 403 with another role.",
                roles.join(", ")
            ));
        }
        operation
    }

    /// One parameter per property of `schema` (a struct): its description from the
    /// field's doc, required when the field is, its value schema without `null` (an
    /// absent parameter is how a query string says "none").
    fn parameters(&self, place: &str, schema: &Value) -> Vec<Value> {
        let Some(schema) = resolve(schema, &self.generator) else {
            return Vec::new();
        };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        properties
            .iter()
            .map(|(name, property)| {
                let mut property = without_null(property.clone());
                let description = property
                    .as_object_mut()
                    .and_then(|p| p.remove("description"))
                    .unwrap_or_else(|| json!(""));
                property.as_object_mut().map(|p| p.remove("default"));
                json!({
                    "name": name,
                    "in": place,
                    "required": place == "path" || required.contains(&name.as_str()),
                    "description": description,
                    "schema": property,
                })
            })
            .collect()
    }

    /// The router and the OpenAPI document.
    pub fn finish(mut self) -> (Router<AppState>, Value) {
        let mut schemas = self.generator.take_definitions(true);
        schemas.insert(
            "Problem".into(),
            json!({"type": "object", "description": "RFC 9457 problem details",
                "properties": {"code": {"type": "string"}, "title": {"type": "string"},
                    "detail": {"type": "string"}, "field": {"type": "string"}},
                "required": ["code", "title", "detail"]}),
        );
        let mut document = json!({
            "openapi": "3.1.0",
            "info": {"title": "crisisd", "version": env!("CARGO_PKG_VERSION"),
                "description": "Event-sourced crisis management for airline customer service."},
            "paths": self.paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                    "description": "`crisisd token add --role <role> --actor <id>` issues one."}},
            },
        });
        as_served(&mut document);
        (self.router, document)
    }
}

/// Makes the schemas say what the server checks: every integer gets the bounds of its
/// Rust type (schemars names the type in `format`, e.g. `uint32`, but bounds only its
/// sign), so a client — or a property-based tester — knows that a `version` above
/// 4294967295 is refused; and `uniqueItems` goes, since a set in a body takes repeats
/// and keeps one of each.
fn as_served(value: &mut Value) {
    // A calendar date (a 29 February in every fourth year), and RFC 3339 as chrono
    // reads it ('T', 't' or ' ' between date and time, 'Z' or an offset).
    const DATE: &str = concat!(
        r"^[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))$",
        r"|^[0-9]{2}([02468][048]|[13579][26])-02-29$"
    );
    const DATE_TIME: &str = concat!(
        r"^[0-9]{4}-((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))",
        r"[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
    );
    match value {
        Value::Object(object) => {
            let bounds: Option<(i128, i128)> = match object.get("format").and_then(Value::as_str) {
                Some("uint8") => Some((0, u8::MAX.into())),
                Some("uint16") => Some((0, u16::MAX.into())),
                Some("uint32") => Some((0, u32::MAX.into())),
                Some("uint64" | "uint") => Some((0, u64::MAX.into())),
                Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                Some("int64" | "int") => Some((i64::MIN.into(), i64::MAX.into())),
                _ => None,
            };
            if let Some((min, max)) = bounds {
                let number = |n: i128| match (u64::try_from(n), i64::try_from(n)) {
                    (Ok(n), _) => json!(n),
                    (_, Ok(n)) => json!(n),
                    _ => unreachable!("the bounds of a Rust integer fit i64 or u64"),
                };
                object.entry("minimum").or_insert_with(|| number(min));
                object.entry("maximum").or_insert_with(|| number(max));
            }
            object.remove("uniqueItems");
            // `format` only annotates (JSON Schema 2020-12); the server refuses a
            // `date` or `date-time` that does not parse, so the pattern says so too.
            let pattern = match object.get("format").and_then(Value::as_str) {
                Some("date") => Some(DATE),
                Some("date-time") => Some(DATE_TIME),
                _ => None,
            };
            if let Some(pattern) = pattern {
                object.entry("pattern").or_insert_with(|| json!(pattern));
            }
            object.values_mut().for_each(as_served);
        }
        Value::Array(items) => items.iter_mut().for_each(as_served),
        _ => {}
    }
}

/// An object schema without the property `name`.
fn without_field(schema: &mut Value, name: &str) {
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.remove(name);
    }
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|field| field != name);
    }
}

/// `schema` without its `null` alternative (`Option<T>` of a parameter).
fn without_null(mut schema: Value) -> Value {
    let is_null = |s: &Value| s.get("type") == Some(&json!("null"));
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            schema["type"] = types[0].clone();
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array)
        && branches.iter().any(is_null)
    {
        let rest: Vec<Value> = branches.iter().filter(|b| !is_null(b)).cloned().collect();
        let description = schema.get("description").cloned();
        let mut single = match rest.as_slice() {
            [one] => one.clone(),
            _ => json!({"anyOf": rest}),
        };
        if let (Some(description), Some(object)) = (description, single.as_object_mut()) {
            object.insert("description".into(), description);
        }
        return single;
    }
    schema
}

fn resolve(schema: &Value, generator: &SchemaGenerator) -> Option<Value> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next()?;
            generator.definitions().get(name).cloned()
        }
        None => Some(schema.clone()),
    }
}

async fn require(
    roles: &'static [Role],
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, Problem> {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state).await?;
    caller.require(roles)?;
    Ok(next.run(Request::from_parts(parts, body)).await)
}
