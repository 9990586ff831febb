//! Every request parser on the same arbitrary bytes: none may panic, loop or overflow the stack,
//! and whatever a parser accepts must be internally consistent.
#![no_main]

use _core::limits::Limits;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000_000_000;

fuzz_target!(|body: &[u8]| {
    let limits = Limits::default();
    if let Ok(batch) = _core::vayu::parse_vayu_batch(body, "t", NOW, &limits) {
        // Every event is either a row or a rejection, and every span lies inside the body.
        assert_eq!(batch.events.len() + batch.rejected.len(), batch.total);
        assert!(
            batch
                .spans
                .iter()
                .all(|&(start, end)| start < end && end <= body.len())
        );
    }
    let _ = _core::enso::parse_enso_batch(body, "t", NOW, &limits);
    let _ = _core::collect::parse_collect_batch(body, "t", NOW, &limits, "ping", None);
    let _ = _core::profiles::parse_profiles_event(body, NOW, &limits);
    let _ = _core::ingest_proto::parse_ingest_request(body, "t", NOW, &limits);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = _core::timestamp::parse_timestamp(text);
    }
});
