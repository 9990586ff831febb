use super::*;
use crate::limits::MAX_FIELD_BYTES;

const NOW: i64 = 1_795_437_507_000_000; // 2026-11-23T12:38:27Z

fn object(text: &str) -> Value<'_> {
    match json::parse(text.as_bytes(), 64) {
        Ok(value) => value,
        Err(err) => panic!("{text}: {err}"),
    }
}

fn error(field: &'static str, message: &str) -> FieldError {
    FieldError::new(field, message)
}

#[test]
fn identifiers_are_non_blank_and_bounded() {
    let missing = "is required.";
    assert_eq!(identifier("f", Some("x"), missing), Ok("x"));
    for blank in [None, Some(""), Some(" \t\n")] {
        assert_eq!(
            identifier("f", blank, missing),
            Err(error("f", "f is required."))
        );
    }
    let at_limit = "x".repeat(MAX_FIELD_BYTES);
    assert_eq!(
        identifier("f", Some(&at_limit), missing),
        Ok(at_limit.as_str())
    );
    let over = "é".repeat(MAX_FIELD_BYTES / 2 + 1);
    assert_eq!(
        identifier("f", Some(&over), missing),
        Err(error("f", "f must be at most 512 bytes."))
    );
    assert_eq!(
        required_text("ref", Some("")),
        Err(error(
            "ref",
            "ref is required and must be a non-empty string."
        ))
    );
}

