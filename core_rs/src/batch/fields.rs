//! The field checks every dialect shares: identifiers, optional members, timestamps, and
//! numbers every reader can carry back.

use crate::error::FieldError;
use crate::json::{self, Value};
use crate::limits::{Limits, MAX_FIELD_BYTES};
use crate::timestamp;

use super::{BAD_TIMESTAMP, TIMESTAMP};

/// A member that is there and not `null` (JSON `null` counts as missing).
pub(crate) fn present<'v>(object: &'v Value<'_>, field: &str) -> Option<&'v Value<'v>> {
    object
        .get(field)
        .filter(|value| !matches!(value, Value::Null))
}

/// A string with something other than whitespace in it.
pub(crate) fn non_blank(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.trim().is_empty())
}

/// An identifier: a non-blank string of at most [`MAX_FIELD_BYTES`] bytes. Anything else is
/// rejected as `"{field} {missing}"`, so each dialect keeps its own wording for that case.
pub(crate) fn identifier<'t>(
    field: &'static str,
    text: Option<&'t str>,
    missing: &str,
) -> Result<&'t str, FieldError> {
    let text =
        non_blank(text).ok_or_else(|| FieldError::new(field, format!("{field} {missing}")))?;
    check_length(field, text)?;
    // Ids travel into logs, headers and other systems' keys, where NUL and friends do harm.
    // ASCII text (the usual case) is checked byte by byte without decoding characters.
    let maybe_control = text.bytes().any(|b| b.is_ascii_control() || !b.is_ascii());
    if maybe_control && text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("{field} must not contain control characters."),
        ));
    }
    Ok(text)
}

pub(crate) fn check_length(field: &'static str, text: &str) -> Result<(), FieldError> {
    if text.len() > MAX_FIELD_BYTES {
        return Err(FieldError::new(
            field,
            format!("{field} must be at most {MAX_FIELD_BYTES} bytes."),
        ));
    }
    Ok(())
}

/// A required identifier, worded as Vayu and gRPC word it.
pub(crate) fn required_text<'t>(
    field: &'static str,
    text: Option<&'t str>,
) -> Result<&'t str, FieldError> {
    identifier(field, text, "is required and must be a non-empty string.")
}

/// An optional identifier member: absent or `null` is `None`, anything else must be one.
pub(crate) fn optional_text<'v>(
    object: &'v Value<'_>,
    field: &'static str,
) -> Result<Option<&'v str>, FieldError> {
    present(object, field)
        .map(|value| identifier(field, value.as_str(), "must be a non-empty string."))
        .transpose()
}

/// An optional object member: absent or `null` is `None`.
pub(crate) fn optional_object<'v>(
    object: &'v Value<'_>,
    field: &'static str,
) -> Result<Option<&'v Value<'v>>, FieldError> {
    match present(object, field) {
        None => Ok(None),
        Some(value @ Value::Object(_)) => Ok(Some(value)),
        Some(_) => Err(FieldError::new(
            field,
            format!("{field} must be an object."),
        )),
    }
}

/// The `timestamp` member as UTC microseconds: an RFC 3339 string within the future window,
/// or `default` when absent or `null` (`None` makes it required).
pub(crate) fn timestamp_member(
    object: &Value<'_>,
    default: Option<i64>,
    now_us: i64,
    limits: &Limits,
) -> Result<i64, FieldError> {
    let timestamp_us = match (present(object, TIMESTAMP), default) {
        (None, Some(default)) => return Ok(default),
        (None, None) => return Err(FieldError::new(TIMESTAMP, "timestamp is required.")),
        (Some(value), _) => value
            .as_str()
            .ok_or(timestamp::TimestampError::NOT_TEXT)
            .and_then(timestamp::parse_timestamp)
            .map_err(|err| timestamp_error(err, BAD_TIMESTAMP))?,
    };
    check_not_future(timestamp_us, now_us, limits)
}

/// The rejection for a timestamp that did not parse: the range when that was the problem
/// (the text was well formed), else the dialect's `malformed` wording.
pub(crate) fn timestamp_error(err: timestamp::TimestampError, malformed: &str) -> FieldError {
    if err == timestamp::OUT_OF_RANGE {
        FieldError::new(TIMESTAMP, err.to_string())
    } else {
        FieldError::new(TIMESTAMP, malformed)
    }
}

/// `timestamp_us` itself, unless it is beyond `now + max_future_us`.
pub(crate) fn check_not_future(
    timestamp_us: i64,
    now_us: i64,
    limits: &Limits,
) -> Result<i64, FieldError> {
    if timestamp_us > now_us.saturating_add(limits.max_future_us) {
        Err(FieldError::new(TIMESTAMP, limits.future_message()))
    } else {
        Ok(timestamp_us)
    }
}

/// An event type or name pattern: an ASCII letter, then up to `max_len - 1` ASCII letters,
/// digits or bytes of `punctuation`.
pub(crate) fn is_type_name(text: &str, max_len: usize, punctuation: &[u8]) -> bool {
    let bytes = text.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.len() <= max_len
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || punctuation.contains(b))
}
/// Longest number text quoted back in an error.
const SHOWN_NUMBER_CHARS: usize = 40;

/// `value` (a member of an event) holds only numbers every reader carries back as sent
/// ([`json::is_readable_number`]); otherwise an error naming `field` and quoting the number.
/// `label` is how the message names the member (usually `field` itself).
pub(crate) fn readable_numbers(
    field: &'static str,
    label: &str,
    value: &Value<'_>,
) -> Result<(), FieldError> {
    let Some(number) = json::unreadable_number(value) else {
        return Ok(());
    };
    Err(FieldError::new(field, unreadable_message(label, number)))
}

/// The message for a number no 64-bit float carries, quoting (the start of) it.
pub(crate) fn unreadable_message(label: &str, number: &str) -> String {
    let shown: String = number.chars().take(SHOWN_NUMBER_CHARS).collect();
    let more = if shown.len() < number.len() {
        "..."
    } else {
        ""
    };
    format!(
        "{label} holds the number {shown}{more}, which a 64-bit float cannot carry \
         (beyond ±1.8e308, or so small it reads back as 0)."
    )
}
