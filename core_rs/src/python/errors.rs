//! The core's Python exceptions, the one mapping from `CoreError` to them, and the helper
//! that runs pure-Rust work with the interpreter detached.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::error;

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

/// Adds the exception classes to the module.
pub(super) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("CoreError", py.get_type::<CoreError>())?;
    module.add("PayloadTooLarge", py.get_type::<PayloadTooLarge>())?;
    module.add("InvalidJson", py.get_type::<InvalidJson>())?;
    let invalid_batch = py.get_type::<InvalidBatch>();
    // A class-level default, so `param` is there even on an instance raised from Python.
    invalid_batch.setattr("param", "events")?;
    module.add("InvalidBatch", invalid_batch)?;
    module.add("InvalidTimestamp", py.get_type::<InvalidTimestamp>())?;
    Ok(())
}

/// Runs pure-Rust work with the interpreter detached, so other Python threads keep going.
pub(super) fn detached<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, error::CoreError> + Send,
) -> PyResult<T> {
    Ok(py.detach(work)?)
}
