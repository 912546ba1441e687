use std::path::Path;

use super::*;

/// A compact, type-revealing rendering of a value for table tests:
/// integers as `1`, floats as `1.5f`, strings debug-quoted, booleans bare.
fn dump_value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => format!("{x}f"),
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(|i| dump_value(&i.value)).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Map(m) => dump(m),
    }
}

fn dump(m: &Map) -> String {
    let parts: Vec<String> = m
        .iter()
        .map(|(k, i)| format!("{k}: {}", dump_value(&i.value)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn parse(text: &str) -> Result<Map, ConfError> {
    parse_str(text, Path::new("test.conf"))
}

#[track_caller]
fn check(text: &str, expected: &str) {
    match parse(text) {
        Ok(m) => assert_eq!(dump(&m), expected, "input: {text:?}"),
        Err(e) => panic!("input {text:?}: unexpected error {e}"),
    }
}

#[test]
fn table_constructs() {
    let cases: &[(&str, &str)] = &[
        // separators
        ("port: 4222", "{port: 4222}"),
        ("port = 4222", "{port: 4222}"),
        ("port 4222", "{port: 4222}"),
        ("port:4222", "{port: 4222}"),
        ("port=4222", "{port: 4222}"),
        ("port\t:\t4222", "{port: 4222}"),
        ("port\n: 4222", "{port: 4222}"),
        ("a: 1; b: 2", "{a: 1, b: 2}"),
        ("a: 1, b: 2,", "{a: 1, b: 2}"),
        ("a: 1;;\nb: 2", "{a: 1, b: 2}"),
        ("a: 1\r\nb: 2\r\n", "{a: 1, b: 2}"),
        ("", "{}"),
        ("   \n\n", "{}"),
        ("\u{feff}a: 1", "{a: 1}"),
        // comments
        (
            "# comment\na: 1 # trailing\n// other\nb: 2 // trailing",
            "{a: 1, b: 2}",
        ),
        ("a: 1#x", "{a: \"1#x\"}"),
        ("pass: abc#def", "{pass: \"abc#def\"}"),
        // keys
        ("\"quoted key\": 1", "{quoted key: 1}"),
        ("'single key' = 1", "{single key: 1}"),
        ("a.b-c_d: 1", "{a.b-c_d: 1}"),
        ("Port: 1\nport: 2", "{Port: 1, port: 2}"),
        ("a: 1\na: 2", "{a: 2}"),
        ("a: 1\nb: 2\na: 3", "{a: 3, b: 2}"),
        // booleans
        (
            "a: true, b: FALSE, c: yes, d: No, e: on, f: OFF",
            "{a: true, b: false, c: true, d: false, e: true, f: false}",
        ),
        ("a: \"true\"", "{a: \"true\"}"),
        ("a: truex", "{a: \"truex\"}"),
        // integers and sizes
        ("a: 0", "{a: 0}"),
        ("a: -1", "{a: -1}"),
        (
            "a: 1k, b: 1K, c: 1kb, d: 1ki, e: 1KiB",
            "{a: 1000, b: 1000, c: 1024, d: 1024, e: 1024}",
        ),
        (
            "a: 2m, b: 2MB, c: 2mi, d: 2mib",
            "{a: 2000000, b: 2097152, c: 2097152, d: 2097152}",
        ),
        ("a: 1g, b: 1gb", "{a: 1000000000, b: 1073741824}"),
        ("a: 1t, b: 1tb", "{a: 1000000000000, b: 1099511627776}"),
        (
            "a: 1p, b: 1pb",
            "{a: 1000000000000000, b: 1125899906842624}",
        ),
        (
            "a: 1e, b: 1eb",
            "{a: 1000000000000000000, b: 1152921504606846976}",
        ),
        ("a: -1k", "{a: -1000}"),
        ("a: 9223372036854775807", "{a: 9223372036854775807}"),
        ("m {a: 1MB}", "{m: {a: 1048576}}"),
        ("a: [1k,2]", "{a: [1000, 2]}"),
        // floats
        ("a: 1.5", "{a: 1.5f}"),
        ("a: -0.25", "{a: -0.25f}"),
        ("a: 1.0", "{a: 1f}"),
        // strings that look a bit like numbers
        ("a: 10s", "{a: \"10s\"}"),
        ("a: 500ms", "{a: \"500ms\"}"),
        ("a: 1h30m", "{a: \"1h30m\"}"),
        ("a: 1.5s", "{a: \"1.5s\"}"),
        ("a: 1e5", "{a: \"1e5\"}"),
        ("a: 1kx", "{a: \"1kx\"}"),
        ("a: 1Mbit", "{a: \"1Mbit\"}"),
        ("a: 12-3", "{a: \"12-3\"}"),
        ("a: 2006-01-02T15:04:05Z", "{a: \"2006-01-02T15:04:05Z\"}"),
        ("a: 1.", "{a: \"1.\"}"),
        ("a: .5", "{a: \".5\"}"),
        ("a: -", "{a: \"-\"}"),
        ("a: -abc", "{a: \"-abc\"}"),
        // bare strings with : . / -
        ("listen: 127.0.0.1:4222", "{listen: \"127.0.0.1:4222\"}"),
        ("http: 127.0.0.1:-1", "{http: \"127.0.0.1:-1\"}"),
        ("listen: localhost:4222", "{listen: \"localhost:4222\"}"),
        (
            "m {listen: 0.0.0.0:4222}",
            "{m: {listen: \"0.0.0.0:4222\"}}",
        ),
        ("dir: /tmp/nats-js/x_1", "{dir: \"/tmp/nats-js/x_1\"}"),
        (
            "url: nats://a:b@host:4222",
            "{url: \"nats://a:b@host:4222\"}",
        ),
        ("a: x=y", "{a: \"x=y\"}"),
        ("a: x{y", "{a: \"x{y\"}"),
        ("a: b\"c", "{a: \"b\\\"c\"}"),
        // bare-string escapes
        ("a: x\\ty", "{a: \"x\\ty\"}"),
        ("a: C:\\data", "{a: \"C:\\\\data\"}"),
        ("a: x\\,y", "{a: \"x\\\\,y\"}"),
        ("a: tru\\x65", "{a: \"true\"}"),
        // quoted strings
        ("a: \"hello world\"", "{a: \"hello world\"}"),
        ("a: \"\"", "{a: \"\"}"),
        (
            "a: \"tab\\tnl\\ncr\\rq\\\"bs\\\\x\\x41\"",
            "{a: \"tab\\tnl\\ncr\\rq\\\"bs\\\\xA\"}",
        ),
        ("a: \"\\xc3\\xa9\"", "{a: \"é\"}"),
        ("a: \"C:\\data\\q\"", "{a: \"C:\\\\data\\\\q\"}"),
        ("a: \"multi\nline\"", "{a: \"multi\\nline\"}"),
        ("a: 'raw \\t $x \"q\"'", "{a: \"raw \\\\t $x \\\"q\\\"\"}"),
        ("a: 'multi\nline'", "{a: \"multi\\nline\"}"),
        ("a: \"$NOT_A_VAR\"", "{a: \"$NOT_A_VAR\"}"),
        ("a: \"1MB\"", "{a: \"1MB\"}"),
        ("a: 'héllo ✓'", "{a: \"héllo ✓\"}"),
        // block strings
        (
            "a: (\nline 1\n  line 2\n)\nb: 1",
            "{a: \"\\nline 1\\n  line 2\\n\", b: 1}",
        ),
        ("a (\nx)y\n)", "{a: \"\\nx)y\\n\"}"),
        ("a: (\n(nested)\n)  \n", "{a: \"\\n(nested)\\n\"}"),
        // arrays
        ("a: [1, 2, 3]", "{a: [1, 2, 3]}"),
        ("a: []", "{a: []}"),
        ("a: [ ]", "{a: []}"),
        ("a: [a, b, ]", "{a: [\"a\", \"b\"]}"),
        (
            "a: [\n  a\n  b # c\n  // d\n  c,\n]",
            "{a: [\"a\", \"b\", \"c\"]}",
        ),
        (
            "a: [1, \"two\", 3.5, true, [x], {k: v}]",
            "{a: [1, \"two\", 3.5f, true, [\"x\"], {k: \"v\"}]}",
        ),
        ("a: [[1, 2], [3]]", "{a: [[1, 2], [3]]}"),
        ("a [x]", "{a: [\"x\"]}"),
        ("a: [127.0.0.1:4222]", "{a: [\"127.0.0.1:4222\"]}"),
        (
            "a: [{user: a, pass: b}, {user: c, pass: d}]",
            "{a: [{user: \"a\", pass: \"b\"}, {user: \"c\", pass: \"d\"}]}",
        ),
        // maps
        ("m { a: 1 }", "{m: {a: 1}}"),
        ("m{a: 1}", "{m: {a: 1}}"),
        (
            "m: {a: 1, b: 2; c: 3\n d: 4}",
            "{m: {a: 1, b: 2, c: 3, d: 4}}",
        ),
        (
            "m {\n  a: 1\n  n {\n    b: 2\n  }\n}\nc: 3",
            "{m: {a: 1, n: {b: 2}}, c: 3}",
        ),
        ("m = {}", "{m: {}}"),
        ("m {}\n", "{m: {}}"),
        ("m\n{\n a: 1\n}", "{m: {a: 1}}"),
        ("m { # comment\n a: 1 // c\n}", "{m: {a: 1}}"),
        ("m { 'a b': 1, \"c\": 2 }", "{m: {a b: 1, c: 2}}"),
        ("m { a: 1 }; n { b: 2 }", "{m: {a: 1}, n: {b: 2}}"),
        // JSON-style top-level braces
        (
            "{ \"a\": 1, \"b\": { \"c\": [1, 2] } }",
            "{a: 1, b: {c: [1, 2]}}",
        ),
        ("{\n a: 1\n}\n{ b: 2 }", "{a: 1, b: 2}"),
        // keywords
        ("include: 1", "{include: 1}"),
        ("include = x", "{include: \"x\"}"),
        ("include : x", "{include: \"x\"}"),
        // bcrypt
        (
            "p: $2a$11$W2zko751KUvVy59mUTWmpOdWXwGD/Qhy0oFZGlbskHHbdaYWyFg7i",
            "{p: \"$2a$11$W2zko751KUvVy59mUTWmpOdWXwGD/Qhy0oFZGlbskHHbdaYWyFg7i\"}",
        ),
        ("p: $2b$10$abc", "{p: \"$2b$10$abc\"}"),
        // variables
        ("a: 5\nb: $a", "{a: 5, b: 5}"),
        ("a: [1, 2]\nb: $a", "{a: [1, 2], b: [1, 2]}"),
        (
            "a: x\nm { a: y, b: $a }\nc: $a",
            "{a: \"x\", m: {a: \"y\", b: \"y\"}, c: \"x\"}",
        ),
        ("a: x\nm { n { b: $a } }", "{a: \"x\", m: {n: {b: \"x\"}}}"),
        ("a: 1\na: 2\nb: $a", "{a: 2, b: 2}"),
        (
            "a: x\nl: [$a, [$a], {k: $a}]",
            "{a: \"x\", l: [\"x\", [\"x\"], {k: \"x\"}]}",
        ),
        ("m { a: 1 }\nb: $m", "{m: {a: 1}, b: {a: 1}}"),
    ];
    for (text, expected) in cases {
        check(text, expected);
    }
}

#[test]
fn table_errors() {
    // (input, line, col, message fragment)
    let cases: &[(&str, u32, u32, &str)] = &[
        ("a", 1, 1, "key 'a' has no value"),
        ("a:", 1, 1, "key 'a' has no value"),
        ("a:\nb: 1", 1, 3, "found a new line"),
        ("a = \n", 1, 5, "found a new line"),
        ("a: 1 b: 2", 1, 6, "after the value of 'a', found 'b'"),
        ("a: \"x\"y", 1, 7, "found 'y'"),
        ("a: [1, 2] x", 1, 11, "found 'x'"),
        ("a: 1 / x", 1, 6, "found '/'"),
        (": 1", 1, 1, "unexpected key separator ':'"),
        ("= 1", 1, 1, "unexpected key separator '='"),
        ("}", 1, 1, "unexpected '}'"),
        ("a: 1\n}", 2, 1, "unexpected '}'"),
        ("]", 1, 1, "unexpected ']'"),
        ("[a]", 1, 1, "unexpected '['"),
        ("m { { } }", 1, 5, "unexpected '{'"),
        ("m { a: 1", 1, 9, "'{' at line 1, column 3 is never closed"),
        ("{ a: 1", 1, 7, "'{' at line 1, column 1 is never closed"),
        ("a: [1, 2", 1, 9, "'[' at line 1, column 4 is never closed"),
        (
            "a: [1,\n2\n",
            3,
            1,
            "'[' at line 1, column 4 is never closed",
        ),
        ("a: [,]", 1, 5, "unexpected ','"),
        ("a: [1,,2]", 1, 7, "unexpected ','"),
        ("a: [1 2]", 1, 7, "expected ',', ']' or a new line"),
        ("a: [1; 2]", 1, 6, "expected ',', ']' or a new line"),
        ("a: ;", 1, 4, "expected a value, found ';'"),
        ("a: }", 1, 4, "expected a value, found '}'"),
        ("a: [1, ]]", 1, 9, "found ']'"),
        ("\"a: 1", 1, 1, "unterminated quoted key"),
        ("'a\n: 1", 1, 1, "unterminated quoted key"),
        ("a: \"abc", 1, 4, "unterminated double-quoted string"),
        ("a: \"abc\\", 1, 4, "unterminated double-quoted string"),
        ("a: 'abc", 1, 4, "unterminated single-quoted string"),
        ("a: (\nabc\n", 1, 4, "unterminated block string"),
        ("a: (abc)", 1, 4, "unterminated block string"),
        ("a: 99999999999999999999", 1, 4, "out of range"),
        ("a: -99999999999999999999", 1, 4, "out of range"),
        ("a: 9999999999e", 1, 4, "out of range"),
        ("a: 10000pb", 1, 4, "out of range"),
        ("a: 1kbb", 1, 4, "invalid size suffix"),
        ("a: 1kbi", 1, 4, "invalid size suffix"),
        ("a: 1.5e400", 1, 4, ""), // a string, handled below: not an error
        ("a: $", 1, 4, "empty variable name"),
        (
            "a: $SLUICE_CONF_TEST_SURELY_UNDEFINED_VAR",
            1,
            4,
            "variable reference for 'SLUICE_CONF_TEST_SURELY_UNDEFINED_VAR' can not be found",
        ),
        (
            "b: $a\na: 1",
            1,
            4,
            "variable reference for 'a' can not be found",
        ),
        ("m { a: 1 }\nb: $m.a", 2, 4, "can not be found"),
        ("m { a: 1 }\nb: $a", 2, 4, "can not be found"),
        ("l: [ {a: 1}, $a ]", 1, 14, "can not be found"),
        ("include", 1, 8, "expected a file name after 'include'"),
        ("include\n", 1, 8, "expected a file name after 'include'"),
        ("include ''", 1, 1, "expected a file name"),
        ("include 'x", 1, 9, "unterminated include file name"),
        (
            "include sluice_no_such_file.conf",
            1,
            1,
            "error reading include file",
        ),
        (
            "a: 1\n  include \"sluice_no_such_file.conf\"",
            2,
            3,
            "error reading include file",
        ),
        ("include x y", 1, 11, "after the value of 'include'"),
    ];
    for &(text, line, col, frag) in cases {
        if frag.is_empty() {
            assert!(parse(text).is_ok(), "{text:?}");
            continue;
        }
        match parse(text) {
            Ok(m) => panic!(
                "input {text:?}: expected error containing {frag:?}, got {}",
                dump(&m)
            ),
            Err(e) => {
                assert!(
                    e.message.contains(frag),
                    "input {text:?}: error {e} does not contain {frag:?}"
                );
                assert_eq!((e.line, e.col), (line, col), "input {text:?}: error {e}");
                assert_eq!(e.file, Path::new("test.conf"), "input {text:?}");
                assert_eq!(
                    e.to_string(),
                    format!("test.conf:{line}:{col}: {}", e.message)
                );
            }
        }
    }
}

#[test]
fn positions() {
    let m = parse("a: 1\nm {\n  b:   'x'\n  l: [1,\n     2]\n}\n").unwrap();
    let a = m.get("a").unwrap();
    assert_eq!((a.pos.line, a.pos.col), (1, 4));
    let e = m.get_entry("m").unwrap();
    assert_eq!((e.key_pos.line, e.key_pos.col), (2, 1));
    assert_eq!((e.item.pos.line, e.item.pos.col), (2, 3));
    let inner = e.item.value.as_map().unwrap();
    let b = inner.get("b").unwrap();
    assert_eq!((b.pos.line, b.pos.col), (3, 8));
    let l = inner.get("l").unwrap().value.as_array().unwrap();
    assert_eq!((l[1].pos.line, l[1].pos.col), (5, 6));
    assert_eq!(&*a.pos.file, Path::new("test.conf"));
    assert_eq!(a.pos.to_string(), "test.conf:1:4");
}

#[test]
fn variable_positions_and_usage() {
    let m = parse("size: 1MB\nmax_payload: $size\nother: 1").unwrap();
    let v = m.get("max_payload").unwrap();
    assert_eq!(v.value, Value::Int(1024 * 1024));
    assert_eq!((v.pos.line, v.pos.col), (2, 14));
    let entries = m.entries();
    assert!(entries[0].used_as_variable);
    assert!(!entries[1].used_as_variable);
    assert!(!entries[2].used_as_variable);
}

#[test]
fn map_api() {
    let m = parse("Port: 1\nHOST: x\nport: 2").unwrap();
    assert_eq!(m.len(), 3);
    assert!(!m.is_empty());
    // case-insensitive, last definition wins
    assert_eq!(m.get("PORT").unwrap().value, Value::Int(2));
    assert_eq!(m.get("host").unwrap().value.as_str(), Some("x"));
    assert_eq!(m.get_exact("Port").unwrap().value, Value::Int(1));
    assert!(m.get_exact("port").is_some());
    assert!(m.get_exact("host").is_none());
    assert!(m.contains_key("Host"));
    assert_eq!(m.keys().collect::<Vec<_>>(), ["Port", "HOST", "port"]);
    let mut n = 0;
    for (_k, _v) in &m {
        n += 1;
    }
    assert_eq!(n, 3);

    let mut built = Map::new();
    let pos = Pos::new(Path::new("x").into(), 1, 1);
    built.insert("a", Item::new(Value::Int(1), pos.clone()));
    built.insert("a", Item::new(Value::Int(2), pos));
    assert_eq!(built.len(), 1);
    assert_eq!(built.get("A").unwrap().value.as_int(), Some(2));
}

#[test]
fn value_helpers() {
    assert_eq!(Value::String("a".into()).describe(), "string \"a\"");
    assert_eq!(Value::Int(5).describe(), "integer 5");
    assert_eq!(Value::Float(1.5).describe(), "float 1.5");
    assert_eq!(Value::Bool(true).describe(), "boolean true");
    assert_eq!(Value::Array(vec![]).type_name(), "array");
    assert_eq!(Value::Map(Map::new()).type_name(), "map");
    assert_eq!(Value::Float(1.5).as_float(), Some(1.5));
    assert_eq!(Value::Bool(false).as_bool(), Some(false));
    assert!(Value::Int(1).as_str().is_none());
    assert!(Value::Int(1).as_array().is_none());
    assert!(Value::Int(1).as_map().is_none());
}

// ----- environment variables -----

/// Each test uses its own variable names, so tests running in parallel do
/// not interfere.
fn set_env(name: &str, value: &str) {
    std::env::set_var(name, value);
}

#[test]
fn env_variables() {
    set_env("SLUICE_CONF_T_INT", "42");
    set_env("SLUICE_CONF_T_SIZE", "1MB");
    set_env("SLUICE_CONF_T_STR", "hello");
    set_env("SLUICE_CONF_T_WORDS", "two words");
    set_env("SLUICE_CONF_T_QUOTED", "\"two words\"");
    set_env("SLUICE_CONF_T_ARR", "[1, 2]");
    set_env("SLUICE_CONF_T_EMPTY", "");
    set_env("SLUICE_CONF_T_BOOL", "yes");
    set_env("SLUICE_CONF_T_DOLLAR", "$SLUICE_CONF_T_UNDEFINED_X");
    set_env("SLUICE_CONF_T_CHAIN", "$SLUICE_CONF_T_INT");
    let m = parse(
        "a: $SLUICE_CONF_T_INT\nb: $SLUICE_CONF_T_SIZE\nc: $SLUICE_CONF_T_STR\n\
         d: $SLUICE_CONF_T_WORDS\ne: $SLUICE_CONF_T_QUOTED\nf: $SLUICE_CONF_T_ARR\n\
         g: $SLUICE_CONF_T_EMPTY\nh: $SLUICE_CONF_T_BOOL\ni: $SLUICE_CONF_T_DOLLAR\n\
         j: $SLUICE_CONF_T_CHAIN\nm { k: [$SLUICE_CONF_T_INT] }",
    )
    .unwrap();
    assert_eq!(
        dump(&m),
        "{a: 42, b: 1048576, c: \"hello\", d: \"two words\", e: \"two words\", f: [1, 2], \
         g: \"\", h: true, i: \"$SLUICE_CONF_T_UNDEFINED_X\", j: 42, m: {k: [42]}}"
    );
    // Values from the environment carry the position of the reference.
    let f = m.get("f").unwrap();
    assert_eq!((f.pos.line, f.pos.col), (6, 4));
    let inner = f.value.as_array().unwrap();
    assert_eq!(&*inner[0].pos.file, Path::new("test.conf"));
    assert_eq!(inner[0].pos.line, 6);
}

#[test]
fn config_variable_shadows_env() {
    set_env("SLUICE_CONF_T_SHADOW", "from-env");
    let m = parse("SLUICE_CONF_T_SHADOW: from-file\na: $SLUICE_CONF_T_SHADOW").unwrap();
    assert_eq!(m.get("a").unwrap().value.as_str(), Some("from-file"));
    let m = parse("a: $SLUICE_CONF_T_SHADOW").unwrap();
    assert_eq!(m.get("a").unwrap().value.as_str(), Some("from-env"));
}

#[test]
fn env_variable_cycles() {
    set_env("SLUICE_CONF_T_CYC_A", "$SLUICE_CONF_T_CYC_B");
    set_env("SLUICE_CONF_T_CYC_B", "$SLUICE_CONF_T_CYC_A");
    set_env("SLUICE_CONF_T_CYC_SELF", "$SLUICE_CONF_T_CYC_SELF");
    set_env(
        "SLUICE_CONF_T_CYC_NESTED",
        "[1, {x: $SLUICE_CONF_T_CYC_NESTED}]",
    );
    for (text, col) in [
        ("\n  a: $SLUICE_CONF_T_CYC_A", 6),
        ("\n  a: $SLUICE_CONF_T_CYC_SELF", 6),
        ("\n  a: $SLUICE_CONF_T_CYC_NESTED", 6),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
        assert_eq!((e.line, e.col), (2, col), "{e}");
    }
}

// ----- includes -----

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn includes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "auth.conf", "user: alice\npassword: \"s3cret\"\n");
    write(
        d,
        "sub/limits.conf",
        "max_payload: 2MB\ninclude ../more.conf\n",
    );
    write(d, "more.conf", "ping_max: 5 // from more\n");
    let main = write(
        d,
        "main.conf",
        "port: 4222\nauthorization {\n  include 'auth.conf'\n  timeout: 2\n}\n\
         include \"sub/limits.conf\"\nx: $max_payload\nINCLUDE more.conf;\n",
    );
    let m = parse_file(&main).unwrap();
    assert_eq!(
        dump(&m),
        "{port: 4222, authorization: {user: \"alice\", password: \"s3cret\", timeout: 2}, \
         max_payload: 2097152, ping_max: 5, x: 2097152}"
    );
    // Positions refer to the included files.
    let auth = m.get("authorization").unwrap().value.as_map().unwrap();
    let user = auth.get("user").unwrap();
    assert_eq!(&*user.pos.file, d.join("auth.conf").as_path());
    assert_eq!(user.pos.line, 1);
    let mp = m.get_entry("max_payload").unwrap();
    assert_eq!(&*mp.key_pos.file, d.join("sub/limits.conf").as_path());
    assert!(mp.used_as_variable);

    // parse_str resolves includes relative to the origin's directory.
    let m = parse_str("include more.conf", &d.join("whatever.conf")).unwrap();
    assert_eq!(dump(&m), "{ping_max: 5}");
}

#[test]
fn include_does_not_see_includer_variables() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "inc.conf", "b: $sluice_conf_t_inc_var\n");
    let main = write(
        d,
        "main.conf",
        "sluice_conf_t_inc_var: 1\ninclude inc.conf\n",
    );
    let e = parse_file(&main).unwrap_err();
    assert_eq!(e.file, d.join("inc.conf"));
    assert_eq!(e.line, 1);
    assert!(e.message.contains("can not be found"), "{e}");
}

