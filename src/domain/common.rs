//! Shared vocabulary of the crisis domain: the small value types every aggregate
//! and policy speaks in. Amounts are integer minor units, never floats.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Passenger loyalty tier; sets response deadlines and goodwill.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Diamond,
    Platinum,
    Gold,
    Silver,
    None,
}

/// Where an observation or a complaint came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    SocialMedia,
    Hotline,
    Email,
    Web,
    App,
    FlightOps,
    Airport,
}

/// What a signal or complaint is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Delay,
    Cancellation,
    BaggageLost,
    BaggageDamaged,
    Overbooking,
    Service,
    Refund,
    Safety,
    Other,
}

impl Category {
    /// The snake_case name used in JSON and in correlation keys (`baggage_lost`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Delay => "delay",
            Category::Cancellation => "cancellation",
            Category::BaggageLost => "baggage_lost",
            Category::BaggageDamaged => "baggage_damaged",
            Category::Overbooking => "overbooking",
            Category::Service => "service",
            Category::Refund => "refund",
            Category::Safety => "safety",
            Category::Other => "other",
        }
    }
}

/// Crisis severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// ISO 4217 currency code (three upper-case ASCII letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl JsonSchema for Currency {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Currency".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "ISO 4217 currency code (three upper-case ASCII letters).",
            "type": "string",
            "pattern": "^[A-Z]{3}$"
        })
    }
}

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");
    pub const GBP: Currency = Currency(*b"GBP");
    pub const CAD: Currency = Currency(*b"CAD");
    pub const USD: Currency = Currency(*b"USD");
    pub const CNY: Currency = Currency(*b"CNY");

    /// The code as text (`EUR`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII by construction")
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        match code.as_bytes() {
            [a, b, c] if code.bytes().all(|b| b.is_ascii_uppercase()) => Ok(Currency([*a, *b, *c])),
            _ => Err(format!(
                "currency {code:?} is not an ISO 4217 code (three upper-case letters, e.g. EUR)"
            )),
        }
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money in integer minor units (cents, pence) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Money {
    /// Minor units (e.g. cents); never negative, at most 2^53 - 1 (canonical JSON, RFC
    /// 8785, stores larger integers inexactly, so the store refuses them).
    #[schemars(range(max = 9_007_199_254_740_991u64))]
    pub amount_minor: u64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: u64, currency: Currency) -> Self {
        Money {
            amount_minor,
            currency,
        }
    }
}

/// IATA airport code: three upper-case ASCII letters (`FRA`, `YYZ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AirportCode([u8; 3]);

impl JsonSchema for AirportCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AirportCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "IATA airport code",
            "type": "string",
            "pattern": "^[A-Z]{3}$"
        })
    }
}

impl AirportCode {
    /// Parses a code; `Err` names the expected shape.
    pub fn parse(code: &str) -> Result<Self, String> {
        match code.as_bytes() {
            [a, b, c] if code.bytes().all(|b| b.is_ascii_uppercase()) => {
                Ok(AirportCode([*a, *b, *c]))
            }
            _ => Err(format!(
                "airport {code:?} is not an IATA code (three upper-case letters, e.g. FRA)"
            )),
        }
    }

    /// The code as text (`FRA`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("airport codes are ASCII by construction")
    }
}

impl TryFrom<String> for AirportCode {
    type Error = String;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        AirportCode::parse(&code)
    }
}

impl From<AirportCode> for String {
    fn from(c: AirportCode) -> String {
        c.as_str().to_owned()
    }
}

impl std::fmt::Display for AirportCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operated flight: marketing carrier designator, flight number and the
/// scheduled departure date in the origin's local calendar. Rendered
/// `<carrier><number>-<YYYY-MM-DD>` (`LH400-2026-11-22`), which is also the
/// flight stream id after the `flight-` prefix.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct FlightKey {
    /// IATA (2) or ICAO (3) airline designator, upper-case letters and digits.
    #[schemars(regex(pattern = r"^[A-Z0-9]{2,3}$"))]
    pub carrier: String,
    /// Flight number: 1–4 digits with an optional operational suffix letter.
    #[schemars(regex(pattern = r"^[0-9]{1,4}[A-Z]?$"))]
    pub number: String,
    /// Scheduled departure date at the origin (local).
    pub date: chrono::NaiveDate,
}

