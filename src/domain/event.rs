//! The machinery every aggregate's event enum shares: one macro that turns a
//! list of `Variant(DataStruct) = "aggregate.fact"` lines into the enum, its
//! [`DomainEvent`](crate::domain::DomainEvent) impl (type names, schema
//! version, JSON data without the type tag) and its schema list.
//!
//! Keeping the type name next to the variant in one table means a type can be
//! neither misspelt in `from_data` nor forgotten in the schema generator.

use crate::domain::EventDecodeError;

/// The schema version every event of this build writes. Raising it for one
/// event type means adding an upcaster in that aggregate's `from_data` arm.
pub const CURRENT_SCHEMA_VERSION: u32 = 1;

/// Decodes one event's data after checking its schema version.
pub fn decode<T: serde::de::DeserializeOwned>(
    event_type: &str,
    schema_version: u32,
    data: &str,
) -> Result<T, EventDecodeError> {
    if schema_version > CURRENT_SCHEMA_VERSION {
        return Err(EventDecodeError::UnsupportedVersion {
            event_type: event_type.to_owned(),
            found: schema_version,
            supported: CURRENT_SCHEMA_VERSION,
        });
    }
    if schema_version == 0 {
        return Err(EventDecodeError::InvalidData {
            event_type: event_type.to_owned(),
            message: "schema version 0 does not exist; versions start at 1".to_owned(),
        });
    }
    serde_json::from_str(data).map_err(|err| EventDecodeError::InvalidData {
        event_type: event_type.to_owned(),
        message: err.to_string(),
    })
}

/// The error for a type name no arm of an event enum knows.
pub fn unknown_type(event_type: &str) -> EventDecodeError {
    EventDecodeError::UnknownType {
        event_type: event_type.to_owned(),
    }
}

/// Declares an aggregate's event enum from `Variant(Data) = "type"` lines.
///
/// Generates the enum (`Debug, Clone, PartialEq`), `EVENT_TYPES`, `schemas()`
/// and the [`DomainEvent`](crate::domain::DomainEvent) impl. Each `Data` must
/// be `Serialize + DeserializeOwned + JsonSchema`.
macro_rules! domain_events {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident($data:ty) = $type:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $( $(#[$vmeta])* $variant($data), )+
        }

        impl $name {
            /// Every event type name of this aggregate, in declaration order.
            #[cfg(test)]
            pub const EVENT_TYPES: &'static [&'static str] = &[$($type),+];

            /// Every event type with its current schema version and JSON Schema.
            pub fn schemas() -> Vec<(&'static str, u32, schemars::Schema)> {
                vec![$(
                    ($type, $crate::domain::event::CURRENT_SCHEMA_VERSION, schemars::schema_for!($data)),
                )+]
            }
        }

        impl $crate::domain::DomainEvent for $name {
            fn event_type(&self) -> &'static str {
                match self {
                    $( Self::$variant(_) => $type, )+
                }
            }

            fn schema_version(&self) -> u32 {
                $crate::domain::event::CURRENT_SCHEMA_VERSION
            }

            fn to_data(&self) -> serde_json::Value {
                let value = match self {
                    $( Self::$variant(data) => serde_json::to_value(data), )+
                };
                value.expect("event data are plain structs with string keys and always serialize")
            }

            fn from_data(
                event_type: &str,
                schema_version: u32,
                data: &str,
            ) -> Result<Self, $crate::domain::EventDecodeError> {
                match event_type {
                    $( $type => $crate::domain::event::decode(event_type, schema_version, data)
                        .map(Self::$variant), )+
                    other => Err($crate::domain::event::unknown_type(other)),
                }
            }
        }
    };
}

pub(crate) use domain_events;

/// Test helper: asserts that `event` survives `to_data` → `from_data` unchanged.
#[cfg(test)]
pub fn assert_round_trip<E: crate::domain::DomainEvent + PartialEq + std::fmt::Debug>(event: &E) {
    let data = event.to_data().to_string();
    let decoded = E::from_data(event.event_type(), event.schema_version(), &data)
        .unwrap_or_else(|err| panic!("{} does not decode: {err}", event.event_type()));
    assert_eq!(
        &decoded,
        event,
        "{} changed in a round trip",
        event.event_type()
    );
}
