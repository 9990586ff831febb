//! Request limits: sizes, counts, nesting and how far in the future a timestamp may be.

use crate::error::CoreError;

/// Longest accepted name, id or customer, in UTF-8 bytes.
pub const MAX_FIELD_BYTES: usize = 512;

/// Hard ceiling for `max_depth`: parsed values are dropped and written recursively, so the
/// configured depth must stay far from what a thread's stack can hold.
pub const MAX_DEPTH_CEILING: usize = 1024;

const MICROS_PER_SECOND: i64 = 1_000_000;

/// Configurable limits, copied into every parse call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_events: usize,
    pub max_depth: usize,
    pub max_future_us: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 262_144,
            max_events: 1000,
            max_depth: 64,
            max_future_us: 3600 * MICROS_PER_SECOND,
        }
    }
}

impl Limits {
    /// Rejects settings under which no request could ever be valid or parsing could be unsafe.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.max_events == 0 {
            return Err(CoreError::InvalidArgument(
                "max_events must be at least 1".into(),
            ));
        }
        if !(1..=MAX_DEPTH_CEILING).contains(&self.max_depth) {
            return Err(CoreError::InvalidArgument(format!(
                "max_depth must be between 1 and {MAX_DEPTH_CEILING}"
            )));
        }
        if self.max_future_us < 0 {
            return Err(CoreError::InvalidArgument(
                "max_future_us must not be negative".into(),
            ));
        }
        Ok(())
    }

    /// The per-event message for a timestamp beyond `now + max_future_us`.
    pub fn future_message(&self) -> String {
        format!(
            "timestamp must not be more than {} in the future.",
            describe_duration(self.max_future_us)
        )
    }
}

/// "1 hour", "90 minutes", "5 seconds", ... : the largest whole unit, for messages.
fn describe_duration(us: i64) -> String {
    const UNITS: [(i64, &str); 5] = [
        (86_400 * MICROS_PER_SECOND, "day"),
        (3600 * MICROS_PER_SECOND, "hour"),
        (60 * MICROS_PER_SECOND, "minute"),
        (MICROS_PER_SECOND, "second"),
        (1, "microsecond"),
    ];
    for (size, name) in UNITS {
        if us >= size && us % size == 0 {
            let count = us / size;
            let plural = if count == 1 { "" } else { "s" };
            return format!("{count} {name}{plural}");
        }
    }
    "0 microseconds".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let limits = Limits::default();
        assert_eq!(limits.max_body_bytes, 262_144);
        assert_eq!(limits.max_events, 1000);
        assert_eq!(limits.max_depth, 64);
        assert_eq!(limits.max_future_us, 3_600_000_000);
        assert!(limits.validate().is_ok());
    }

    #[test]
    fn future_message_names_the_window() {
        let mut limits = Limits::default();
        assert_eq!(
            limits.future_message(),
            "timestamp must not be more than 1 hour in the future."
        );
        limits.max_future_us = 2 * 3_600_000_000;
        assert!(limits.future_message().contains("2 hours"));
        limits.max_future_us = 90 * 60_000_000;
        assert!(limits.future_message().contains("90 minutes"));
        limits.max_future_us = 1_500_000;
        assert!(limits.future_message().contains("1500000 microseconds"));
        limits.max_future_us = 0;
        assert!(limits.future_message().contains("0 microseconds"));
    }

    #[test]
    fn validate_rejects_unusable_limits() {
        let base = Limits::default();
        assert!(
            Limits {
                max_events: 0,
                ..base
            }
            .validate()
            .is_err()
        );
        assert!(
            Limits {
                max_depth: 0,
                ..base
            }
            .validate()
            .is_err()
        );
        assert!(
            Limits {
                max_depth: MAX_DEPTH_CEILING + 1,
                ..base
            }
            .validate()
            .is_err()
        );
        assert!(
            Limits {
                max_depth: MAX_DEPTH_CEILING,
                ..base
            }
            .validate()
            .is_ok()
        );
        assert!(
            Limits {
                max_future_us: -1,
                ..base
            }
            .validate()
            .is_err()
        );
        // No future at all is a usable setting: every timestamp must be now or earlier.
        assert!(
            Limits {
                max_future_us: 0,
                ..base
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn whole_days_are_named_in_days() {
        assert_eq!(describe_duration(86_400_000_000), "1 day");
        assert_eq!(describe_duration(2 * 86_400_000_000), "2 days");
        assert_eq!(describe_duration(36 * 3_600_000_000), "36 hours");
        assert_eq!(describe_duration(5_000_000), "5 seconds");
    }
}
