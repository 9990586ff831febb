//! Strict RFC 8259 JSON: an iterative parser over bytes (this file) and compact writers.

mod numbers;
mod write;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

pub use numbers::{is_readable_number, unreadable_number};
pub use write::{
    canonical_number, format_f64, to_canonical, to_compact, write_canonical, write_compact,
};

/// A parsed JSON value. Strings borrow from the input unless they contained escapes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number's text exactly as written (already validated), so big integers stay exact.
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in document order; keys are unique (duplicates are a parse error).
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// The member `key` of an object; `None` for a missing key or a non-object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Self::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
}

/// What went wrong and at which byte offset of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub message: Cow<'static, str>,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for JsonError {}

/// A document plus the byte spans `[start, end)` of the elements of one top-level array member.
#[derive(Debug)]
pub struct Parsed<'a> {
    pub value: Value<'a>,
    pub spans: Vec<(usize, usize)>,
}

/// Parses a whole document; `max_depth` counts the top-level container as depth 1.
pub fn parse(input: &[u8], max_depth: usize) -> Result<Value<'_>, JsonError> {
    Parser::new(input, max_depth, None)
        .run()
        .map(|parsed| parsed.value)
}

/// Like [`parse`], also recording where each element of the top-level member `member`
/// (when it is an array) starts and ends, so callers can echo the exact text.
pub fn parse_with_spans<'a>(
    input: &'a [u8],
    max_depth: usize,
    member: &str,
) -> Result<Parsed<'a>, JsonError> {
    Parser::new(input, max_depth, Some(member)).run()
}

/// Objects with at least this many members index their keys in a hash set; below it a
/// linear scan is cheaper than hashing.
const LINEAR_KEY_SCAN: usize = 16;

/// One open container. The parser keeps these on a heap stack instead of recursing, so
/// nesting depth cannot overflow the thread's stack.
enum Frame<'a> {
    Array {
        items: Vec<Value<'a>>,
        /// Where the element being parsed starts (for spans).
        item_start: usize,
        record_spans: bool,
    },
    Object {
        members: Vec<(Cow<'a, str>, Value<'a>)>,
        /// The key whose value is being parsed.
        key: Cow<'a, str>,
        index: Option<HashSet<u64>>,
    },
}

