//! Reading an ingest message's JSON while noticing repeated keys.
//!
//! serde_json's `Value` keeps the last of two equal keys in an object without a word, so
//! `{"status": "on_time", "status": "cancelled"}` would be heard as cancelled while a
//! sender's logs or another reader may hear on time. This reader builds the same `Value`
//! in the same single pass, and notes the JSON pointer of the first key that repeats an
//! earlier key of its object (compared after unescaping, so `"a"` and `"\u0061"` are one
//! key). Nesting depth stays limited by serde_json's deserializer.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A message's JSON and the pointer of its first repeated key, if one repeats.
pub(super) struct Read {
    pub value: Value,
    pub duplicate_key: Option<String>,
}

/// Parses one JSON document (trailing whitespace allowed); `None` if it is not JSON.
pub(super) fn read(bytes: &[u8]) -> Option<Read> {
    let mut path = Vec::new();
    let mut duplicate_key = None;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let builder = Build {
        path: &mut path,
        duplicate_key: &mut duplicate_key,
    };
    let value = builder.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(Read {
        value,
        duplicate_key,
    })
}

/// A JSON pointer reference token: `~` and `/` escaped (RFC 6901).
pub(super) fn escape(key: &str) -> std::borrow::Cow<'_, str> {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1").into()
    } else {
        key.into()
    }
}

/// Where the value being read sits.
enum Step {
    Key(String),
    Index(usize),
}

fn pointer(path: &[Step], key: &str) -> String {
    let mut pointer = String::new();
    for step in path {
        match step {
            Step::Key(k) => pointer.push_str(&format!("/{}", escape(k))),
            Step::Index(i) => pointer.push_str(&format!("/{i}")),
        }
    }
    pointer.push('/');
    pointer.push_str(&escape(key));
    pointer
}

/// Builds a `Value` like serde_json's own visitor, noting the first repeated key.
struct Build<'a> {
    path: &'a mut Vec<Step>,
    duplicate_key: &'a mut Option<String>,
}

impl Build<'_> {
    fn child(&mut self) -> Build<'_> {
        Build {
            path: self.path,
            duplicate_key: self.duplicate_key,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.path.push(Step::Index(items.len()));
            let item = seq.next_element_seed(self.child());
            self.path.pop();
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) && self.duplicate_key.is_none() {
                *self.duplicate_key = Some(pointer(self.path, &key));
            }
            self.path.push(Step::Key(key));
            let value = map.next_value_seed(self.child());
            let Some(Step::Key(key)) = self.path.pop() else {
                unreachable!("the key pushed above")
            };
            object.insert(key, value?);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_as_serde_json_does_and_names_the_second_of_two_equal_keys() {
        for text in [
            r#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"c": {}}}"#,
            "[]",
            "\"just a string\"  ",
            r#"{"big": 18446744073709551615, "small": -9223372036854775808}"#,
        ] {
            let read = read(text.as_bytes()).unwrap();
            assert_eq!(read.value, serde_json::from_str::<Value>(text).unwrap());
            assert_eq!(read.duplicate_key, None, "{text}");
        }
        let cases = [
            (r#"{"v": 1, "v": 2}"#, "/v"),
            (r#"{"a": {"b": 1, "c": 2, "b": 3}}"#, "/a/b"),
            (r#"{"a": [{}, {"k": 1, "\u006b": 2}]}"#, "/a/1/k"),
            (r#"{"x/y": 1, "x~y": {"q": 1, "q": 1}}"#, "/x~0y/q"),
            (
                r#"{"first": {"d": 1, "d": 1}, "second": 1, "second": 2}"#,
                "/first/d",
            ),
        ];
        for (text, pointer) in cases {
            let read = read(text.as_bytes()).unwrap();
            assert_eq!(read.duplicate_key.as_deref(), Some(pointer), "{text}");
            assert_eq!(read.value, serde_json::from_str::<Value>(text).unwrap());
        }
        for text in ["", "{", "{} {}", "[1,]", "{\"a\" 1}"] {
            assert!(read(text.as_bytes()).is_none(), "{text:?}");
        }
        assert!(read("[".repeat(100_000).as_bytes()).is_none(), "too deep");
    }
}