impl FlightKey {
    /// Builds a key, refusing designators and numbers of the wrong shape.
    pub fn new(carrier: &str, number: &str, date: chrono::NaiveDate) -> Result<Self, String> {
        let key = FlightKey {
            carrier: carrier.to_owned(),
            number: number.to_owned(),
            date,
        };
        key.check()?;
        Ok(key)
    }

    /// A key from its designator and number written together (`LH400`, `9W123`,
    /// `DLH400A`) and its date; a designator has a letter, the number starts at the
    /// first digit after it.
    pub fn from_compact(flight: &str, date: chrono::NaiveDate) -> Result<Self, String> {
        let refused = || format!("flight {flight:?} is not a designator and number such as LH400");
        let split = flight
            .char_indices()
            .skip(2)
            .find(|(_, c)| c.is_ascii_digit())
            .map(|(i, _)| i)
            .filter(|&i| flight[..i].bytes().any(|b| b.is_ascii_alphabetic()))
            .ok_or_else(refused)?;
        FlightKey::new(&flight[..split], &flight[split..], date).map_err(|_| refused())
    }

    /// The key of a flight stream's name (`flight-LH400-2026-12-01`).
    pub fn from_stream(stream: &str) -> Option<Self> {
        let (flight, date) = stream.strip_prefix("flight-")?.split_once('-')?;
        FlightKey::from_compact(flight, date.parse().ok()?).ok()
    }

    /// Whether the designator and number have their shape (a key decoded from a
    /// command body has not been through [`FlightKey::new`]; stored events are decoded
    /// as they are).
    pub fn check(&self) -> Result<(), String> {
        let (carrier, number) = (self.carrier.as_str(), self.number.as_str());
        let carrier_ok = (2..=3).contains(&carrier.len())
            && carrier
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !carrier_ok {
            return Err(format!(
                "carrier {carrier:?} is not an airline designator (e.g. LH)"
            ));
        }
        let digits = number.trim_end_matches(|c: char| c.is_ascii_uppercase());
        let number_ok = (1..=4).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && number.len() - digits.len() <= 1;
        if !number_ok {
            return Err(format!(
                "flight number {number:?} is not 1-4 digits with an optional letter"
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for FlightKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}-{}",
            self.carrier,
            self.number,
            self.date.format("%Y-%m-%d")
        )
    }
}

/// What a customer's message is, as the channel says (or crisisd derives: a complaint
/// when an identified passenger names a problem, else an inquiry).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    Complaint,
    /// A question: recorded as a signal only.
    Inquiry,
    /// An idea for the airline: recorded in the suggestion loop too.
    Suggestion,
}

/// A root cause's code in the policy's taxonomy (`root_causes` in the crisis policy):
/// an area and a cause, lower-case, `operations/delay`, `baggage/mishandled`. Checked
/// wherever one is read; whether the taxonomy has it is the policy's to say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RootCause(String);

impl RootCause {
    /// What a valid code looks like, for error messages.
    pub const RULE: &'static str = "root causes are written area/cause in lower-case letters, digits and '_' (e.g. operations/delay), at most 64 characters";

