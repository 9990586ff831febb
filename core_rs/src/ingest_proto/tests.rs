use std::collections::BTreeMap;

use prost_types::{ListValue, Struct, Timestamp};

use super::*;
use crate::batch::RejectReason;
use crate::idempotency;

const NOW: i64 = 1_795_437_507_000_000; // 2026-11-23T12:38:27Z
const TENANT: &str = "default";

fn event(id: &str) -> Event {
    Event {
        id: id.into(),
        name: "api_call".into(),
        customer_id: "customer_12345".into(),
        timestamp: Some(Timestamp {
            seconds: 1_694_629_543,
            nanos: 511_000_000,
        }),
        value: Some(2.5),
        data: None,
    }
}

fn encode(events: Vec<Event>, dry_run: bool) -> Vec<u8> {
    IngestRequest { events, dry_run }.encode_to_vec()
}

fn parse(body: &[u8]) -> Result<Batch, CoreError> {
    parse_ingest_request(body, TENANT, NOW, &Limits::default())
}

fn batch(events: Vec<Event>) -> Batch {
    match parse(&encode(events, false)) {
        Ok(batch) => batch,
        Err(err) => panic!("{err}"),
    }
}

fn rejection(event: Event) -> String {
    rejected_field(event).1
}

/// The single rejection of a one-event request: (field, message).
fn rejected_field(event: Event) -> (&'static str, String) {
    let batch = batch(vec![event]);
    assert!(batch.events.is_empty());
    assert_eq!(batch.rejected[0].reason, RejectReason::Invalid);
    (batch.rejected[0].field, batch.rejected[0].message.clone())
}

fn number(x: f64) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::NumberValue(x)),
    }
}

fn data(fields: Vec<(&str, prost_types::Value)>) -> Struct {
    Struct {
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn decodes_a_valid_request() {
    let body = encode(vec![event("e1")], true);
    let batch = match parse(&body) {
        Ok(batch) => batch,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(batch.total, 1);
    assert!(batch.dry_run);
    assert!(batch.spans.is_empty());
    let row = &batch.events[0];
    assert_eq!((row.index, row.id(), row.name()), (0, "e1", "api_call"));
    assert_eq!(row.customer(), "customer_12345");
    assert_eq!(row.timestamp_us, 1_694_629_543_511_000);
    assert_eq!(row.value, Some(2.5));
    assert_eq!(row.payload_json(), "{}");
    assert_eq!(
        row.key,
        idempotency::idempotency_key(TENANT, "api_call", "e1")
    );
}

#[test]
fn the_same_event_has_the_same_key_and_hash_as_over_vayu() {
    let mut grpc = event("r1");
    grpc.value = None;
    grpc.data = Some(data(vec![("b", number(1.0)), ("a", number(0.5))]));
    let grpc = batch(vec![grpc]);
    let vayu_body = br#"{"events":[{"name":"api_call","timestamp":"2023-09-13T18:25:43.511Z",
        "customerAlias":"customer_12345","ref":"r1","data":{"b":1.0,"a":0.5}}]}"#;
    let vayu = crate::vayu::parse_vayu_batch(vayu_body, TENANT, NOW, &Limits::default());
    let vayu = vayu.map(|b| (b.events[0].key, b.events[0].content_hash));
    assert_eq!(vayu, Ok((grpc.events[0].key, grpc.events[0].content_hash)));
}

