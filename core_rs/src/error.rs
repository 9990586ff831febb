//! The core's errors: `CoreError` for a whole request (python/errors.rs maps each variant to
//! its Python exception) and `FieldError` for one field of one event.

use std::fmt;

use crate::json::JsonError;

/// A whole-request failure (per-event problems are rejections, not errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// The body is larger than `Limits::max_body_bytes`.
    PayloadTooLarge { size: usize, limit: usize },
    /// The body is not strict RFC 8259 JSON.
    InvalidJson(JsonError),
    /// The body parsed but is not a batch; `param` names the offending field.
    InvalidBatch {
        param: &'static str,
        message: String,
    },
    /// A standalone timestamp could not be parsed.
    InvalidTimestamp(String),
    /// A caller passed a malformed argument (a key of the wrong length, a bad limit).
    InvalidArgument(String),
    /// The operating system could not supply random bytes (for generated event ids).
    NoRandomness(String),
}

impl CoreError {
    /// The error for a standalone timestamp, quoting (the start of) what was given.
    pub fn invalid_timestamp(text: &str, reason: impl fmt::Display) -> Self {
        let shown: String = text.chars().take(64).collect();
        let more = if shown.len() < text.len() { "..." } else { "" };
        Self::InvalidTimestamp(format!(
            "invalid timestamp {shown:?}{more}: {reason}; expected an RFC 3339 date-time such as 2023-09-13T18:25:43.511Z"
        ))
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PayloadTooLarge { size, limit } => {
                write!(
                    f,
                    "request body is {size} bytes; the limit is {limit} bytes"
                )
            }
            Self::InvalidJson(err) => write!(f, "invalid JSON: {err}"),
            Self::InvalidBatch { message, .. } => f.write_str(message),
            Self::InvalidTimestamp(message)
            | Self::InvalidArgument(message)
            | Self::NoRandomness(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for CoreError {}

impl From<JsonError> for CoreError {
    fn from(err: JsonError) -> Self {
        Self::InvalidJson(err)
    }
}

/// Why one event is invalid: the field as the dialect spells it, and a short sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// A field problem of a single-event request (profiles) fails the whole request.
impl From<FieldError> for CoreError {
    fn from(err: FieldError) -> Self {
        Self::InvalidBatch {
            param: err.field,
            message: err.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_timestamp_is_quoted_in_part_with_an_ellipsis() {
        let long = "9".repeat(100);
        let CoreError::InvalidTimestamp(message) = CoreError::invalid_timestamp(&long, "why")
        else {
            panic!("not an InvalidTimestamp");
        };
        assert!(message.starts_with(&format!(
            "invalid timestamp \"{}\"...: why;",
            "9".repeat(64)
        )));
        let exact = "9".repeat(64);
        let CoreError::InvalidTimestamp(message) = CoreError::invalid_timestamp(&exact, "why")
        else {
            panic!("not an InvalidTimestamp");
        };
        assert!(message.starts_with(&format!("invalid timestamp \"{exact}\": why;")));
    }
}