    pub fn parse(code: &str) -> Result<RootCause, &'static str> {
        let part = |p: &str| {
            p.starts_with(|c: char| c.is_ascii_lowercase())
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        let valid = code.len() <= 64
            && matches!(code.split_once('/'), Some((area, cause)) if part(area) && part(cause));
        if valid {
            Ok(RootCause(code.to_owned()))
        } else {
            Err(Self::RULE)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its area: `operations` of `operations/delay`.
    pub fn area(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(area, _)| area)
    }
}

impl std::fmt::Display for RootCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RootCause {
    type Error = &'static str;
    fn try_from(code: String) -> Result<Self, Self::Error> {
        RootCause::parse(&code)
    }
}

impl From<RootCause> for String {
    fn from(code: RootCause) -> String {
        code.0
    }
}

impl JsonSchema for RootCause {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RootCause".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A root cause's code in the policy's taxonomy: area/cause (operations/delay)",
            "type": "string",
            "pattern": "^[a-z][a-z0-9_]*/[a-z][a-z0-9_]*$",
            "maxLength": 64
        })
    }
}

/// A passenger's stable, pseudonymous identifier (loyalty or customer number,
/// never a name or an e-mail address): it appears in stream names, so it is 1–64 of
/// `A–Z a–z 0–9 - _ .`, checked wherever one is read (a body, a path, a message).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PassengerId(pub String);

impl PassengerId {
    /// Longest passenger id, in bytes.
    pub const BYTES_MAX: usize = 64;
    /// What a valid id looks like, for error messages.
    pub const RULE: &'static str = "passenger ids are 1-64 characters of A-Z, a-z, 0-9, '-', '_' and '.' (a loyalty or customer number, never a name or e-mail address)";

    pub fn parse(id: &str) -> Result<PassengerId, &'static str> {
        let valid = !id.is_empty()
            && id.len() <= Self::BYTES_MAX
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if valid {
            Ok(PassengerId(id.to_owned()))
        } else {
            Err(Self::RULE)
        }
    }
}

impl TryFrom<String> for PassengerId {
    type Error = &'static str;
    fn try_from(id: String) -> Result<Self, Self::Error> {
        PassengerId::parse(&id)
    }
}

impl From<PassengerId> for String {
    fn from(id: PassengerId) -> String {
        id.0
    }
}

impl JsonSchema for PassengerId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PassengerId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A passenger's pseudonymous id (loyalty or customer number, never a name or e-mail address).",
            "type": "string",
            "pattern": "^[A-Za-z0-9._-]{1,64}$"
        })
    }
}

impl std::fmt::Display for PassengerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whose personal data an event holds: the data key that seals it is this subject's,
/// and erasing the subject destroys it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataSubject {
    /// An identified passenger.
    Passenger(PassengerId),
    /// Feedback from someone not identified: the signal itself.
    Signal(uuid::Uuid),
    /// A suggestion from someone not identified: the suggestion itself.
    Suggestion(uuid::Uuid),
}

impl DataSubject {
    /// The subject as the key store names it: `p.<passenger id>`, `s.<signal id>` or
    /// `g.<suggestion id>`.
    pub fn key_subject(&self) -> String {
        match self {
            DataSubject::Passenger(id) => format!("p.{}", id.0),
            DataSubject::Signal(id) => format!("s.{}", id.simple()),
            DataSubject::Suggestion(id) => format!("g.{}", id.simple()),
        }
    }
}

/// A role of the system's access model (docs/architecture.md "Roles").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    FlightOps,
    /// A customer channel (hotline, social media, web, app systems): publishes feedback.
    Channel,
    Agent,
    CrisisLead,
    Auditor,
    Admin,
}

/// Who causes an event: recorded in every envelope and, where a rule depends
/// on it (approvals), checked by `decide` through [`crate::domain::Context`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    pub id: String,
    pub role: Role,
}

/// Personal data (names, e-mail addresses, phone numbers, free text written by
/// a customer). Serialized transparently, but its `Debug` never prints the
/// content and its JSON Schema carries `"x-personal-data": true`, so HTTP and
/// audit code can redact every such field from the schema alone.
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonalData<T>(pub T);

impl<T> PersonalData<T> {
    /// The protected value; call sites that read it are the ones to audit.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl From<&str> for PersonalData<String> {
    fn from(text: &str) -> Self {
        PersonalData(text.to_owned())
    }
}

