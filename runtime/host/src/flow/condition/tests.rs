use super::*;

fn holds(text: &str, response: &Response) -> bool {
    let condition = Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    condition.holds(&Subject::new(response))
}

fn error(text: &str) -> String {
    Condition::parse(text).expect_err(text)
}

fn json(body: &str) -> Response {
    Response::ok(body).header("Content-Type", "application/json")
}

#[test]
fn the_module_example_holds() {
    let condition = Condition::parse(r#"status == 200 && body.state == "done""#).unwrap();
    let response = Response::ok(r#"{"state": "done"}"#);
    assert!(condition.holds(&Subject::new(&response)));
}

#[test]
fn status_comparisons() {
    let response = Response::with_status(404, "");
    for yes in [
        "status == 404",
        "status != 200",
        "status >= 400",
        "status < 500",
    ] {
        assert!(holds(yes, &response), "{yes}");
    }
    for no in [
        "status == 200",
        "status > 404",
        "status <= 399",
        "status == null",
    ] {
        assert!(!holds(no, &response), "{no}");
    }
    assert!(holds("status == 404.0", &response));
    assert!(holds("status == \"404\"", &response));
    assert!(holds("status", &response));
    assert!(holds(
        "-1 < 0 && 1.5 > 1 && 18446744073709551615 > 1",
        &response
    ));
}

#[test]
fn headers_are_read_in_any_case_and_as_numbers_when_compared_with_one() {
    let response = Response::ok("")
        .header("X-Count", "3")
        .header("Etag", "abc");
    assert!(holds("header.x-count == 3", &response));
    assert!(holds(
        "header.X-COUNT > 2.5 && header.x-count <= \"3\"",
        &response
    ));
    assert!(holds(
        "header.etag == \"abc\" && header.etag < \"abd\"",
        &response
    ));
    assert!(!holds("header.etag == 3 || header.etag > 3", &response));
    assert!(holds("header.etag != 3", &response));
    assert!(holds(
        "header.missing == null && !header.missing",
        &response
    ));
    // Headers a response did not lower-case are still found.
    let mut odd = Response::ok("");
    odd.headers.insert("X-Odd".into(), "1".into());
    assert!(holds("header.x-odd == 1", &odd));
    // Two strings compare as text, not as numbers.
    assert!(holds("\"10\" < \"9\"", &odd));
}

#[test]
fn body_paths_read_objects_arrays_and_quoted_keys() {
    let response = json(
        r#"{"order": {"items": [{"sku": "a-1", "qty": 2}, {"sku": "b", "qty": 0}],
             "paid": true, "note": ""},
            "odd key": {"x.y": "z"}, "big": 12345678901234567890, "list": []}"#,
    );
    for yes in [
        r#"body.order.items[0].sku == "a-1""#,
        "body.order.items[0].qty == 2.0",
        r#"body["odd key"]["x.y"] == "z""#,
        "body.order.paid && !body.order.note && !body.order.items[1].qty",
        "body.order.items[2] == null && body.order.items[0].qty.x == null",
        "body.order.items.0 == null && body.order[0] == null",
        "body.big == 12345678901234567890 && body.big > 12345678901234567889",
        "body.list && body.order",
    ] {
        assert!(holds(yes, &response), "{yes}");
    }
    assert!(holds(r#"body[1] == "b""#, &json(r#"["a", "b"]"#)));
}

#[test]
fn a_body_that_is_not_json_is_text_and_its_paths_null() {
    let response = Response::ok("all good");
    assert!(holds(r#"body == "all good" && body.x == null"#, &response));
    assert!(!holds("body.x", &response));
    assert!(!holds("body", &Response::ok("")));
}

#[test]
fn a_base64_body_is_decoded() {
    let mut response = Response::ok("eyJvayI6IHRydWV9"); // {"ok": true}
    response.is_base64_encoded = true;
    assert!(holds(r#"body.ok && body == "{\"ok\": true}""#, &response));
    response.body = "/w==".into(); // 0xff: not UTF-8
    assert!(holds("body == null && body.ok == null", &response));
    response.body = "not base64!".into();
    assert!(holds("body == null && body.ok == null", &response));
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_both() {
    let response = Response::ok("");
    assert!(holds("true || false && false", &response));
    assert!(!holds("(true || false) && false", &response));
    assert!(holds("!false && !(true && false)", &response));
    assert!(!holds("!true || false", &response));
    assert!(holds("!!true && (status == 200) == true", &response));
    assert!(holds(
        "null == null && false != null && 0 != false",
        &response
    ));
}

#[test]
fn the_json_body_is_parsed_once_for_every_condition() {
    let response = json(r#"{"a": 1, "b": [2]}"#);
    let subject = Subject::new(&response);
    assert!(subject.json.get().is_none());
    assert!(Condition::parse("body.a == 1").unwrap().holds(&subject));
    let parsed: *const Value = subject.json().unwrap();
    assert!(Condition::parse("body.b[0] == 2").unwrap().holds(&subject));
    assert!(std::ptr::eq(parsed, subject.json().unwrap()));
}

#[test]
fn errors_say_where_and_what() {
    let cases = [
        ("", "is empty"),
        ("  ", "is empty"),
        (
            "stat == 200",
            "at 0: unknown name 'stat' (expected status, header.NAME, body, body.PATH or a literal)",
        ),
        ("status == 200 &&", "at 16: expected an operand after '&&'"),
        ("status ==", "at 9: expected an operand after '=='"),
        ("status == 200)", "at 13: unexpected ')'"),
        ("1 == 2 == 3", "at 7: unexpected '=='"),
        ("(status", "at 7: expected ')' to close the '(' at 0"),
        (
            "(status ||)",
            "at 10: expected an operand after '||', found ')'",
        ),
        ("!", "at 1: expected an operand after '!'"),
        ("&& true", "at 0: expected an operand, found '&&'"),
        ("status = 200", "at 7: unexpected '=' (write '==')"),
        ("true & false", "at 5: unexpected '&' (write '&&')"),
        ("status # 1", "at 7: unexpected '#'"),
        ("body == \"abc", "at 8: unterminated string"),
        (
            r#"body == "a\n""#,
            r#"at 10: unknown escape '\n' (a string knows only \" and \\)"#,
        ),
        ("header", "at 6: expected '.NAME' after 'header'"),
        ("header.", "at 7: expected a header name after 'header.'"),
        ("body.", "at 5: expected a key after '.'"),
        (
            "body[x]",
            "at 5: expected an index or a quoted key after '['",
        ),
        ("body[0", "at 6: expected ']'"),
        (
            "body[99999999999999999999999]",
            "at 5: '99999999999999999999999' is not an index",
        ),
        ("status == -", "at 11: expected a digit"),
        ("status == 1.", "at 12: expected a digit"),
    ];
    for (text, message) in cases {
        assert_eq!(error(text), message, "{text}");
    }
    assert_eq!(error(&"9".repeat(400)), "at 0: number out of range");
}

#[test]
fn texts_over_the_length_bound_are_refused() {
    let longest = format!("status == 200{}", " ".repeat(MAX_LEN - 13));
    assert!(Condition::parse(&longest).is_ok());
    assert_eq!(error(&format!("{longest} ")), "is longer than 1024 bytes");
}

#[test]
fn nesting_over_the_depth_bound_is_refused() {
    let response = Response::ok("");
    let parens = |n: usize| format!("{}true{}", "(".repeat(n), ")".repeat(n));
    assert!(holds(&parens(MAX_DEPTH), &response));
    assert_eq!(
        error(&parens(MAX_DEPTH + 1)),
        "at 32: nests '(' and '!' more than 32 deep"
    );
    let nots = |n: usize| format!("{}true", "!".repeat(n));
    assert!(holds(&nots(MAX_DEPTH), &response));
    assert!(error(&nots(MAX_DEPTH + 1)).contains("more than 32 deep"));
    assert!(error(&"(!".repeat(17)).contains("more than 32 deep"));
    // Long flat chains are not nesting.
    assert!(holds(&vec!["1"; 300].join("&&"), &response));
}

#[test]
fn paths_over_the_segment_bound_are_refused() {
    let path = |n: usize| format!("body{} == null", ".a".repeat(n));
    assert!(Condition::parse(&path(MAX_PATH)).is_ok());
    assert_eq!(
        error(&path(MAX_PATH + 1)),
        "at 36: a body path has at most 16 segments"
    );
}

#[test]
fn display_and_text_are_the_original() {
    let condition = Condition::parse(" status==200 ").unwrap();
    assert_eq!(condition.text(), " status==200 ");
    assert_eq!(condition.to_string(), " status==200 ");
}

/// Every prefix, every one-byte deletion and pseudo-random texts:
/// parsing and evaluation return, whatever the input.
#[test]
fn malformed_texts_never_panic() {
    let valid = [
        r#"status == 200 && (body.items[0]["k\"ey"] != null || !header.x-count)"#,
        r#"!(body.a.b[3] >= -1.25) || body == "ü\\" && header.etag < "é""#,
        "((status)) != 2 && !!body[1].x <= 18446744073709551616",
    ];
    let mut texts: Vec<String> = Vec::new();
    for text in valid {
        for (i, _) in text.char_indices() {
            texts.push(text[..i].to_owned());
            texts.push(text[i..].to_owned());
            let mut removed = text.to_owned();
            removed.remove(i);
            texts.push(removed);
        }
    }
    let alphabet: Vec<char> = "()!&|=<>\"\\.[]-0123456789 abdeghlnorstuxyé"
        .chars()
        .collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5000 {
        let len = usize::try_from(seed % 40).unwrap();
        let text: String = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                alphabet[usize::try_from(seed >> 33).unwrap() % alphabet.len()]
            })
            .collect();
        texts.push(text);
    }
    texts.push("(".repeat(5000));
    texts.push("(".repeat(MAX_LEN));
    texts.push("!".repeat(1024));
    let bodies = [
        json(r#"{"a": {"b": [1, 2, 3, {"x": 0}]}, "items": [{"k\"ey": 1}]}"#),
        Response::ok("[1]"),
    ];
    let mut parsed = 0;
    for text in &texts {
        if let Ok(condition) = Condition::parse(text) {
            parsed += 1;
            for body in &bodies {
                condition.holds(&Subject::new(body));
            }
        }
    }
    assert!(parsed > 20, "only {parsed} of {} parsed", texts.len());
}