#[test]
fn include_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Errors inside an included file name that file and line.
    write(d, "bad.conf", "a: 1\nb: [1,\n");
    let main = write(d, "main.conf", "x: 1\ninclude bad.conf\n");
    let e = parse_file(&main).unwrap_err();
    assert_eq!(e.file, d.join("bad.conf"));
    assert_eq!(e.line, 3);

    // Self inclusion and cycles.
    let selfinc = write(d, "self.conf", "a: 1\ninclude self.conf\n");
    let e = parse_file(&selfinc).unwrap_err();
    assert!(e.message.contains("include cycle"), "{e}");
    assert_eq!((e.file.clone(), e.line), (selfinc.clone(), 2));

    write(d, "c1.conf", "include c2.conf\n");
    write(d, "c2.conf", "include ./c1.conf\n");
    let e = parse_file(&d.join("c1.conf")).unwrap_err();
    assert!(e.message.contains("include cycle"), "{e}");
    assert_eq!(e.file, d.join("c2.conf"));

    // Depth limit (a chain of distinct files).
    for i in 0..40 {
        write(
            d,
            &format!("deep{i}.conf"),
            &format!("k{i}: 1\ninclude deep{}.conf\n", i + 1),
        );
    }
    write(d, "deep40.conf", "end: 1\n");
    let e = parse_file(&d.join("deep0.conf")).unwrap_err();
    assert!(e.message.contains("nested too deeply"), "{e}");
    // A chain within the limit works.
    write(d, "short0.conf", "include short1.conf\n");
    write(d, "short1.conf", "include short2.conf\n");
    write(d, "short2.conf", "end: 1\n");
    assert_eq!(
        dump(&parse_file(&d.join("short0.conf")).unwrap()),
        "{end: 1}"
    );

    // A directory cannot be included.
    std::fs::create_dir_all(d.join("adir")).unwrap();
    let e = parse_str("include adir", &d.join("m.conf")).unwrap_err();
    assert!(e.message.contains("error reading include file"), "{e}");
}