impl From<String> for PersonalData<String> {
    fn from(text: String) -> Self {
        PersonalData(text)
    }
}

impl<T> std::fmt::Debug for PersonalData<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalData(<redacted>)")
    }
}

impl<T: JsonSchema> JsonSchema for PersonalData<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("PersonalData_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = T::json_schema(generator);
        schema.insert("x-personal-data".to_owned(), true.into());
        schema
    }

    fn inline_schema() -> bool {
        true
    }
}

/// A value as the API spells it, for refusal messages: an enum in its snake_case JSON
/// form (`assess`, `crisis_lead`), a list joined with ", ", an id as it is written.
pub fn api_name<T: Serialize + ?Sized>(value: &T) -> String {
    let word = |value: serde_json::Value| match value {
        serde_json::Value::String(text) => text,
        other => other.to_string(),
    };
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Array(items)) => {
            items.into_iter().map(word).collect::<Vec<_>>().join(", ")
        }
        Ok(other) => word(other),
        Err(_) => String::new(),
    }
}

/// The final state of a compensation entitlement, as an incident must know it
/// before it may close: paid, declined by the passenger, failed with a reason, or
/// nothing to pay (no regime and no goodwill rule owes cash, a voucher or miles: care
/// at most, which is given at the airport, not paid afterwards).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Settlement {
    Paid,
    Declined,
    Failed { reason: String },
    NothingOwed,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refusals read as sentences in the API's own spelling, not Rust debug output.
    #[test]
    fn refusals_name_values_as_the_api_spells_them() {
        use crate::domain::incident::{IncidentError, PlanKind, Stage};
        let missing = IncidentError::ExecutionRequiresApprovedPlans {
            missing: vec![PlanKind::Communication, PlanKind::Compensation],
        };
        assert_eq!(
            missing.to_string(),
            "execution requires approved plans; missing: communication, compensation"
        );
        let stage = IncidentError::WrongStage {
            command: "start_execution",
            stage: Stage::Assess,
        };
        assert!(stage.to_string().ends_with("in stage assess"), "{stage}");
        assert_eq!(api_name(&Role::CrisisLead), "crisis_lead");
    }

    #[test]
    fn personal_data_debug_hides_content() {
        let email = PersonalData("ada@example.org".to_owned());
        assert_eq!(format!("{email:?}"), "PersonalData(<redacted>)");
        assert_eq!(
            serde_json::to_string(&email).unwrap(),
            "\"ada@example.org\""
        );
    }

    #[test]
    fn personal_data_schema_is_marked() {
        let schema = schemars::schema_for!(PersonalData<String>);
        assert_eq!(
            schema.get("x-personal-data"),
            Some(&serde_json::Value::Bool(true))
        );
        assert_eq!(schema.get("type"), Some(&serde_json::json!("string")));
    }

    #[test]
    fn flight_key_renders_and_validates() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(
            FlightKey::new("LH", "400", date).unwrap().to_string(),
            "LH400-2026-11-22"
        );
        assert!(FlightKey::new("LH", "400A", date).is_ok());
        assert!(FlightKey::new("lh", "400", date).is_err());
        assert!(FlightKey::new("LH", "40000", date).is_err());
        assert!(FlightKey::new("LH", "", date).is_err());
        assert!(FlightKey::new("LH", "4AB", date).is_err());
    }

    #[test]
    fn category_names_match_json() {
        for category in [
            Category::Delay,
            Category::BaggageLost,
            Category::BaggageDamaged,
            Category::Other,
        ] {
            assert_eq!(serde_json::to_value(category).unwrap(), category.as_str());
        }
    }

    #[test]
    fn airport_code_parses_three_capitals_only() {
        assert_eq!(AirportCode::parse("FRA").unwrap().as_str(), "FRA");
        assert!(AirportCode::parse("fra").is_err());
        assert!(AirportCode::parse("FRAN").is_err());
        assert!(serde_json::from_str::<AirportCode>("\"XX\"").is_err());
    }
}