#[test]
fn optional_members_treat_null_as_absent() {
    let event = object(r#"{"id":null,"obj":null,"text":"t","num":1,"o":{"a":1}}"#);
    assert_eq!(optional_text(&event, "id"), Ok(None));
    assert_eq!(optional_text(&event, "absent"), Ok(None));
    assert_eq!(optional_text(&event, "text"), Ok(Some("t")));
    assert_eq!(
        optional_text(&event, "num"),
        Err(error("num", "num must be a non-empty string."))
    );
    assert_eq!(optional_object(&event, "obj"), Ok(None));
    assert!(matches!(
        optional_object(&event, "o"),
        Ok(Some(Value::Object(_)))
    ));
    assert_eq!(
        optional_object(&event, "text"),
        Err(error("text", "text must be an object."))
    );
}

#[test]
fn timestamp_member_defaults_and_future_window() {
    let limits = Limits::default();
    let absent = object("{}");
    assert_eq!(timestamp_member(&absent, Some(7), NOW, &limits), Ok(7));
    assert_eq!(
        timestamp_member(&absent, None, NOW, &limits),
        Err(error("timestamp", "timestamp is required."))
    );
    let null = object(r#"{"timestamp":null}"#);
    assert_eq!(timestamp_member(&null, Some(7), NOW, &limits), Ok(7));
    let number = object(r#"{"timestamp":1694629543}"#);
    assert_eq!(
        timestamp_member(&number, Some(7), NOW, &limits),
        Err(error("timestamp", BAD_TIMESTAMP))
    );
    let future = object(r#"{"timestamp":"2026-11-23T13:38:28Z"}"#);
    assert_eq!(
        timestamp_member(&future, Some(7), NOW, &limits),
        Err(error(
            "timestamp",
            "timestamp must not be more than 1 hour in the future."
        ))
    );
    let edge = object(r#"{"timestamp":"2026-11-23T13:38:27Z"}"#);
    assert_eq!(
        timestamp_member(&edge, None, NOW, &limits),
        Ok(NOW + 3_600_000_000)
    );
}

#[test]
fn type_name_pattern() {
    for good in ["a", "Z9", "page_view", "a.b:c-d"] {
        assert!(is_type_name(good, 128, b"_.:-"), "{good}");
    }
    for bad in ["", "9a", "_a", "a b", "a/b", "é", "a\0"] {
        assert!(!is_type_name(bad, 128, b"_.:-"), "{bad:?}");
    }
    assert!(!is_type_name("a.b", 64, b"_"));
    assert!(is_type_name(&"a".repeat(64), 64, b"_"));
    assert!(!is_type_name(&"a".repeat(65), 64, b"_"));
}

#[test]
fn event_list_errors_name_the_member() {
    let limits = Limits::default();
    assert_eq!(check_event_count("messageBody", 1000, &limits), Ok(()));
    match check_event_count("messageBody", 0, &limits) {
        Err(CoreError::InvalidBatch { param, message }) => {
            assert_eq!(param, "messageBody");
            assert_eq!(
                message,
                "messageBody must be an array of 1 to 1000 events (got 0)"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn row_content_hash_is_canonical_and_matches_the_builder() {
    let hash = |payload: &str| row_content_hash("n", "c", Some(1), Some(2.0), payload);
    let expected = idempotency::content_hash("n", "c", Some(1), Some(2.0), r#"{"a":1,"b":[1]}"#);
    assert_eq!(hash(r#"{"b":[1.0],"a":1}"#), Ok(expected));
    assert_eq!(hash(r#" { "a" : 1e0 , "b" : [ 1 ] } "#), Ok(expected));
    assert!(matches!(hash("{"), Err(CoreError::InvalidJson(_))));
    assert!(matches!(hash("[]"), Err(CoreError::InvalidArgument(_))));

    let mut builder = BatchBuilder::new(
        "t",
        1,
        Repeat {
            field: "id",
            message: "again",
        },
    );
    let payload = object(r#"{"b":[1.0],"a":1}"#);
    builder.push(
        0,
        Ok(ValidEvent {
            name: "n",
            id: Cow::Borrowed("i"),
            customer: "c",
            timestamp_us: 1,
            stamped: false,
            value: Some(2.0),
            payload: Some(Cow::Borrowed(&payload)),
        }),
    );
    let batch = builder.finish();
    assert_eq!(batch.events[0].content_hash, expected);
    assert_eq!(
        row_content_hash("n", "c", Some(1), Some(2.0), batch.events[0].payload_json()),
        Ok(expected)
    );
}

#[test]
fn the_builder_records_fields_of_rejections() {
    let repeat = Repeat {
        field: "eventId",
        message: "duplicate eventId",
    };
    let mut builder = BatchBuilder::new("t", 4, repeat);
    let event = |customer| ValidEvent {
        name: "n",
        id: Cow::Borrowed("i"),
        customer,
        timestamp_us: 1,
        stamped: false,
        value: None,
        payload: None,
    };
    builder.push(0, Err(error("metric", "metric is required.")));
    builder.push(1, Ok(event("c")));
    builder.push(2, Ok(event("c")));
    builder.push(3, Ok(event("d")));
    let batch = builder.finish();
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].payload_json(), "{}");
    let rejected: Vec<_> = batch
        .rejected
        .iter()
        .map(|r| (r.index, r.reason, r.field, r.message.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            (0, RejectReason::Invalid, "metric", "metric is required."),
            (2, RejectReason::Duplicate, "eventId", "duplicate eventId"),
            (3, RejectReason::Conflict, "eventId", "duplicate eventId"),
        ]
    );
}

// ---- spare row texts ----

fn row(text: String) -> EventRow {
    EventRow {
        index: 0,
        key: 0,
        timestamp_us: 0,
        value: None,
        content_hash: 0,
        text,
        ends: [0; 3],
    }
}

fn spares() -> usize {
    SPARE_TEXTS.with(|spare| spare.borrow().len())
}

#[test]
fn a_dropped_rows_text_is_the_next_rows_text() {
    let mut text = row_text(100);
    text.push_str("api_call");
    let kept = spares();
    drop(row(text));
    assert_eq!(spares(), kept + 1);
    let again = row_text(50);
    assert_eq!(spares(), kept);
    assert!(again.is_empty() && again.capacity() >= 100);
}

#[test]
fn big_texts_are_freed_not_kept() {
    let kept = spares();
    drop(row(String::with_capacity(MAX_SPARE_CAPACITY + 1)));
    drop(row(String::new()));
    assert_eq!(spares(), kept);
}

#[test]
fn identifiers_refuse_control_characters_ascii_or_not() {
    let missing = "is required.";
    let refused = error("f", "f must not contain control characters.");
    for bad in ["a\u{0}b", "a\u{7}b", "tab\there", "a\u{85}b", "\u{9f}x"] {
        assert_eq!(
            identifier("f", Some(bad), missing),
            Err(refused.clone()),
            "{bad:?}"
        );
    }
    for good in ["plain-id_1", "café", "ключ", "日本語"] {
        assert_eq!(identifier("f", Some(good), missing), Ok(good));
    }
}

#[test]
fn reject_reasons_have_their_wire_names() {
    // The Python side and every transport compare these strings.
    assert_eq!(RejectReason::Invalid.as_str(), "INVALID");
    assert_eq!(RejectReason::Duplicate.as_str(), "DUPLICATE");
    assert_eq!(RejectReason::Conflict.as_str(), "CONFLICT");
}

#[test]
fn stored_payloads_that_a_reader_cannot_carry_are_named() {
    assert_eq!(payload_problem(r#"{"a":[1,2.5e-300],"b":"1e-400"}"#), None);
    let huge = format!(r#"{{"n":{{"m":1{}}}}}"#, "0".repeat(400));
    let problem = payload_problem(&huge).unwrap();
    assert!(problem.starts_with("n holds the number 1000"), "{problem}");
    assert!(payload_problem(r#"{"n":1e-400}"#).is_some());
    assert!(payload_problem("[1]").is_some());
    assert!(payload_problem(r#"{"n":1e400}"#).is_some());
    assert!(payload_problem("{").is_some());
}

#[test]
fn numbers_no_double_carries_are_refused_and_quoted() {
    assert_eq!(
        readable_numbers("data", "data", &object(r#"{"a":[1,2.5]}"#)),
        Ok(())
    );
    let huge = format!(r#"{{"n":1{}}}"#, "0".repeat(400));
    let Err(refused) = readable_numbers("data", "data.n", &object(&huge)) else {
        panic!("an integer beyond the double range was let through");
    };
    assert_eq!(refused.field, "data");
    // Quoted in part: the first 40 characters and an ellipsis.
    let quoted = format!("data.n holds the number 1{}...,", "0".repeat(39));
    assert!(refused.message.starts_with(&quoted), "{}", refused.message);
    // A number of exactly the quoted length is quoted whole, without an ellipsis.
    let forty = format!("1{}", "0".repeat(39));
    assert!(!unreadable_message("x", &forty).contains("..."));
    assert!(unreadable_message("x", &format!("{forty}0")).contains("..."));
    assert!(readable_numbers("f", "f", &object(r#"{"tiny":1e-400}"#)).is_err());
}
