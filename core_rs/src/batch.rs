//! The Batch every dialect produces, and the rules they share: request checks, field
//! checks, timestamps, content hashes and in-batch dedupe.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::error::{CoreError, FieldError};
use crate::idempotency;
use crate::index::KeyHasherBuilder;
use crate::json::{self, Value};
use crate::limits::{Limits, MAX_DEPTH_CEILING};

mod fields;
pub(crate) use fields::{
    check_length, check_not_future, identifier, is_type_name, non_blank, optional_object,
    optional_text, present, readable_numbers, required_text, timestamp_error, timestamp_member,
    unreadable_message,
};

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
#[derive(Clone, PartialEq)]
pub struct EventRow {
    /// Position in the request's event list.
    pub index: usize,
    pub key: u128,
    pub timestamp_us: i64,
    pub value: Option<f64>,
    pub content_hash: u128,
    /// name, id, customer and payload_json back to back: one allocation per row, not four
    /// (allocation was a large share of building a batch).
    text: String,
    /// Where name, id and customer end in `text`; payload_json is the rest.
    ends: [usize; 3],
}

impl EventRow {
    pub fn name(&self) -> &str {
        &self.text[..self.ends[0]]
    }

    pub fn id(&self) -> &str {
        &self.text[self.ends[0]..self.ends[1]]
    }

    pub fn customer(&self) -> &str {
        &self.text[self.ends[1]..self.ends[2]]
    }

    /// Compact JSON object text, keys in the order the client sent them.
    pub fn payload_json(&self) -> &str {
        &self.text[self.ends[2]..]
    }
}

// Row texts are handed back to the thread that is building batches instead of freed: a batch
// frees a thousand of them at once, and glibc then trims the top of its heap and takes page
// faults to grow it back for the next batch (a large loss in bench_core, until something in
// the process happened to raise glibc's trim threshold).
thread_local! {
    static SPARE_TEXTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}
/// At most this many spare texts per thread (a batch's worth, and some)...
const MAX_SPARE_TEXTS: usize = 2048;
/// ...of at most this capacity each, so the pool holds a few hundred KB, not a big event's.
const MAX_SPARE_CAPACITY: usize = 2048;

/// An empty String of at least `capacity`, a recycled one when the thread has one.
fn row_text(capacity: usize) -> String {
    let spare = SPARE_TEXTS
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten();
    match spare {
        Some(mut text) => {
            text.reserve(capacity);
            text
        }
        None => String::with_capacity(capacity),
    }
}

impl Drop for EventRow {
    fn drop(&mut self) {
        let mut text = std::mem::take(&mut self.text);
        if text.capacity() == 0 || text.capacity() > MAX_SPARE_CAPACITY {
            return;
        }
        text.clear();
        // try_with: at thread exit the pool may already be gone; the text is then just freed.
        let _ = SPARE_TEXTS.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < MAX_SPARE_TEXTS {
                spare.push(text);
            }
        });
    }
}

impl std::fmt::Debug for EventRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRow")
            .field("index", &self.index)
            .field("key", &self.key)
            .field("name", &self.name())
            .field("id", &self.id())
            .field("customer", &self.customer())
            .field("timestamp_us", &self.timestamp_us)
            .field("value", &self.value)
            .field("payload_json", &self.payload_json())
            .field("content_hash", &self.content_hash)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub index: usize,
    pub reason: RejectReason,
    /// The offending field as the dialect spells it; "" when the event is not an object.
    pub field: &'static str,
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

pub(crate) const TIMESTAMP: &str = "timestamp";
pub(crate) const NOT_AN_OBJECT: &str = "Event must be a JSON object.";
pub(crate) const BAD_TIMESTAMP: &str =
    "timestamp must be an ISO 8601 date-time, e.g. 2023-09-13T18:25:43.511Z.";
pub(crate) const NOT_FINITE: &str = "value must be a finite number.";
/// The payload of an event sent without one.
const EMPTY_OBJECT: &str = "{}";

// ---- request level ----

/// The size check, then a strict parse recording the spans of `member`'s elements.
pub(crate) fn parse_body<'b>(
    body: &'b [u8],
    limits: &Limits,
    member: &str,
) -> Result<json::Parsed<'b>, CoreError> {
    check_body_size(body, limits)?;
    Ok(json::parse_with_spans(body, limits.max_depth, member)?)
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

/// Checks that the event list held in `member` has 1 to `max_events` elements.
pub(crate) fn check_event_count(
    member: &'static str,
    count: usize,
    limits: &Limits,
) -> Result<(), CoreError> {
    if count == 0 || count > limits.max_events {
        return Err(events_error(member, limits, Some(count)));
    }
    Ok(())
}

/// The request-level error for a missing, mistyped, empty or oversized event list.
pub(crate) fn events_error(
    member: &'static str,
    limits: &Limits,
    count: Option<usize>,
) -> CoreError {
    let max = limits.max_events;
    let plural = if max == 1 { "" } else { "s" };
    let mut message = format!("{member} must be an array of 1 to {max} event{plural}");
    if let Some(count) = count {
        message.push_str(&format!(" (got {count})"));
    }
    CoreError::InvalidBatch {
        param: member,
        message,
    }
}

// ---- rows ----

/// The content hash of a row whose payload is given as JSON object text (from Python, for
/// events that do not come through a batch parser). Equals what the parsers compute;
/// `timestamp_us` is `None` when the server stamped the event's time.
pub fn row_content_hash(
    name: &str,
    customer: &str,
    timestamp_us: Option<i64>,
    value: Option<f64>,
    payload_json: &str,
) -> Result<u128, CoreError> {
    let payload = json::parse(payload_json.as_bytes(), MAX_DEPTH_CEILING)?;
    if !matches!(payload, Value::Object(_)) {
        return Err(CoreError::InvalidArgument(
            "payload_json must be a JSON object".into(),
        ));
    }
    let canonical = json::to_canonical(&payload);
    Ok(idempotency::content_hash(
        name,
        customer,
        timestamp_us,
        value,
        &canonical,
    ))
}

