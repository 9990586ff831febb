//! Enso `POST /events/batch` validation (seed 001, CONTRACTS §4).

use std::borrow::Cow;

use crate::batch::{
    Batch, NOT_AN_OBJECT, NOT_FINITE, Repeat, TIMESTAMP, ValidEvent, check_event_count, identifier,
    json_batch, optional_object, optional_text, parse_body, present, readable_numbers,
    timestamp_member,
};
use crate::error::{CoreError, FieldError};
use crate::idempotency;
use crate::json::{self, Value};
use crate::limits::Limits;

const EVENTS: &str = "events";
/// Enso's documented text for error code 2003.
const EVENTS_REQUIRED: &str = "events array is required";
const EVENT_ID: &str = "eventId";
const REPEAT: Repeat = Repeat {
    field: EVENT_ID,
    message: "duplicate eventId",
};
/// `JobId` wins over its alias; the record keeps it as `JobId` either way.
const JOB_ID_FIELDS: [&str; 2] = ["JobId", "jobId"];

/// Parses and validates an Enso `POST /events/batch` body for `tenant` at time `now_us`.
pub fn parse_enso_batch(
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Limits,
) -> Result<Batch, CoreError> {
    let json::Parsed { value, spans } = parse_body(body, limits, EVENTS)?;
    let events = match value.get(EVENTS) {
        Some(Value::Array(events)) if !events.is_empty() => events,
        _ => {
            return Err(CoreError::InvalidBatch {
                param: EVENTS,
                message: EVENTS_REQUIRED.into(),
            });
        }
    };
    check_event_count(EVENTS, events.len(), limits)?;
    Ok(json_batch(tenant, events, spans, REPEAT, |event| {
        validate_enso_event(event, now_us, limits)
    }))
}

/// Checks one record's fields in the documented order; the error is the first failure.
fn validate_enso_event<'v>(
    event: &'v Value<'_>,
    now_us: i64,
    limits: &Limits,
) -> Result<ValidEvent<'v>, FieldError> {
    if !matches!(event, Value::Object(_)) {
        return Err(FieldError::new("", NOT_AN_OBJECT));
    }
    let required = |field| {
        identifier(
            field,
            event.get(field).and_then(Value::as_str),
            "is required.",
        )
    };
    let customer = required("CustomerEntityId")?;
    let metric = required("metric")?;
    let (value, value_text) = finite_value(event)?;
    // Absent means "now", stamped by the server: it is not part of what the client sent, so
    // it enters neither the content hash nor a derived id (a blind retry is a duplicate).
    let timestamp_us = timestamp_member(event, Some(now_us), now_us, limits)?;
    let stamped = present(event, TIMESTAMP).is_none();
    let metadata = optional_object(event, "metadata")?;
    if let Some(metadata) = metadata {
        readable_numbers("metadata", "metadata", metadata)?;
    }
    let sent_at = (!stamped).then_some(timestamp_us);
    let id = match optional_text(event, EVENT_ID)? {
        Some(id) => Cow::Borrowed(id),
        None => Cow::Owned(derived_event_id(metric, value_text, sent_at, customer)),
    };
    let job_id = job_id(event)?;

    let metadata = metadata.cloned().unwrap_or(Value::Object(Vec::new()));
    let mut payload = vec![(Cow::Borrowed("metadata"), metadata)];
    if let Some(job_id) = job_id {
        payload.push((Cow::Borrowed("JobId"), Value::String(Cow::Borrowed(job_id))));
    }
    Ok(ValidEvent {
        name: metric,
        id,
        customer,
        timestamp_us,
        stamped,
        value: Some(value),
        payload: Some(Cow::Owned(Value::Object(payload))),
    })
}

/// `value`: a JSON number (not a string) that a 64-bit float carries as sent (finite, and
/// not a nonzero literal that rounds to 0 like `1e-400`), and its text.
fn finite_value<'v>(event: &'v Value<'_>) -> Result<(f64, &'v str), FieldError> {
    if let Some(Value::Number(text)) = event.get("value")
        && json::is_readable_number(text)
        && let Ok(value) = text.parse::<f64>()
    {
        return Ok((value, text));
    }
    Err(FieldError::new("value", NOT_FINITE))
}

/// The id of a record sent without one: the same measurement always gets the same id.
fn derived_event_id(
    metric: &str,
    value_text: &str,
    timestamp_us: Option<i64>,
    customer: &str,
) -> String {
    let value = json::canonical_number(value_text);
    let hash = idempotency::measurement_id(metric, &value, timestamp_us, customer);
    format!("enso-{hash:032x}")
}

/// `JobId`, else `jobId`; the first one present must be a string.
fn job_id<'v>(event: &'v Value<'_>) -> Result<Option<&'v str>, FieldError> {
    for field in JOB_ID_FIELDS {
        if let Some(value) = present(event, field) {
            return match value.as_str() {
                Some(text) => Ok(Some(text)),
                None => Err(FieldError::new(field, format!("{field} must be a string."))),
            };
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
