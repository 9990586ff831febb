//! The Python binding `sluice._core`: every piece of pyo3 glue lives here.
//!
//! Inputs are taken as Rust values (`&[u8]` straight from `bytes`), the work runs with the
//! interpreter detached, and only then are Python objects built.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::batch::{self, EventRow, RejectReason, Rejection};
use crate::collect;
use crate::enso;
use crate::error;
use crate::index::{self, ClaimState};
use crate::ingest_proto;
use crate::keys;
use crate::limits;
use crate::profiles;
use crate::timestamp;
use crate::vayu;

create_exception!(
    sluice._core,
    CoreError,
    PyException,
    "Base of every error raised by the core."
);
create_exception!(
    sluice._core,
    PayloadTooLarge,
    CoreError,
    "The body is larger than Limits.max_body_bytes."
);
create_exception!(
    sluice._core,
    InvalidJson,
    CoreError,
    "The body is not strict RFC 8259 JSON (or too deeply nested). str() says what and where."
);
create_exception!(
    sluice._core,
    InvalidBatch,
    CoreError,
    "The body parsed but is not a valid request; `param` names the offending field."
);
create_exception!(
    sluice._core,
    InvalidTimestamp,
    CoreError,
    "parse_timestamp was given something that is not an RFC 3339 / ISO 8601 date-time."
);

impl From<error::CoreError> for PyErr {
    fn from(err: error::CoreError) -> Self {
        let message = err.to_string();
        match err {
            error::CoreError::PayloadTooLarge { .. } => PayloadTooLarge::new_err(message),
            error::CoreError::InvalidJson(_) => InvalidJson::new_err(message),
            error::CoreError::InvalidBatch { param, .. } => Python::attach(|py| {
                let err = InvalidBatch::new_err(message);
                match err.value(py).setattr("param", param) {
                    Ok(()) => err,
                    Err(setattr_failed) => setattr_failed,
                }
            }),
            error::CoreError::InvalidTimestamp(_) => InvalidTimestamp::new_err(message),
            error::CoreError::InvalidArgument(_) => PyValueError::new_err(message),
            error::CoreError::NoRandomness(_) => PyOSError::new_err(message),
        }
    }
}

/// Runs pure-Rust work with the interpreter detached, so other Python threads keep going.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, error::CoreError> + Send,
) -> PyResult<T> {
    Ok(py.detach(work)?)
}

/// Request limits; every attribute can be read and set (settings are checked on set).
#[pyclass(module = "sluice._core", name = "Limits")]
struct PyLimits {
    inner: limits::Limits,
}

impl PyLimits {
    fn update(&mut self, change: impl FnOnce(&mut limits::Limits)) -> PyResult<()> {
        let mut next = self.inner;
        change(&mut next);
        next.validate()?;
        self.inner = next;
        Ok(())
    }
}

#[pymethods]
impl PyLimits {
    /// Starts from the defaults; `__init__` applies the arguments. Construction is split
    /// like a Python class's so the (mutable) settings object has a real `__init__`.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Self {
            inner: limits::Limits::default(),
        }
    }

    // Defaults spelled out so they show in the signature; they equal `Limits::default()`.
    #[pyo3(signature = (
        max_body_bytes = 262_144,
        max_events = 1000,
        max_depth = 64,
        max_future_us = 3_600_000_000,
    ))]
    fn __init__(
        &mut self,
        max_body_bytes: usize,
        max_events: usize,
        max_depth: usize,
        max_future_us: i64,
    ) -> PyResult<()> {
        let inner = limits::Limits {
            max_body_bytes,
            max_events,
            max_depth,
            max_future_us,
        };
        inner.validate()?;
        self.inner = inner;
        Ok(())
    }

    #[getter]
    fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    #[setter]
    fn set_max_body_bytes(&mut self, value: usize) -> PyResult<()> {
        self.update(|limits| limits.max_body_bytes = value)
    }

    #[getter]
    fn max_events(&self) -> usize {
        self.inner.max_events
    }

    #[setter]
    fn set_max_events(&mut self, value: usize) -> PyResult<()> {
        self.update(|limits| limits.max_events = value)
    }

    #[getter]
    fn max_depth(&self) -> usize {
        self.inner.max_depth
    }

    #[setter]
    fn set_max_depth(&mut self, value: usize) -> PyResult<()> {
        self.update(|limits| limits.max_depth = value)
    }

    #[getter]
    fn max_future_us(&self) -> i64 {
        self.inner.max_future_us
    }

    #[setter]
    fn set_max_future_us(&mut self, value: i64) -> PyResult<()> {
        self.update(|limits| limits.max_future_us = value)
    }

    fn __repr__(&self) -> String {
        let limits::Limits {
            max_body_bytes,
            max_events,
            max_depth,
            max_future_us,
        } = self.inner;
        format!(
            "Limits(max_body_bytes={max_body_bytes}, max_events={max_events}, \
             max_depth={max_depth}, max_future_us={max_future_us})"
        )
    }
}

