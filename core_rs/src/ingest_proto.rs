//! gRPC `sluice.v1.IngestRequest` and `IngestStreamRequest` bodies: prost decoding and
//! validation into a Batch.

use std::borrow::Cow;

use prost::Message;
use prost_types::value::Kind;

use crate::batch::{
    Batch, BatchBuilder, NOT_FINITE, Repeat, TIMESTAMP, ValidEvent, check_body_size,
    check_event_count, check_not_future, required_text,
};
use crate::error::{CoreError, FieldError};
use crate::json::{self, Value};
use crate::limits::Limits;

/// `sluice.v1.Event`, written by hand to match proto/sluice/v1/ingest.proto.
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub customer_id: String,
    #[prost(message, optional, tag = "4")]
    pub timestamp: Option<prost_types::Timestamp>,
    #[prost(double, optional, tag = "5")]
    pub value: Option<f64>,
    #[prost(message, optional, tag = "6")]
    pub data: Option<prost_types::Struct>,
}

/// `sluice.v1.IngestRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct IngestRequest {
    #[prost(message, repeated, tag = "1")]
    pub events: Vec<Event>,
    #[prost(bool, tag = "2")]
    pub dry_run: bool,
}

/// `sluice.v1.IngestStreamRequest`: IngestRequest's fields under the same numbers, plus the
/// client's batch sequence, which the server echoes on the batch's ack.
#[derive(Clone, PartialEq, Message)]
pub struct IngestStreamRequest {
    #[prost(message, repeated, tag = "1")]
    pub events: Vec<Event>,
    #[prost(bool, tag = "2")]
    pub dry_run: bool,
    #[prost(uint64, tag = "3")]
    pub sequence: u64,
}

const EVENTS: &str = "events";
const REPEAT: Repeat = Repeat {
    field: "id",
    message: "id already appears earlier in this batch.",
};

/// Decodes and validates a serialized IngestRequest for `tenant` at time `now_us`.
pub fn parse_ingest_request(
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Limits,
) -> Result<Batch, CoreError> {
    let request: IngestRequest = decode(body, limits, "IngestRequest")?;
    validate(&request.events, request.dry_run, tenant, now_us, limits)
}

/// Decodes and validates one IngestStream message: (its sequence, the batch).
pub fn parse_ingest_stream_request(
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Limits,
) -> Result<(u64, Batch), CoreError> {
    let request: IngestStreamRequest = decode(body, limits, "IngestStreamRequest")?;
    let batch = validate(&request.events, request.dry_run, tenant, now_us, limits)?;
    Ok((request.sequence, batch))
}

/// The size check, then prost's decode; either failure is a request-level error.
fn decode<M: Message + Default>(body: &[u8], limits: &Limits, what: &str) -> Result<M, CoreError> {
    check_body_size(body, limits)?;
    M::decode(body).map_err(|err| CoreError::InvalidBatch {
        param: EVENTS,
        message: format!("malformed {what}: {err}"),
    })
}

fn validate(
    events: &[Event],
    dry_run: bool,
    tenant: &str,
    now_us: i64,
    limits: &Limits,
) -> Result<Batch, CoreError> {
    check_event_count(EVENTS, events.len(), limits)?;
    let mut builder = BatchBuilder::new(tenant, events.len(), REPEAT);
    for (index, event) in events.iter().enumerate() {
        let outcome = check_event(event, now_us, limits).map(|checked| ValidEvent {
            name: &event.name,
            id: Cow::Borrowed(&event.id),
            customer: &event.customer_id,
            timestamp_us: checked.timestamp_us,
            stamped: event.timestamp.is_none(),
            value: event.value,
            payload: checked.payload.map(Cow::Owned),
        });
        builder.push(index, outcome);
    }
    let mut batch = builder.finish();
    batch.dry_run = dry_run;
    Ok(batch)
}

/// What validation derives from an event beyond its plain fields.
struct CheckedEvent {
    timestamp_us: i64,
    payload: Option<Value<'static>>,
}

/// Checks fields in proto order; the error is the first failure, naming the proto field.
fn check_event(event: &Event, now_us: i64, limits: &Limits) -> Result<CheckedEvent, FieldError> {
    required_text("id", Some(&event.id))?;
    required_text("name", Some(&event.name))?;
    required_text("customer_id", Some(&event.customer_id))?;
    let timestamp_us = match &event.timestamp {
        None => now_us,
        Some(timestamp) => timestamp_micros(timestamp)
            .ok_or_else(|| FieldError::new(TIMESTAMP, "timestamp is invalid."))?,
    };
    check_not_future(timestamp_us, now_us, limits)?;
    if event.value.is_some_and(|value| !value.is_finite()) {
        return Err(FieldError::new("value", NOT_FINITE));
    }
    let payload = match &event.data {
        Some(data) if !data.fields.is_empty() => Some(
            struct_to_json(data, 1, limits.max_depth)
                .map_err(|message| FieldError::new("data", message))?,
        ),
        _ => None,
    };
    Ok(CheckedEvent {
        timestamp_us,
        payload,
    })
}

/// Microseconds since the epoch, or `None` outside what google.protobuf.Timestamp allows
/// (0001-01-01 to 9999-12-31, nanos 0 to 999,999,999). Sub-microsecond digits are dropped.
fn timestamp_micros(timestamp: &prost_types::Timestamp) -> Option<i64> {
    const MIN_SECONDS: i64 = -62_135_596_800;
    const MAX_SECONDS: i64 = 253_402_300_799;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&timestamp.seconds)
        || !(0..=999_999_999).contains(&timestamp.nanos)
    {
        return None;
    }
    Some(timestamp.seconds * 1_000_000 + i64::from(timestamp.nanos / 1000))
}

/// A Struct as a JSON object (keys sorted: prost keeps map fields in a BTreeMap).
/// `depth` is this object's nesting level; prost's decode recursion limit bounds it too.
fn struct_to_json(
    data: &prost_types::Struct,
    depth: usize,
    max_depth: usize,
) -> Result<Value<'static>, String> {
    check_depth(depth, max_depth)?;
    let members = data
        .fields
        .iter()
        .map(|(key, value)| {
            Ok((
                Cow::Owned(key.clone()),
                value_to_json(value, depth, max_depth)?,
            ))
        })
        .collect::<Result<_, String>>()?;
    Ok(Value::Object(members))
}

fn check_depth(depth: usize, max_depth: usize) -> Result<(), String> {
    if depth > max_depth {
        return Err(format!(
            "data must not be nested deeper than {max_depth} levels."
        ));
    }
    Ok(())
}

fn value_to_json(
    value: &prost_types::Value,
    depth: usize,
    max_depth: usize,
) -> Result<Value<'static>, String> {
    Ok(match &value.kind {
        // An unset kind is malformed but harmless; read it as null like most JSON mappers.
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(flag)) => Value::Bool(*flag),
        Some(Kind::StringValue(text)) => Value::String(Cow::Owned(text.clone())),
        Some(Kind::NumberValue(number)) => {
            if !number.is_finite() {
                return Err("data must not contain NaN or Infinity.".into());
            }
            Value::Number(Cow::Owned(json::format_f64(*number)))
        }
        Some(Kind::StructValue(inner)) => struct_to_json(inner, depth + 1, max_depth)?,
        Some(Kind::ListValue(list)) => {
            check_depth(depth + 1, max_depth)?;
            let items = list
                .values
                .iter()
                .map(|item| value_to_json(item, depth + 1, max_depth))
                .collect::<Result<_, String>>()?;
            Value::Array(items)
        }
    })
}

#[cfg(test)]
mod tests;
