//! Line protocol rules, one test each: syntax, escapes, field types, timestamps, precisions
//! and every error with its line, column and reason.

use std::borrow::Cow;

use chute_influx::{FieldValue, ParseError, Point, Precision, UnknownPrecision, parse, parse_each};

fn one(line: &str) -> Point<'_> {
    let mut points = parse(line.as_bytes(), Precision::Nanoseconds).unwrap();
    assert_eq!(points.len(), 1, "{line:?}");
    points.remove(0)
}

fn fail(body: &str) -> ParseError {
    parse(body.as_bytes(), Precision::Nanoseconds).unwrap_err()
}

/// Asserts the error's line, column and reason.
#[track_caller]
fn assert_fails(body: &str, line: usize, column: usize, reason: &str) {
    let e = fail(body);
    assert_eq!((e.line, e.column, e.reason.as_str()), (line, column, reason), "{body:?}");
}

fn field<'p>(p: &'p Point<'_>, key: &str) -> &'p FieldValue<'p> {
    p.field(key).unwrap()
}

fn float(line: &str) -> f64 {
    match one(line).fields[0].1 {
        FieldValue::Float(v) => v,
        ref other => panic!("{line:?} gave {other:?}"),
    }
}

#[expect(clippy::ptr_arg, reason = "the test inspects the Cow itself")]
fn is_borrowed(s: &Cow<'_, str>) -> bool {
    matches!(s, Cow::Borrowed(_))
}

// ---- structure ---------------------------------------------------------------------------

#[test]
fn minimal_line() {
    let p = one("m f=1");
    assert_eq!(p.measurement, "m");
    assert!(p.tags.is_empty());
    assert_eq!(p.fields, vec![(Cow::Borrowed("f"), FieldValue::Float(1.0))]);
    assert_eq!(p.timestamp_ns, None);
}

#[test]
fn full_line_keeps_order_of_tags_and_fields() {
    let p = one("cpu,host=a,region=eu-west,az=1 user=1.5,system=2i,idle=\"x\" 1700000000000000000");
    assert_eq!(p.measurement, "cpu");
    let tags: Vec<(&str, &str)> = p.tags.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(tags, [("host", "a"), ("region", "eu-west"), ("az", "1")]);
    let keys: Vec<&str> = p.fields.iter().map(|(k, _)| &**k).collect();
    assert_eq!(keys, ["user", "system", "idle"]);
    assert_eq!(field(&p, "user"), &FieldValue::Float(1.5));
    assert_eq!(field(&p, "system"), &FieldValue::Integer(2));
    assert_eq!(field(&p, "idle"), &FieldValue::String("x".into()));
    assert_eq!(p.timestamp_ns, Some(1_700_000_000_000_000_000));
    assert_eq!(p.tag("region"), Some("eu-west"));
    assert_eq!(p.tag("nope"), None);
    assert!(p.field("nope").is_none());
}