/// Why a stored payload could not be read back on every surface, or `None` when it can: it
/// must be a strict JSON object whose numbers are all [`json::is_readable_number`]. Readers
/// check rows stored before these rules held (or written around the parsers) with it.
pub fn payload_problem(payload_json: &str) -> Option<String> {
    match json::parse(payload_json.as_bytes(), MAX_DEPTH_CEILING) {
        Err(err) => Some(format!("payload is not strict JSON: {err}")),
        Ok(Value::Object(members)) => members.iter().find_map(|(key, value)| {
            json::unreadable_number(value).map(|number| unreadable_message(key, number))
        }),
        Ok(_) => Some("payload is not a JSON object".into()),
    }
}

/// The fields of an event that passed validation, borrowed from the request where possible.
pub(crate) struct ValidEvent<'v> {
    pub name: &'v str,
    pub id: Cow<'v, str>,
    pub customer: &'v str,
    pub timestamp_us: i64,
    /// True when the server chose `timestamp_us` (the time received) because the client sent
    /// none: it is then left out of the content hash, so resending the same bytes later is a
    /// duplicate, not a conflict.
    pub stamped: bool,
    pub value: Option<f64>,
    /// A JSON object, or `None` for an empty one.
    pub payload: Option<Cow<'v, Value<'v>>>,
}

/// A batch from the elements of a JSON events array, each checked by `validate` in order;
/// `spans` (the elements' byte ranges) are kept so the caller can echo events as sent.
pub(crate) fn json_batch<'v, 'a: 'v>(
    tenant: &str,
    events: &'v [Value<'a>],
    spans: Vec<(usize, usize)>,
    repeat: Repeat,
    mut validate: impl FnMut(&'v Value<'a>) -> Result<ValidEvent<'v>, FieldError>,
) -> Batch {
    let mut builder = BatchBuilder::new(tenant, events.len(), repeat);
    for (index, event) in events.iter().enumerate() {
        builder.push(index, validate(event));
    }
    let mut batch = builder.finish();
    batch.spans = spans;
    batch
}

/// How a dialect reports a key repeated inside one batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Repeat {
    /// The key field as the dialect spells it ("ref", "id", "eventId").
    pub field: &'static str,
    pub message: &'static str,
}

/// Collects rows and rejections in request order and catches keys repeated in the batch.
pub(crate) struct BatchBuilder<'t> {
    tenant: &'t str,
    repeat: Repeat,
    /// Content hash of the first valid event with each key.
    seen: HashMap<u128, u128, KeyHasherBuilder>,
    /// Each event's canonical payload, written here only to be hashed (one buffer, reused).
    canonical: String,
    batch: Batch,
}

impl<'t> BatchBuilder<'t> {
    pub(crate) fn new(tenant: &'t str, total: usize, repeat: Repeat) -> Self {
        let batch = Batch {
            total,
            events: Vec::with_capacity(total),
            ..Batch::default()
        };
        Self {
            tenant,
            repeat,
            seen: HashMap::with_capacity_and_hasher(total, KeyHasherBuilder::random()),
            canonical: String::new(),
            batch,
        }
    }

    /// Adds one event's validation outcome.
    pub(crate) fn push(&mut self, index: usize, outcome: Result<ValidEvent<'_>, FieldError>) {
        match outcome {
            Ok(event) => self.accept(index, event),
            Err(FieldError { field, message }) => {
                self.push_rejection(index, RejectReason::Invalid, field, message);
            }
        }
    }

    /// Adds a valid event, or rejects it as DUPLICATE/CONFLICT if an earlier valid event of
    /// the batch had the same key.
    fn accept(&mut self, index: usize, event: ValidEvent<'_>) {
        self.canonical.clear();
        match &event.payload {
            Some(payload) => json::write_canonical(payload, &mut self.canonical),
            None => self.canonical.push_str(EMPTY_OBJECT),
        }
        let key = idempotency::idempotency_key(self.tenant, event.name, &event.id);
        let content_hash = idempotency::content_hash(
            event.name,
            event.customer,
            (!event.stamped).then_some(event.timestamp_us),
            event.value,
            &self.canonical,
        );
        if let Some(&first) = self.seen.get(&key) {
            let reason = if first == content_hash {
                RejectReason::Duplicate
            } else {
                RejectReason::Conflict
            };
            let Repeat { field, message } = self.repeat;
            self.push_rejection(index, reason, field, message.to_owned());
            return;
        }
        self.seen.insert(key, content_hash);
        // The compact text is about as long as the canonical one (only number spelling differs).
        let fields = [event.name, &event.id, event.customer];
        let mut text =
            row_text(fields.iter().map(|field| field.len()).sum::<usize>() + self.canonical.len());
        let ends = fields.map(|field| {
            text.push_str(field);
            text.len()
        });
        match &event.payload {
            Some(payload) => json::write_compact(payload, &mut text),
            None => text.push_str(EMPTY_OBJECT),
        }
        self.batch.events.push(EventRow {
            index,
            key,
            timestamp_us: event.timestamp_us,
            value: event.value,
            content_hash,
            text,
            ends,
        });
    }

    fn push_rejection(
        &mut self,
        index: usize,
        reason: RejectReason,
        field: &'static str,
        message: String,
    ) {
        self.batch.rejected.push(Rejection {
            index,
            reason,
            field,
            message,
        });
    }

    pub(crate) fn finish(self) -> Batch {
        self.batch
    }
}

#[cfg(test)]
mod tests;
