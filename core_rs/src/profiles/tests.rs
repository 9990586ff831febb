use super::*;

const NOW: i64 = 1_795_437_507_000_000; // 2026-11-23T12:38:27Z

fn parse(body: &str) -> Result<ProfileEvent, CoreError> {
    parse_profiles_event(body.as_bytes(), NOW, &Limits::default())
}

fn event(body: &str) -> ProfileEvent {
    match parse(body) {
        Ok(event) => event,
        Err(err) => panic!("{body}: {err}"),
    }
}

/// The (param, message) of a request that must fail.
fn refused(body: &str) -> (&'static str, String) {
    match parse(body) {
        Err(CoreError::InvalidBatch { param, message }) => (param, message),
        other => panic!("{body}: {other:?}"),
    }
}

fn with_user(event: &str) -> String {
    format!(r#"{{"user":{{"email":"a@example.com"}},"event":{event}}}"#)
}

#[test]
fn the_seed_update_example() {
    // The seed's example, with its missing comma restored (as sent it is not JSON).
    let parsed = event(
        r#"{
 "user": {"email": "alex@example.com"},
 "event": {"update": {"firstname": "alexandru"} }
}"#,
    );
    assert_eq!(
        parsed,
        ProfileEvent {
            user_field: "email",
            user: "alex@example.com".into(),
            kind: "update".into(),
            name: "update".into(),
            order_id: None,
            attributes_json: r#"{"firstname":"alexandru"}"#.into(),
            timestamp_us: NOW,
        }
    );
    let as_sent = r#"{
 "user": {"email": "alex@example.com"}
 "event": {"update": {"firstname": "alexandru"} }
}"#;
    assert!(matches!(parse(as_sent), Err(CoreError::InvalidJson(_))));
}

#[test]
fn the_seed_generic_example() {
    let parsed = event(
        r#"{"user": {"email": "alex@example.com"},
            "event": {"generic": {"generic": {"event_name": "my_event", "firstname": "alexandru"}}}}"#,
    );
    assert_eq!(
        (parsed.kind.as_str(), parsed.name.as_str()),
        ("generic", "my_event")
    );
    assert_eq!(
        parsed.attributes_json,
        r#"{"event_name":"my_event","firstname":"alexandru"}"#
    );
}

#[test]
fn generic_needs_its_inner_object_and_a_name() {
    for bad in [
        r#"{"generic":{"event_name":"flat"}}"#,
        r#"{"generic":{"generic":[]}}"#,
    ] {
        assert_eq!(refused(&with_user(bad)).0, "event", "{bad}");
    }
    for bad in [
        r#"{"generic":{"generic":{}}}"#,
        r#"{"generic":{"generic":{"event_name":""}}}"#,
        r#"{"generic":{"generic":{"event_name":7}}}"#,
    ] {
        assert_eq!(
            refused(&with_user(bad)),
            ("event_name", "event_name is required.".to_owned()),
            "{bad}"
        );
    }
}

