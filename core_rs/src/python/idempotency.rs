//! Idempotency keys and content hashes as 16-byte `bytes`, and `IdempotencyIndex`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::errors::detached;
use crate::batch;
use crate::idempotency::{self, KEY_BYTES};
use crate::index;

/// A key or hash as the 16 big-endian bytes Python and the stores hold.
pub(super) fn key_bytes(py: Python<'_>, key: u128) -> Bound<'_, PyBytes> {
    PyBytes::new(py, &idempotency::key_to_bytes(key))
}

/// The 16-byte idempotency key hash of (tenant, name, id).
#[pyfunction]
pub(super) fn idempotency_key<'py>(
    py: Python<'py>,
    tenant: &str,
    name: &str,
    id: &str,
) -> Bound<'py, PyBytes> {
    key_bytes(py, idempotency::idempotency_key(tenant, name, id))
}

/// The 16-byte content hash the parsers give a row, for a payload given as JSON object text;
/// `timestamp_us` is None when the server stamped the time (it then stays out of the hash).
#[pyfunction]
pub(super) fn content_hash<'py>(
    py: Python<'py>,
    name: &str,
    customer: &str,
    timestamp_us: Option<i64>,
    value: Option<f64>,
    payload_json: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let hash = detached(py, || {
        batch::row_content_hash(name, customer, timestamp_us, value, payload_json)
    })?;
    Ok(key_bytes(py, hash))
}

/// Process-wide set of committed keys plus in-flight reservations. Thread-safe.
#[pyclass(module = "sluice._core", name = "IdempotencyIndex", frozen)]
pub(super) struct PyIdempotencyIndex {
    inner: index::IdempotencyIndex,
}

/// 16-byte `bytes` keys as integers; anything else is a ValueError naming its position.
fn keys_from_py(keys: Vec<Bound<'_, PyBytes>>) -> PyResult<Vec<u128>> {
    keys.iter()
        .enumerate()
        .map(|(position, key)| {
            idempotency::key_from_bytes(key.as_bytes()).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "keys[{position}] must be {KEY_BYTES} bytes long, got {}",
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
