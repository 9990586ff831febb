use super::*;
use crate::batch::RejectReason;
use crate::idempotency;

const NOW: i64 = 1_795_437_507_000_000; // 2026-11-23T12:38:27Z
const TENANT: &str = "default";
const PING: &str = "c523aa41-9f0f-4fc2-bc96-5a8ff5520b78";

fn parse_with(body: &str, allowed: Option<&[String]>) -> Result<Batch, CoreError> {
    parse_collect_batch(
        body.as_bytes(),
        TENANT,
        NOW,
        &Limits::default(),
        PING,
        allowed,
    )
}

fn parse(body: &str) -> Result<Batch, CoreError> {
    parse_with(body, None)
}

fn batch(body: &str) -> Batch {
    match parse(body) {
        Ok(batch) => batch,
        Err(err) => panic!("{body}: {err}"),
    }
}

fn one(event: &str) -> Batch {
    batch(&format!(r#"{{"messageBody":[{event}]}}"#))
}

/// The single rejection of a one-event body: (field, message).
fn rejection(event: &str) -> (&'static str, String) {
    let batch = one(event);
    assert!(batch.events.is_empty(), "{event} should be rejected");
    assert_eq!(batch.rejected[0].reason, RejectReason::Invalid);
    (batch.rejected[0].field, batch.rejected[0].message.clone())
}

fn rejected(field: &'static str, message: &str) -> (&'static str, String) {
    (field, message.to_owned())
}

fn is_uuid_v4(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && text
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'))
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
}

#[test]
fn a_full_request_becomes_rows() {
    let body = r#"{
        "messageheader": {"appVersion": "1.2.0", "sdk": "web"},
        "messageBody": [
            {"eventType": "page_view", "eventId": "e1", "timestamp": "2023-09-13T18:25:43.511Z",
             "userId": "u1", "properties": {"path": "/", "n": 1.50}, "sessionId": "s1", "ua": null}
        ]
    }"#;
    let batch = batch(body);
    assert_eq!(
        (batch.total, batch.rejected.len(), batch.spans.len()),
        (1, 0, 1)
    );
    let row = &batch.events[0];
    assert_eq!(
        (row.name(), row.id(), row.customer()),
        ("page_view", "e1", "u1")
    );
    assert_eq!(row.timestamp_us, 1_694_629_543_511_000);
    assert_eq!(row.value, None);
    assert_eq!(
        row.payload_json(),
        concat!(
            r#"{"properties":{"path":"/","n":1.50},"attributes":{"sessionId":"s1","ua":null},"#,
            r#""messageheader":{"appVersion":"1.2.0","sdk":"web"},"#,
            r#""pingId":"c523aa41-9f0f-4fc2-bc96-5a8ff5520b78"}"#
        )
    );
    assert_eq!(
        row.key,
        idempotency::idempotency_key(TENANT, "page_view", "e1")
    );
}

#[test]
fn defaults_for_a_minimal_event() {
    let row = one(r#"{"type":"click"}"#).events[0].clone();
    assert_eq!(row.name(), "click");
    assert!(is_uuid_v4(row.id()), "{}", row.id());
    assert_eq!((row.customer(), row.timestamp_us), ("", NOW));
    assert_eq!(
        row.payload_json(),
        format!(
            r#"{{"properties":{{}},"attributes":{{}},"messageheader":null,"pingId":"{PING}"}}"#
        )
    );
}

#[test]
fn generated_ids_are_unique_so_never_deduplicated() {
    let events = vec![r#"{"eventType":"tick"}"#; 200].join(",");
    let batch = batch(&format!(r#"{{"messageBody":[{events}]}}"#));
    assert_eq!((batch.events.len(), batch.rejected.len()), (200, 0));
    let ids: HashSet<&str> = batch.events.iter().map(|row| row.id()).collect();
    assert_eq!(ids.len(), 200);
    assert!(ids.iter().all(|id| is_uuid_v4(id)));
}

#[test]
fn header_spellings() {
    let header = |body: &str| {
        let payload = batch(body).events[0].payload_json().to_owned();
        let start = payload.find("\"messageheader\":").unwrap_or(0);
        let end = payload.find(",\"pingId\"").unwrap_or(0);
        payload[start..end].to_owned()
    };
    let event = r#""messageBody":[{"eventType":"a"}]"#;
    assert_eq!(
        header(&format!(r#"{{"messageHeaders":{{"v":2}},{event}}}"#)),
        r#""messageheader":{"v":2}"#
    );
    assert_eq!(
        header(&format!(
            r#"{{"messageHeaders":{{"v":2}},"messageheader":{{"v":1}},{event}}}"#
        )),
        r#""messageheader":{"v":1}"#
    );
    assert_eq!(
        header(&format!(r#"{{"messageheader":null,{event}}}"#)),
        r#""messageheader":null"#
    );
    for bad in [r#""messageheader":[]"#, r#""messageHeaders":"x""#] {
        match parse(&format!("{{{bad},{event}}}")) {
            Err(CoreError::InvalidBatch { param, .. }) => assert_eq!(param, "messageheader"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn request_level_errors() {
    let big = " ".repeat(262_145);
    assert!(matches!(
        parse(&big),
        Err(CoreError::PayloadTooLarge { .. })
    ));
    assert!(matches!(
        parse("{\"messageBody\":[NaN]}"),
        Err(CoreError::InvalidJson(_))
    ));
    for bad in [
        "{}",
        "[]",
        "{\"messageBody\":{}}",
        "{\"messageBody\":null}",
        "{\"messageBody\":[]}",
    ] {
        match parse(bad) {
            Err(CoreError::InvalidBatch { param, message }) => {
                assert_eq!(param, "messageBody");
                assert!(message.starts_with("messageBody must be an array of 1 to 1000 events"));
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let events = vec![r#"{"eventType":"a"}"#; 1001].join(",");
    assert!(matches!(
        parse(&format!(r#"{{"messageBody":[{events}]}}"#)),
        Err(CoreError::InvalidBatch {
            param: "messageBody",
            ..
        })
    ));
}

#[test]
fn event_type_rules() {
    let invalid = rejected("eventType", "invalid event type");
    for bad in [
        "{}",
        r#"{"eventType":""}"#,
        r#"{"eventType":"9lives"}"#,
        r#"{"eventType":"has space"}"#,
        r#"{"eventType":5}"#,
        r#"{"type":"a/b"}"#,
        r#"{"eventType":"bad!","type":"good"}"#,
    ] {
        assert_eq!(rejection(bad), invalid, "{bad}");
    }
    let long = format!(r#"{{"eventType":"a{}"}}"#, "b".repeat(127));
    assert_eq!(one(&long).events.len(), 1);
    let too_long = format!(r#"{{"eventType":"a{}"}}"#, "b".repeat(128));
    assert_eq!(rejection(&too_long), invalid);
    assert_eq!(one(r#"{"eventType":"app.open:v2-x_y"}"#).events.len(), 1);
    // eventType wins; the alias it beat is kept as an attribute.
    let row = one(r#"{"type":"t","eventType":"e"}"#).events[0].clone();
    assert_eq!(row.name(), "e");
    assert!(
        row.payload_json().contains(r#""attributes":{"type":"t"}"#),
        "{}",
        row.payload_json()
    );
    // A null eventType defers to the alias.
    assert_eq!(
        one(r#"{"eventType":null,"type":"t"}"#).events[0].name(),
        "t"
    );
}

#[test]
fn the_allow_list_applies_when_set() {
    let allowed = ["signup".to_owned(), "login".to_owned()];
    let body = r#"{"messageBody":[{"eventType":"signup"},{"eventType":"purchase"}]}"#;
    let batch = parse_with(body, Some(&allowed)).map(|b| {
        let rejected: Vec<_> = b.rejected.iter().map(|r| (r.index, r.field)).collect();
        (b.events.len(), rejected)
    });
    assert_eq!(batch, Ok((1, vec![(1, "eventType")])));
    let none: [String; 0] = [];
    let everything_refused = parse_with(body, Some(&none)).map(|b| b.rejected.len());
    assert_eq!(everything_refused, Ok(2));
}

#[test]
fn event_id_rules_and_in_batch_repeats() {
    for bad in [r#""""#, "5", r#"" ""#] {
        assert_eq!(
            rejection(&format!(r#"{{"eventType":"a","eventId":{bad}}}"#)),
            rejected("eventId", "eventId must be a non-empty string.")
        );
    }
    let body = r#"{"messageBody":[
        {"eventType":"a","eventId":"1"},
        {"eventType":"a","eventId":"1"},
        {"eventType":"a","eventId":"1","userId":"someone"},
        {"eventType":"b","eventId":"1"}
    ]}"#;
    let batch = batch(body);
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
    assert_eq!(batch.events.len(), 2);
}

#[test]
fn timestamps_are_rfc3339_or_epoch_milliseconds() {
    let at = |value: &str| {
        let event = format!(r#"{{"eventType":"a","timestamp":{value}}}"#);
        let batch = one(&event);
        match (batch.events.first(), batch.rejected.first()) {
            (Some(row), _) => Ok(row.timestamp_us),
            (None, Some(r)) => Err((r.field, r.message.clone())),
            (None, None) => Err(("", String::new())),
        }
    };
    assert_eq!(
        at(r#""2023-09-13T18:25:43.511Z""#),
        Ok(1_694_629_543_511_000)
    );
    assert_eq!(at("1694629543511"), Ok(1_694_629_543_511_000));
    assert_eq!(at("0"), Ok(0));
    assert_eq!(at("null"), Ok(NOW));
    let bad = Err(rejected("timestamp", BAD_TIMESTAMP));
    for value in [
        "1694629543511.5",
        "1.7e12",
        "\"1694629543511\"",
        "true",
        "{}",
        "99999999999999999999",
    ] {
        assert_eq!(at(value), bad, "{value}");
    }
    assert_eq!(
        at("1795441108000"), // 2026-11-23T13:38:28Z, an hour and a second ahead
        Err(rejected(
            "timestamp",
            "timestamp must not be more than 1 hour in the future."
        ))
    );
}

#[test]
fn user_id_and_properties() {
    assert_eq!(
        one(r#"{"eventType":"a","userId":null}"#).events[0].customer(),
        ""
    );
    assert_eq!(
        one(r#"{"eventType":"a","userId":""}"#).events[0].customer(),
        ""
    );
    assert_eq!(
        rejection(r#"{"eventType":"a","userId":42}"#),
        rejected("userId", "userId must be a string.")
    );
    let long = format!(r#"{{"eventType":"a","userId":"{}"}}"#, "u".repeat(513));
    assert_eq!(
        rejection(&long),
        rejected("userId", "userId must be at most 512 bytes.")
    );
    assert_eq!(
        rejection(r#"{"eventType":"a","properties":[1]}"#),
        rejected("properties", "properties must be an object.")
    );
}

#[test]
fn events_must_be_objects_and_first_failure_wins() {
    assert_eq!(rejection("[]"), rejected("", NOT_AN_OBJECT));
    let all_bad = r#"{"eventType":"!","eventId":"","timestamp":"x","userId":1,"properties":1}"#;
    assert_eq!(rejection(all_bad).0, "eventType");
    let from_id = r#"{"eventType":"a","eventId":"","timestamp":"x","userId":1,"properties":1}"#;
    assert_eq!(rejection(from_id).0, "eventId");
    let from_time = r#"{"eventType":"a","timestamp":"x","userId":1,"properties":1}"#;
    assert_eq!(rejection(from_time).0, "timestamp");
    let from_user = r#"{"eventType":"a","userId":1,"properties":1}"#;
    assert_eq!(rejection(from_user).0, "userId");
}

#[test]
fn uuid_text_sets_version_and_variant() {
    assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}
