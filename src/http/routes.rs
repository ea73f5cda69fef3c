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
use super::problem::Problem;
use crate::domain::common::Role;

/// Makes the schema of a type, registering its definitions in the document.
pub type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

/// What the document says of one operation.
pub struct Op {
    summary: &'static str,
    /// Empty: no token needed.
    roles: &'static [Role],
    query: &'static [(&'static str, &'static str)],
    request: Option<SchemaFn>,
    /// Example and schema per command (the command routes).
    commands: Vec<(String, &'static [Role], Value)>,
    response: Option<SchemaFn>,
    media: &'static str,
}

/// Starts the description of an operation.
pub fn op(summary: &'static str) -> Op {
    Op {
        summary,
        roles: &[],
        query: &[],
        request: None,
        commands: Vec::new(),
        response: None,
        media: "application/json",
    }
}

impl Op {
    pub fn roles(mut self, roles: &'static [Role]) -> Self {
        self.roles = roles;
        self
    }
    /// Query parameters: (name, description).
    pub fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Self {
        self.query = query;
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
                let fields = variant
                    .and_then(|v| v.pointer("/properties/fields").cloned())
                    .unwrap_or_else(|| json!({"type": "object", "maxProperties": 0}));
                let concrete = path.replace("{command}", name);
                let single = Op {
                    summary: op.summary,
                    roles,
                    query: &[],
                    request: None,
                    commands: Vec::new(),
                    response: op.response,
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
        for (name, description) in op.query {
            parameters.push(json!({"name": name, "in": "query", "required": false,
                "description": description, "schema": {"type": "string"}}));
        }
        let mut operation = json!({
            "summary": op.summary,
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "An error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        });
        if let Some(response) = op.response {
            let schema = response(&mut self.generator).to_value();
            operation["responses"]["200"]["content"] = json!({op.media: {"schema": schema}});
        } else if op.media != "application/json" {
            operation["responses"]["200"]["content"] = json!({op.media: {}});
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
        let document = json!({
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
        (self.router, document)
    }
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