#[test]
fn request_level_errors() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let body = encode(vec![event("e1")], false);
    assert!(matches!(
        parse_ingest_request(&body, TENANT, NOW, &limits),
        Err(CoreError::PayloadTooLarge { .. })
    ));
    match parse(b"\xff\xff\xff") {
        Err(CoreError::InvalidBatch {
            param: "events",
            message,
        }) => {
            assert!(
                message.starts_with("malformed IngestRequest: "),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    match parse(b"") {
        Err(CoreError::InvalidBatch { message, .. }) => {
            assert_eq!(
                message,
                "events must be an array of 1 to 1000 events (got 0)"
            );
        }
        other => panic!("{other:?}"),
    }
    let too_many: Vec<Event> = (0..1001).map(|i| event(&i.to_string())).collect();
    assert!(matches!(
        parse(&encode(too_many, false)),
        Err(CoreError::InvalidBatch { .. })
    ));
}

#[test]
fn invalid_utf8_in_a_string_field_is_malformed() {
    // Field 1 (events), length 3: field 1 (id), length 1, byte 0xff.
    assert!(matches!(
        parse(b"\x0a\x03\x0a\x01\xff"),
        Err(CoreError::InvalidBatch { .. })
    ));
}

#[test]
fn required_fields_name_the_proto_field() {
    let mut e = event("e");
    e.id = String::new();
    assert_eq!(
        rejection(e),
        "id is required and must be a non-empty string."
    );
    let mut e = event("e");
    e.name = "   ".into();
    assert_eq!(
        rejection(e),
        "name is required and must be a non-empty string."
    );
    let mut e = event("e");
    e.customer_id = String::new();
    assert_eq!(
        rejected_field(e),
        (
            "customer_id",
            "customer_id is required and must be a non-empty string.".to_owned()
        )
    );
    let mut e = event("e");
    e.customer_id = "c".repeat(513);
    assert_eq!(rejection(e), "customer_id must be at most 512 bytes.");
    let mut e = event("");
    e.name = String::new();
    assert_eq!(
        rejection(e),
        "id is required and must be a non-empty string."
    );
}

#[test]
fn timestamps() {
    let mut e = event("e");
    e.timestamp = None;
    assert_eq!(batch(vec![e]).events[0].timestamp_us, NOW);
    for (seconds, nanos) in [
        (0, -1),
        (0, 1_000_000_000),
        (253_402_300_800, 0),
        (-62_135_596_801, 0),
    ] {
        let mut e = event("e");
        e.timestamp = Some(Timestamp { seconds, nanos });
        assert_eq!(
            rejected_field(e),
            ("timestamp", "timestamp is invalid.".to_owned())
        );
    }
    let mut e = event("e");
    e.timestamp = Some(Timestamp {
        seconds: -1,
        nanos: 999_999_999,
    });
    assert_eq!(batch(vec![e]).events[0].timestamp_us, -1);
    let mut e = event("e");
    e.timestamp = Some(Timestamp {
        seconds: NOW / 1_000_000 + 3601,
        nanos: 0,
    });
    assert_eq!(
        rejection(e),
        "timestamp must not be more than 1 hour in the future."
    );
}

#[test]
fn value_must_be_finite() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut e = event("e");
        e.value = Some(bad);
        assert_eq!(
            rejected_field(e),
            ("value", "value must be a finite number.".to_owned())
        );
    }
    let mut e = event("e");
    e.value = None;
    assert_eq!(batch(vec![e]).events[0].value, None);
}

#[test]
fn data_becomes_a_compact_object() {
    let nested = Struct {
        fields: [(
            "k".to_owned(),
            prost_types::Value {
                kind: Some(Kind::BoolValue(true)),
            },
        )]
        .into(),
    };
    let list = ListValue {
        values: vec![
            number(1.0),
            number(-0.25),
            number(1e300),
            prost_types::Value {
                kind: Some(Kind::NullValue(0)),
            },
            prost_types::Value { kind: None },
        ],
    };
    let mut e = event("e");
    e.data = Some(data(vec![
        (
            "z",
            prost_types::Value {
                kind: Some(Kind::StringValue("q\"\n".into())),
            },
        ),
        (
            "a",
            prost_types::Value {
                kind: Some(Kind::ListValue(list)),
            },
        ),
        (
            "m",
            prost_types::Value {
                kind: Some(Kind::StructValue(nested)),
            },
        ),
        ("n", number(9_007_199_254_740_993.0)),
    ]));
    assert_eq!(
        batch(vec![e]).events[0].payload_json(),
        r#"{"a":[1,-0.25,1e300,null,null],"m":{"k":true},"n":9007199254740992.0,"z":"q\"\n"}"#
    );
    let mut e = event("e");
    e.data = Some(Struct::default());
    assert_eq!(batch(vec![e]).events[0].payload_json(), "{}");
}