/// A parsed, validated batch. Rows are built once as tuples; each property read returns a
/// fresh list of them, so callers cannot change what another reader sees.
#[pyclass(module = "sluice._core", name = "Batch", frozen)]
struct PyBatch {
    total: usize,
    dry_run: bool,
    /// The client's sequence number for an IngestStream message (its ack echoes it); else 0.
    sequence: u64,
    events: Py<PyTuple>,
    rejected: Py<PyTuple>,
    /// Kept as Rust pairs and turned into tuples only when read: only the Vayu route echoes
    /// events by span, and every other caller would pay three Python objects per event (a
    /// tuple and two ints) for nothing.
    spans: Vec<(usize, usize)>,
}

impl PyBatch {
    fn build(py: Python<'_>, batch: batch::Batch) -> PyResult<Self> {
        let mut names = NameCache::default();
        let events = batch
            .events
            .iter()
            .map(|row| event_row(py, row, &mut names))
            .collect::<PyResult<Vec<_>>>()?;
        let rejected = batch
            .rejected
            .iter()
            .map(|r| rejection(py, r))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Self {
            total: batch.total,
            dry_run: batch.dry_run,
            sequence: 0,
            events: PyTuple::new(py, events)?.unbind(),
            rejected: PyTuple::new(py, rejected)?.unbind(),
            spans: batch.spans,
        })
    }
}

/// One `str` per distinct event name in a batch: a batch usually carries a handful of names
/// (event types, metrics) over many rows, and sharing an immutable `str` saves building one
/// per row. Bounded, so a batch of all-different names costs only a short scan per row.
#[derive(Default)]
struct NameCache<'a, 'py> {
    names: Vec<(&'a str, Bound<'py, PyString>)>,
}

impl<'a, 'py> NameCache<'a, 'py> {
    const CAPACITY: usize = 8;

    fn get(&mut self, py: Python<'py>, name: &'a str) -> Bound<'py, PyString> {
        if let Some((_, cached)) = self.names.iter().find(|(known, _)| *known == name) {
            return cached.clone();
        }
        let string = PyString::new(py, name);
        if self.names.len() < Self::CAPACITY {
            self.names.push((name, string.clone()));
        }
        string
    }
}

/// `(index, key, name, id, customer, timestamp_us, value, payload_json, content_hash)`.
fn event_row<'a, 'py>(
    py: Python<'py>,
    row: &'a EventRow,
    names: &mut NameCache<'a, 'py>,
) -> PyResult<Bound<'py, PyTuple>> {
    (
        row.index,
        key_bytes(py, row.key),
        names.get(py, row.name()),
        row.id(),
        row.customer(),
        row.timestamp_us,
        row.value,
        row.payload_json(),
        key_bytes(py, row.content_hash),
    )
        .into_pyobject(py)
}

/// `(index, reason, field, message)`.
fn rejection<'py>(py: Python<'py>, rejection: &Rejection) -> PyResult<Bound<'py, PyTuple>> {
    (
        rejection.index,
        rejection.reason.as_str(),
        rejection.field,
        rejection.message.as_str(),
    )
        .into_pyobject(py)
}

fn key_bytes(py: Python<'_>, key: u128) -> Bound<'_, PyBytes> {
    PyBytes::new(py, &keys::key_to_bytes(key))
}

#[pymethods]
impl PyBatch {
    #[getter]
    fn total(&self) -> usize {
        self.total
    }

    #[getter]
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.events.bind(py).as_sequence().to_list()
    }

    #[getter]
    fn rejected<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.rejected.bind(py).as_sequence().to_list()
    }

    #[getter]
    fn spans<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, &self.spans)
    }

    #[getter]
    fn sequence(&self) -> u64 {
        self.sequence
    }

    #[getter]
    fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Batch(total={}, events={}, rejected={}, dry_run={})",
            self.total,
            self.events.bind(py).len(),
            self.rejected.bind(py).len(),
            if self.dry_run { "True" } else { "False" },
        )
    }
}

/// Parse and validate a Vayu `POST /events` body. Releases the GIL while it works.
#[pyfunction]
fn parse_vayu_batch(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Bound<'_, PyLimits>,
) -> PyResult<PyBatch> {
    let limits = limits.try_borrow()?.inner;
    let batch = detached(py, || vayu::parse_vayu_batch(body, tenant, now_us, &limits))?;
    PyBatch::build(py, batch)
}

