//! Vayu `POST /events` batch validation (seed 000, CONTRACTS §3).

use std::borrow::Cow;

use crate::batch::{
    Batch, NOT_AN_OBJECT, Repeat, ValidEvent, check_event_count, events_error, json_batch,
    optional_object, parse_body, readable_numbers, required_text, timestamp_member,
};
use crate::error::{CoreError, FieldError};
use crate::json::{self, Value};
use crate::limits::Limits;

/// The top-level member holding the events in a Vayu body.
const EVENTS: &str = "events";
/// Vayu documents one message for a repeated ref, in the batch or already stored.
const REPEAT: Repeat = Repeat {
    field: "ref",
    message: "Event ref already exists.",
};

/// Parses and validates a Vayu `POST /events` body for `tenant` at time `now_us`.
pub fn parse_vayu_batch(
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Limits,
) -> Result<Batch, CoreError> {
    let json::Parsed { value, spans } = parse_body(body, limits, EVENTS)?;
    let Some(Value::Array(events)) = value.get(EVENTS) else {
        return Err(events_error(EVENTS, limits, None));
    };
    check_event_count(EVENTS, events.len(), limits)?;
    Ok(json_batch(tenant, events, spans, REPEAT, |event| {
        validate_vayu_event(event, now_us, limits)
    }))
}

/// Checks one Vayu event's fields in the documented order; the error is the first failure.
fn validate_vayu_event<'v>(
    event: &'v Value<'_>,
    now_us: i64,
    limits: &Limits,
) -> Result<ValidEvent<'v>, FieldError> {
    if !matches!(event, Value::Object(_)) {
        return Err(FieldError::new("", NOT_AN_OBJECT));
    }
    let text = |field| required_text(field, event.get(field).and_then(Value::as_str));
    let name = text("name")?;
    let timestamp_us = timestamp_member(event, None, now_us, limits)?;
    let customer = text("customerAlias")?;
    let id = text("ref")?;
    let payload = optional_object(event, "data")?;
    if let Some(data) = payload {
        readable_numbers("data", "data", data)?;
    }
    Ok(ValidEvent {
        name,
        id: Cow::Borrowed(id),
        customer,
        timestamp_us,
        stamped: false,
        value: None,
        payload: payload.map(Cow::Borrowed),
    })
}

#[cfg(test)]
mod tests;
