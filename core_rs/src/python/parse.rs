//! The entry points that read bytes: the request parsers, `loads_strict` and `parse_timestamp`.
//!
//! Each takes `&[u8]` straight from `bytes`, runs the pure parse with the interpreter
//! detached, and only then builds Python objects.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};

use super::batch::PyBatch;
use super::errors::detached;
use super::limits::PyLimits;
use super::profiles::PyProfileEvent;
use crate::error::CoreError;
use crate::json::{self, Value};
use crate::limits::Limits;
use crate::{batch, collect, enso, ingest_proto, profiles, timestamp, vayu};

/// A Python result built from what a pure parser returned.
trait FromParsed<T>: Sized {
    fn from_parsed(py: Python<'_>, parsed: T) -> PyResult<Self>;
}

impl FromParsed<batch::Batch> for PyBatch {
    fn from_parsed(py: Python<'_>, batch: batch::Batch) -> PyResult<Self> {
        Self::build(py, batch)
    }
}

impl FromParsed<(u64, batch::Batch)> for PyBatch {
    fn from_parsed(py: Python<'_>, (sequence, batch): (u64, batch::Batch)) -> PyResult<Self> {
        Ok(PyBatch::build(py, batch)?.with_sequence(sequence))
    }
}

impl FromParsed<profiles::ProfileEvent> for PyProfileEvent {
    fn from_parsed(_py: Python<'_>, inner: profiles::ProfileEvent) -> PyResult<Self> {
        Ok(Self { inner })
    }
}

/// Runs `parse` with the interpreter detached, then builds its Python result.
fn parse_request<T: Send, R: FromParsed<T>>(
    py: Python<'_>,
    parse: impl FnOnce() -> Result<T, CoreError> + Send,
) -> PyResult<R> {
    let parsed = detached(py, parse)?;
    R::from_parsed(py, parsed)
}

/// Parse and validate a Vayu `POST /events` body. Releases the GIL while it works.
#[pyfunction]
pub(super) fn parse_vayu_batch(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &PyLimits,
) -> PyResult<PyBatch> {
    parse_request(py, || {
        vayu::parse_vayu_batch(body, tenant, now_us, &limits.inner)
    })
}

/// Parse and validate an Enso `POST /events/batch` body. Releases the GIL while it works.
#[pyfunction]
pub(super) fn parse_enso_batch(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &PyLimits,
) -> PyResult<PyBatch> {
    parse_request(py, || {
        enso::parse_enso_batch(body, tenant, now_us, &limits.inner)
    })
}

/// Parse and validate a `POST /collect/event` body. Releases the GIL while it works.
#[pyfunction]
pub(super) fn parse_collect_batch(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &PyLimits,
    ping_id: &str,
    allowed_types: Option<Vec<String>>,
) -> PyResult<PyBatch> {
    let allowed_types = allowed_types.as_deref();
    parse_request(py, || {
        collect::parse_collect_batch(body, tenant, now_us, &limits.inner, ping_id, allowed_types)
    })
}

/// Parse and validate a profiles `POST /v1/event/` body. Releases the GIL while it works.
#[pyfunction]
pub(super) fn parse_profiles_event(
    py: Python<'_>,
    body: &[u8],
    now_us: i64,
    limits: &PyLimits,
) -> PyResult<PyProfileEvent> {
    parse_request(py, || {
        profiles::parse_profiles_event(body, now_us, &limits.inner)
    })
}

/// Decode and validate a serialized sluice.v1.IngestRequest. Releases the GIL while it works.
#[pyfunction]
pub(super) fn parse_ingest_request(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &PyLimits,
) -> PyResult<PyBatch> {
    parse_request(py, || {
        ingest_proto::parse_ingest_request(body, tenant, now_us, &limits.inner)
    })
}

/// Decode and validate one serialized sluice.v1.IngestStreamRequest; the batch carries its
/// sequence. Releases the GIL while it works.
#[pyfunction]
pub(super) fn parse_ingest_stream_request(
    py: Python<'_>,
    body: &[u8],
    tenant: &str,
    now_us: i64,
    limits: &PyLimits,
) -> PyResult<PyBatch> {
    parse_request(py, || {
        ingest_proto::parse_ingest_stream_request(body, tenant, now_us, &limits.inner)
    })
}

/// A strict RFC 8259 JSON document as Python values, under the request parsers' rules and
/// default depth limit. Releases the GIL while it parses.
#[pyfunction]
pub(super) fn loads_strict<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let max_depth = Limits::default().max_depth;
    let value = detached(py, || Ok(json::parse(data, max_depth)?))?;
    to_python(py, &value)
}

/// Why a stored payload (JSON object text) cannot be read back on every surface, or None.
#[pyfunction]
pub(super) fn payload_problem(py: Python<'_>, payload: &str) -> Option<String> {
    py.detach(|| batch::payload_problem(payload))
}

/// The value `json.loads` gives for the same text (the parser has already refused what
/// `json.loads` would read differently: NaN, duplicate keys, unbounded numbers, ...).
fn to_python<'py>(py: Python<'py>, value: &Value<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Number(text) => number(py, text)?,
        Value::String(text) => PyString::new(py, text).into_any(),
        Value::Array(items) => {
            let items = items
                .iter()
                .map(|item| to_python(py, item))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(members) => {
            let object = PyDict::new(py);
            for (key, member) in members {
                object.set_item(key.as_ref(), to_python(py, member)?)?;
            }
            object.into_any()
        }
    })
}

/// An `int` for integer text (exact at any length), else a `float`.
fn number<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    if text.contains(['.', 'e', 'E']) {
        let number: f64 = text
            .parse()
            .map_err(|_| PyValueError::new_err(format!("not a number: {text}")))?;
        return Ok(PyFloat::new(py, number).into_any());
    }
    match text.parse::<i64>() {
        Ok(number) => Ok(number.into_pyobject(py)?.into_any()),
        Err(_) => py.get_type::<PyInt>().call1((text,)),
    }
}

/// RFC 3339 / ISO 8601 date-time -> UTC microseconds since the epoch (no offset means UTC).
#[pyfunction]
pub(super) fn parse_timestamp(text: &str) -> PyResult<i64> {
    timestamp::parse_timestamp(text)
        .map_err(|reason| CoreError::invalid_timestamp(text, reason).into())
}