#[test]
fn data_rejects_non_finite_numbers_and_deep_nesting() {
    let mut e = event("e");
    e.data = Some(data(vec![("x", number(f64::NAN))]));
    assert_eq!(
        rejected_field(e),
        ("data", "data must not contain NaN or Infinity.".to_owned())
    );

    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let nest = |levels: usize| {
        let mut deep = data(vec![("leaf", number(1.0))]);
        for _ in 1..levels {
            deep = data(vec![(
                "d",
                prost_types::Value {
                    kind: Some(Kind::StructValue(deep)),
                },
            )]);
        }
        let mut e = event("e");
        e.data = Some(deep);
        let body = encode(vec![e], false);
        parse_ingest_request(&body, TENANT, NOW, &limits).map(|b| b.rejected)
    };
    assert_eq!(nest(3).map(|r| r.len()), Ok(0));
    let rejected = nest(4).map(|r| r.into_iter().map(|r| r.message).collect::<Vec<_>>());
    assert_eq!(
        rejected,
        Ok(vec![
            "data must not be nested deeper than 3 levels.".to_owned()
        ])
    );

    // Lists count as a level too.
    let list = prost_types::Value {
        kind: Some(Kind::ListValue(ListValue {
            values: vec![number(1.0)],
        })),
    };
    let mut e = event("e");
    e.data = Some(data(vec![("l", list)]));
    let shallow = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let rejected = parse_ingest_request(&encode(vec![e], false), TENANT, NOW, &shallow)
        .map(|b| b.rejected.len());
    assert_eq!(rejected, Ok(1));

    // Lists inside lists each count as a level: with 3, {"l": [[1]]} fits, {"l": [[[1]]]} not.
    let lists = |levels: usize| {
        let mut value = number(1.0);
        for _ in 0..levels {
            value = prost_types::Value {
                kind: Some(Kind::ListValue(ListValue {
                    values: vec![value],
                })),
            };
        }
        let mut e = event("e");
        e.data = Some(data(vec![("l", value)]));
        parse_ingest_request(&encode(vec![e], false), TENANT, NOW, &limits)
            .map(|b| b.rejected.len())
    };
    assert_eq!(lists(2), Ok(0));
    assert_eq!(lists(3), Ok(1));

    // Far deeper than prost's recursion limit: a malformed request, not a stack overflow.
    assert!(matches!(nest(500), Err(CoreError::InvalidBatch { .. })));
}

#[test]
fn repeats_in_a_batch() {
    let mut conflicting = event("e1");
    conflicting.value = Some(3.0);
    let mut other_name = event("e1");
    other_name.name = "other".into();
    let batch = batch(vec![event("e1"), event("e1"), conflicting, other_name]);
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
                "id",
                "id already appears earlier in this batch."
            ),
            (
                2,
                RejectReason::Conflict,
                "id",
                "id already appears earlier in this batch."
            ),
        ]
    );
    assert_eq!(
        batch.events.iter().map(|row| row.index).collect::<Vec<_>>(),
        [0, 3]
    );
}

#[test]
fn a_stream_message_is_a_request_plus_its_sequence() {
    let events = vec![event("a"), event("a"), Event::default()];
    let message = IngestStreamRequest {
        events: events.clone(),
        dry_run: true,
        sequence: 42,
    }
    .encode_to_vec();
    let (sequence, batch) =
        parse_ingest_stream_request(&message, TENANT, NOW, &Limits::default()).unwrap();
    assert_eq!(sequence, 42);
    assert_eq!(batch, parse(&encode(events, true)).unwrap());
    // The unary parser reads the same bytes and ignores the sequence (an unknown field to it).
    assert_eq!(parse(&message).unwrap(), batch);
}

#[test]
fn a_stream_message_has_the_request_level_checks() {
    let empty = IngestStreamRequest {
        events: vec![],
        dry_run: false,
        sequence: 7,
    }
    .encode_to_vec();
    let limits = Limits::default();
    let err = parse_ingest_stream_request(&empty, TENANT, NOW, &limits).unwrap_err();
    assert!(matches!(
        err,
        CoreError::InvalidBatch {
            param: "events",
            ..
        }
    ));
    let err = parse_ingest_stream_request(&[0xff], TENANT, NOW, &limits).unwrap_err();
    assert!(
        err.to_string().contains("malformed IngestStreamRequest"),
        "{err}"
    );
}
