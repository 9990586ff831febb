//! RFC 3339 / ISO 8601 date-times to UTC microseconds since the Unix epoch.

use std::fmt;

/// Why a date-time was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampError(&'static str);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TimestampError {}

impl TimestampError {
    /// For a member that should hold a date-time string and holds something else.
    pub const NOT_TEXT: Self = Self("expected a date-time string");
}

/// A well-formed date-time whose UTC instant is outside [`MIN_US`]..=[`MAX_US`].
pub const OUT_OF_RANGE: TimestampError = TimestampError(
    "timestamp must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in UTC.",
);

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// The instants Sluice accepts, 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z: what
/// every reader carries (JSON's four-digit years, google.protobuf.Timestamp, Python's datetime).
pub const MIN_US: i64 = -62_135_596_800_000_000;
pub const MAX_US: i64 = 253_402_300_799_999_999;

/// Milliseconds since the epoch as microseconds, within the years [`parse_timestamp`] accepts.
pub fn from_epoch_millis(ms: i64) -> Option<i64> {
    ms.checked_mul(1000)
        .filter(|us| (MIN_US..=MAX_US).contains(us))
}

/// Parses `YYYY-MM-DD(T|t| )HH:MM:SS[.f{1,9}][Z|z|±HH:MM|±HHMM]`; no offset means UTC.
/// Fractions finer than a microsecond are truncated. The instant, once the offset is applied,
/// must lie within [`MIN_US`]..=[`MAX_US`]: `0001-01-01T00:00:00+01:00` is year 0 in UTC.
pub fn parse_timestamp(text: &str) -> Result<i64, TimestampError> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = cursor.number(4, "expected a four-digit year")?;
    cursor.expect(b'-', "expected '-' after the year")?;
    let month = cursor.number(2, "expected a two-digit month")?;
    cursor.expect(b'-', "expected '-' after the month")?;
    let day = cursor.number(2, "expected a two-digit day")?;
    match cursor.next() {
        Some(b'T' | b't' | b' ') => {}
        None => return Err(TimestampError("a time of day is required")),
        Some(_) => return Err(TimestampError("expected 'T' between the date and the time")),
    }
    let hour = cursor.number(2, "expected a two-digit hour")?;
    cursor.expect(b':', "expected ':' after the hour")?;
    let minute = cursor.number(2, "expected two-digit minutes")?;
    cursor.expect(b':', "seconds are required")?;
    let second = cursor.number(2, "expected two-digit seconds")?;
    let micros = cursor.fraction()?;
    let offset_seconds = cursor.offset()?;
    if cursor.pos != cursor.bytes.len() {
        return Err(TimestampError("unexpected text after the date-time"));
    }

    if !(1..=9999).contains(&year) {
        return Err(TimestampError("year must be between 0001 and 9999"));
    }
    if !(1..=12).contains(&month) {
        return Err(TimestampError("month must be between 01 and 12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TimestampError("day is out of range for the month"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TimestampError("time of day is out of range"));
    }

    let seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset_seconds;
    let instant = seconds * MICROS_PER_SECOND + micros;
    if !(MIN_US..=MAX_US).contains(&instant) {
        return Err(OUT_OF_RANGE);
    }
    Ok(instant)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let byte = self.bytes.get(self.pos).copied();
        if byte.is_some() {
            self.pos += 1;
        }
        byte
    }

    fn expect(&mut self, want: u8, message: &'static str) -> Result<(), TimestampError> {
        if self.next() == Some(want) {
            Ok(())
        } else {
            Err(TimestampError(message))
        }
    }

    /// Exactly `width` ASCII digits.
    fn number(&mut self, width: usize, message: &'static str) -> Result<u32, TimestampError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + width)
            .ok_or(TimestampError(message))?;
        let mut value = 0;
        for &b in digits {
            if !b.is_ascii_digit() {
                return Err(TimestampError(message));
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.pos += width;
        Ok(value)
    }

    /// An optional `.` and 1 to 9 digits, as whole microseconds.
    fn fraction(&mut self) -> Result<i64, TimestampError> {
        if self.bytes.get(self.pos) != Some(&b'.') {
            return Ok(0);
        }
        self.pos += 1;
        let start = self.pos;
        let mut micros = 0;
        while let Some(&b) = self.bytes.get(self.pos).filter(|b| b.is_ascii_digit()) {
            if self.pos - start < 6 {
                micros = micros * 10 + i64::from(b - b'0');
            }
            self.pos += 1;
        }
        let digits = self.pos - start;
        if !(1..=9).contains(&digits) {
            return Err(TimestampError("fractional seconds must have 1 to 9 digits"));
        }
        for _ in digits..6 {
            micros *= 10;
        }
        Ok(micros)
    }

    /// The UTC offset in seconds (east positive): none, `Z`, `±HH:MM` or `±HHMM`.
    fn offset(&mut self) -> Result<i64, TimestampError> {
        let sign = match self.next() {
            None => return Ok(0),
            Some(b'Z' | b'z') => return Ok(0),
            Some(b'+') => 1,
            Some(b'-') => -1,
            Some(_) => return Err(TimestampError("expected 'Z' or a ±HH:MM offset")),
        };
        const BAD_OFFSET: &str = "offset must be ±HH:MM or ±HHMM";
        let hours = self.number(2, BAD_OFFSET)?;
        if self.bytes.get(self.pos) == Some(&b':') {
            self.pos += 1;
        }
        let minutes = self.number(2, BAD_OFFSET)?;
        if hours > 23 || minutes > 59 {
            return Err(TimestampError("offset is out of range"));
        }
        Ok(sign * i64::from(hours * 3600 + minutes * 60))
    }
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a valid proleptic Gregorian date, counting in 400-year eras
/// that start on March 1st so the leap day falls at the end of each year.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = i64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(text: &str) -> i64 {
        match parse_timestamp(text) {
            Ok(value) => value,
            Err(err) => panic!("{text:?} should parse: {err}"),
        }
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(us("2023-09-13T18:25:43.511Z"), 1_694_629_543_511_000);
        assert_eq!(
            us("2026-11-23T12:38:27.311250+00:00"),
            1_795_437_507_311_250
        );
        assert_eq!(us("2024-01-02T03:04:05"), 1_704_164_645_000_000);
        assert_eq!(us("2026-11-23T11:38:27.311250+0000"), 1_795_433_907_311_250);
    }

    #[test]
    fn separators_and_zone_letters() {
        let base = us("2024-01-02T03:04:05Z");
        assert_eq!(us("2024-01-02t03:04:05z"), base);
        assert_eq!(us("2024-01-02 03:04:05"), base);
        assert_eq!(us("2024-01-02T03:04:05-00:00"), base);
    }

    #[test]
    fn epoch_and_extremes() {
        assert_eq!(us("1970-01-01T00:00:00Z"), 0);
        assert_eq!(us("1969-12-31T23:59:59.999999Z"), -1);
        assert_eq!(us("0001-01-01T00:00:00Z"), MIN_US);
        assert_eq!(us("9999-12-31T23:59:59.999999Z"), MAX_US);
        assert_eq!(us("2000-03-01T00:00:00Z"), 951_868_800_000_000);
    }

    #[test]
    fn offsets_shift_to_utc() {
        let utc = us("2024-06-01T12:00:00Z");
        assert_eq!(us("2024-06-01T17:30:00+05:30"), utc);
        assert_eq!(us("2024-06-01T17:30:00+0530"), utc);
        assert_eq!(us("2024-06-01T06:30:00-0530"), utc);
        assert_eq!(us("2024-06-01T06:30:00-05:30"), utc);
        assert_eq!(us("2024-06-02T11:59:00+23:59"), utc);
        assert_eq!(us("2024-05-31T12:01:00-23:59"), utc);
    }

    #[test]
    fn fractions_keep_microseconds_and_truncate_the_rest() {
        let base = us("2024-01-02T03:04:05Z");
        assert_eq!(us("2024-01-02T03:04:05.5Z"), base + 500_000);
        assert_eq!(us("2024-01-02T03:04:05.000001Z"), base + 1);
        assert_eq!(us("2024-01-02T03:04:05.123456789Z"), base + 123_456);
        assert_eq!(us("2024-01-02T03:04:05.9999999Z"), base + 999_999);
    }

    #[test]
    fn epoch_millis_share_the_year_range() {
        assert_eq!(from_epoch_millis(0), Some(0));
        assert_eq!(
            from_epoch_millis(1_694_629_543_511),
            Some(us("2023-09-13T18:25:43.511Z"))
        );
        assert_eq!(from_epoch_millis(-1), Some(-1000));
        assert_eq!(from_epoch_millis(MIN_US / 1000), Some(MIN_US));
        assert_eq!(from_epoch_millis(MIN_US / 1000 - 1), None);
        assert_eq!(from_epoch_millis(MAX_US / 1000), Some(MAX_US - 999));
        assert_eq!(from_epoch_millis(MAX_US / 1000 + 1), None);
        assert_eq!(from_epoch_millis(i64::MAX), None);
        assert_eq!(from_epoch_millis(i64::MIN), None);
    }

    #[test]
    fn the_range_is_checked_in_utc_after_the_offset() {
        assert_eq!(us("0001-01-01T00:00:00-00:00"), MIN_US);
        assert_eq!(us("0001-01-01T01:00:00+01:00"), MIN_US);
        assert_eq!(us("9999-12-31T22:59:59.999999-01:00"), MAX_US);
        for outside in [
            "0001-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00+00:01",
            "0001-01-01T00:59:59.999999+01:00",
            "9999-12-31T23:59:59.999999-00:01",
            "9999-12-31T23:00:00-23:59",
        ] {
            assert!(parse_timestamp(outside).is_err(), "{outside:?} is outside");
        }
    }

    #[test]
    fn an_error_reads_as_its_reason() {
        // Display is what a client is told: fields::timestamp_error passes the range on as is.
        assert_eq!(
            parse_timestamp("0001-01-01T00:00:00+00:01").map_err(|e| e.to_string()),
            Err(
                "timestamp must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z \
                 in UTC."
                    .to_string()
            )
        );
        assert_eq!(
            TimestampError::NOT_TEXT.to_string(),
            "expected a date-time string"
        );
    }

    #[test]
    fn leap_years() {
        assert_eq!(
            us("2024-02-29T00:00:00Z") + 86_400_000_000,
            us("2024-03-01T00:00:00Z")
        );
        assert!(parse_timestamp("2000-02-29T00:00:00Z").is_ok());
        assert!(parse_timestamp("2023-02-29T00:00:00Z").is_err());
        assert!(parse_timestamp("1900-02-29T00:00:00Z").is_err());
        assert!(parse_timestamp("2100-02-29T00:00:00Z").is_err());
    }

    #[test]
    fn rejects_malformed_and_out_of_range() {
        for bad in [
            "",
            "2024-01-02",
            "2024-01-02T",
            "2024-01-02T03:04",
            "2024-01-02T03:04Z",
            "2023-02-30T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-13-10T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T23:60:00Z",
            "2024-01-02T23:59:60Z",
            "10000-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2024-01-02T03:04:05Zjunk",
            "2024-01-02T03:04:05 ",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05.1234567890Z",
            "2024-01-02T03:04:05+24:00",
            "2024-01-02T03:04:05+05:60",
            "2024-01-02T03:04:05+05",
            "2024-01-02T03:04:05+5:30",
            "2024-01-02T03:04:05+05:3",
            "2024-01-02X03:04:05Z",
            "2024-1-02T03:04:05Z",
            "24-01-02T03:04:05Z",
            "2024-01-02T03:04:05,5Z",
            "２０２４-01-02T03:04:05Z",
            "+2024-01-02T03:04:05Z",
            "1694629543",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn civil_days_agree_with_day_by_day_counting() {
        let mut days = days_from_civil(1, 1, 1);
        for year in 1..=2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), days);
                    days += 1;
                }
            }
        }
    }
}