/// What follows a complete value.
enum Step<'a> {
    /// A `,`: the container's next element or member value comes next.
    NextValue,
    /// The value closed its container, which is itself now complete.
    Closed(Value<'a>),
    /// The value was the whole document.
    Done(Value<'a>),
}

struct Parser<'a, 'm> {
    input: &'a [u8],
    pos: usize,
    max_depth: usize,
    span_member: Option<&'m str>,
    spans: Vec<(usize, usize)>,
    /// Seeds key hashes for duplicate detection in large objects.
    key_hasher: RandomState,
    /// The whole input as text when it is valid UTF-8 (checked once, which is much cheaper
    /// than checking each string); `None` sends every string through its own check, which
    /// finds and reports the invalid bytes.
    text: Option<&'a str>,
}

/// The longest number literal accepted (see `parse_number`).
pub const MAX_NUMBER_CHARS: usize = 1000;

fn error(offset: usize, message: impl Into<Cow<'static, str>>) -> JsonError {
    JsonError {
        offset,
        message: message.into(),
    }
}

impl<'a, 'm> Parser<'a, 'm> {
    fn new(input: &'a [u8], max_depth: usize, span_member: Option<&'m str>) -> Self {
        Self {
            input,
            pos: 0,
            max_depth,
            span_member,
            spans: Vec::new(),
            key_hasher: RandomState::new(),
            text: std::str::from_utf8(input).ok(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// An error describing the byte at the cursor (or the end of input).
    fn unexpected(&self, expected: &str) -> JsonError {
        let found = match self.peek() {
            None => {
                return error(
                    self.pos,
                    format!("unexpected end of input, expected {expected}"),
                );
            }
            Some(b) if b.is_ascii_graphic() => format!("'{}'", char::from(b)),
            Some(b) => format!("byte 0x{b:02x}"),
        };
        error(self.pos, format!("unexpected {found}, expected {expected}"))
    }

    fn run(mut self) -> Result<Parsed<'a>, JsonError> {
        if self.input.starts_with(b"\xEF\xBB\xBF") {
            return Err(error(0, "a byte order mark is not allowed"));
        }
        let mut stack: Vec<Frame<'a>> = Vec::new();
        loop {
            let Some(mut value) = self.begin_value(&mut stack)? else {
                continue; // a container opened: its first element comes next
            };
            loop {
                match self.complete_value(&mut stack, value)? {
                    Step::NextValue => break,
                    Step::Closed(container) => value = container,
                    Step::Done(root) => {
                        return Ok(Parsed {
                            value: root,
                            spans: self.spans,
                        });
                    }
                }
            }
        }
    }

    /// Parses a scalar or an empty container, or opens a non-empty container (`None`).
    fn begin_value(&mut self, stack: &mut Vec<Frame<'a>>) -> Result<Option<Value<'a>>, JsonError> {
        self.skip_whitespace();
        if let Some(Frame::Array { item_start, .. }) = stack.last_mut() {
            *item_start = self.pos;
        }
        let value = match self.peek() {
            Some(b'{') => {
                self.open_container(stack.len())?;
                self.skip_whitespace();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Some(Value::Object(Vec::new())));
                }
                let key = self.parse_key()?;
                stack.push(Frame::Object {
                    members: Vec::new(),
                    key,
                    index: None,
                });
                return Ok(None);
            }
            Some(b'[') => {
                self.open_container(stack.len())?;
                let record_spans = self.is_span_member(stack);
                self.skip_whitespace();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Some(Value::Array(Vec::new())));
                }
                stack.push(Frame::Array {
                    items: Vec::new(),
                    item_start: 0,
                    record_spans,
                });
                return Ok(None);
            }
            Some(b'"') => Value::String(self.parse_string()?),
            Some(b'-' | b'0'..=b'9') => Value::Number(Cow::Borrowed(self.parse_number()?)),
            Some(b't') => self.parse_literal(b"true", Value::Bool(true))?,
            Some(b'f') => self.parse_literal(b"false", Value::Bool(false))?,
            Some(b'n') => self.parse_literal(b"null", Value::Null)?,
            _ => return Err(self.unexpected("a JSON value")),
        };
        Ok(Some(value))
    }

    /// Hands a complete value to the innermost open container and reads what follows it.
    fn complete_value(
        &mut self,
        stack: &mut Vec<Frame<'a>>,
        value: Value<'a>,
    ) -> Result<Step<'a>, JsonError> {
        let Some(frame) = stack.last_mut() else {
            self.skip_whitespace();
            if self.pos != self.input.len() {
                return Err(error(self.pos, "unexpected data after the JSON value"));
            }
            return Ok(Step::Done(value));
        };
        let closed = match frame {
            Frame::Array {
                items,
                item_start,
                record_spans,
            } => {
                if *record_spans {
                    self.spans.push((*item_start, self.pos));
                }
                items.push(value);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        return Ok(Step::NextValue);
                    }
                    Some(b']') => Value::Array(std::mem::take(items)),
                    _ => return Err(self.unexpected("',' or ']'")),
                }
            }
            Frame::Object {
                members,
                key,
                index,
            } => {
                members.push((std::mem::take(key), value));
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_whitespace();
                        let key_offset = self.pos;
                        let next = self.parse_key()?;
                        if !remember_key(members, index, &self.key_hasher, &next) {
                            let shown = to_compact(&Value::String(next));
                            return Err(error(key_offset, format!("duplicate object key {shown}")));
                        }
                        *key = next;
                        return Ok(Step::NextValue);
                    }
                    Some(b'}') => Value::Object(std::mem::take(members)),
                    _ => return Err(self.unexpected("',' or '}'")),
                }
            }
        };
        self.pos += 1; // the closing bracket
        stack.pop();
        Ok(Step::Closed(closed))
    }

    /// Consumes `{` or `[` after checking that the new container is within `max_depth`.
    fn open_container(&mut self, open: usize) -> Result<(), JsonError> {
        if open >= self.max_depth {
            return Err(error(
                self.pos,
                format!("nesting is deeper than the limit of {}", self.max_depth),
            ));
        }
        self.pos += 1;
        Ok(())
    }

    /// True when the array about to open is the value of the chosen top-level member.
    fn is_span_member(&self, stack: &[Frame<'a>]) -> bool {
        match (self.span_member, stack) {
            (Some(member), [Frame::Object { key, .. }]) => key == member,
            _ => false,
        }
    }

    /// A member key and its `:`; the cursor must be at the key's opening quote.
    fn parse_key(&mut self) -> Result<Cow<'a, str>, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string key"));
        }
        let key = self.parse_string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.unexpected("':'"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn parse_literal(&mut self, text: &[u8], value: Value<'a>) -> Result<Value<'a>, JsonError> {
        if self.input[self.pos..].starts_with(text) {
            self.pos += text.len();
            Ok(value)
        } else {
            Err(self.unexpected("a JSON value"))
        }
    }

    fn parse_number(&mut self) -> Result<&'a str, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(error(start, "leading zeros are not allowed in numbers"));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.unexpected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.expect_digits("a digit after the decimal point")?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.expect_digits("a digit in the exponent")?;
        }
        // The grammar above admits ASCII only, so this cannot fail; no panic path either way.
        let text = self
            .utf8(start, self.pos)
            .map_err(|_| error(start, "invalid number"))?;
        // RFC 8259 §6 lets a parser bound numbers. Ours must survive every reader downstream:
        // Python refuses integers over 4300 digits, and an overflowing float reads back as
        // Infinity, which JSON cannot carry. Integers within the bound stay exact.
        if text.len() > MAX_NUMBER_CHARS {
            return Err(error(
                start,
                format!("number is longer than {MAX_NUMBER_CHARS} characters"),
            ));
        }
        let is_integer = !text.contains(['.', 'e', 'E']);
        if !is_integer && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(error(start, "number is out of range for a 64-bit float"));
        }
        Ok(text)
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect_digits(&mut self, expected: &str) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.unexpected(expected));
        }
        self.skip_digits();
        Ok(())
    }

    /// `input[start..end]` as text; strings are split only at ASCII bytes, so a valid
    /// multi-byte sequence is never cut.
    fn utf8(&self, start: usize, end: usize) -> Result<&'a str, JsonError> {
        if let Some(text) = self.text.and_then(|text| text.get(start..end)) {
            return Ok(text);
        }
        std::str::from_utf8(&self.input[start..end])
            .map_err(|e| error(start + e.valid_up_to(), "invalid UTF-8 in string"))
    }

    /// A string; the cursor must be at its opening quote. Borrows when there is no escape.
    fn parse_string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let open = self.pos;
        let input = self.input;
        let mut i = open + 1;
        let mut segment = i;
        let mut owned: Option<String> = None;
        loop {
            i = string_end_or_escape(input, i);
            match input.get(i) {
                None => return Err(error(open, "unterminated string")),
                Some(b'"') => {
                    let tail = self.utf8(segment, i)?;
                    self.pos = i + 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut text) => {
                            text.push_str(tail);
                            Cow::Owned(text)
                        }
                    });
                }
                Some(b'\\') => {
                    let text = owned.get_or_insert_with(String::new);
                    text.push_str(self.utf8(segment, i)?);
                    i = decode_escape(input, i, text)?;
                    segment = i;
                }
                Some(&b) if b < 0x20 => {
                    return Err(error(
                        i,
                        format!("unescaped control character 0x{b:02x} in string"),
                    ));
                }
                Some(_) => i += 1,
            }
        }
    }
}

