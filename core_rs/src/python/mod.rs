//! The Python binding `sluice._core`: every piece of pyo3 glue lives under this module, one
//! file per concern; this file registers what the module exports.
//!
//! Inputs are taken as Rust values (`&[u8]` straight from `bytes`), the work runs with the
//! interpreter detached, and only then are Python objects built.

mod batch;
mod errors;
mod idempotency;
mod limits;
mod parse;
mod profiles;

use pyo3::prelude::*;

use crate::batch::RejectReason;
use crate::index::ClaimState;

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
    errors::register(m)?;

    m.add_class::<limits::PyLimits>()?;
    m.add_class::<batch::PyBatch>()?;
    m.add_class::<batch::PyEventRow>()?;
    m.add_class::<profiles::PyProfileEvent>()?;
    m.add_class::<idempotency::PyIdempotencyIndex>()?;

    m.add_function(wrap_pyfunction!(parse::parse_vayu_batch, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_enso_batch, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_collect_batch, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_profiles_event, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_ingest_request, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_ingest_stream_request, m)?)?;
    m.add_function(wrap_pyfunction!(parse::loads_strict, m)?)?;
    m.add_function(wrap_pyfunction!(parse::payload_problem, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_timestamp, m)?)?;
    m.add_function(wrap_pyfunction!(idempotency::idempotency_key, m)?)?;
    m.add_function(wrap_pyfunction!(idempotency::content_hash, m)?)?;
    Ok(())
}
