//! `ProfileEvent`: one validated profiles event.

use pyo3::prelude::*;

use crate::profiles;

/// One validated profiles event (`POST /v1/event/`).
#[pyclass(module = "sluice._core", name = "ProfileEvent", frozen)]
pub(super) struct PyProfileEvent {
    pub(super) inner: profiles::ProfileEvent,
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