/// The index of the first byte at or after `from` that is `"`, `\\` or a control character
/// (below 0x20), or `bytes.len()`: the bytes a string scan must stop at, whether it reads
/// JSON (the end, an escape, an error) or writes it (something to escape).
///
/// Strings are most of a body's bytes, so this looks at eight bytes per step: each test
/// below sets a byte's top bit where that byte matches (borrows can only set bits above the
/// first match, so the lowest set bit is exact).
pub(crate) fn string_end_or_escape(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const TOPS: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_le_bytes([b'\\'; 8]);
    const SPACES: u64 = u64::from_le_bytes([0x20; 8]);
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(chunk);
        let quote = word ^ QUOTES;
        let backslash = word ^ BACKSLASHES;
        let hits = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(SPACES) & !word))
            & TOPS;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Records `key` as seen in an object; false if it is already a member. Large objects keep
/// a set of keyed (per-parse random) key hashes, so a crafted body cannot force collisions.
fn remember_key(
    members: &[(Cow<'_, str>, Value<'_>)],
    index: &mut Option<HashSet<u64>>,
    hasher: &RandomState,
    key: &str,
) -> bool {
    let is_member = || members.iter().any(|(k, _)| k == key);
    if let Some(seen) = index {
        // A hash already seen is a duplicate only if a member really has this key.
        return seen.insert(hasher.hash_one(key)) || !is_member();
    }
    if is_member() {
        return false;
    }
    if members.len() + 1 >= LINEAR_KEY_SCAN {
        let keys = members.iter().map(|(k, _)| k.as_ref()).chain([key]);
        *index = Some(keys.map(|k| hasher.hash_one(k)).collect());
    }
    true
}

