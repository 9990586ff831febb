//! `Limits`: the request limits, fixed when constructed.

use pyo3::prelude::*;

use crate::limits;

/// Request limits, checked once when constructed and read-only after.
#[pyclass(module = "sluice._core", name = "Limits", frozen)]
pub(super) struct PyLimits {
    pub(super) inner: limits::Limits,
}

#[pymethods]
impl PyLimits {
    // Defaults spelled out so they show in the signature; they equal `Limits::default()`
    // (`tests/core/test_core_binding.py::test_limits` holds them to the contract).
    #[new]
    #[pyo3(signature = (
        *,
        max_body_bytes = 262_144,
        max_events = 1000,
        max_depth = 64,
        max_future_us = 3_600_000_000,
    ))]
    fn new(
        max_body_bytes: usize,
        max_events: usize,
        max_depth: usize,
        max_future_us: i64,
    ) -> PyResult<Self> {
        let inner = limits::Limits {
            max_body_bytes,
            max_events,
            max_depth,
            max_future_us,
        };
        inner.validate()?;
        Ok(Self { inner })
    }

    #[getter]
    fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    #[getter]
    fn max_events(&self) -> usize {
        self.inner.max_events
    }

    #[getter]
    fn max_depth(&self) -> usize {
        self.inner.max_depth
    }

    #[getter]
    fn max_future_us(&self) -> i64 {
        self.inner.max_future_us
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
