//! Profiles `POST /v1/event/` validation (seed 002, CONTRACTS §5): one event of one user.
//! Every problem is a whole-request `InvalidBatch` whose `param` names the field.

use crate::batch::{
    check_body_size, check_length, check_not_future, identifier, is_type_name, non_blank,
    unreadable_message,
};
use crate::error::CoreError;
use crate::json::{self, Value};
use crate::limits::Limits;
use crate::timestamp;

const USER: &str = "user";
const EVENT: &str = "event";
/// How a user may be identified, strongest first: `_id` wins when both are sent.
const USER_FIELDS: [&str; 2] = ["_id", "email"];
const GENERIC: &str = "generic";
const CONFIRMATION: &str = "confirmation";
const MISSING_USER: &str = "Missing user information";
const MISSING_EVENT: &str = "Missing event information";

/// A validated profiles event.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileEvent {
    /// How the user was identified: "_id" or "email".
    pub user_field: &'static str,
    pub user: String,
    /// The event's type key: "update", "login", "generic", "confirmation", ...
    pub kind: String,
    /// The name to store: `event_name` for a generic event, else the type.
    pub name: String,
    /// A confirmation's `orderId` (a number is kept as its canonical text).
    pub order_id: Option<String>,
    /// Compact JSON object: the type's object (for `generic`, the inner object).
    pub attributes_json: String,
    pub timestamp_us: i64,
}

/// Parses and validates a profiles body received at time `now_us`.
pub fn parse_profiles_event(
    body: &[u8],
    now_us: i64,
    limits: &Limits,
) -> Result<ProfileEvent, CoreError> {
    check_body_size(body, limits)?;
    let root = json::parse(body, limits.max_depth)?;
    let (user_field, user) = user(&root)?;
    let (kind, attributes) = event_type(&root)?;
    if let Some(number) = json::unreadable_number(attributes) {
        return Err(invalid(EVENT, unreadable_message(EVENT, number)));
    }
    let (name, attributes, order_id) = match kind {
        GENERIC => {
            let inner = match attributes.get(GENERIC) {
                Some(inner @ Value::Object(_)) => inner,
                _ => return Err(invalid(EVENT, "event.generic.generic must be an object")),
            };
            let name = text_member(inner, "event_name")?;
            (name.to_owned(), inner, None)
        }
        CONFIRMATION => (kind.to_owned(), attributes, Some(order_id(attributes)?)),
        _ => (kind.to_owned(), attributes, None),
    };
    Ok(ProfileEvent {
        user_field,
        user: user.to_owned(),
        kind: kind.to_owned(),
        name,
        order_id,
        attributes_json: json::to_compact(attributes),
        timestamp_us: event_time(attributes, now_us, limits),
    })
}

fn invalid(param: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::InvalidBatch {
        param,
        message: message.into(),
    }
}

/// The user's identifier: the first of `_id`, `email` that is a non-blank string.
fn user<'v>(root: &'v Value<'_>) -> Result<(&'static str, &'v str), CoreError> {
    let user = root
        .get(USER)
        .filter(|user| matches!(user, Value::Object(_)));
    for field in USER_FIELDS {
        if let Some(id) = non_blank(user.and_then(|user| user.get(field)?.as_str())) {
            check_length(field, id).map_err(|err| invalid(USER, err.message))?;
            return Ok((field, id));
        }
    }
    Err(invalid(USER, MISSING_USER))
}

/// The event's single type key and its object.
fn event_type<'v>(root: &'v Value<'_>) -> Result<(&'v str, &'v Value<'v>), CoreError> {
    let members = match root.get(EVENT) {
        Some(Value::Object(members)) if !members.is_empty() => members,
        _ => return Err(invalid(EVENT, MISSING_EVENT)),
    };
    let [(kind, attributes)] = members.as_slice() else {
        return Err(invalid(EVENT, "event must have exactly one type"));
    };
    if !is_type_name(kind, 64, b"_") {
        return Err(invalid(EVENT, "invalid event type"));
    }
    if !matches!(attributes, Value::Object(_)) {
        return Err(invalid(EVENT, format!("event.{kind} must be an object")));
    }
    Ok((kind, attributes))
}

fn text_member<'v>(object: &'v Value<'_>, field: &'static str) -> Result<&'v str, CoreError> {
    Ok(identifier(
        field,
        object.get(field).and_then(Value::as_str),
        "is required.",
    )?)
}

/// A confirmation's `orderId`: a non-blank string, or a number kept as its canonical text
/// (so `42`, `42.0` and `"42"` are one order).
fn order_id(attributes: &Value<'_>) -> Result<String, CoreError> {
    const ORDER_ID: &str = "orderId";
    if let Some(Value::Number(text)) = attributes.get(ORDER_ID) {
        let id = json::canonical_number(text);
        check_length(ORDER_ID, &id)?;
        return Ok(id);
    }
    Ok(text_member(attributes, ORDER_ID)?.to_owned())
}

/// The attributes' `timestamp` when it is an RFC 3339 date-time within the future window;
/// otherwise (absent, malformed, too far ahead) the time received. Never an error: the
/// profiles API has no way to reject an event for its time.
fn event_time(attributes: &Value<'_>, now_us: i64, limits: &Limits) -> i64 {
    attributes
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|text| timestamp::parse_timestamp(text).ok())
        .and_then(|at| check_not_future(at, now_us, limits).ok())
        .unwrap_or(now_us)
}

#[cfg(test)]
mod tests;
