//! Vayu `POST /events` batch validation, and the Batch types and rules every dialect shares.

use std::collections::HashMap;

use crate::error::CoreError;
use crate::json::{self, Value};
use crate::keys;
use crate::limits::{Limits, MAX_FIELD_BYTES};
use crate::timestamp;

/// Why an event of a batch is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// A field failed validation; the message names it.
    Invalid,
    /// The same key appeared earlier in the batch with the same content.
    Duplicate,
    /// The same key appeared earlier in the batch with different content.
    Conflict,
}

impl RejectReason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "INVALID",
            Self::Duplicate => "DUPLICATE",
            Self::Conflict => "CONFLICT",
        }
    }
}

/// An event that passed validation, ready to be claimed and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Position in the request's event list.
    pub index: usize,
    pub key: u128,
    pub name: String,
    pub id: String,
    pub customer: String,
    pub timestamp_us: i64,
    pub value: Option<f64>,
    /// Compact JSON object text, keys in the order the client sent them.
    pub payload_json: String,
    pub content_hash: u128,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub index: usize,
    pub reason: RejectReason,
    pub message: String,
}

/// A parsed, validated batch: valid events and rejections, each in request order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub total: usize,
    pub events: Vec<EventRow>,
    pub rejected: Vec<Rejection>,
    /// `[start, end)` byte range of every event element of a JSON body.
    pub spans: Vec<(usize, usize)>,
    pub dry_run: bool,
}

/// The top-level member holding the events in a Vayu body.
const EVENTS: &str = "events";
const DUPLICATE_REF: &str = "Event ref already exists.";
const BAD_TIMESTAMP: &str =
    "timestamp must be an ISO 8601 date-time, e.g. 2023-09-13T18:25:43.511Z.";

/// Parses and validates a Vayu `POST /events` body for `tenant` at time `now_us`.
pub fn parse_vayu_batch(
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Limits,
) -> Result<Batch, CoreError> {
    check_body_size(body, limits)?;
    let parsed = json::parse_with_spans(body, limits.max_depth, EVENTS)?;
    let Some(Value::Array(events)) = parsed.value.get(EVENTS) else {
        return Err(events_error(limits, None));
    };
    check_event_count(events.len(), limits)?;

    let mut builder = BatchBuilder::new(tenant, events.len(), DUPLICATE_REF);
    for (index, event) in events.iter().enumerate() {
        match validate_vayu_event(event, now_us, limits) {
            Ok(valid) => builder.accept(index, valid),
            Err(message) => builder.reject(index, message),
        }
    }
    let mut batch = builder.finish();
    batch.spans = parsed.spans;
    Ok(batch)
}

/// Checks one Vayu event's fields in the documented order; the error is the first failure.
fn validate_vayu_event<'v>(
    event: &'v Value<'_>,
    now_us: i64,
    limits: &Limits,
) -> Result<ValidEvent<'v>, String> {
    if !matches!(event, Value::Object(_)) {
        return Err("Event must be a JSON object.".into());
    }
    let name = text_field(event, "name")?;
    let timestamp_us = match present(event, "timestamp") {
        None => return Err("timestamp is required.".into()),
        Some(value) => value
            .as_str()
            .and_then(|text| timestamp::parse_timestamp(text).ok())
            .ok_or(BAD_TIMESTAMP)?,
    };
    check_not_future(timestamp_us, now_us, limits)?;
    let customer = text_field(event, "customerAlias")?;
    let id = text_field(event, "ref")?;
    let payload = match present(event, "data") {
        None => None,
        Some(data @ Value::Object(_)) => Some(data),
        Some(_) => return Err("data must be an object.".into()),
    };
    Ok(ValidEvent {
        name,
        id,
        customer,
        timestamp_us,
        value: None,
        payload,
    })
}

/// A member that is there and not `null` (JSON `null` counts as missing).
fn present<'v>(event: &'v Value<'_>, field: &str) -> Option<&'v Value<'v>> {
    event
        .get(field)
        .filter(|value| !matches!(value, Value::Null))
}

fn text_field<'v>(event: &'v Value<'_>, field: &str) -> Result<&'v str, String> {
    required_text(field, event.get(field).and_then(Value::as_str))
}

