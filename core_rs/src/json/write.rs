//! Writing values back out: compact text for storage, canonical text for content hashes.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{Value, string_end_or_escape};

/// Compact JSON: no whitespace, members in document order, numbers as written.
pub fn to_compact(value: &Value<'_>) -> String {
    let mut out = String::with_capacity(INITIAL_CAPACITY);
    write_compact(value, &mut out);
    out
}

/// [`to_compact`] appended to `out`, so callers can pack it with other text or reuse a buffer.
pub fn write_compact(value: &Value<'_>, out: &mut String) {
    write_value(value, out, Style::Compact);
}

/// Room for a typical event payload, so writing one rarely reallocates.
const INITIAL_CAPACITY: usize = 128;

/// Compact JSON with members sorted by key (UTF-8 byte order) and numbers normalised with
/// [`canonical_number`], so equal content hashes the same whichever protocol carried it
/// (a protobuf Struct has no key order and only doubles).
pub fn to_canonical(value: &Value<'_>) -> String {
    let mut out = String::with_capacity(INITIAL_CAPACITY);
    write_canonical(value, &mut out);
    out
}

/// [`to_canonical`] appended to `out` (a batch reuses one buffer for every event's hash).
pub fn write_canonical(value: &Value<'_>, out: &mut String) {
    write_value(value, out, Style::Canonical);
}

#[derive(Clone, Copy)]
enum Style {
    Compact,
    Canonical,
}

/// Recursion is bounded: parsed values are at most `Limits::max_depth` deep and decoded
/// protobuf values at most prost's recursion limit.
fn write_value(value: &Value<'_>, out: &mut String, style: Style) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(text) => match style {
            Style::Compact => out.push_str(text),
            Style::Canonical => write_canonical_number(text, out),
        },
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out, style);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            // Canonical order only when the members are not in it already (no allocation).
            if matches!(style, Style::Canonical) && !members.is_sorted_by(|a, b| a.0 <= b.0) {
                write_sorted_members(members, out, style);
            } else {
                write_members(members.iter(), out, style);
            }
            out.push('}');
        }
    }
}

/// Objects up to this size (nearly every payload) are sorted on the stack, not in a Vec.
const SORT_ON_STACK: usize = 16;

/// Members in key order; the object itself is left as it is.
fn write_sorted_members(members: &[(Cow<'_, str>, Value<'_>)], out: &mut String, style: Style) {
    let by_key = |a: &&(Cow<'_, str>, Value<'_>), b: &&(Cow<'_, str>, Value<'_>)| a.0.cmp(&b.0);
    match members {
        [first, ..] if members.len() <= SORT_ON_STACK => {
            let mut buffer = [first; SORT_ON_STACK];
            for (slot, member) in buffer.iter_mut().zip(members) {
                *slot = member;
            }
            let ordered = &mut buffer[..members.len()];
            ordered.sort_unstable_by(by_key);
            write_members(ordered.iter().copied(), out, style);
        }
        _ => {
            let mut ordered: Vec<_> = members.iter().collect();
            ordered.sort_unstable_by(by_key);
            write_members(ordered.into_iter(), out, style);
        }
    }
}

fn write_members<'m, 'v: 'm>(
    members: impl Iterator<Item = &'m (Cow<'v, str>, Value<'v>)>,
    out: &mut String,
    style: Style,
) {
    for (i, (key, item)) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_value(item, out, style);
    }
}

/// A JSON string literal: escapes what RFC 8259 requires, keeps all other text as UTF-8.
fn write_string(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    out.push('"');
    let mut plain = 0;
    loop {
        // Stops only at a quote, a backslash or a control byte: ASCII, so `end` is always a
        // char boundary.
        let end = string_end_or_escape(bytes, plain);
        out.push_str(&text[plain..end]);
        let Some(&b) = bytes.get(end) else {
            break;
        };
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        plain = end + 1;
    }
    out.push('"');
}

/// Largest magnitude below which every integer is exactly representable as an f64.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

/// JSON text for a finite double: integral values below 2^53 as integers ("1", not "1.0"),
/// everything else as the shortest text that round-trips.
pub fn format_f64(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < EXACT_INTEGER_LIMIT {
        // Exact: |x| < 2^53 fits an i64 without rounding.
        format!("{}", x as i64)
    } else {
        format!("{x:?}")
    }
}

/// One spelling per numeric value for hashing: integers stay exact as written (big ones
/// included, "-0" becomes "0"); other numbers go through f64 and [`format_f64`], so "1.0",
/// "1e0" and a protobuf 1.0 all read "1". Text that overflows f64 is kept as written.
pub fn canonical_number(text: &str) -> String {
    let mut out = String::new();
    write_canonical_number(text, &mut out);
    out
}

/// [`canonical_number`] written onto `out` (integers, the common case, without allocating).
fn write_canonical_number(text: &str, out: &mut String) {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        out.push_str(if digits.bytes().all(|b| b == b'0') {
            "0"
        } else {
            text
        });
        return;
    }
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => out.push_str(&format_f64(x)),
        _ => out.push_str(text),
    }
}
