use std::borrow::Cow;

use super::*;

fn ok(text: &str) -> Value<'_> {
    match parse(text.as_bytes(), 64) {
        Ok(value) => value,
        Err(err) => panic!("{text:?} should parse: {err}"),
    }
}

fn err(input: &[u8]) -> JsonError {
    match parse(input, 64) {
        Ok(value) => panic!("{input:?} should fail, parsed {value:?}"),
        Err(err) => err,
    }
}

fn nested(depth: usize) -> String {
    "[".repeat(depth) + &"]".repeat(depth)
}

#[test]
fn parses_every_kind_of_value() {
    let value = ok(r#" {"a": [1, -2.5e3, true, false, null, "x"], "b": {}} "#);
    let Value::Object(members) = &value else {
        panic!("not an object")
    };
    assert_eq!(members.len(), 2);
    assert_eq!(
        value.get("a"),
        Some(&Value::Array(vec![
            Value::Number("1".into()),
            Value::Number("-2.5e3".into()),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
            Value::String("x".into()),
        ]))
    );
    assert_eq!(value.get("b"), Some(&Value::Object(vec![])));
    assert_eq!(value.get("missing"), None);
}

#[test]
fn scalars_are_documents_too() {
    assert_eq!(ok("0"), Value::Number("0".into()));
    assert_eq!(ok(" \"s\"\n"), Value::String("s".into()));
    assert_eq!(ok("null"), Value::Null);
}

#[test]
fn keeps_object_key_order() {
    let value = ok(r#"{"z":1,"a":2,"m":3}"#);
    let Value::Object(members) = value else {
        panic!("not an object")
    };
    let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn big_integers_stay_exact() {
    let text = "123456789012345678901234567890";
    assert_eq!(ok(text), Value::Number(text.into()));
    assert_eq!(to_compact(&ok(&format!("[{text}]"))), format!("[{text}]"));
}

#[test]
fn rejects_bad_numbers() {
    for bad in [
        "01", "-01", "+1", ".5", "1.", "1.e5", "1e", "1e+", "-", "--1", "0x10", "1_000",
    ] {
        err(bad.as_bytes());
    }
    assert!(err(b"01").message.contains("leading zeros"));
    for good in ["0", "-0", "0.5", "1e5", "1E+5", "1e-5", "-12.75E-3", "10"] {
        ok(good);
    }
}

#[test]
fn rejects_nan_and_infinity() {
    for bad in ["NaN", "Infinity", "-Infinity", "[NaN]", "{\"a\":Infinity}"] {
        err(bad.as_bytes());
    }
}

#[test]
fn rejects_comments_and_trailing_commas() {
    for bad in [
        "[1,]",
        "{\"a\":1,}",
        "[1 // c\n]",
        "/* c */ 1",
        "[,1]",
        "{,}",
        "[1,,2]",
    ] {
        err(bad.as_bytes());
    }
}

#[test]
fn rejects_trailing_data() {
    let e = err(b"{} x");
    assert_eq!(e.offset, 3);
    assert!(e.message.contains("after the JSON value"));
    err(b"1 2");
    err(b"truex");
    err(b"{}{}");
}

#[test]
fn rejects_empty_and_truncated_input() {
    for bad in [
        "", "   ", "[", "{", "{\"a\"", "{\"a\":", "[1", "\"abc", "tru", "nul",
    ] {
        err(bad.as_bytes());
    }
    assert!(err(b"").message.contains("end of input"));
}

#[test]
fn rejects_a_byte_order_mark() {
    let e = err(b"\xEF\xBB\xBF{}");
    assert_eq!(e.offset, 0);
    assert!(e.message.contains("byte order mark"));
}

#[test]
fn rejects_invalid_utf8_with_its_offset() {
    let e = err(b"[\"ab\xFFc\"]");
    assert_eq!(e.offset, 4);
    assert!(e.message.contains("UTF-8"));
    err(b"[\"\xC3\"]"); // truncated two-byte sequence
    err(b"[\"\xED\xA0\x80\"]"); // UTF-8-encoded surrogate
    err(b"[\"\xC0\xAF\"]"); // overlong
    err(b"[\"a\\n\xFF\"]"); // after an escape
    err(b"\xFF"); // outside strings
    err(b"[1]\xFF");
    assert_eq!(
        ok("\"h\u{e9}llo \u{1F600}\""),
        Value::String("h\u{e9}llo \u{1F600}".into())
    );
}

#[test]
fn rejects_unescaped_control_characters() {
    let e = err(b"\"a\nb\"");
    assert_eq!(e.offset, 2);
    err(b"\"\x00\"");
    err(b"\"\x1f\"");
    assert_eq!(ok("\"\x7f\""), Value::String("\x7f".into()));
}

#[test]
fn decodes_escapes() {
    assert_eq!(
        ok(r#""\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \ud83d\ude00""#),
        Value::String("\" \\ / \u{8} \u{c} \n \r \t A \u{e9} \u{1F600}".into())
    );
    assert!(matches!(
        ok(r#""plain""#),
        Value::String(Cow::Borrowed("plain"))
    ));
    for bad in [r#""\x""#, r#""\u12""#, r#""\u12G4""#, r#""\"#, r#""\'""#] {
        err(bad.as_bytes());
    }
}

#[test]
fn rejects_lone_surrogates() {
    for bad in [
        r#""\ud83d""#,
        r#""\ud83dx""#,
        r#""\ud83d\u0041""#,
        r#""\ud83d\ud83d""#,
        r#""\ude00""#,
        r#""\ude00\ud83d""#,
        r#""\ud83d\n""#,
    ] {
        let e = err(bad.as_bytes());
        assert!(e.message.contains("surrogate"), "{bad}: {e}");
    }
}

#[test]
fn rejects_duplicate_keys_by_decoded_value() {
    assert!(
        err(br#"{"a":1,"a":2}"#)
            .message
            .contains("duplicate object key \"a\"")
    );
    err(br#"{"a":1,"\u0061":2}"#);
    err(br#"{"x":{"k":1,"k":1}}"#);
    // The same key in different objects is fine.
    ok(r#"[{"a":1},{"a":2}]"#);
    ok(r#"{"a":{"a":1}}"#);
}

#[test]
fn duplicate_keys_are_found_in_large_objects() {
    let members: Vec<String> = (0..100).map(|i| format!("\"k{i}\":{i}")).collect();
    let unique = format!("{{{}}}", members.join(","));
    assert!(matches!(ok(&unique), Value::Object(m) if m.len() == 100));
    for dup in ["k0", "k15", "k16", "k99"] {
        let text = format!("{{{},\"{dup}\":0}}", members.join(","));
        err(text.as_bytes());
    }
}

#[test]
fn depth_limit_counts_the_top_level_container_as_one() {
    ok(&nested(64));
    let e = err(nested(65).as_bytes());
    assert!(e.message.contains("deeper than the limit of 64"));
    assert_eq!(e.offset, 64);
    ok(&format!("{}1{}", "{\"a\":".repeat(64), "}".repeat(64)));
    err(format!("{}1{}", "{\"a\":".repeat(65), "}".repeat(65)).as_bytes());
    assert!(parse(b"[[1]]", 1).is_err());
    assert!(parse(b"[1]", 1).is_ok());
    assert!(parse(b"1", 1).is_ok());
}

#[test]
fn very_deep_input_is_an_error_not_a_stack_overflow() {
    let deep = nested(100_000);
    assert!(parse(deep.as_bytes(), 64).is_err());
    assert!(parse("[".repeat(100_000).as_bytes(), 64).is_err());
    assert!(parse("{\"a\":".repeat(100_000).as_bytes(), 64).is_err());
}

#[test]
fn the_deepest_allowed_value_fits_a_small_thread_stack() {
    // Writers and Drop recurse; MAX_DEPTH_CEILING must stay safe on a modest stack.
    let depth = crate::limits::MAX_DEPTH_CEILING;
    let text = format!(
        "{}1{}",
        "[{\"k\":".repeat(depth / 2),
        "}]".repeat(depth / 2)
    );
    let worker = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let value = parse(text.as_bytes(), depth).map_err(|e| e.to_string())?;
            Ok::<_, String>((to_compact(&value) == text, to_canonical(&value) == text))
        });
    let outcome = worker
        .map_err(|e| e.to_string())
        .and_then(|w| w.join().map_err(|_| "panicked".into()));
    assert_eq!(outcome, Ok(Ok((true, true))));
}

#[test]
fn error_messages_name_the_offset() {
    let e = err(b"[1, 2 3]");
    assert_eq!(e.offset, 6);
    assert_eq!(
        e.to_string(),
        "unexpected '3', expected ',' or ']' at byte 6"
    );
    // A byte that cannot be shown as itself (a control, or part of a UTF-8 sequence) in hex.
    assert!(
        err(b"[1 \x01]")
            .to_string()
            .starts_with("unexpected byte 0x01, expected")
    );
    assert!(
        err(b"[1 \xc3\xa9]")
            .to_string()
            .starts_with("unexpected byte 0xc3, expected")
    );
}

#[test]
fn spans_cover_each_event_exactly() {
    let body = br#"{"before":[9], "events" : [ {"a": [1,2]} ,"x",  3 ,[ ] , {}], "after":[7]}"#;
    let parsed = match parse_with_spans(body, 64, "events") {
        Ok(parsed) => parsed,
        Err(e) => panic!("{e}"),
    };
    let texts: Vec<&[u8]> = parsed.spans.iter().map(|&(s, e)| &body[s..e]).collect();
    assert_eq!(
        texts,
        [br#"{"a": [1,2]}"#.as_slice(), b"\"x\"", b"3", b"[ ]", b"{}"]
    );
}

#[test]
fn spans_only_for_the_top_level_member() {
    let body = br#"{"x":{"events":[1,2]},"events":[]}"#;
    let parsed = parse_with_spans(body, 64, "events").map_err(|e| e.to_string());
    assert_eq!(parsed.map(|p| p.spans), Ok(vec![]));
    let body = br#"[{"events":[1]}]"#;
    let parsed = parse_with_spans(body, 64, "events").map_err(|e| e.to_string());
    assert_eq!(parsed.map(|p| p.spans), Ok(vec![]));
}

#[test]
fn compact_writer_round_trips() {
    let text = r#" { "b" : [1, 2.50, -0, 1e300, {"c": null}], "a": "q\"\\/\n\u0001\u2028é😀", "t": true } "#;
    let compact = to_compact(&ok(text));
    assert_eq!(
        compact,
        "{\"b\":[1,2.50,-0,1e300,{\"c\":null}],\"a\":\"q\\\"\\\\/\\n\\u0001\u{2028}é😀\",\"t\":true}"
    );
    // Writing what we wrote changes nothing, and it parses back to the same value.
    assert_eq!(ok(&compact), ok(text));
    assert_eq!(to_compact(&ok(&compact)), compact);
}

#[test]
fn writer_escapes_every_control_character() {
    let all: String = (0u8..0x20).map(char::from).collect();
    let written = to_compact(&Value::String(all.clone().into()));
    assert!(written.bytes().all(|b| b >= 0x20));
    // In the shortest form where JSON has one: the written text is what content hashes are
    // taken of, so another (equally valid) spelling would make a repeat of an event stored
    // before look changed.
    assert_eq!(
        written,
        r#""\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f""#
    );
    assert_eq!(ok(&written), Value::String(all.into()));
}

#[test]
fn canonical_writer_sorts_keys_and_normalises_numbers() {
    let a = ok(r#"{"b":1.0,"a":{"y":[1e2,-0,0.50],"x":"s"}}"#);
    let b = ok(r#"{"a":{"x":"s","y":[100,0,5e-1]},"b":1}"#);
    assert_eq!(to_canonical(&a), r#"{"a":{"x":"s","y":[100,0,0.5]},"b":1}"#);
    assert_eq!(to_canonical(&a), to_canonical(&b));
    assert_ne!(to_compact(&a), to_compact(&b));
}

#[test]
fn canonical_writer_sorts_objects_too_big_to_sort_on_the_stack() {
    // 17 members: one more than write.rs sorts in a buffer on the stack (SORT_ON_STACK).
    let keys: Vec<String> = (0..17).rev().map(|i| format!("k{i:02}")).collect();
    let members: Vec<String> = keys.iter().map(|k| format!("\"{k}\":0")).collect();
    let mut sorted = members.clone();
    sorted.sort();
    let text = format!("{{{}}}", members.join(","));
    assert_eq!(
        to_canonical(&ok(&text)),
        format!("{{{}}}", sorted.join(","))
    );
}

#[test]
fn number_formatting() {
    assert_eq!(format_f64(1.0), "1");
    assert_eq!(format_f64(-0.0), "0");
    assert_eq!(format_f64(2.5), "2.5");
    assert_eq!(format_f64(0.1), "0.1");
    assert_eq!(format_f64(9_007_199_254_740_991.0), "9007199254740991");
    assert_eq!(format_f64(1e300), "1e300");
    for x in [
        0.1,
        1.0 / 3.0,
        1e-7,
        123_456.789,
        2f64.powi(60),
        f64::MAX,
        f64::MIN_POSITIVE,
    ] {
        assert_eq!(format_f64(x).parse::<f64>(), Ok(x));
    }
    assert_eq!(
        canonical_number("123456789012345678901234567890"),
        "123456789012345678901234567890"
    );
    assert_eq!(canonical_number("-0"), "0");
    assert_eq!(canonical_number("-0.0"), "0");
    assert_eq!(canonical_number("1E3"), "1000");
    assert_eq!(canonical_number("1e400"), "1e400");
}

#[test]
fn numbers_are_bounded_but_exact() {
    let long = format!("[{}]", "9".repeat(MAX_NUMBER_CHARS));
    assert!(parse(long.as_bytes(), 64).is_ok());
    let too_long = format!("[{}]", "9".repeat(MAX_NUMBER_CHARS + 1));
    assert!(parse(too_long.as_bytes(), 64).is_err());
    assert!(parse(b"[1e400]", 64).is_err());
    assert!(parse(b"[-1.5e308]", 64).is_ok());
    assert!(parse(b"[1e-400]", 64).is_ok());
    let big = parse(b"[12345678901234567890123]", 64).unwrap();
    assert_eq!(write::to_compact(&big), "[12345678901234567890123]");
}

#[test]
fn strings_with_escapes_and_multibyte_text_around_word_boundaries_round_trip() {
    for pad in 0..10 {
        let text = format!(
            "{}\u{e9}\u{1F600}\\\"\\\\\\n\\u00e9{}",
            "x".repeat(pad),
            "y".repeat(pad)
        );
        let document = format!("[\"{text}\"]");
        let expected = format!(
            "{}\u{e9}\u{1F600}\"\\\n\u{e9}{}",
            "x".repeat(pad),
            "y".repeat(pad)
        );
        assert_eq!(
            ok(&document),
            Value::Array(vec![Value::String(Cow::Owned(expected.clone()))])
        );
        let written = to_compact(&Value::String(Cow::Owned(expected)));
        assert_eq!(ok(&format!("[{written}]")), ok(&document));
    }
}

#[test]
fn the_word_at_a_time_string_scan_stops_where_a_byte_loop_would() {
    let naive = |bytes: &[u8], from: usize| {
        (from..bytes.len())
            .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0x00..=0x1f))
            .unwrap_or(bytes.len())
    };
    // Every byte value at every offset of a buffer longer than two words, behind fillers
    // next to the values tested (0x20 just above the control range, 0x80+ with the tested
    // bits set), with and without a second stop byte after it.
    for filler in [b'a', 0x20, 0x21, 0x80, 0xa2, 0xdc, 0xff] {
        for byte in 0..=u8::MAX {
            for at in 0..19 {
                for later in [None, Some(b'"'), Some(0x1f)] {
                    let mut bytes = vec![filler; 19];
                    bytes[at] = byte;
                    if let Some(later) = later {
                        bytes[18] = later;
                    }
                    for from in [0, 1, 7, at] {
                        assert_eq!(
                            string_end_or_escape(&bytes, from),
                            naive(&bytes, from),
                            "{bytes:?} from {from}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn invalid_utf8_in_a_string_is_reported_at_its_byte_in_the_input() {
    // Input that is not UTF-8 as a whole is checked string by string: the offset must be the
    // bad byte's in the input, the string's start plus how far into the string it is.
    let e = err(b"[\"ok\", \"ab\xffcd\"]");
    assert_eq!(e.to_string(), "invalid UTF-8 in string at byte 10");
    // Behind an escape the string is checked segment by segment, from after the escape.
    let e = err(b"[\"a\\nbc\xff\"]");
    assert_eq!(e.offset, 7);
}

#[test]
fn an_object_checks_its_keys_through_a_hashed_index_from_linear_key_scan_keys_on() {
    // Scanning every member for each new key is quadratic: a crafted body with one object of
    // many keys must reach the hashed index once the object holds LINEAR_KEY_SCAN keys.
    let hasher = RandomState::new();
    let mut members: Vec<(Cow<'_, str>, Value<'_>)> = Vec::new();
    let mut index = None;
    for n in 1..=LINEAR_KEY_SCAN {
        let key = format!("k{n}");
        assert!(remember_key(&members, &mut index, &hasher, &key));
        assert_eq!(index.is_some(), n == LINEAR_KEY_SCAN, "with {n} keys");
        members.push((Cow::Owned(key), Value::Null));
    }
    assert_eq!(index.as_ref().map(HashSet::len), Some(LINEAR_KEY_SCAN));
    // Through the index a repeated key is still refused and a new one still taken.
    assert!(!remember_key(&members, &mut index, &hasher, "k3"));
    assert!(remember_key(&members, &mut index, &hasher, "k17"));
}