#[test]
fn tokens_without_escapes_are_borrowed() {
    let p = one("m,k=v f=1,s=\"plain text\" 1");
    assert!(is_borrowed(&p.measurement));
    assert!(is_borrowed(&p.tags[0].0) && is_borrowed(&p.tags[0].1));
    assert!(p.fields.iter().all(|(k, _)| is_borrowed(k)));
    match field(&p, "s") {
        FieldValue::String(s) => assert!(is_borrowed(s)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_tag_and_field_keys_are_all_kept() {
    let p = one("m,t=1,t=2 f=1,f=2i");
    assert_eq!(p.tags.len(), 2);
    assert_eq!(p.tags[1], ("t".into(), "2".into()));
    assert_eq!(p.fields, vec![("f".into(), FieldValue::Float(1.0)), ("f".into(), FieldValue::Integer(2))]);
    // The lookup helpers return the first.
    assert_eq!(p.tag("t"), Some("1"));
    assert_eq!(p.field("f"), Some(&FieldValue::Float(1.0)));
}

#[test]
fn whitespace_between_sections_and_around_the_line() {
    let p = one("  m,t=1   f=1    42   ");
    assert_eq!(p.measurement, "m");
    assert_eq!(p.timestamp_ns, Some(42));
    // A tab separates sections only next to a space (as in InfluxDB).
    assert_eq!(one("\tm f=1 \t42").timestamp_ns, Some(42));
    assert_eq!(fail("m f=1\t42").reason, "invalid float field value \"1\t42\" for field \"f\"");
    assert_eq!(one("m f=1 ").timestamp_ns, None);
}

#[test]
fn blank_and_comment_lines_are_skipped_and_still_counted() {
    let body = "# header\n\nm f=1 1\n   \n  # indented comment\n\t\nm f=2 2\n#";
    let points = parse(body.as_bytes(), Precision::Nanoseconds).unwrap();
    assert_eq!(points.len(), 2);
    assert_eq!(points[1].timestamp_ns, Some(2));
    let e = fail("# one\n\nm f=1\nbad\n");
    assert_eq!((e.line, e.reason.as_str()), (4, "missing fields"));
}

#[test]
fn crlf_and_missing_final_newline() {
    let points = parse(b"m f=1 1\r\nm f=2 2\r\n\r\nm s=\"x\"", Precision::Nanoseconds).unwrap();
    assert_eq!(points.len(), 3);
    assert_eq!(points[1].timestamp_ns, Some(2));
    assert_eq!(points[2].fields[0].1, FieldValue::String("x".into()));
}

#[test]
fn empty_body() {
    assert_eq!(parse(b"", Precision::Nanoseconds).unwrap().len(), 0);
    assert_eq!(parse(b"\n\n# c\n", Precision::Nanoseconds).unwrap().len(), 0);
}

#[test]
fn parse_each_delivers_points_in_order_and_stops_at_the_first_error() {
    let mut seen = Vec::new();
    let n = parse_each(b"a f=1\nb f=2\n", Precision::Nanoseconds, |p| seen.push(p.measurement.into_owned())).unwrap();
    assert_eq!((n, seen.as_slice()), (2, &["a".to_owned(), "b".to_owned()][..]));

    let mut seen = Vec::new();
    let e = parse_each(b"a f=1\nb f=x\nc f=3\n", Precision::Nanoseconds, |p| seen.push(p.measurement.into_owned()))
        .unwrap_err();
    assert_eq!(seen, ["a"]);
    assert_eq!(e.line, 2);
}

#[test]
fn into_owned_detaches_from_the_body() {
    let point = {
        let body = String::from("m\\ x,t=v f=\"s\" 1");
        one(&body).into_owned()
    };
    assert_eq!(point.measurement, "m x");
    assert_eq!(point.fields[0].1, FieldValue::String("s".into()));
}

// ---- escapes -----------------------------------------------------------------------------

#[test]
fn measurement_escapes() {
    let p = one(r"my\ meas\,ure,t=1 f=1");
    assert_eq!(p.measurement, "my meas,ure");
    assert!(!is_borrowed(&p.measurement));
    // '=' needs no escape in a measurement, and "\=" keeps its backslash there.
    assert_eq!(one("a=b f=1").measurement, "a=b");
    assert_eq!(one(r"a\=b f=1").measurement, r"a\=b");
    // A backslash before any other character is kept.
    assert_eq!(one(r"a\b\\c f=1").measurement, r"a\b\\c");
    assert_eq!(one("caf\\é f=1").measurement, "caf\\é");
}

#[test]
fn tag_key_and_value_escapes() {
    let p = one(r"m,k\ e\,y\=1=v\ a\,l\=ue f=1");
    assert_eq!(p.tags, vec![("k e,y=1".into(), "v a,l=ue".into())]);
    // k6 check names escape their spaces.
    let p = one(r"checks,check=home\ is\ 200,group=::home value=1 1");
    assert_eq!(p.tag("check"), Some("home is 200"));
    assert_eq!(p.tag("group"), Some("::home"));
    // Other backslashes are kept, and "\\" pairs up so the following ',' still separates.
    let p = one(r"m,a=x\y,b=x\\,c=z f=1");
    assert_eq!(p.tag("a"), Some(r"x\y"));
    assert_eq!(p.tag("b"), Some(r"x\\"));
    assert_eq!(p.tag("c"), Some("z"));
    // Only the escaped token is owned.
    let p = one(r"m,a\ b=c f=1");
    assert!(!is_borrowed(&p.tags[0].0) && is_borrowed(&p.tags[0].1));
}

#[test]
fn field_key_escapes() {
    let p = one(r"m f\ o\,o\=x=1,b\ar=2");
    assert_eq!(p.fields[0].0, "f o,o=x");
    assert_eq!(p.fields[1].0, r"b\ar");
}

#[test]
fn string_field_escapes() {
    let p = one(r#"m s="say \"hi\", a=b \\ c\d" 5"#);
    assert_eq!(field(&p, "s"), &FieldValue::String(r#"say "hi", a=b \ c\d"#.into()));
    assert_eq!(p.timestamp_ns, Some(5));
    // A trailing escaped backslash does not swallow the closing quote.
    let p = one(r#"m s="end\\",n=1i"#);
    assert_eq!(field(&p, "s"), &FieldValue::String(r"end\".into()));
    assert_eq!(field(&p, "n"), &FieldValue::Integer(1));
}

#[test]
fn string_fields_may_hold_spaces_commas_and_equals() {
    let p = one(r#"m url="http://x/?a=1,b=2 c",value=1 7"#);
    assert_eq!(field(&p, "url"), &FieldValue::String("http://x/?a=1,b=2 c".into()));
    assert_eq!(field(&p, "value"), &FieldValue::Float(1.0));
    assert_eq!(one(r#"m s="""#).fields[0].1, FieldValue::String("".into()));
    assert_eq!(one("m s=\"é ü 😀\"").fields[0].1, FieldValue::String("é ü 😀".into()));
}

// ---- field values ------------------------------------------------------------------------

#[test]
fn float_values() {
    for (text, want) in [
        ("1", 1.0),
        ("1.5", 1.5),
        ("-1.5e3", -1500.0),
        ("1E-2", 0.01),
        ("1e+2", 100.0),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("007", 7.0),
        ("5.298315", 5.298315),
        ("1.7976931348623157e308", f64::MAX),
    ] {
        assert_eq!(float(&format!("m f={text}")), want, "{text}");
    }
    assert!(float("m f=-0").is_sign_negative());
}

#[test]
fn invalid_float_values() {
    for text in [
        "inf", "-inf", "nan", "NaN", "Infinity", "abc", "1.2.3", "1e", "e1", "-", ".", "+1", "1e400", "0x1F", "1_000",
        "1f", "--1",
    ] {
        let line = format!("m value={text}");
        let e = fail(&line);
        assert_eq!(
            (e.column, e.reason),
            (9, format!("invalid float field value \"{text}\" for field \"value\"")),
            "{text}"
        );
    }
}

#[test]
fn integer_values() {
    let p = one("m a=123i,b=-123i,c=0i,d=9223372036854775807i,e=-9223372036854775808i");
    let values: Vec<&FieldValue> = p.fields.iter().map(|(_, v)| v).collect();
    assert_eq!(
        values,
        [
            &FieldValue::Integer(123),
            &FieldValue::Integer(-123),
            &FieldValue::Integer(0),
            &FieldValue::Integer(i64::MAX),
            &FieldValue::Integer(i64::MIN),
        ]
    );
    assert_fails(
        "m n=9223372036854775808i",
        1,
        5,
        "invalid integer field value \"9223372036854775808i\" for field \"n\" (out of range)",
    );
    assert_fails(
        "m n=-9223372036854775809i",
        1,
        5,
        "invalid integer field value \"-9223372036854775809i\" for field \"n\" (out of range)",
    );
    for text in ["1.5i", "i", "-i", "+1i", "1ii", "1e3i", "0x1i"] {
        let e = fail(&format!("m n={text}"));
        assert_eq!(e.reason, format!("invalid integer field value \"{text}\" for field \"n\""), "{text}");
    }
}

#[test]
fn unsigned_values() {
    let p = one("m a=123u,b=0u,c=18446744073709551615u");
    let values: Vec<&FieldValue> = p.fields.iter().map(|(_, v)| v).collect();
    assert_eq!(values, [&FieldValue::UInteger(123), &FieldValue::UInteger(0), &FieldValue::UInteger(u64::MAX)]);
    assert_fails(
        "m n=18446744073709551616u",
        1,
        5,
        "invalid unsigned integer field value \"18446744073709551616u\" for field \"n\" (out of range)",
    );
    for text in ["-1u", "-0u", "1.5u", "u", "+1u"] {
        let e = fail(&format!("m n={text}"));
        assert_eq!(e.reason, format!("invalid unsigned integer field value \"{text}\" for field \"n\""), "{text}");
    }
}

#[test]
fn boolean_values() {
    for text in ["t", "T", "true", "True", "TRUE"] {
        assert_eq!(one(&format!("m b={text}")).fields[0].1, FieldValue::Boolean(true));
    }
    for text in ["f", "F", "false", "False", "FALSE"] {
        assert_eq!(one(&format!("m b={text}")).fields[0].1, FieldValue::Boolean(false));
    }
    for text in ["tru", "tRUE", "fAlse", "TrUe", "falsey", "t1"] {
        let e = fail(&format!("m b={text}"));
        assert_eq!(e.reason, format!("invalid boolean field value \"{text}\" for field \"b\""), "{text}");
    }
}

#[test]
fn field_value_types_are_named() {
    let p = one(r#"m a=1,b=1i,c=1u,d="s",e=t"#);
    let names: Vec<&str> = p.fields.iter().map(|(_, v)| v.type_name()).collect();
    assert_eq!(names, ["float", "integer", "unsigned", "string", "boolean"]);
}

// ---- timestamps and precision ------------------------------------------------------------

#[test]
fn timestamps() {
    assert_eq!(one("m f=1 0").timestamp_ns, Some(0));
    assert_eq!(one("m f=1 -1000").timestamp_ns, Some(-1000));
    assert_eq!(one("m f=1 9223372036854775807").timestamp_ns, Some(i64::MAX));
    assert_eq!(one("m f=1 -9223372036854775808").timestamp_ns, Some(i64::MIN));
}

#[test]
fn timestamp_precision_is_applied() {
    let cases = [
        (Precision::Nanoseconds, 2),
        (Precision::Microseconds, 2_000),
        (Precision::Milliseconds, 2_000_000),
        (Precision::Seconds, 2_000_000_000),
        (Precision::Minutes, 120_000_000_000),
        (Precision::Hours, 7_200_000_000_000),
    ];
    for (precision, want) in cases {
        let points = parse(b"m f=1 2\nm f=1 -2\nm f=1", precision).unwrap();
        assert_eq!(points[0].timestamp_ns, Some(want), "{precision:?}");
        assert_eq!(points[1].timestamp_ns, Some(-want), "{precision:?}");
        assert_eq!(points[2].timestamp_ns, None, "{precision:?}");
    }
}

#[test]
fn timestamp_overflowing_nanoseconds_is_an_error() {
    let e = parse(b"m f=1 9223372037", Precision::Seconds).unwrap_err();
    assert_eq!(
        (e.line, e.column, e.reason.as_str()),
        (1, 7, "timestamp \"9223372037\" in precision s overflows nanoseconds since the epoch")
    );
    // One second less fits.
    let points = parse(b"m f=1 9223372036", Precision::Seconds).unwrap();
    assert_eq!(points[0].timestamp_ns, Some(9_223_372_036_000_000_000));
}

#[test]
fn to_nanos_for_every_precision() {
    assert_eq!(Precision::Nanoseconds.to_nanos(5), Some(5));
    assert_eq!(Precision::Microseconds.to_nanos(5), Some(5_000));
    assert_eq!(Precision::Milliseconds.to_nanos(5), Some(5_000_000));
    assert_eq!(Precision::Seconds.to_nanos(5), Some(5_000_000_000));
    assert_eq!(Precision::Minutes.to_nanos(5), Some(300_000_000_000));
    assert_eq!(Precision::Hours.to_nanos(5), Some(18_000_000_000_000));
    assert_eq!(Precision::Seconds.to_nanos(-5), Some(-5_000_000_000));
    assert_eq!(Precision::Nanoseconds.to_nanos(i64::MAX), Some(i64::MAX));
    assert_eq!(Precision::Microseconds.to_nanos(i64::MAX), None);
    assert_eq!(Precision::Hours.to_nanos(i64::MIN / 1000), None);
    assert_eq!(Precision::Hours.to_nanos(2_562_047), Some(2_562_047 * 3_600_000_000_000));
    assert_eq!(Precision::Hours.to_nanos(2_562_048), None);
    assert_eq!(Precision::default(), Precision::Nanoseconds);
}

#[test]
fn precision_from_v1() {
    let cases = [
        ("", Precision::Nanoseconds),
        ("n", Precision::Nanoseconds),
        ("ns", Precision::Nanoseconds),
        ("u", Precision::Microseconds),
        ("us", Precision::Microseconds),
        ("µ", Precision::Microseconds),
        ("µs", Precision::Microseconds),
        ("ms", Precision::Milliseconds),
        ("s", Precision::Seconds),
        ("m", Precision::Minutes),
        ("h", Precision::Hours),
    ];
    for (text, want) in cases {
        assert_eq!(Precision::from_v1(text), Ok(want), "{text:?}");
    }
    for text in ["xyz", "NS", " ns", "ns ", "sec", "d", "mn", "µss", "1"] {
        assert_eq!(Precision::from_v1(text), Err(UnknownPrecision(text.to_owned())), "{text:?}");
    }
}

#[test]
fn precision_from_v2() {
    let cases = [
        ("", Precision::Nanoseconds),
        ("ns", Precision::Nanoseconds),
        ("us", Precision::Microseconds),
        ("ms", Precision::Milliseconds),
        ("s", Precision::Seconds),
    ];
    for (text, want) in cases {
        assert_eq!(Precision::from_v2(text), Ok(want), "{text:?}");
    }
    // v1-only spellings are unknown to v2.
    for text in ["xyz", "n", "u", "µ", "µs", "m", "h", "NS"] {
        assert_eq!(Precision::from_v2(text), Err(UnknownPrecision(text.to_owned())), "{text:?}");
    }
}

#[test]
fn unknown_precision_message() {
    let e = Precision::from_v2("xyz").unwrap_err();
    let message = e.to_string();
    assert!(message.starts_with("unknown precision \"xyz\" (expected one of "), "{message}");
    assert!(message.contains("ns, us, ms, s"), "{message}");
}

#[test]
fn precision_names() {
    let all = [
        Precision::Nanoseconds,
        Precision::Microseconds,
        Precision::Milliseconds,
        Precision::Seconds,
        Precision::Minutes,
        Precision::Hours,
    ];
    for p in all {
        assert_eq!(Precision::from_v1(p.as_str()), Ok(p));
        assert_eq!(p.to_string(), p.as_str());
    }
}

// ---- errors ------------------------------------------------------------------------------

#[test]
fn error_display_format() {
    let body = "m f=1 1\n# comment\nhttp_reqs,status=200 value=abc 1\n";
    let e = fail(body);
    assert_eq!((e.line, e.column, e.excerpt.as_str()), (3, 28, "http_reqs,status=200 value=abc 1"));
    assert_eq!(
        e.to_string(),
        "line 3, column 28: invalid float field value \"abc\" for field \"value\": \
         http_reqs,status=200 value=abc 1"
    );
}

#[test]
fn error_excerpt_is_truncated() {
    let long = format!("m,t={} f=x", "a".repeat(300));
    let e = fail(&long);
    assert_eq!(e.column, 308);
    assert_eq!(e.excerpt, format!("m,t={}...", "a".repeat(116)));
    // The excerpt is the line without its line ending.
    assert_eq!(fail("m f=x\r\n").excerpt, "m f=x");
}

#[test]
fn empty_measurement() {
    assert_fails(",t=1 f=1", 1, 1, "missing measurement");
    assert_fails("m f=1\n  ,t=1 f=1", 2, 3, "missing measurement");
}

#[test]
fn missing_fields_section() {
    assert_fails("m", 1, 2, "missing fields");
    assert_fails("m,t=1", 1, 6, "missing fields");
    assert_fails("m,t=1   ", 1, 9, "missing fields");
    assert_fails("m\\ ", 1, 4, "missing fields");
}

#[test]
fn field_without_equals() {
    assert_fails("m f", 1, 4, "missing \"=\" after field key \"f\"");
    assert_fails("m f 1", 1, 4, "missing \"=\" after field key \"f\"");
    assert_fails("m a=1,bc,d=2", 1, 9, "missing \"=\" after field key \"bc\"");
}

#[test]
fn empty_field_key() {
    assert_fails("m =1", 1, 3, "missing field key");
    assert_fails("m f=1,", 1, 7, "missing field key");
    assert_fails("m f=1,,g=2", 1, 7, "missing field key");
    assert_fails("m f=1, g=2", 1, 7, "missing field key");
}

#[test]
fn empty_field_value() {
    assert_fails("m f= 1", 1, 5, "missing value for field \"f\"");
    assert_fails("m f=,g=1", 1, 5, "missing value for field \"f\"");
    assert_fails("m f=", 1, 5, "missing value for field \"f\"");
}

#[test]
fn empty_tag_key() {
    assert_fails("m,=v f=1", 1, 3, "missing tag key");
    assert_fails("m, f=1", 1, 3, "missing tag key");
    assert_fails("m,t=1,,u=2 f=1", 1, 7, "missing tag key");
}

#[test]
fn empty_tag_value() {
    assert_fails("m,t= f=1", 1, 5, "missing value for tag \"t\"");
    assert_fails("m,t=,u=1 f=1", 1, 5, "missing value for tag \"t\"");
}

#[test]
fn tag_without_equals() {
    assert_fails("m,t f=1", 1, 4, "missing \"=\" after tag key \"t\"");
    assert_fails("m,a=1,tag,u=2 f=1", 1, 10, "missing \"=\" after tag key \"tag\"");
}

#[test]
fn unescaped_equals_in_tag_value() {
    assert_fails("m,t=a=b f=1", 1, 6, "unescaped \"=\" in value of tag \"t\"");
    assert_eq!(one(r"m,t=a\=b f=1").tag("t"), Some("a=b"));
}

#[test]
fn invalid_field_value_names_field_and_value() {
    assert_fails("m,t=1 a=1,value=12x3,c=2", 1, 17, "invalid float field value \"12x3\" for field \"value\"");
    assert_fails(r"m a=1,my\ field=yes", 1, 17, "invalid float field value \"yes\" for field \"my\\ field\"");
}

#[test]
fn unterminated_string() {
    assert_fails("m s=\"abc", 1, 5, "unterminated string value for field \"s\"");
    assert_fails(r#"m s="abc\""#, 1, 5, "unterminated string value for field \"s\"");
    // A newline ends the line even inside quotes.
    assert_fails("m f=1\nm s=\"two\nlines\" 1\n", 2, 5, "unterminated string value for field \"s\"");
}

#[test]
fn text_glued_to_a_string_value() {
    assert_fails(r#"m s="a"b"#, 1, 8, "unexpected character after the string value of field \"s\"");
}

#[test]
fn invalid_timestamp() {
    assert_fails("m f=1 12ab", 1, 7, "invalid timestamp \"12ab\"");
    assert_fails("m f=1 +12", 1, 7, "invalid timestamp \"+12\"");
    assert_fails("m f=1 1.5", 1, 7, "invalid timestamp \"1.5\"");
    assert_fails("m f=1 -", 1, 7, "invalid timestamp \"-\"");
    assert_fails("m f=1 1e9", 1, 7, "invalid timestamp \"1e9\"");
    assert_fails("m f=1 99999999999999999999", 1, 7, "timestamp \"99999999999999999999\" is out of range");
}

#[test]
fn trailing_garbage_after_timestamp() {
    assert_fails("m f=1 1 x", 1, 9, "unexpected text after the timestamp");
    assert_fails("m f=1 1 2", 1, 9, "unexpected text after the timestamp");
    assert_fails("m f=1 1   g=2", 1, 11, "unexpected text after the timestamp");
}

#[test]
fn non_utf8_line() {
    let e = parse(b"m f=1\nm,t=\xff f=1\nm f=2\n", Precision::Nanoseconds).unwrap_err();
    assert_eq!((e.line, e.column, e.reason.as_str(), e.excerpt.as_str()), (2, 5, "invalid utf-8", "m,t=\u{FFFD} f=1"));
    // Truncated multi-byte sequence at the end of a line.
    let e = parse(b"m s=\"\xc3\"", Precision::Nanoseconds).unwrap_err();
    assert_eq!((e.line, e.column), (1, 6));
    // Comment lines are skipped before any check.
    assert_eq!(parse(b"# \xff\xfe\nm f=1", Precision::Nanoseconds).unwrap().len(), 1);
}

#[test]
fn error_is_a_std_error() {
    fn takes(_: &dyn std::error::Error) {}
    takes(&fail("m"));
    takes(&UnknownPrecision("x".into()));
}
