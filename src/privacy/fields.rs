//! Which values of an event's data are personal, found from the event schemas: every
//! value whose schema says `"x-personal-data": true` (the `PersonalData` type). One walk
//! serves sealing before append, redaction for callers without personal-data rights,
//! and nothing here knows a field name, so a new personal field is covered by its type.

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
    use serde_json::json;

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
