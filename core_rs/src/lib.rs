//! Sluice's core: the CPU-bound work of ingestion, on bytes, without the GIL.

pub mod batch;
pub mod collect;
pub mod enso;
pub mod error;
pub mod idempotency;
pub mod index;
pub mod ingest_proto;
pub mod json;
pub mod limits;
pub mod profiles;
pub mod timestamp;
pub mod vayu;

#[cfg(feature = "python")]
mod python;