/// Parse and validate an Enso `POST /events/batch` body. Releases the GIL while it works.
#[pyfunction]
fn parse_enso_batch(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Bound<'_, PyLimits>,
) -> PyResult<PyBatch> {
    let limits = limits.try_borrow()?.inner;
    let batch = detached(py, || enso::parse_enso_batch(body, tenant, now_us, &limits))?;
    PyBatch::build(py, batch)
}

/// Parse and validate a `POST /collect/event` body. Releases the GIL while it works.
#[pyfunction]
fn parse_collect_batch(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Bound<'_, PyLimits>,
    ping_id: &str,
    allowed_types: Option<Vec<String>>,
) -> PyResult<PyBatch> {
    let limits = limits.try_borrow()?.inner;
    let batch = detached(py, || {
        collect::parse_collect_batch(
            body,
            tenant,
            now_us,
            &limits,
            ping_id,
            allowed_types.as_deref(),
        )
    })?;
    PyBatch::build(py, batch)
}

/// One validated profiles event (`POST /v1/event/`).
#[pyclass(module = "sluice._core", name = "ProfileEvent", frozen)]
struct PyProfileEvent {
    inner: profiles::ProfileEvent,
}

#[pymethods]
impl PyProfileEvent {
    #[getter]
    fn user_field(&self) -> &'static str {
        self.inner.user_field
    }

    #[getter]
    fn user(&self) -> &str {
        &self.inner.user
    }

    #[getter]
    #[pyo3(name = "type")]
    fn kind(&self) -> &str {
        &self.inner.kind
    }

    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    #[getter]
    fn order_id(&self) -> Option<&str> {
        self.inner.order_id.as_deref()
    }

    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.key.map(|key| key_bytes(py, key))
    }

    #[getter]
    fn attributes_json(&self) -> &str {
        &self.inner.attributes_json
    }

    #[getter]
    fn timestamp_us(&self) -> i64 {
        self.inner.timestamp_us
    }

    fn __repr__(&self) -> String {
        let event = &self.inner;
        format!(
            "ProfileEvent(type={:?}, name={:?}, {}={:?})",
            event.kind, event.name, event.user_field, event.user
        )
    }
}

/// Parse and validate a profiles `POST /v1/event/` body. Releases the GIL while it works.
#[pyfunction]
fn parse_profiles_event(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Bound<'_, PyLimits>,
) -> PyResult<PyProfileEvent> {
    let limits = limits.try_borrow()?.inner;
    let inner = detached(py, || {
        profiles::parse_profiles_event(body, tenant, now_us, &limits)
    })?;
    Ok(PyProfileEvent { inner })
}

/// The 16-byte content hash the parsers give a row, for a payload given as JSON object text.
#[pyfunction]
fn content_hash<'py>(
    py: Python<'py>,
    name: &str,
    customer: &str,
    timestamp_us: i64,
    value: Option<f64>,
    payload_json: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let hash = detached(py, || {
        batch::row_content_hash(name, customer, timestamp_us, value, payload_json)
    })?;
    Ok(key_bytes(py, hash))
}

/// Decode and validate a serialized sluice.v1.IngestRequest. Releases the GIL while it works.
#[pyfunction]
fn parse_ingest_request(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Bound<'_, PyLimits>,
) -> PyResult<PyBatch> {
    let limits = limits.try_borrow()?.inner;
    let batch = detached(py, || {
        ingest_proto::parse_ingest_request(body, tenant, now_us, &limits)
    })?;
    PyBatch::build(py, batch)
}

/// Decode and validate one serialized sluice.v1.IngestStreamRequest; the batch carries its
/// sequence. Releases the GIL while it works.
#[pyfunction]
fn parse_ingest_stream_request(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &Bound<'_, PyLimits>,
) -> PyResult<PyBatch> {
    let limits = limits.try_borrow()?.inner;
    let (sequence, batch) = detached(py, || {
        ingest_proto::parse_ingest_stream_request(body, tenant, now_us, &limits)
    })?;
    Ok(PyBatch {
        sequence,
        ..PyBatch::build(py, batch)?
    })
}

/// RFC 3339 / ISO 8601 date-time -> UTC microseconds since the epoch (no offset means UTC).
#[pyfunction]
fn parse_timestamp(text: &str) -> PyResult<i64> {
    timestamp::parse_timestamp(text)
        .map_err(|reason| error::CoreError::invalid_timestamp(text, reason).into())
}

/// The 16-byte idempotency key hash of (tenant, name, id).
#[pyfunction]
fn idempotency_key<'py>(
    py: Python<'py>,
    tenant: &str,
    name: &str,
    id: &str,
) -> Bound<'py, PyBytes> {
    key_bytes(py, keys::idempotency_key(tenant, name, id))
}

