//! Collect `POST /collect/event` validation (seed 003, CONTRACTS §6). The API is all or
//! nothing; this only reports, and the caller decides from `Batch::rejected`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;

use crate::batch::{
    Batch, BatchBuilder, NOT_AN_OBJECT, Repeat, TIMESTAMP, ValidEvent, check_event_count,
    check_length, check_not_future, events_error, is_type_name, optional_object, optional_text,
    parse_body, present, readable_numbers, timestamp_error, unreadable_message,
};
use crate::error::{CoreError, FieldError};
use crate::json::{self, Value};
use crate::limits::Limits;
use crate::timestamp;

const BODY: &str = "messageBody";
const HEADER: &str = "messageheader";
/// The spelling in the vendor's own example; `messageheader` wins when both are sent.
const HEADER_ALIAS: &str = "messageHeaders";
const EVENT_TYPE: &str = "eventType";
const TYPE_ALIAS: &str = "type";
const EVENT_ID: &str = "eventId";
const USER_ID: &str = "userId";
const PROPERTIES: &str = "properties";
/// Members read into the row's own fields; every other member is kept as an attribute
/// (`type` too, unless it supplied the event type).
const READ_FIELDS: [&str; 5] = [EVENT_TYPE, EVENT_ID, TIMESTAMP, USER_ID, PROPERTIES];
const BAD_TYPE: &str = "invalid event type";
const BAD_TIMESTAMP: &str =
    "timestamp must be an ISO 8601 date-time or an integer of epoch milliseconds.";
const REPEAT: Repeat = Repeat {
    field: EVENT_ID,
    message: "duplicate eventId",
};

/// What every event of one request is checked against and stored with.
struct Request<'r> {
    now_us: i64,
    limits: &'r Limits,
    allowed_types: Option<HashSet<&'r str>>,
    header: Option<&'r Value<'r>>,
    ping_id: &'r str,
}

/// Parses and validates a collect body. `allowed_types` is the tenant's allow-list of event
/// types (`None`: any type matching the pattern); `ping_id` is stored with every event.
pub fn parse_collect_batch(
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Limits,
    ping_id: &str,
    allowed_types: Option<&[String]>,
) -> Result<Batch, CoreError> {
    let parsed = parse_body(body, limits, BODY)?;
    let Some(Value::Array(events)) = parsed.value.get(BODY) else {
        return Err(events_error(BODY, limits, None));
    };
    check_event_count(BODY, events.len(), limits)?;
    let request = Request {
        now_us,
        limits,
        allowed_types: allowed_types.map(|types| types.iter().map(String::as_str).collect()),
        header: message_header(&parsed.value)?,
        ping_id,
    };

    let mut ids = RandomIds::default();
    let mut builder = BatchBuilder::new(tenant, events.len(), REPEAT);
    for (index, event) in events.iter().enumerate() {
        let mut outcome = validate_collect_event(event, &request);
        // An empty id marks an event sent without one (a sent id is never blank).
        if let Ok(valid) = &mut outcome
            && valid.id.is_empty()
        {
            valid.id = Cow::Owned(ids.next()?);
        }
        builder.push(index, outcome);
    }
    let mut batch = builder.finish();
    batch.spans = parsed.spans;
    Ok(batch)
}

/// `messageheader` (or its alias): an object when present, stored with every event.
fn message_header<'v>(body: &'v Value<'_>) -> Result<Option<&'v Value<'v>>, CoreError> {
    match present(body, HEADER).or_else(|| present(body, HEADER_ALIAS)) {
        None => Ok(None),
        Some(header @ Value::Object(_)) => match json::unreadable_number(header) {
            None => Ok(Some(header)),
            Some(number) => Err(CoreError::InvalidBatch {
                param: HEADER,
                message: unreadable_message(HEADER, number),
            }),
        },
        Some(_) => Err(CoreError::InvalidBatch {
            param: HEADER,
            message: "messageheader must be an object".into(),
        }),
    }
}

