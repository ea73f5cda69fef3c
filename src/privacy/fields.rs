//! Which values of an event's data are personal, found from the event schemas: every
//! value whose schema says `"x-personal-data": true` (the `PersonalData` type). One walk
//! serves sealing before append, redaction for callers without personal-data rights,
//! and nothing here knows a field name, so a new personal field is covered by its type.

use std::sync::Arc;

use serde_json::{Map, Value};

/// Calls `visit(pointer, value)` for every non-null personal value of `value` under
/// `schema` (a root schema with its `$defs`); `pointer` is the value's JSON pointer.
pub fn for_each_personal(
    schema: &Value,
    value: &mut Value,
    visit: &mut dyn FnMut(&str, &mut Value),
) {
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut pointer = String::new();
    walk(schema, defs, value, &mut pointer, visit);
}

fn walk(
    schema: &Value,
    defs: &Map<String, Value>,
    value: &mut Value,
    pointer: &mut String,
    visit: &mut dyn FnMut(&str, &mut Value),
) {
    let schema = resolve(schema, defs);
    if value.is_null() {
        return;
    }
    if schema.get("x-personal-data") == Some(&Value::Bool(true)) {
        visit(pointer, value);
        return;
    }
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            // Treating a branch that does not match as matching is safe (a value is
            // sealed or redacted once: a sealed or redacted string is no longer a
            // personal object); missing one is not.
            for branch in branches {
                walk(branch, defs, value, pointer, visit);
            }
        }
    }
    let len = pointer.len();
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|s| s.is_object());
            for (name, field) in fields.iter_mut() {
                if let Some(sub) = properties.and_then(|p| p.get(name)).or(additional) {
                    pointer.push('/');
                    pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                    walk(sub, defs, field, pointer, visit);
                    pointer.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    walk(sub, defs, item, pointer, visit);
                    pointer.truncate(len);
                }
            }
        }
        _ => {}
    }
}

fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    let mut schema = schema;
    // Bounded: a chain of references longer than the definitions is a cycle.
    for _ in 0..=defs.len() {
        let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        else {
            return schema;
        };
        match defs.get(name) {
            Some(target) => schema = target,
            None => return schema,
        }
    }
    schema
}

/// The places of one schema where personal values can be, compiled once from the schema
/// so that sealing and redaction visit only those places instead of walking the schema
/// with every event. It visits exactly what [`for_each_personal`] visits.
#[derive(Debug, Clone)]
pub struct PersonalPaths(Option<Node>);

#[derive(Debug, Clone)]
enum Node {
    /// A personal value: visited whole.
    Personal,
    Compound(Box<Compound>),
    /// A schema reached again through its own `$ref`: walked as the schema says.
    Recursive {
        schema: Value,
        defs: Arc<Map<String, Value>>,
    },
}

#[derive(Debug, Clone, Default)]
struct Compound {
    /// `anyOf` / `oneOf` / `allOf` branches that can lead to personal values.
    branches: Vec<Node>,
    /// Properties that can lead to personal values: name, pointer segment, node.
    properties: Vec<(String, String, Node)>,
    /// `additionalProperties` that can, with every property name the schema lists
    /// (those are never additional).
    additional: Option<(Node, Vec<String>)>,
    items: Option<Node>,
}

