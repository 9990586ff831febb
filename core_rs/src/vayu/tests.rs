use super::*;
use crate::batch::{BAD_TIMESTAMP, RejectReason};
use crate::idempotency;

const NOW: i64 = 1_795_437_507_000_000; // 2026-11-23T12:38:27Z
const TENANT: &str = "default";

fn event(name: &str, reference: &str) -> String {
    format!(
        r#"{{"name":"{name}","timestamp":"2023-09-13T18:25:43.511Z","customerAlias":"c1","ref":"{reference}"}}"#
    )
}

fn body(events: &[String]) -> Vec<u8> {
    format!(r#"{{"events":[{}]}}"#, events.join(",")).into_bytes()
}

fn parse(body: &[u8]) -> Result<Batch, CoreError> {
    parse_vayu_batch(body, TENANT, NOW, &Limits::default())
}

fn batch(body: &[u8]) -> Batch {
    match parse(body) {
        Ok(batch) => batch,
        Err(err) => panic!("{}: {err}", String::from_utf8_lossy(body)),
    }
}

/// The single rejection of a one-event body: (field, message).
fn rejected_field(event_json: &str) -> (&'static str, String) {
    let batch = batch(format!(r#"{{"events":[{event_json}]}}"#).as_bytes());
    assert!(batch.events.is_empty(), "{event_json} should be rejected");
    assert_eq!(batch.rejected.len(), 1);
    assert_eq!(batch.rejected[0].reason, RejectReason::Invalid);
    (batch.rejected[0].field, batch.rejected[0].message.clone())
}

/// The single rejection message for a one-event body.
fn rejection(event_json: &str) -> String {
    rejected_field(event_json).1
}

fn with(field: &str, value: &str) -> String {
    let mut members = vec![
        ("name", r#""api_call""#.to_owned()),
        ("timestamp", r#""2023-09-13T18:25:43.511Z""#.to_owned()),
        ("customerAlias", r#""customer_12345""#.to_owned()),
        ("ref", r#""r1""#.to_owned()),
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

#[test]
fn the_seed_example_is_valid() {
    let body = br#"
{
"events": [
{
"name": "api_call",
"timestamp": "2023-09-13T18:25:43.511Z",
"customerAlias": "customer_12345",
"ref": "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
"data": {
"key1": "processing_duration",
"key2": "api_url"
}
}
]
}
"#;
    let batch = batch(body);
    assert_eq!(batch.total, 1);
    assert!(batch.rejected.is_empty());
    assert!(!batch.dry_run);
    let row = &batch.events[0];
    assert_eq!(row.index, 0);
    assert_eq!(row.name(), "api_call");
    assert_eq!(row.id(), "4f6cf35x-2c4y-483z-a0a9-158621f77a21");
    assert_eq!(row.customer(), "customer_12345");
    assert_eq!(row.timestamp_us, 1_694_629_543_511_000);
    assert_eq!(row.value, None);
    assert_eq!(
        row.payload_json(),
        r#"{"key1":"processing_duration","key2":"api_url"}"#
    );
    assert_eq!(
        row.key,
        idempotency::idempotency_key(TENANT, "api_call", row.id())
    );
    assert_eq!(
        row.content_hash,
        idempotency::content_hash(
            "api_call",
            "customer_12345",
            Some(row.timestamp_us),
            None,
            row.payload_json()
        )
    );
    let (start, end) = batch.spans[0];
    assert!(body[start..end].starts_with(b"{\n\"name\""));
    assert!(body[start..end].ends_with(b"}\n}"));
}

#[test]
fn request_level_errors_in_order() {
    let big = vec![b' '; 262_145];
    assert!(matches!(
        parse(&big),
        Err(CoreError::PayloadTooLarge {
            size: 262_145,
            limit: 262_144
        })
    ));
    assert!(matches!(
        parse(b"{\"events\":[}"),
        Err(CoreError::InvalidJson(_))
    ));
    assert!(matches!(
        parse(b"{\"events\":[NaN]}"),
        Err(CoreError::InvalidJson(_))
    ));
    for not_a_batch in [
        "[]",
        "{}",
        "{\"events\":{}}",
        "{\"events\":null}",
        "\"events\"",
        "{\"Events\":[1]}",
    ] {
        match parse(not_a_batch.as_bytes()) {
            Err(CoreError::InvalidBatch { param, message }) => {
                assert_eq!(param, "events");
                assert_eq!(message, "events must be an array of 1 to 1000 events");
            }
            other => panic!("{not_a_batch}: {other:?}"),
        }
    }
    match parse(b"{\"events\":[]}") {
        Err(CoreError::InvalidBatch {
            param: "events",
            message,
        }) => {
            assert_eq!(
                message,
                "events must be an array of 1 to 1000 events (got 0)"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn event_count_limit_is_configurable() {
    let limits = Limits {
        max_events: 2,
        ..Limits::default()
    };
    let three = body(&[event("a", "1"), event("a", "2"), event("a", "3")]);
    match parse_vayu_batch(&three, TENANT, NOW, &limits) {
        Err(CoreError::InvalidBatch { message, .. }) => {
            assert_eq!(message, "events must be an array of 1 to 2 events (got 3)");
        }
        other => panic!("{other:?}"),
    }
    let two = body(&[event("a", "1"), event("a", "2")]);
    assert!(parse_vayu_batch(&two, TENANT, NOW, &limits).is_ok());
    let thousand_and_one: Vec<String> = (0..1001).map(|i| event("a", &i.to_string())).collect();
    assert!(matches!(
        parse(&body(&thousand_and_one)),
        Err(CoreError::InvalidBatch { .. })
    ));
    assert_eq!(batch(&body(&thousand_and_one[..1000])).events.len(), 1000);
}

#[test]
fn depth_and_size_limits_are_configurable() {
    let body = body(&[event("a", "1")]);
    let tight = Limits {
        max_body_bytes: body.len() - 1,
        ..Limits::default()
    };
    assert!(matches!(
        parse_vayu_batch(&body, TENANT, NOW, &tight),
        Err(CoreError::PayloadTooLarge { .. })
    ));
    let exact = Limits {
        max_body_bytes: body.len(),
        ..Limits::default()
    };
    assert!(parse_vayu_batch(&body, TENANT, NOW, &exact).is_ok());
    let shallow = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(matches!(
        parse_vayu_batch(&body, TENANT, NOW, &shallow),
        Err(CoreError::InvalidJson(_))
    ));
}

#[test]
fn unknown_top_level_and_event_keys_are_ignored() {
    let body = format!(r#"{{"x":1,"events":[{}],"y":[]}}"#, with("extra", "[1]"));
    assert_eq!(batch(body.as_bytes()).events.len(), 1);
}

#[test]
fn event_must_be_an_object() {
    for not_object in ["1", "\"e\"", "[]", "null", "true"] {
        assert_eq!(
            rejected_field(not_object),
            ("", "Event must be a JSON object.".to_owned())
        );
    }
}

#[test]
fn required_text_fields() {
    for field in ["name", "customerAlias", "ref"] {
        let required = format!("{field} is required and must be a non-empty string.");
        for bad in [
            "",
            "null",
            "\"\"",
            "\"  \\t\"",
            "5",
            "{}",
            "[\"a\"]",
            "true",
        ] {
            assert_eq!(
                rejected_field(&with(field, bad)),
                (field, required.clone()),
                "{field}={bad}"
            );
        }
        let long = format!("\"{}\"", "x".repeat(513));
        assert_eq!(
            rejection(&with(field, &long)),
            format!("{field} must be at most 512 bytes.")
        );
        let multibyte = format!("\"{}\"", "é".repeat(257)); // 514 bytes, 257 chars
        assert_eq!(
            rejection(&with(field, &multibyte)),
            format!("{field} must be at most 512 bytes.")
        );
        let at_limit = format!(
            r#"{{"events":[{}]}}"#,
            with(field, &format!("\"{}\"", "x".repeat(512)))
        );
        assert_eq!(batch(at_limit.as_bytes()).events.len(), 1);
    }
}

#[test]
fn timestamp_rules() {
    assert_eq!(rejection(&with("timestamp", "")), "timestamp is required.");
    assert_eq!(
        rejection(&with("timestamp", "null")),
        "timestamp is required."
    );
    for bad in [
        "\"2023-09-13\"",
        "\"yesterday\"",
        "1694629543",
        "\"\"",
        "{}",
    ] {
        assert_eq!(rejection(&with("timestamp", bad)), BAD_TIMESTAMP, "{bad}");
    }
    assert_eq!(
        rejection(&with("timestamp", "\"2026-11-23T13:38:27.000001Z\"")),
        "timestamp must not be more than 1 hour in the future."
    );
    let edge = format!(
        r#"{{"events":[{}]}}"#,
        with("timestamp", "\"2026-11-23T13:38:27Z\"")
    );
    assert_eq!(batch(edge.as_bytes()).events.len(), 1);
    let old = format!(
        r#"{{"events":[{}]}}"#,
        with("timestamp", "\"0001-01-01T00:00:00Z\"")
    );
    assert_eq!(batch(old.as_bytes()).events.len(), 1);
}

#[test]
fn future_window_is_configurable() {
    let limits = Limits {
        max_future_us: 5 * 60_000_000,
        ..Limits::default()
    };
    let body = format!(
        r#"{{"events":[{}]}}"#,
        with("timestamp", "\"2026-11-23T12:48:27Z\"")
    );
    let batch = parse_vayu_batch(body.as_bytes(), TENANT, NOW, &limits).map_err(|e| e.to_string());
    let messages: Vec<String> = batch
        .map(|b| b.rejected.into_iter().map(|r| r.message).collect())
        .unwrap_or_default();
    assert_eq!(
        messages,
        ["timestamp must not be more than 5 minutes in the future."]
    );
}

#[test]
fn data_rules() {
    for bad in ["[]", "1", "\"x\"", "true"] {
        assert_eq!(
            rejected_field(&with("data", bad)),
            ("data", "data must be an object.".to_owned())
        );
    }
    let cases = [
        ("", "{}"),
        ("null", "{}"),
        ("{}", "{}"),
        (
            r#"{ "b" : [1, 2.50], "a" : {"n": null}, "big": 12345678901234567890123}"#,
            r#"{"b":[1,2.50],"a":{"n":null},"big":12345678901234567890123}"#,
        ),
    ];
    for (data, payload) in cases {
        let body = format!(r#"{{"events":[{}]}}"#, with("data", data));
        assert_eq!(batch(body.as_bytes()).events[0].payload_json(), payload);
    }
}

#[test]
fn first_failure_in_field_order_wins() {
    let all_bad = r#"{"name":"","timestamp":"x","customerAlias":"","ref":"","data":1}"#;
    assert_eq!(
        rejection(all_bad),
        "name is required and must be a non-empty string."
    );
    let from_timestamp = r#"{"name":"n","timestamp":"x","customerAlias":"","ref":"","data":1}"#;
    assert_eq!(
        rejected_field(from_timestamp),
        ("timestamp", BAD_TIMESTAMP.to_owned())
    );
    let from_customer = r#"{"name":"n","timestamp":"2023-09-13T18:25:43Z","ref":"","data":1}"#;
    assert_eq!(
        rejection(from_customer),
        "customerAlias is required and must be a non-empty string."
    );
    let from_ref =
        r#"{"name":"n","timestamp":"2023-09-13T18:25:43Z","customerAlias":"c","data":1}"#;
    assert_eq!(
        rejection(from_ref),
        "ref is required and must be a non-empty string."
    );
}

#[test]
fn repeats_in_a_batch_are_duplicates_or_conflicts() {
    let same = event("api_call", "r1");
    let changed = event("api_call", "r1").replace("\"c1\"", "\"c2\"");
    let other_name = event("other", "r1");
    let invalid_first = event("api_call", "r2").replace("\"c1\"", "\"\"");
    let events = [
        same.clone(),
        same.clone(),
        changed,
        other_name,
        invalid_first,
        event("api_call", "r2"),
    ];
    let batch = batch(&body(&events));
    let indexes: Vec<usize> = batch.events.iter().map(|row| row.index).collect();
    assert_eq!(indexes, [0, 3, 5]);
    let rejected: Vec<(usize, RejectReason, &str, &str)> = batch
        .rejected
        .iter()
        .map(|r| (r.index, r.reason, r.field, r.message.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (
                1,
                RejectReason::Duplicate,
                "ref",
                "Event ref already exists."
            ),
            (
                2,
                RejectReason::Conflict,
                "ref",
                "Event ref already exists."
            ),
            (
                4,
                RejectReason::Invalid,
                "customerAlias",
                "customerAlias is required and must be a non-empty string."
            ),
        ]
    );
    assert_eq!(batch.total, 6);
    assert_eq!(batch.spans.len(), 6);
}

#[test]
fn payload_key_order_and_number_spelling_are_not_conflicts() {
    let a = with("data", r#"{"x":1.0,"y":2}"#);
    let b = with("data", r#"{"y":2,"x":1}"#);
    let batch = batch(&body(&[a, b]));
    assert_eq!(batch.rejected[0].reason, RejectReason::Duplicate);
    assert_eq!(batch.events[0].payload_json(), r#"{"x":1.0,"y":2}"#);
}

#[test]
fn keys_are_scoped_to_the_tenant() {
    let body = body(&[event("a", "1")]);
    let one = parse_vayu_batch(&body, "t1", NOW, &Limits::default()).map(|b| b.events[0].key);
    let two = parse_vayu_batch(&body, "t2", NOW, &Limits::default()).map(|b| b.events[0].key);
    assert_ne!(one, two);
}

#[test]
fn spans_echo_every_element() {
    let body = br#"{"events": [ 1 , {"name":"n"} ,[]]}"#;
    let batch = batch(body);
    let texts: Vec<&[u8]> = batch.spans.iter().map(|&(s, e)| &body[s..e]).collect();
    assert_eq!(texts, [b"1".as_slice(), br#"{"name":"n"}"#, b"[]"]);
    assert_eq!(batch.rejected.len(), 3);
}