#[test]
fn parse_file_errors() {
    let e = parse_file(Path::new("/nonexistent/sluice/x.conf")).unwrap_err();
    assert_eq!(e.line, 0);
    assert_eq!(e.file, Path::new("/nonexistent/sluice/x.conf"));
    assert!(e
        .to_string()
        .starts_with("/nonexistent/sluice/x.conf: error opening config file"));

    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "e.conf", "a: 1\nb: [\n");
    let e = parse_file(&p).unwrap_err();
    assert_eq!(e.file, p);
    assert_eq!(e.line, 3);
    assert!(e.to_string().starts_with(&format!("{}:3:1: ", p.display())));
}

#[test]
fn nesting_limit() {
    let deep = "a: ".to_string() + &"[".repeat(1000) + &"]".repeat(1000);
    let e = parse(&deep).unwrap_err();
    assert!(e.message.contains("nested too deeply"), "{e}");
    let deep = "a ".to_string() + &"{b ".repeat(1000) + &"}".repeat(1000);
    let e = parse(&deep).unwrap_err();
    assert!(e.message.contains("nested too deeply"), "{e}");
    let deep = "{".repeat(1000);
    assert!(parse(&deep).is_err());
    let ok = "a: ".to_string() + &"[".repeat(MAX_NESTING_DEPTH) + &"]".repeat(MAX_NESTING_DEPTH);
    assert!(parse(&ok).is_ok());
    let too =
        "a: ".to_string() + &"[".repeat(MAX_NESTING_DEPTH + 1) + &"]".repeat(MAX_NESTING_DEPTH + 1);
    assert!(parse(&too).is_err());
}