/// A required identifier: a non-blank string of at most [`MAX_FIELD_BYTES`] bytes.
pub(crate) fn required_text<'t>(field: &str, text: Option<&'t str>) -> Result<&'t str, String> {
    match text {
        Some(text) if !text.trim().is_empty() => {
            if text.len() > MAX_FIELD_BYTES {
                Err(format!("{field} must be at most {MAX_FIELD_BYTES} bytes."))
            } else {
                Ok(text)
            }
        }
        _ => Err(format!(
            "{field} is required and must be a non-empty string."
        )),
    }
}

pub(crate) fn check_not_future(
    timestamp_us: i64,
    now_us: i64,
    limits: &Limits,
) -> Result<(), String> {
    if timestamp_us > now_us.saturating_add(limits.max_future_us) {
        Err(limits.future_message())
    } else {
        Ok(())
    }
}

pub(crate) fn check_body_size(body: &[u8], limits: &Limits) -> Result<(), CoreError> {
    if body.len() > limits.max_body_bytes {
        return Err(CoreError::PayloadTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    Ok(())
}

pub(crate) fn check_event_count(count: usize, limits: &Limits) -> Result<(), CoreError> {
    if count == 0 || count > limits.max_events {
        return Err(events_error(limits, Some(count)));
    }
    Ok(())
}

/// The request-level error for a missing, mistyped, empty or oversized event list.
pub(crate) fn events_error(limits: &Limits, count: Option<usize>) -> CoreError {
    let max = limits.max_events;
    let plural = if max == 1 { "" } else { "s" };
    let mut message = format!("events must be an array of 1 to {max} event{plural}");
    if let Some(count) = count {
        message.push_str(&format!(" (got {count})"));
    }
    CoreError::InvalidBatch {
        param: EVENTS,
        message,
    }
}

/// The fields of an event that passed validation, borrowed from the request.
pub(crate) struct ValidEvent<'v> {
    pub name: &'v str,
    pub id: &'v str,
    pub customer: &'v str,
    pub timestamp_us: i64,
    pub value: Option<f64>,
    /// A JSON object, or `None` for an empty one.
    pub payload: Option<&'v Value<'v>>,
}

/// Collects rows and rejections in request order and catches keys repeated in the batch.
pub(crate) struct BatchBuilder<'t> {
    tenant: &'t str,
    repeat_message: &'static str,
    /// Content hash of the first valid event with each key.
    seen: HashMap<u128, u128>,
    batch: Batch,
}

impl<'t> BatchBuilder<'t> {
    pub(crate) fn new(tenant: &'t str, total: usize, repeat_message: &'static str) -> Self {
        let batch = Batch {
            total,
            ..Batch::default()
        };
        Self {
            tenant,
            repeat_message,
            seen: HashMap::new(),
            batch,
        }
    }

    pub(crate) fn reject(&mut self, index: usize, message: String) {
        self.push_rejection(index, RejectReason::Invalid, message);
    }

    /// Adds a valid event, or rejects it as DUPLICATE/CONFLICT if an earlier valid event of
    /// the batch had the same key.
    pub(crate) fn accept(&mut self, index: usize, event: ValidEvent<'_>) {
        let (payload_json, canonical) = match event.payload {
            Some(payload) => (json::to_compact(payload), json::to_canonical(payload)),
            None => ("{}".to_owned(), "{}".to_owned()),
        };
        let key = keys::idempotency_key(self.tenant, event.name, event.id);
        let content_hash = keys::content_hash(
            event.name,
            event.customer,
            event.timestamp_us,
            event.value,
            &canonical,
        );
        if let Some(&first) = self.seen.get(&key) {
            let reason = if first == content_hash {
                RejectReason::Duplicate
            } else {
                RejectReason::Conflict
            };
            self.push_rejection(index, reason, self.repeat_message.to_owned());
            return;
        }
        self.seen.insert(key, content_hash);
        self.batch.events.push(EventRow {
            index,
            key,
            name: event.name.to_owned(),
            id: event.id.to_owned(),
            customer: event.customer.to_owned(),
            timestamp_us: event.timestamp_us,
            value: event.value,
            payload_json,
            content_hash,
        });
    }

    fn push_rejection(&mut self, index: usize, reason: RejectReason, message: String) {
        self.batch.rejected.push(Rejection {
            index,
            reason,
            message,
        });
    }

    pub(crate) fn finish(self) -> Batch {
        self.batch
    }
}

#[cfg(test)]
mod tests;
