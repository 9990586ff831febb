use super::*;
use crate::batch::{BAD_TIMESTAMP, RejectReason};

const NOW: i64 = 1_795_437_507_000_000; // 2026-11-23T12:38:27Z
const TENANT: &str = "default";

/// The seed's own request, with its placeholders filled in.
const SEED: &str = r#"
{
  "events": [
    {
      "CustomerEntityId": "ent_6CsgzAdRgTlzT_9O",
      "metric": "api_calls",
      "value": 123,
      "timestamp": "2023-11-07T05:31:56Z",
      "metadata": {},
      "eventId": "evt_1",
      "JobId": "job_xI_wWRvcLpZzhiJF",
      "jobId": "job_lower"
    }
  ]
}
"#;

fn parse(body: &str) -> Result<Batch, CoreError> {
    parse_enso_batch(body.as_bytes(), TENANT, NOW, &Limits::default())
}

fn batch(body: &str) -> Batch {
    match parse(body) {
        Ok(batch) => batch,
        Err(err) => panic!("{body}: {err}"),
    }
}

fn one(record: &str) -> Batch {
    batch(&format!(r#"{{"events":[{record}]}}"#))
}

/// A valid record with `field` replaced by `value` (removed when `value` is empty).
fn with(field: &str, value: &str) -> String {
    let mut members = vec![
        ("CustomerEntityId", r#""ent_1""#.to_owned()),
        ("metric", r#""api_calls""#.to_owned()),
        ("value", "2.5".to_owned()),
        ("timestamp", r#""2023-11-07T05:31:56Z""#.to_owned()),
        ("eventId", r#""e1""#.to_owned()),
    ];
    members.retain(|(k, _)| *k != field);
    if !value.is_empty() {
        members.push((field, value.to_owned()));
    }
    let inner: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// The single rejection of a one-record body: (field, message).
fn rejection(record: &str) -> (&'static str, String) {
    let batch = one(record);
    assert!(batch.events.is_empty(), "{record} should be rejected");
    assert_eq!(batch.rejected.len(), 1);
    assert_eq!(batch.rejected[0].reason, RejectReason::Invalid);
    (batch.rejected[0].field, batch.rejected[0].message.clone())
}

fn rejected(field: &'static str, message: &str) -> (&'static str, String) {
    (field, message.to_owned())
}

#[test]
fn the_seed_example_is_valid() {
    let batch = batch(SEED);
    assert_eq!((batch.total, batch.rejected.len()), (1, 0));
    let row = &batch.events[0];
    assert_eq!(row.name(), "api_calls");
    assert_eq!(row.id(), "evt_1");
    assert_eq!(row.customer(), "ent_6CsgzAdRgTlzT_9O");
    assert_eq!(row.value, Some(123.0));
    assert_eq!(row.timestamp_us, 1_699_335_116_000_000);
    assert_eq!(
        row.payload_json(),
        r#"{"metadata":{},"JobId":"job_xI_wWRvcLpZzhiJF"}"#
    );
    assert_eq!(
        row.key,
        idempotency::idempotency_key(TENANT, "api_calls", "evt_1")
    );
    assert_eq!(batch.spans.len(), 1);
}

#[test]
fn request_level_errors() {
    let big = " ".repeat(262_145);
    assert!(matches!(
        parse(&big),
        Err(CoreError::PayloadTooLarge { .. })
    ));
    assert!(matches!(
        parse("{\"events\":[1,]}"),
        Err(CoreError::InvalidJson(_))
    ));
    for not_a_batch in [
        "{}",
        "[]",
        "{\"events\":null}",
        "{\"events\":{}}",
        "{\"events\":\"x\"}",
        "{\"events\":[]}",
    ] {
        match parse(not_a_batch) {
            Err(CoreError::InvalidBatch { param, message }) => {
                assert_eq!(
                    (param, message.as_str()),
                    ("events", "events array is required")
                );
            }
            other => panic!("{not_a_batch}: {other:?}"),
        }
    }
    let limits = Limits {
        max_events: 2,
        ..Limits::default()
    };
    let three = format!(r#"{{"events":[{0},{0},{0}]}}"#, with("", ""));
    match parse_enso_batch(three.as_bytes(), TENANT, NOW, &limits) {
        Err(CoreError::InvalidBatch { param, message }) => {
            assert_eq!(param, "events");
            assert_eq!(message, "events must be an array of 1 to 2 events (got 3)");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn records_must_be_objects() {
    for not_object in ["1", "\"e\"", "[]", "null"] {
        assert_eq!(rejection(not_object), rejected("", NOT_AN_OBJECT));
    }
}

#[test]
fn required_strings() {
    for field in ["CustomerEntityId", "metric"] {
        let required = rejected(field, &format!("{field} is required."));
        for bad in ["", "null", "\"\"", "\" \"", "5", "{}"] {
            assert_eq!(rejection(&with(field, bad)), required, "{field}={bad}");
        }
        let long = format!("\"{}\"", "x".repeat(513));
        assert_eq!(
            rejection(&with(field, &long)),
            rejected(field, &format!("{field} must be at most 512 bytes."))
        );
    }
}

#[test]
fn value_must_be_a_finite_json_number() {
    // An integer too large for an f64 is valid JSON but not a finite value.
    let huge = format!("1{}", "0".repeat(400));
    for bad in [
        "",
        "null",
        "\"5\"",
        "true",
        "[1]",
        huge.as_str(),
        &format!("-{huge}"),
    ] {
        assert_eq!(
            rejection(&with("value", bad)),
            rejected("value", "value must be a finite number."),
            "{bad}"
        );
    }
    // An overflowing float is refused by the JSON parser itself, for the whole request.
    assert!(matches!(
        parse(&format!(r#"{{"events":[{}]}}"#, with("value", "1e400"))),
        Err(CoreError::InvalidJson(_))
    ));
    // A nonzero value that a double rounds to 0 would be stored as 0: refused too.
    for bad in ["1e-400", "-2.5e-330"] {
        assert_eq!(
            rejection(&with("value", bad)),
            rejected("value", "value must be a finite number."),
            "{bad}"
        );
    }
    for (good, value) in [("0", 0.0), ("-0", 0.0), ("0e-400", 0.0), ("1.5E3", 1500.0)] {
        assert_eq!(one(&with("value", good)).events[0].value, Some(value));
    }
}

#[test]
fn timestamp_is_optional_and_checked() {
    assert_eq!(one(&with("timestamp", "")).events[0].timestamp_us, NOW);
    assert_eq!(one(&with("timestamp", "null")).events[0].timestamp_us, NOW);
    for bad in ["\"N NaN:NaN:NaN.NaN\"", "1699335116", "\"2023-11-07\""] {
        assert_eq!(
            rejection(&with("timestamp", bad)),
            rejected("timestamp", BAD_TIMESTAMP)
        );
    }
    assert_eq!(
        rejection(&with("timestamp", "\"2026-11-23T13:38:28Z\"")),
        rejected(
            "timestamp",
            "timestamp must not be more than 1 hour in the future."
        )
    );
    // The forms Vayu accepts are accepted here too.
    let naive = one(&with("timestamp", "\"2024-01-02T03:04:05\""));
    assert_eq!(naive.events[0].timestamp_us, 1_704_164_645_000_000);
}

#[test]
fn metadata_must_be_an_object() {
    for bad in ["[]", "1", "\"x\""] {
        assert_eq!(
            rejection(&with("metadata", bad)),
            rejected("metadata", "metadata must be an object.")
        );
    }
    let kept = one(&with("metadata", r#"{"region": "eu", "n": [1, 2.50]}"#));
    assert_eq!(
        kept.events[0].payload_json(),
        r#"{"metadata":{"region":"eu","n":[1,2.50]}}"#
    );
    assert_eq!(
        one(&with("metadata", "null")).events[0].payload_json(),
        r#"{"metadata":{}}"#
    );
}

#[test]
fn event_id_when_sent() {
    for bad in ["\"\"", "\"  \"", "5", "{}"] {
        assert_eq!(
            rejection(&with("eventId", bad)),
            rejected("eventId", "eventId must be a non-empty string.")
        );
    }
    let long = format!("\"{}\"", "x".repeat(513));
    assert_eq!(
        rejection(&with("eventId", &long)),
        rejected("eventId", "eventId must be at most 512 bytes.")
    );
}

#[test]
fn a_missing_event_id_is_derived_from_the_measurement() {
    let id_of = |record: &str| one(record).events[0].id().to_owned();
    let base = id_of(&with("eventId", ""));
    assert!(base.starts_with("enso-"), "{base}");
    assert_eq!(base.len(), 5 + 32);
    assert!(
        base[5..]
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    assert_eq!(id_of(&with("eventId", "null")), base);
    // The same measurement, spelled differently, is the same id.
    let respelled = with("eventId", "").replace("2.5", "25e-1");
    assert_eq!(id_of(&respelled), base);
    let with_metadata = with("eventId", "").replace('}', r#","metadata":{"x":1}}"#);
    assert_eq!(id_of(&with_metadata), base);
    // Any of the four fields changes it.
    for changed in [
        with("eventId", "").replace("ent_1", "ent_2"),
        with("eventId", "").replace("api_calls", "api_call"),
        with("eventId", "").replace("2.5", "2.6"),
        with("eventId", "").replace("05:31:56", "05:31:57"),
    ] {
        assert_ne!(id_of(&changed), base, "{changed}");
    }
    // Without a timestamp the time received is not part of it (the client did not send it):
    // a later blind retry is the same event, and both rows hash the same content.
    let untimed = with("eventId", "").replace(r#","timestamp":"2023-11-07T05:31:56Z""#, "");
    let body = format!(r#"{{"events":[{untimed}]}}"#);
    let at = |now| {
        parse_enso_batch(body.as_bytes(), TENANT, now, &Limits::default()).map(|batch| {
            let row = &batch.events[0];
            (row.id().to_owned(), row.content_hash, row.timestamp_us)
        })
    };
    let (first, later) = (at(NOW).unwrap(), at(NOW + 1).unwrap());
    assert_eq!((&first.0, first.1), (&later.0, later.1));
    assert_eq!((first.2, later.2), (NOW, NOW + 1));
    // ...and differs from the same measurement sent with a timestamp.
    assert_ne!(first.0, base);
    let stamped_now = with("eventId", "").replace("2023-11-07T05:31:56Z", "2026-11-23T12:38:27Z");
    assert_ne!(id_of(&stamped_now), first.0);
}

#[test]
fn a_blind_retry_in_one_batch_is_a_duplicate() {
    let record = with("eventId", "");
    let changed_metadata = record.replace('}', r#","metadata":{"x":1}}"#);
    let batch = batch(&format!(
        r#"{{"events":[{record},{record},{changed_metadata}]}}"#
    ));
    let rejected: Vec<_> = batch
        .rejected
        .iter()
        .map(|r| (r.index, r.reason, r.field, r.message.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (1, RejectReason::Duplicate, "eventId", "duplicate eventId"),
            (2, RejectReason::Conflict, "eventId", "duplicate eventId"),
        ]
    );
}

#[test]
fn job_id_wins_over_its_alias() {
    let payload = |extra: &str| {
        let record = with("", "").replace('}', &format!(",{extra}}}"));
        one(&record).events[0].payload_json().to_owned()
    };
    assert_eq!(
        payload(r#""jobId":"lower","JobId":"upper""#),
        r#"{"metadata":{},"JobId":"upper"}"#
    );
    assert_eq!(
        payload(r#""jobId":"lower""#),
        r#"{"metadata":{},"JobId":"lower"}"#
    );
    assert_eq!(
        payload(r#""JobId":null,"jobId":"lower""#),
        r#"{"metadata":{},"JobId":"lower"}"#
    );
    assert_eq!(payload(r#""x":1"#), r#"{"metadata":{}}"#);
    // Only the one that wins is checked.
    assert_eq!(
        payload(r#""JobId":"upper","jobId":5"#),
        r#"{"metadata":{},"JobId":"upper"}"#
    );
    let bad = with("", "").replace('}', r#","JobId":5}"#);
    assert_eq!(
        rejection(&bad),
        rejected("JobId", "JobId must be a string.")
    );
    let bad = with("", "").replace('}', r#","jobId":[]}"#);
    assert_eq!(
        rejection(&bad),
        rejected("jobId", "jobId must be a string.")
    );
}

#[test]
fn first_failure_in_documented_order_wins() {
    let cases = [
        (
            r#"{"metric":"","value":"x","timestamp":"x","metadata":1,"eventId":"","JobId":1}"#,
            "CustomerEntityId",
        ),
        (
            r#"{"CustomerEntityId":"c","value":"x","timestamp":"x","metadata":1,"eventId":""}"#,
            "metric",
        ),
        (
            r#"{"CustomerEntityId":"c","metric":"m","value":"x","timestamp":"x","metadata":1}"#,
            "value",
        ),
        (
            r#"{"CustomerEntityId":"c","metric":"m","value":1,"timestamp":"x","metadata":1}"#,
            "timestamp",
        ),
        (
            r#"{"CustomerEntityId":"c","metric":"m","value":1,"metadata":1,"eventId":""}"#,
            "metadata",
        ),
        (
            r#"{"CustomerEntityId":"c","metric":"m","value":1,"eventId":"","JobId":1}"#,
            "eventId",
        ),
    ];
    for (record, field) in cases {
        assert_eq!(rejection(record).0, field, "{record}");
    }
}

#[test]
fn unknown_record_keys_are_not_stored() {
    let record = with("", "").replace('}', r#","status":"active","OrganisationId":"org"}"#);
    assert_eq!(one(&record).events[0].payload_json(), r#"{"metadata":{}}"#);
}