#[test]
fn user_identification() {
    let by_id = event(&format!(
        r#"{{"user":{{"email":"a@example.com","_id":"u-1"}},"event":{}}}"#,
        r#"{"login":{}}"#
    ));
    assert_eq!((by_id.user_field, by_id.user.as_str()), ("_id", "u-1"));
    let blank_id = event(r#"{"user":{"_id":" ","email":"a@example.com"},"event":{"login":{}}}"#);
    assert_eq!(blank_id.user_field, "email");
    let missing = ("user", "Missing user information".to_owned());
    for bad in [
        r#"{"event":{"login":{}}}"#,
        r#"{"user":null,"event":{"login":{}}}"#,
        r#"{"user":"a@example.com","event":{"login":{}}}"#,
        r#"{"user":{},"event":{"login":{}}}"#,
        r#"{"user":{"email":""},"event":{"login":{}}}"#,
        r#"{"user":{"email":5,"_id":null},"event":{"login":{}}}"#,
        r#"[]"#,
    ] {
        assert_eq!(refused(bad), missing, "{bad}");
    }
    // A missing user is reported before a missing event.
    assert_eq!(refused("{}"), missing);
    let long = format!(
        r#"{{"user":{{"_id":"{}"}},"event":{{"login":{{}}}}}}"#,
        "x".repeat(513)
    );
    assert_eq!(
        refused(&long),
        ("user", "_id must be at most 512 bytes.".to_owned())
    );
}

#[test]
fn event_shape() {
    let missing = ("event", "Missing event information".to_owned());
    for bad in [
        r#"{"user":{"email":"a@example.com"}}"#,
        &with_user("null"),
        &with_user("[]"),
        &with_user("{}"),
    ] {
        assert_eq!(refused(bad), missing, "{bad}");
    }
    assert_eq!(
        refused(&with_user(r#"{"update":{},"login":{}}"#)),
        ("event", "event must have exactly one type".to_owned())
    );
    for bad in ["_x", "9x", "a-b", "a.b", ""] {
        let body = with_user(&format!(r#"{{"{bad}":{{}}}}"#));
        assert_eq!(
            refused(&body),
            ("event", "invalid event type".to_owned()),
            "{bad}"
        );
    }
    let long_type = format!("a{}", "b".repeat(64));
    assert_eq!(
        refused(&with_user(&format!(r#"{{"{long_type}":{{}}}}"#))).0,
        "event"
    );
    assert_eq!(
        refused(&with_user(r#"{"update":"x"}"#)),
        ("event", "event.update must be an object".to_owned())
    );
    let custom = event(&with_user(r#"{"wishlist_add":{"sku":"A1","note":null}}"#));
    assert_eq!(
        (custom.kind.as_str(), custom.name.as_str()),
        ("wishlist_add", "wishlist_add")
    );
    assert_eq!(custom.attributes_json, r#"{"sku":"A1","note":null}"#);
}

#[test]
fn confirmations_carry_their_order_id() {
    let parsed = event(&with_user(
        r#"{"confirmation":{"orderId":"o-1","total":9.5}}"#,
    ));
    assert_eq!(parsed.order_id.as_deref(), Some("o-1"));
    let numeric = |text: &str| {
        event(&with_user(&format!(
            r#"{{"confirmation":{{"orderId":{text}}}}}"#
        )))
        .order_id
    };
    assert_eq!(numeric("42"), Some("42".into()));
    assert_eq!(numeric("42.0"), Some("42".into()));
    assert_eq!(numeric("\"42\""), Some("42".into()));
    for bad in [
        "{}",
        r#"{"orderId":""}"#,
        r#"{"orderId":null}"#,
        r#"{"orderId":[1]}"#,
    ] {
        let body = with_user(&format!(r#"{{"confirmation":{bad}}}"#));
        assert_eq!(
            refused(&body),
            ("orderId", "orderId is required.".to_owned()),
            "{bad}"
        );
    }
    // Other types have none.
    let update = event(&with_user(r#"{"update":{"orderId":"o-1"}}"#));
    assert_eq!(update.order_id, None);
}

#[test]
fn timestamp_comes_from_the_attributes_or_is_now() {
    let at = |attributes: &str| {
        event(&with_user(&format!(r#"{{"email_open":{attributes}}}"#))).timestamp_us
    };
    assert_eq!(
        at(r#"{"timestamp":"2023-09-13T18:25:43.511Z"}"#),
        1_694_629_543_511_000
    );
    assert_eq!(at("{}"), NOW);
    assert_eq!(at(r#"{"timestamp":"yesterday"}"#), NOW);
    assert_eq!(at(r#"{"timestamp":1694629543}"#), NOW);
    assert_eq!(at(r#"{"timestamp":"2030-01-01T00:00:00Z"}"#), NOW);
    let generic = event(&with_user(
        r#"{"generic":{"generic":{"event_name":"n","timestamp":"2024-01-02T03:04:05"}}}"#,
    ));
    assert_eq!(generic.timestamp_us, 1_704_164_645_000_000);
}

#[test]
fn request_level_errors() {
    let big = " ".repeat(262_145);
    assert!(matches!(
        parse(&big),
        Err(CoreError::PayloadTooLarge { .. })
    ));
    assert!(matches!(
        parse("{\"user\":1,}"),
        Err(CoreError::InvalidJson(_))
    ));
    let deep = format!(
        r#"{{"user":{{"_id":"u"}},"event":{{"update":{}}}}}"#,
        "[".repeat(70) + &"]".repeat(70)
    );
    assert!(matches!(parse(&deep), Err(CoreError::InvalidJson(_))));
}
