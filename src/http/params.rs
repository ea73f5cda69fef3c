//! What a route takes besides its body, as types: the query string decoded into one
//! struct per route ([`Params`], unknown parameters refused), and the path parameters.
//! The route table documents both from the same types ([`super::routes::Op::query`],
//! [`super::routes::Op::path`]), so the OpenAPI document says what the server takes.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::problem::Problem;

/// A route's query string decoded into `T`; a parameter `T` does not name, or a value
/// of the wrong type, is refused as `invalid_query` naming the parameter.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(err) => Err(invalid_query(&err.body_text())),
        }
    }
}

/// The problem for a query string serde refused, with the parameter it names.
fn invalid_query(text: &str) -> Problem {
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    let named = |marker: &str| {
        let rest = detail.split_once(marker)?.1;
        Some(rest.split('`').next()?.to_owned())
    };
    let field = named("unknown field `")
        .or_else(|| named("missing field `"))
        .or_else(|| {
            detail
                .split_once(": ")
                .map(|(path, _)| path.to_owned())
                .filter(|path| !path.contains(' '))
        });
    let problem = Problem::bad_request("invalid_query", detail.to_owned());
    match field {
        Some(field) => problem.field(field),
        None => problem,
    }
}

/// The flight a list is filtered by, from its `flight` (designator and number, `LH400`)
/// and `date` (its origin date) parameters: both or neither.
pub fn flight_filter(
    flight: Option<&str>,
    date: Option<chrono::NaiveDate>,
) -> Result<Option<crate::domain::common::FlightKey>, Problem> {
    match (flight, date) {
        (None, None) => Ok(None),
        (Some(flight), Some(date)) => crate::domain::common::FlightKey::from_compact(flight, date)
            .map(Some)
            .map_err(|refused| Problem::bad_request("invalid_query", refused).field("flight")),
        (flight, _) => Err(Problem::bad_request(
            "invalid_query",
            "a flight filter takes both flight (LH400) and date (its origin date)",
        )
        .field(if flight.is_some() { "date" } else { "flight" })),
    }
}

/// The `{id}` of an incident, complaint or compensation route: handlers take it as an
/// extractor, the route table documents it; an id that is no UUID is a 404 saying so.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdPath {
    /// The incident's, complaint's or compensation's id (a UUID crisisd chose).
    pub id: Uuid,
}

/// The `{id}` of a passenger route, taken and documented like [`IdPath`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PassengerPath {
    /// The passenger's pseudonymous id: 1-64 of A-Z, a-z, 0-9, '-' and '_' (a
    /// passenger's record lives in a stream named after it, and stream names take no
    /// '.'; complaints may still name such a passenger).
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub id: String,
}

/// The route's `{id}` as written.
async fn raw_id<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, Problem> {
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|err| Problem::not_found(err.body_text()).field("id"))?;
    Ok(params
        .into_iter()
        .find_map(|(name, value)| (name == "id").then_some(value))
        .unwrap_or_default())
}

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let raw = raw_id(parts, state).await?;
        // `/v1/incidents/{id}` → "incident ids are UUIDs; ..."
        let what = parts
            .uri
            .path()
            .split('/')
            .nth(2)
            .and_then(|collection| collection.strip_suffix('s'))
            .unwrap_or("resource");
        Ok(IdPath {
            id: super::queries::uuid(&raw, what)?,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PassengerPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let raw = raw_id(parts, state).await?;
        super::commands::passenger_id(&raw)?;
        Ok(PassengerPath { id: raw })
    }
}

impl PassengerPath {
    /// The passenger, checked when the path was taken.
    pub fn passenger(self) -> crate::domain::common::PassengerId {
        crate::domain::common::PassengerId(self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_query_names_its_parameter() {
        let cases = [
            (
                "Failed to deserialize query string: unknown field `min_severty`, expected one of `stage`, `after`",
                Some("min_severty"),
            ),
            (
                "Failed to deserialize query string: missing field `window`",
                Some("window"),
            ),
            (
                "Failed to deserialize query string: after: cannot parse integer from empty string",
                Some("after"),
            ),
            ("Failed to deserialize query string: something odd", None),
        ];
        for (text, field) in cases {
            let problem = serde_json::to_value(invalid_query(text)).unwrap();
            assert_eq!(problem["code"], "invalid_query", "{text}");
            assert_eq!(problem["field"].as_str(), field, "{text}");
            assert!(!problem["detail"].as_str().unwrap().starts_with("Failed"));
        }
    }
}