/// Decodes the escape at `input[at] == b'\\'` into `out`; returns the index after it.
fn decode_escape(input: &[u8], at: usize, out: &mut String) -> Result<usize, JsonError> {
    let decoded = match input.get(at + 1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return decode_unicode_escape(input, at, out),
        None => return Err(error(at, "unterminated string")),
        Some(_) => return Err(error(at, "invalid escape sequence")),
    };
    out.push(decoded);
    Ok(at + 2)
}

/// `\uXXXX`, pairing a high surrogate with the low surrogate escape that must follow it.
fn decode_unicode_escape(input: &[u8], at: usize, out: &mut String) -> Result<usize, JsonError> {
    let unit = hex4(input, at + 2)?;
    let (code, next) = match unit {
        0xD800..=0xDBFF => {
            let low = if input.get(at + 6..at + 8) == Some(b"\\u".as_slice()) {
                Some(hex4(input, at + 8)?)
            } else {
                None
            };
            match low {
                Some(low @ 0xDC00..=0xDFFF) => {
                    (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), at + 12)
                }
                _ => return Err(error(at, "unpaired high surrogate escape in string")),
            }
        }
        0xDC00..=0xDFFF => return Err(error(at, "unpaired low surrogate escape in string")),
        _ => (unit, at + 6),
    };
    match char::from_u32(code) {
        Some(c) => {
            out.push(c);
            Ok(next)
        }
        None => Err(error(at, "invalid unicode escape")),
    }
}

/// Four hex digits at `input[at..at + 4]`.
fn hex4(input: &[u8], at: usize) -> Result<u32, JsonError> {
    let digits = input
        .get(at..at + 4)
        .ok_or_else(|| error(at, "truncated unicode escape"))?;
    digits.iter().try_fold(0u32, |acc, &b| {
        let digit = char::from(b)
            .to_digit(16)
            .ok_or_else(|| error(at, "invalid unicode escape"))?;
        Ok(acc * 16 + digit)
    })
}