/// Checks one event; its id is left empty when the client sent none.
fn validate_collect_event<'v>(
    event: &'v Value<'_>,
    request: &Request<'v>,
) -> Result<ValidEvent<'v>, FieldError> {
    let Value::Object(members) = event else {
        return Err(FieldError::new("", NOT_AN_OBJECT));
    };
    let type_field = match present(event, EVENT_TYPE) {
        Some(_) => EVENT_TYPE,
        None => TYPE_ALIAS,
    };
    let name = present(event, type_field)
        .and_then(Value::as_str)
        .filter(|name| is_type_name(name, 128, b"_.:-"))
        .filter(|name| {
            (request.allowed_types.as_ref()).is_none_or(|allowed| allowed.contains(name))
        })
        .ok_or_else(|| FieldError::new(EVENT_TYPE, BAD_TYPE))?;
    let id = optional_text(event, EVENT_ID)?.unwrap_or_default();
    let timestamp_us = event_timestamp(event, request.now_us, request.limits)?;
    let customer = match present(event, USER_ID) {
        None => "",
        Some(user) => {
            let user = user
                .as_str()
                .ok_or_else(|| FieldError::new(USER_ID, "userId must be a string."))?;
            check_length(USER_ID, user)?;
            user
        }
    };
    let properties = optional_object(event, PROPERTIES)?;
    if let Some(properties) = properties {
        readable_numbers(PROPERTIES, PROPERTIES, properties)?;
    }

    let attributes: Vec<_> = members
        .iter()
        .filter(|(key, _)| key.as_ref() != type_field && !READ_FIELDS.contains(&key.as_ref()))
        .cloned()
        .collect();
    for (key, value) in &attributes {
        if let Some(number) = json::unreadable_number(value) {
            // Other keys are the client's own: the message names it (the field cannot).
            return Err(FieldError::new("", unreadable_message(key, number)));
        }
    }
    let payload = vec![
        (
            Cow::Borrowed(PROPERTIES),
            properties.cloned().unwrap_or(Value::Object(Vec::new())),
        ),
        (Cow::Borrowed("attributes"), Value::Object(attributes)),
        (
            Cow::Borrowed(HEADER),
            request.header.cloned().unwrap_or(Value::Null),
        ),
        (
            Cow::Borrowed("pingId"),
            Value::String(Cow::Borrowed(request.ping_id)),
        ),
    ];
    Ok(ValidEvent {
        name,
        id: Cow::Borrowed(id),
        customer,
        timestamp_us,
        stamped: present(event, TIMESTAMP).is_none(),
        value: None,
        payload: Some(Cow::Owned(Value::Object(payload))),
    })
}

/// `timestamp`: an RFC 3339 string, or an integer of epoch milliseconds (what JavaScript's
/// `Date.now()` gives; fractions and exponents are refused); absent or `null` means now.
fn event_timestamp(event: &Value<'_>, now_us: i64, limits: &Limits) -> Result<i64, FieldError> {
    let timestamp_us = match present(event, TIMESTAMP) {
        None => return Ok(now_us),
        Some(Value::String(text)) => timestamp::parse_timestamp(text),
        Some(Value::Number(text)) => match text.parse::<i64>() {
            Ok(ms) => timestamp::from_epoch_millis(ms).ok_or(timestamp::OUT_OF_RANGE),
            Err(_) => Err(timestamp::TimestampError::NOT_TEXT),
        },
        Some(_) => Err(timestamp::TimestampError::NOT_TEXT),
    };
    let timestamp_us = timestamp_us.map_err(|err| timestamp_error(err, BAD_TIMESTAMP))?;
    check_not_future(timestamp_us, now_us, limits)
}

/// Random UUIDv4 strings for events sent without an id, drawn from the OS in blocks.
#[derive(Default)]
struct RandomIds {
    block: Vec<[u8; 16]>,
}

impl RandomIds {
    const BLOCK: usize = 64;

    fn next(&mut self) -> Result<String, CoreError> {
        let bytes = match self.block.pop() {
            Some(bytes) => bytes,
            None => {
                let mut fresh = [[0u8; 16]; Self::BLOCK];
                getrandom::fill(fresh.as_flattened_mut()).map_err(|err| {
                    CoreError::NoRandomness(format!("cannot draw random event ids: {err}"))
                })?;
                let [first, rest @ ..] = fresh;
                self.block.extend_from_slice(&rest);
                first
            }
        };
        Ok(uuid_v4(bytes))
    }
}

/// RFC 9562 version 4 text (lowercase, hyphenated) from 16 random bytes.
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10xx
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests;
