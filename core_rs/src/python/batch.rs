//! `Batch` and `EventRow`: a validated batch as Python objects, built once per parse.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList, PyString, PyTuple};

use super::idempotency::key_bytes;
use crate::batch::{self, Rejection};
use crate::idempotency::KEY_BYTES;

/// One event that passed validation, ready to be claimed and stored.
///
/// Every field is a Python object built once: a frozen class's `Py` fields are read as plain
/// struct members, as fast as indexing a tuple, and reading one twice builds nothing new.
#[pyclass(module = "sluice._core", name = "EventRow", frozen, get_all)]
pub(super) struct PyEventRow {
    /// Position in the request's event list.
    index: Py<PyInt>,
    /// 16-byte idempotency key of (tenant, name, id).
    key: Py<PyBytes>,
    name: Py<PyString>,
    id: Py<PyString>,
    customer: Py<PyString>,
    timestamp_us: Py<PyInt>,
    /// A float, or None.
    value: Py<PyAny>,
    /// Compact JSON object text, keys in the order the client sent them.
    payload: Py<PyString>,
    /// 16-byte hash of what the client sent, to tell a retry from a conflict.
    content_hash: Py<PyBytes>,
}

#[pymethods]
impl PyEventRow {
    /// A row made in Python (for events that do not come through a batch parser).
    #[new]
    #[pyo3(signature = (
        *, index, key, name, id, customer, timestamp_us, value, payload, content_hash
    ))]
    #[allow(clippy::too_many_arguments)] // one keyword per field, as the class declares them
    fn new(
        py: Python<'_>,
        index: usize,
        key: Bound<'_, PyBytes>,
        name: Bound<'_, PyString>,
        id: Bound<'_, PyString>,
        customer: Bound<'_, PyString>,
        timestamp_us: i64,
        value: Option<f64>,
        payload: Bound<'_, PyString>,
        content_hash: Bound<'_, PyBytes>,
    ) -> PyResult<Self> {
        for (field, bytes) in [("key", &key), ("content_hash", &content_hash)] {
            let len = bytes.as_bytes().len();
            if len != KEY_BYTES {
                return Err(PyValueError::new_err(format!(
                    "{field} must be {KEY_BYTES} bytes long, got {len}"
                )));
            }
        }
        Ok(Self {
            index: index.into_pyobject(py)?.unbind(),
            key: key.unbind(),
            name: name.unbind(),
            id: id.unbind(),
            customer: customer.unbind(),
            timestamp_us: timestamp_us.into_pyobject(py)?.unbind(),
            value: value.into_pyobject(py)?.unbind(),
            payload: payload.unbind(),
            content_hash: content_hash.unbind(),
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let repr = |field: &Bound<'_, PyAny>| -> PyResult<String> { Ok(field.repr()?.to_string()) };
        Ok(format!(
            "EventRow(index={}, name={}, id={}, customer={}, timestamp_us={}, value={}, \
             payload={})",
            repr(self.index.bind(py).as_any())?,
            repr(self.name.bind(py).as_any())?,
            repr(self.id.bind(py).as_any())?,
            repr(self.customer.bind(py).as_any())?,
            repr(self.timestamp_us.bind(py).as_any())?,
            repr(self.value.bind(py))?,
            repr(self.payload.bind(py).as_any())?,
        ))
    }
}

impl PyEventRow {
    fn build<'a, 'py>(
        py: Python<'py>,
        row: &'a batch::EventRow,
        names: &mut NameCache<'a, 'py>,
    ) -> PyResult<Self> {
        Ok(Self {
            index: row.index.into_pyobject(py)?.unbind(),
            key: key_bytes(py, row.key).unbind(),
            name: names.get(py, row.name()).unbind(),
            id: PyString::new(py, row.id()).unbind(),
            customer: PyString::new(py, row.customer()).unbind(),
            timestamp_us: row.timestamp_us.into_pyobject(py)?.unbind(),
            value: row.value.into_pyobject(py)?.unbind(),
            payload: PyString::new(py, row.payload_json()).unbind(),
            content_hash: key_bytes(py, row.content_hash).unbind(),
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

/// A parsed, validated batch. Rows are built once; each property read returns a fresh list
/// of them, so callers cannot change what another reader sees.
#[pyclass(module = "sluice._core", name = "Batch", frozen)]
pub(super) struct PyBatch {
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
    /// The batch of one IngestStream message, which carries the client's sequence number.
    pub(super) fn with_sequence(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    pub(super) fn build(py: Python<'_>, batch: batch::Batch) -> PyResult<Self> {
        let mut names = NameCache::default();
        let events = batch
            .events
            .iter()
            .map(|row| Bound::new(py, PyEventRow::build(py, row, &mut names)?))
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