/// Process-wide set of committed keys plus in-flight reservations. Thread-safe.
#[pyclass(module = "sluice._core", name = "IdempotencyIndex", frozen)]
struct PyIdempotencyIndex {
    inner: index::IdempotencyIndex,
}

/// 16-byte `bytes` keys as integers; anything else is a ValueError naming its position.
fn keys_from_py(keys: Vec<Bound<'_, PyBytes>>) -> PyResult<Vec<u128>> {
    keys.iter()
        .enumerate()
        .map(|(position, key)| {
            keys::key_from_bytes(key.as_bytes()).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "keys[{position}] must be {} bytes long, got {}",
                    keys::KEY_BYTES,
                    key.as_bytes().len()
                ))
            })
        })
        .collect()
}

#[pymethods]
impl PyIdempotencyIndex {
    #[new]
    fn new() -> Self {
        Self {
            inner: index::IdempotencyIndex::new(),
        }
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Mark keys committed in bulk; `keys` is a concatenation of 16-byte keys (start-up rebuild).
    fn load(&self, py: Python<'_>, keys: &[u8]) -> PyResult<()> {
        detached(py, || self.inner.load_bytes(keys))
    }

    /// For each key: CLAIMED (now reserved by caller), COMMITTED, or IN_FLIGHT.
    fn claim(&self, py: Python<'_>, keys: Vec<Bound<'_, PyBytes>>) -> PyResult<Vec<u32>> {
        let keys = keys_from_py(keys)?;
        let states = py.detach(|| self.inner.claim(&keys));
        // u32, not u8: pyo3 turns a Vec<u8> into `bytes`, and this must be a list of ints.
        Ok(states
            .into_iter()
            .map(|state| u32::from(state as u8))
            .collect())
    }

    /// Mark keys committed (whatever their state): the store now holds them.
    fn confirm(&self, py: Python<'_>, keys: Vec<Bound<'_, PyBytes>>) -> PyResult<()> {
        let keys = keys_from_py(keys)?;
        py.detach(|| self.inner.confirm(&keys));
        Ok(())
    }

    /// Forget reservations after a failed write. Committed keys are left alone.
    fn release(&self, py: Python<'_>, keys: Vec<Bound<'_, PyBytes>>) -> PyResult<()> {
        let keys = keys_from_py(keys)?;
        py.detach(|| self.inner.release(&keys));
        Ok(())
    }
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for reason in [
        RejectReason::Invalid,
        RejectReason::Duplicate,
        RejectReason::Conflict,
    ] {
        m.add(reason.as_str(), reason.as_str())?;
    }
    m.add("CLAIMED", ClaimState::Claimed as u8)?;
    m.add("COMMITTED", ClaimState::Committed as u8)?;
    m.add("IN_FLIGHT", ClaimState::InFlight as u8)?;

    m.add("CoreError", py.get_type::<CoreError>())?;
    m.add("PayloadTooLarge", py.get_type::<PayloadTooLarge>())?;
    m.add("InvalidJson", py.get_type::<InvalidJson>())?;
    let invalid_batch = py.get_type::<InvalidBatch>();
    // A class-level default, so `param` is there even on an instance raised from Python.
    invalid_batch.setattr("param", "events")?;
    m.add("InvalidBatch", invalid_batch)?;
    m.add("InvalidTimestamp", py.get_type::<InvalidTimestamp>())?;

    // The row type as a runtime alias too, so `from sluice._core import EventRow` works.
    let event_row = py.eval(
        c"tuple[int, bytes, str, str, str, int, float | None, str, bytes]",
        None,
        None,
    )?;
    m.add("EventRow", event_row)?;

    m.add_class::<PyLimits>()?;
    m.add_class::<PyBatch>()?;
    m.add_class::<PyIdempotencyIndex>()?;
    m.add_class::<PyProfileEvent>()?;
    m.add_function(wrap_pyfunction!(parse_vayu_batch, m)?)?;
    m.add_function(wrap_pyfunction!(parse_enso_batch, m)?)?;
    m.add_function(wrap_pyfunction!(parse_collect_batch, m)?)?;
    m.add_function(wrap_pyfunction!(parse_profiles_event, m)?)?;
    m.add_function(wrap_pyfunction!(parse_ingest_request, m)?)?;
    m.add_function(wrap_pyfunction!(parse_ingest_stream_request, m)?)?;
    m.add_function(wrap_pyfunction!(content_hash, m)?)?;
    m.add_function(wrap_pyfunction!(parse_timestamp, m)?)?;
    m.add_function(wrap_pyfunction!(idempotency_key, m)?)?;
    Ok(())
}