impl PersonalPaths {
    /// Compiles `schema` (a root schema with its `$defs`).
    pub fn compile(schema: &Value) -> PersonalPaths {
        let defs = Arc::new(
            schema
                .get("$defs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        );
        PersonalPaths(compile(schema, &defs, &mut Vec::new()))
    }

    /// Whether values of this schema can hold personal data at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Calls `visit(pointer, value)` for every non-null personal value of `value`.
    pub fn for_each(&self, value: &mut Value, visit: &mut dyn FnMut(&str, &mut Value)) {
        if let Some(node) = &self.0 {
            visit_node(node, value, &mut String::new(), visit);
        }
    }
}

fn compile(
    schema: &Value,
    defs: &Arc<Map<String, Value>>,
    stack: &mut Vec<String>,
) -> Option<Node> {
    // Follow references as `resolve` does, noting each definition entered.
    let depth = stack.len();
    let mut target = schema;
    for _ in 0..=defs.len() {
        let Some(name) = target
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
        else {
            break;
        };
        let Some(next) = defs.get(name) else { break };
        if stack.iter().any(|entered| entered == name) {
            stack.truncate(depth);
            return Some(Node::Recursive {
                schema: schema.clone(),
                defs: defs.clone(),
            });
        }
        stack.push(name.to_owned());
        target = next;
    }
    let node = compile_resolved(target, defs, stack);
    stack.truncate(depth);
    node
}

fn compile_resolved(
    schema: &Value,
    defs: &Arc<Map<String, Value>>,
    stack: &mut Vec<String>,
) -> Option<Node> {
    if schema.get("x-personal-data") == Some(&Value::Bool(true)) {
        return Some(Node::Personal);
    }
    let mut compound = Compound::default();
    for combinator in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_array) {
            compound
                .branches
                .extend(branches.iter().filter_map(|b| compile(b, defs, stack)));
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    for (name, sub) in properties.into_iter().flatten() {
        if let Some(node) = compile(sub, defs, stack) {
            let segment = name.replace('~', "~0").replace('/', "~1");
            compound.properties.push((name.clone(), segment, node));
        }
    }
    let additional = schema.get("additionalProperties").filter(|s| s.is_object());
    if let Some(node) = additional.and_then(|a| compile(a, defs, stack)) {
        let known = properties.into_iter().flatten().map(|(n, _)| n.clone());
        compound.additional = Some((node, known.collect()));
    }
    if let Some(items) = schema.get("items") {
        compound.items = compile(items, defs, stack);
    }
    let empty = compound.branches.is_empty()
        && compound.properties.is_empty()
        && compound.additional.is_none()
        && compound.items.is_none();
    (!empty).then(|| Node::Compound(Box::new(compound)))
}

fn visit_node(
    node: &Node,
    value: &mut Value,
    pointer: &mut String,
    visit: &mut dyn FnMut(&str, &mut Value),
) {
    if value.is_null() {
        return;
    }
    let compound = match node {
        Node::Personal => return visit(pointer, value),
        Node::Recursive { schema, defs } => return walk(schema, defs, value, pointer, visit),
        Node::Compound(compound) => compound,
    };
    for branch in &compound.branches {
        visit_node(branch, value, pointer, visit);
    }
    let len = pointer.len();
    match value {
        Value::Object(fields) => {
            for (name, segment, node) in &compound.properties {
                if let Some(field) = fields.get_mut(name) {
                    pointer.push('/');
                    pointer.push_str(segment);
                    visit_node(node, field, pointer, visit);
                    pointer.truncate(len);
                }
            }
            if let Some((node, known)) = &compound.additional {
                for (name, field) in fields.iter_mut() {
                    if !known.contains(name) {
                        pointer.push('/');
                        pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                        visit_node(node, field, pointer, visit);
                        pointer.truncate(len);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(node) = &compound.items {
                for (i, item) in items.iter_mut().enumerate() {
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    visit_node(node, item, pointer, visit);
                    pointer.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// Calls `visit(pointer, text)` for every string anywhere in `value`, with its pointer.
pub fn for_each_string(value: &mut Value, visit: &mut dyn FnMut(&str, &mut Value)) {
    fn go(value: &mut Value, pointer: &mut String, visit: &mut dyn FnMut(&str, &mut Value)) {
        let len = pointer.len();
        match value {
            Value::String(_) => visit(pointer, value),
            Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    pointer.push('/');
                    pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                    go(field, pointer, visit);
                    pointer.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    go(item, pointer, visit);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
    go(value, &mut String::new(), visit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A value loosely shaped by `schema`: its properties mostly present, sometimes null
    /// or of another type, with extra fields and arrays of a few items.
    fn next(rng: &mut u64) -> u64 {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    }

    fn shaped(schema: &Value, defs: &Map<String, Value>, rng: &mut u64, depth: u32) -> Value {
        let schema = resolve(schema, defs);
        let roll = next(rng) % 100;
        if depth > 6 || roll < 5 {
            return [json!(null), json!("x"), json!(7), json!({"k": "v"})][(roll % 4) as usize]
                .clone();
        }
        for combinator in ["anyOf", "oneOf", "allOf"] {
            let branches = schema.get(combinator).and_then(Value::as_array);
            if let Some(branches) = branches.filter(|b| !b.is_empty()) {
                let branch = &branches[(next(rng) % branches.len() as u64) as usize];
                return shaped(branch, defs, rng, depth + 1);
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let mut object = Map::new();
            for (name, sub) in properties {
                if next(rng) % 10 < 8 {
                    object.insert(name.clone(), shaped(sub, defs, rng, depth + 1));
                }
            }
            if next(rng).is_multiple_of(4) {
                object.insert("extra/~".into(), json!({"note": "y"}));
            }
            return Value::Object(object);
        }
        if let Some(sub) = schema.get("additionalProperties").filter(|s| s.is_object()) {
            let a = shaped(sub, defs, rng, depth + 1);
            return json!({"a": a, "b/c": null});
        }
        if let Some(sub) = schema.get("items") {
            let n = next(rng) % 4;
            return Value::Array((0..n).map(|_| shaped(sub, defs, rng, depth + 1)).collect());
        }
        json!(format!("t{}", next(rng) % 1000))
    }

    fn visits(
        value: &mut Value,
        each: impl FnOnce(&mut Value, &mut dyn FnMut(&str, &mut Value)),
    ) -> Vec<(String, Value)> {
        let mut seen = Vec::new();
        each(value, &mut |pointer, v| {
            seen.push((pointer.to_owned(), v.clone()));
            *v = json!(format!("sealed {pointer}"));
        });
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        seen
    }

    proptest! {
        #[test]
        fn compiled_paths_visit_what_the_schema_walk_visits(seed in 1u64.., pick in 0usize..1000) {
            let schemas = crate::domain::schemas::event_schemas();
            let (_, _, schema) = &schemas[pick % schemas.len()];
            let schema = schema.clone().to_value();
            let empty = Map::new();
            let defs = schema.get("$defs").and_then(Value::as_object).unwrap_or(&empty);
            let mut rng = seed;
            let value = shaped(&schema, defs, &mut rng, 0);
            let paths = PersonalPaths::compile(&schema);
            let (mut walked, mut compiled) = (value.clone(), value);
            let by_walk = visits(&mut walked, |v, f| for_each_personal(&schema, v, f));
            let by_paths = visits(&mut compiled, |v, f| paths.for_each(v, f));
            prop_assert_eq!(by_walk, by_paths);
            prop_assert_eq!(walked, compiled);
        }
    }

    #[test]
    fn schemas_without_personal_data_compile_to_nothing_and_recursive_ones_still_work() {
        let plain = json!({"type": "object", "properties": {"id": {"type": "string"}}});
        assert!(PersonalPaths::compile(&plain).is_empty());
        let tree = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"type": "object", "properties": {
                "name": {"type": "string", "x-personal-data": true},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}}
        });
        let paths = PersonalPaths::compile(&tree);
        let mut value =
            json!({"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]});
        let seen = visits(&mut value, |v, f| paths.for_each(v, f));
        let pointers: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            pointers,
            ["/children/0/children/0/name", "/children/0/name", "/name"]
        );
    }

    #[test]
    fn personal_values_are_found_with_their_pointers_through_refs_arrays_and_options() {
        let schema = json!({
            "type": "object",
            "properties": {
                "contact": {"$ref": "#/$defs/Contact"},
                "notes": {"type": "array", "items": {"type": "string", "x-personal-data": true}},
                "id": {"type": "string"}
            },
            "$defs": {"Contact": {"type": "object", "properties": {
                "name": {"type": "string", "x-personal-data": true},
                "phone": {"type": ["string", "null"], "x-personal-data": true}}}}
        });
        let mut value =
            json!({"contact": {"name": "Ada", "phone": null}, "notes": ["a", "b"], "id": "x"});
        let mut seen = Vec::new();
        for_each_personal(&schema, &mut value, &mut |pointer, v| {
            seen.push((pointer.to_owned(), v.clone()));
            *v = json!("sealed");
        });
        assert_eq!(
            seen,
            vec![
                ("/contact/name".to_owned(), json!("Ada")),
                ("/notes/0".to_owned(), json!("a")),
                ("/notes/1".to_owned(), json!("b")),
            ]
        );
        assert_eq!(value["id"], "x");
        assert_eq!(
            value["contact"]["phone"],
            Value::Null,
            "absent stays absent"
        );
    }
}