#[test]
fn exponential_variable_expansion_is_bounded() {
    let mut text = String::from("a0: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n");
    for i in 1..30 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: [$a{p}, $a{p}, $a{p}, $a{p}, $a{p}, $a{p}, $a{p}, $a{p}]\n"
        ));
    }
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("too many values"), "{e}");
    // Moderate reuse is fine.
    let m = parse("a: [1, 2]\nb: [$a, $a]\nc: [$b, $b]").unwrap();
    assert_eq!(
        dump_value(&m.get("c").unwrap().value),
        "[[[1, 2], [1, 2]], [[1, 2], [1, 2]]]"
    );
}

#[test]
fn many_keys_parse_quickly() {
    let mut text = String::new();
    for i in 0..200_000 {
        text.push_str(&format!("key{i}: {i}\n"));
    }
    text.push_str("last: $key4242\n");
    let start = std::time::Instant::now();
    let m = parse(&text).unwrap();
    assert_eq!(m.len(), 200_001);
    assert_eq!(m.get("last").unwrap().value, Value::Int(4242));
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn nats_js_launcher_config() {
    // The shape of config the nats.js test harness writes.
    let text = r#"
host: 127.0.0.1
port: -1
http: 127.0.0.1:-1
leafnodes {
  listen: 127.0.0.1:-1
}
server_tags: [id:abc123]
ports_file_dir: /tmp/nats-test
jetstream {
  max_file_store: 1048576
  max_mem_store: 1048576
  store_dir: "/tmp/js store"
}
"#;
    let m = parse(text).unwrap();
    assert_eq!(
        dump(&m),
        "{host: \"127.0.0.1\", port: -1, http: \"127.0.0.1:-1\", \
         leafnodes: {listen: \"127.0.0.1:-1\"}, server_tags: [\"id:abc123\"], \
         ports_file_dir: \"/tmp/nats-test\", jetstream: {max_file_store: 1048576, \
         max_mem_store: 1048576, store_dir: \"/tmp/js store\"}}"
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC*") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_config_like_text(
            s in proptest::collection::vec(
                prop_oneof![
                    Just("a"), Just("b: "), Just(" "), Just("\n"), Just("{"), Just("}"),
                    Just("["), Just("]"), Just(","), Just(";"), Just(":"), Just("="),
                    Just("\""), Just("'"), Just("("), Just(")"), Just("\n)\n"), Just("#"),
                    Just("//"), Just("$a"), Just("$"), Just("1"), Just("-"), Just("."),
                    Just("k"), Just("b"), Just("\\"), Just("\\x"), Just("include "),
                    Just("1.5"), Just("true"), Just("$2a$"), Just("\r"), Just("\t"),
                ],
                0..60,
            )
        ) {
            let text: String = s.concat();
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_bytes(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = String::from_utf8_lossy(&b);
            let _ = parse(&text);
        }
    }
}
