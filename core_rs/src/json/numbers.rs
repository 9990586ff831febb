//! Which JSON numbers every reader can carry back: a finite 64-bit float that is not a
//! nonzero literal rounded to zero. Python's `json` reads a 400-digit integer, but
//! `google.protobuf.Struct` (a double) cannot hold it; `1e-400` reads back as `0`.

use super::Value;

/// More integer digits than this may exceed `f64::MAX` (about 1.8e308); fewer never do.
const SAFE_INTEGER_DIGITS: usize = 308;
/// A plain decimal (no exponent) shorter than this is at least 1e-320 when it is not zero,
/// above the smallest subnormal double (about 4.9e-324), and far below `f64::MAX`.
const SAFE_DECIMAL_CHARS: usize = 300;

/// True when `text` (a valid JSON number literal) reads back as itself within a double:
/// finite, and zero only when it is written as zero.
pub fn is_readable_number(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let has_exponent = digits.contains(['e', 'E']);
    if !has_exponent && !digits.contains('.') {
        return digits.len() <= SAFE_INTEGER_DIGITS
            || digits.parse::<f64>().is_ok_and(f64::is_finite);
    }
    if !has_exponent && digits.len() < SAFE_DECIMAL_CHARS {
        return true;
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x != 0.0 => true,
        Ok(0.0) => {
            let mantissa = digits.split(['e', 'E']).next().unwrap_or(digits);
            mantissa.bytes().all(|b| b == b'0' || b == b'.')
        }
        _ => false,
    }
}

/// The first number in `value` (depth first, in document order) that [`is_readable_number`]
/// refuses. Recursion is bounded by the parser's depth limit.
pub fn unreadable_number<'v>(value: &'v Value<'_>) -> Option<&'v str> {
    match value {
        Value::Number(text) => (!is_readable_number(text)).then_some(text.as_ref()),
        Value::Array(items) => items.iter().find_map(unreadable_number),
        Value::Object(members) => members.iter().find_map(|(_, item)| unreadable_number(item)),
        Value::Null | Value::Bool(_) | Value::String(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_doubles_that_keep_their_value_are_readable() {
        let long_decimal = format!("0.{}1", "0".repeat(290));
        let long_integer = "9".repeat(308);
        // Past SAFE_INTEGER_DIGITS an integer is read to see whether it fits: 1e308 does.
        let longer_integer = format!("1{}", "0".repeat(308));
        for good in [
            "0",
            "-0",
            "0.0",
            "-0.000e-999",
            "0e400",
            "1",
            "-12.5",
            "1e308",
            "-1.7976931348623157e308",
            "4.9e-324",
            "1e-320",
            "123456789012345678901234567890",
            long_decimal.as_str(),
            long_integer.as_str(),
            longer_integer.as_str(),
        ] {
            assert!(is_readable_number(good), "{good}");
        }
    }

    #[test]
    fn overflow_and_underflow_to_zero_are_not() {
        let huge = format!("1{}", "0".repeat(400));
        let tiny = format!("0.{}1", "0".repeat(400));
        let overflowing_integer = format!("2{}", "0".repeat(308));
        for bad in [
            huge.as_str(),
            &format!("-{huge}"),
            tiny.as_str(),
            overflowing_integer.as_str(),
            "1e-400",
            "-2.5E-330",
            "1e400",
            "1.8e308",
        ] {
            assert!(!is_readable_number(bad), "{bad}");
        }
    }

    #[test]
    fn the_first_unreadable_number_is_found_at_any_depth() {
        let parsed = crate::json::parse(br#"{"a":[1,{"b":1e-400}],"c":2}"#, 64).unwrap();
        assert_eq!(unreadable_number(&parsed), Some("1e-400"));
        let fine = crate::json::parse(br#"{"a":[1,{"b":1e-300}],"c":"1e-400"}"#, 64).unwrap();
        assert_eq!(unreadable_number(&fine), None);
    }
}
