//! Go `encoding/json` behaviour, as nats-server's API shows it to clients.
//!
//! Decoding (`decode`): nats-server reads requests with a strict `json.Decoder` loop
//! (`DisallowUnknownFields`, every value in the body decoded into the same struct). This
//! module reproduces what clients can observe of that: keys matched exactly or
//! case-insensitively, `null` leaving scalars untouched, the first error in document
//! order winning (except errors of custom unmarshalers, which stop at once), and Go's
//! error texts (`json: unknown field "x"`, `json: cannot unmarshal string into Go
//! struct field StreamConfigRequest.max_msgs of type int64`, `invalid character 'x'
//! looking for beginning of value at offset 1`, `unexpected EOF`). The output is a
//! `serde_json` object with canonical keys, ready for `serde_json::from_value`.
//!
//! Encoding (`encode`): Go escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings.

use serde::Serialize;
use serde_json::{Map, Number, Value};

/// A decoding error; its text is what nats-server puts after `invalid JSON: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoJsonError(pub String);

impl std::fmt::Display for GoJsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serializes like Go's `json.Marshal` (same escaping of `<`, `>`, `&`).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing our own wire types cannot fail: no maps with non-string keys, no
    // floats. An empty body would be noticed by every test.
    let raw = serde_json::to_vec(value).unwrap_or_default();
    go_escape(raw)
}

/// A JSON string literal as Go writes it.
pub fn encode_str(s: &str) -> String {
    String::from_utf8(encode(&s)).unwrap_or_default()
}

/// Applies Go's extra escapes. `<`, `>`, `&` and the bytes of U+2028/U+2029 only
/// appear inside string literals in JSON text, so a byte-level pass is exact.
fn go_escape(raw: Vec<u8>) -> Vec<u8> {
    let needs = raw.iter().any(|&b| matches!(b, b'<' | b'>' | b'&' | 0xE2));
    if !needs {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xE2 if raw.get(i + 1) == Some(&0x80)
                && matches!(raw.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(if raw[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                continue;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------
// Parsing

/// One parsed JSON value with its byte span in the input (for custom unmarshalers,
/// which see the raw text).
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Null,
    Bool(bool),
    /// Raw number text, valid JSON number syntax.
    Num(String),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<(String, Node)>),
}

/// Deepest nesting accepted. Go allows 10000; a bound keeps recursion off the stack
/// limits of small threads.
const MAX_DEPTH: usize = 512;

/// Parses every JSON value in `input` (a `json.Decoder` loop). Empty or all-space
/// input gives no values.
pub fn parse_values(input: &[u8]) -> Result<Vec<Node>, GoJsonError> {
    let mut p = Parser { b: input, i: 0 };
    let mut values = Vec::new();
    loop {
        p.skip_space();
        if p.i >= p.b.len() {
            return Ok(values);
        }
        values.push(p.value(0)?);
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        b'\\' => r"'\\'".to_string(),
        b'\n' => r"'\n'".to_string(),
        b'\r' => r"'\r'".to_string(),
        b'\t' => r"'\t'".to_string(),
        0x07 => r"'\a'".to_string(),
        0x08 => r"'\b'".to_string(),
        0x0c => r"'\f'".to_string(),
        0x0b => r"'\v'".to_string(),
        c if c < 0x20 || c == 0x7f => format!(r"'\x{c:02x}'"),
        c if (0x80..0xa0).contains(&c) || c == 0xad => format!(r"'\u{:04x}'", c),
        c => format!("'{}'", char::from(c)),
    }
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\r' | b'\n') {
            self.i += 1;
        }
    }

    fn eof() -> GoJsonError {
        GoJsonError("unexpected EOF".into())
    }

    fn err_at(&self, context: &str) -> GoJsonError {
        GoJsonError(format!(
            "invalid character {} {} at offset {}",
            quote_char(self.b[self.i]),
            context,
            self.i + 1
        ))
    }

    fn peek(&self) -> Result<u8, GoJsonError> {
        self.b.get(self.i).copied().ok_or_else(Self::eof)
    }

    fn value(&mut self, depth: usize) -> Result<Node, GoJsonError> {
        self.skip_space();
        let start = self.i;
        let c = self.peek()?;
        let kind = match c {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(GoJsonError(format!(
                        "exceeded max depth at offset {}",
                        self.i + 1
                    )));
                }
                self.i += 1;
                self.object(depth)?
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(GoJsonError(format!(
                        "exceeded max depth at offset {}",
                        self.i + 1
                    )));
                }
                self.i += 1;
                self.array(depth)?
            }
            b'"' => NodeKind::Str(self.string()?),
            b'-' | b'0'..=b'9' => NodeKind::Num(self.number()?),
            b't' => {
                self.literal("true")?;
                NodeKind::Bool(true)
            }
            b'f' => {
                self.literal("false")?;
                NodeKind::Bool(false)
            }
            b'n' => {
                self.literal("null")?;
                NodeKind::Null
            }
            _ => return Err(self.err_at("looking for beginning of value")),
        };
        Ok(Node {
            kind,
            start,
            end: self.i,
        })
    }

    fn literal(&mut self, word: &str) -> Result<(), GoJsonError> {
        for (k, expect) in word.bytes().enumerate() {
            let c = self.peek()?;
            if c != expect {
                return Err(self.err_at(&format!(
                    "in literal {word} (expecting {})",
                    quote_char(word.as_bytes()[k])
                )));
            }
            self.i += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<String, GoJsonError> {
        let start = self.i;
        if self.peek()? == b'-' {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return Err(self.err_at("in numeric literal"));
            }
        }
        if self.peek()? == b'0' {
            self.i += 1;
        } else {
            while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
                self.i += 1;
            }
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return Err(self.err_at("after decimal point in numeric literal"));
            }
            while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
                self.i += 1;
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek()?, b'+' | b'-') {
                self.i += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return Err(self.err_at("in exponent of numeric literal"));
            }
            while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
                self.i += 1;
            }
        }
        Ok(String::from_utf8_lossy(&self.b[start..self.i]).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, GoJsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self.peek()?;
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.err_at("in \\u hexadecimal character escape")),
            };
            v = v * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, GoJsonError> {
        self.i += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.b.get(self.i) == Some(&b'\\')
                                && self.b.get(self.i + 1) == Some(&b'u')
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                } else {
                                    // Unpaired: Go writes U+FFFD and reads the next escape again.
                                    self.i = save;
                                }
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err_at("in string escape code"));
                        }
                    }
                }
                c if c < 0x20 => return Err(self.err_at("in string literal")),
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<NodeKind, GoJsonError> {
        let mut members = Vec::new();
        self.skip_space();
        if self.peek()? == b'}' {
            self.i += 1;
            return Ok(NodeKind::Obj(members));
        }
        loop {
            self.skip_space();
            if self.peek()? != b'"' {
                return Err(self.err_at("looking for beginning of object key string"));
            }
            let key = self.string()?;
            self.skip_space();
            if self.peek()? != b':' {
                return Err(self.err_at("after object key"));
            }
            self.i += 1;
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.skip_space();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Ok(NodeKind::Obj(members));
                }
                _ => return Err(self.err_at("after object key:value pair")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<NodeKind, GoJsonError> {
        let mut items = Vec::new();
        self.skip_space();
        if self.peek()? == b']' {
            self.i += 1;
            return Ok(NodeKind::Arr(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_space();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Ok(NodeKind::Arr(items));
                }
                _ => return Err(self.err_at("after array element")),
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Schema-driven decoding

/// A Go struct: its qualified type name (`server.Placement`) and JSON fields.
#[derive(Debug)]
pub struct Struct {
    pub go_type: &'static str,
    pub fields: &'static [Field],
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
}

/// The Go type of a field, as far as decoding can tell them apart.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    Bool,
    I64,
    I32,
    /// Go `int` (64-bit).
    Int,
    U64,
    /// `time.Duration` (an int64 of nanoseconds).
    Duration,
    StrList,
    StrMap,
    /// A struct value (`null` leaves it alone).
    Struct(&'static Struct),
    /// A pointer to a struct (`null` clears it).
    PtrStruct(&'static Struct),
    /// A string enum with a custom unmarshaler comparing the raw JSON text to these
    /// literals (with `bool` = lower-case the input first, as nats' discard policy).
    RawEnum(&'static [&'static str], bool),
    /// nats' `StoreCompression` (decodes a Go string, then checks it).
    Compression,
    /// nats' `PersistModeType` (`"default"`, `""`, `"async"`).
    PersistMode,
    /// `*time.Time` (RFC 3339 string or `null`).
    Time,
    /// Anything; kept as is (fields this crate does not interpret).
    Any,
}

impl Ty {
    fn go_name(self) -> &'static str {
        match self {
            Ty::Str | Ty::Compression => "string",
            Ty::Bool => "bool",
            Ty::I64 => "int64",
            Ty::I32 => "int32",
            Ty::Int => "int",
            Ty::U64 => "uint64",
            Ty::Duration => "time.Duration",
            Ty::StrList => "[]string",
            Ty::StrMap => "map[string]string",
            Ty::Struct(s) | Ty::PtrStruct(s) => s.go_type,
            Ty::RawEnum(..) | Ty::PersistMode => "enum",
            Ty::Time => "time.Time",
            Ty::Any => "interface {}",
        }
    }
}

/// Go's `strconv.Quote`, for the messages of nats' enum unmarshalers.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn kind_word(node: &Node) -> String {
    match &node.kind {
        NodeKind::Null => "null".into(),
        NodeKind::Bool(_) => "bool".into(),
        NodeKind::Num(_) => "number".into(),
        NodeKind::Str(_) => "string".into(),
        NodeKind::Arr(_) => "array".into(),
        NodeKind::Obj(_) => "object".into(),
    }
}

struct Decoder<'a> {
    input: &'a [u8],
    /// Go's "saved" error: the first type or unknown-field error; decoding goes on.
    saved: Option<GoJsonError>,
}

impl Decoder<'_> {
    fn save(&mut self, e: GoJsonError) {
        if self.saved.is_none() {
            self.saved = Some(e);
        }
    }

    fn type_error(&mut self, what: String, path: &str, ty: Ty) {
        self.save(GoJsonError(format!(
            "json: cannot unmarshal {what} into Go struct field {path} of type {}",
            ty.go_name()
        )));
    }

    fn raw(&self, node: &Node) -> String {
        String::from_utf8_lossy(&self.input[node.start..node.end]).into_owned()
    }

    /// Decodes `node` as `ty`. `Ok(None)` = leave the field as it was (Go `null` on a
    /// scalar, or a saved error); `Ok(Some(Value::Null))` = reset to the zero value.
    fn value(&mut self, node: &Node, ty: Ty, path: &str) -> Result<Option<Value>, GoJsonError> {
        if let NodeKind::Null = node.kind {
            return match ty {
                Ty::RawEnum(..) | Ty::PersistMode => self.value_enum(node, ty).map(Some),
                Ty::Compression => Err(GoJsonError("unknown compression algorithm".into())),
                Ty::StrList | Ty::StrMap | Ty::PtrStruct(_) | Ty::Time | Ty::Any => {
                    Ok(Some(Value::Null))
                }
                _ => Ok(None),
            };
        }
        match ty {
            Ty::Str => match &node.kind {
                NodeKind::Str(s) => Ok(Some(Value::String(s.clone()))),
                _ => {
                    self.type_error(kind_word(node), path, ty);
                    Ok(None)
                }
            },
            Ty::Bool => match node.kind {
                NodeKind::Bool(b) => Ok(Some(Value::Bool(b))),
                _ => {
                    self.type_error(kind_word(node), path, ty);
                    Ok(None)
                }
            },
            Ty::I64 | Ty::I32 | Ty::Int | Ty::U64 | Ty::Duration => match &node.kind {
                NodeKind::Num(raw) => {
                    let parsed: Option<Number> = match ty {
                        Ty::U64 => raw.parse::<u64>().ok().map(Number::from),
                        Ty::I32 => raw.parse::<i32>().ok().map(Number::from),
                        _ => raw.parse::<i64>().ok().map(Number::from),
                    };
                    match parsed {
                        Some(n) => Ok(Some(Value::Number(n))),
                        None => {
                            self.type_error(format!("number {raw}"), path, ty);
                            Ok(None)
                        }
                    }
                }
                _ => {
                    self.type_error(kind_word(node), path, ty);
                    Ok(None)
                }
            },
            Ty::StrList => match &node.kind {
                NodeKind::Arr(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        match &item.kind {
                            NodeKind::Str(s) => out.push(Value::String(s.clone())),
                            NodeKind::Null => out.push(Value::String(String::new())),
                            _ => {
                                self.type_error(kind_word(item), path, Ty::Str);
                                out.push(Value::String(String::new()));
                            }
                        }
                    }
                    Ok(Some(Value::Array(out)))
                }
                _ => {
                    self.type_error(kind_word(node), path, ty);
                    Ok(None)
                }
            },
            Ty::StrMap => match &node.kind {
                NodeKind::Obj(members) => {
                    let mut out = Map::new();
                    for (k, v) in members {
                        match &v.kind {
                            NodeKind::Str(s) => {
                                out.insert(k.clone(), Value::String(s.clone()));
                            }
                            NodeKind::Null => {
                                out.insert(k.clone(), Value::String(String::new()));
                            }
                            _ => self.type_error(kind_word(v), &format!("{path}.{k}"), Ty::Str),
                        }
                    }
                    Ok(Some(Value::Object(out)))
                }
                _ => {
                    self.type_error(kind_word(node), path, ty);
                    Ok(None)
                }
            },
            Ty::Struct(s) | Ty::PtrStruct(s) => match &node.kind {
                NodeKind::Obj(members) => {
                    let mut out = Map::new();
                    self.object(members, s, path, &mut out)?;
                    Ok(Some(Value::Object(out)))
                }
                _ => {
                    self.type_error(kind_word(node), path, ty);
                    Ok(None)
                }
            },
            Ty::RawEnum(..) | Ty::PersistMode => self.value_enum(node, ty).map(Some),
            Ty::Compression => match &node.kind {
                NodeKind::Str(s) if s == "s2" || s == "none" => Ok(Some(Value::String(s.clone()))),
                NodeKind::Str(_) => Err(GoJsonError("unknown compression algorithm".into())),
                _ => Err(GoJsonError(format!(
                    "json: cannot unmarshal {} into Go value of type string",
                    kind_word(node)
                ))),
            },
            Ty::Time => match &node.kind {
                NodeKind::Str(s) => match crate::time::parse_rfc3339(s) {
                    Some(_) => Ok(Some(Value::String(s.clone()))),
                    // Go names the remaining text it could not parse; the whole value is
                    // the common case (garbage rather than a near miss).
                    None => Err(GoJsonError(format!(
                        "parsing time {} as \"2006-01-02T15:04:05Z07:00\": cannot parse {} as \"2006\"",
                        go_quote(s),
                        go_quote(s)
                    ))),
                },
                _ => Err(GoJsonError("Time.UnmarshalJSON: input is not a JSON string".into())),
            },
            Ty::Any => Ok(Some(to_value(node))),
        }
    }

    fn value_enum(&mut self, node: &Node, ty: Ty) -> Result<Value, GoJsonError> {
        let raw = self.raw(node);
        let bad = || GoJsonError(format!("can not unmarshal {}", go_quote(&raw)));
        match ty {
            Ty::RawEnum(allowed, lower) => {
                let probe = if lower {
                    raw.to_lowercase()
                } else {
                    raw.clone()
                };
                allowed
                    .iter()
                    .find(|lit| probe == format!("\"{lit}\""))
                    .map(|lit| Value::String((*lit).to_string()))
                    .ok_or_else(bad)
            }
            _ => match raw.as_str() {
                "\"default\"" | "\"\"" => Ok(Value::String("default".into())),
                "\"async\"" => Ok(Value::String("async".into())),
                _ => Err(bad()),
            },
        }
    }

    fn object(
        &mut self,
        members: &[(String, Node)],
        s: &'static Struct,
        path: &str,
        out: &mut Map<String, Value>,
    ) -> Result<(), GoJsonError> {
        for (key, node) in members {
            let field = s
                .fields
                .iter()
                .find(|f| f.name == key)
                .or_else(|| s.fields.iter().find(|f| f.name.eq_ignore_ascii_case(key)));
            let Some(field) = field else {
                self.save(GoJsonError(format!(
                    "json: unknown field {}",
                    go_quote(key)
                )));
                continue;
            };
            let child_path = format!("{path}.{}", field.name);
            match self.value(node, field.ty, &child_path)? {
                None => {}
                Some(Value::Null) => {
                    out.remove(field.name);
                }
                Some(Value::Object(new))
                    if matches!(field.ty, Ty::Struct(_) | Ty::PtrStruct(_) | Ty::StrMap) =>
                {
                    // Go decodes into the existing struct or map: fields merge.
                    match out.get_mut(field.name) {
                        Some(Value::Object(existing)) => existing.extend(new),
                        _ => {
                            out.insert(field.name.to_string(), Value::Object(new));
                        }
                    }
                }
                Some(v) => {
                    out.insert(field.name.to_string(), v);
                }
            }
        }
        Ok(())
    }
}

fn to_value(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Num(raw) => raw
            .parse::<i64>()
            .map(Number::from)
            .ok()
            .or_else(|| raw.parse::<u64>().ok().map(Number::from))
            .or_else(|| raw.parse::<f64>().ok().and_then(Number::from_f64))
            .map_or(Value::Null, Value::Number),
        NodeKind::Str(s) => Value::String(s.clone()),
        NodeKind::Arr(items) => Value::Array(items.iter().map(to_value).collect()),
        NodeKind::Obj(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect(),
        ),
    }
}

/// Decodes a request body into a canonical JSON object for `root` (named `root_name`
/// in error paths, e.g. `StreamConfigRequest`). An empty body gives an empty object.
pub fn decode(
    input: &[u8],
    root: &'static Struct,
    root_name: &str,
) -> Result<Map<String, Value>, GoJsonError> {
    let values = parse_values(input)?;
    let mut out = Map::new();
    for node in &values {
        let mut d = Decoder { input, saved: None };
        match &node.kind {
            NodeKind::Null => {}
            NodeKind::Obj(members) => d.object(members, root, root_name, &mut out)?,
            _ => {
                return Err(GoJsonError(format!(
                    "json: cannot unmarshal {} into Go value of type {}",
                    kind_word(node),
                    root.go_type
                )))
            }
        }
        if let Some(e) = d.saved {
            return Err(e);
        }
    }
    Ok(out)
}

/// Non-strict decoding, as `json.Unmarshal` (used by direct get): unknown fields are
/// ignored, exactly one value is allowed.
pub fn decode_lenient(
    input: &[u8],
    root: &'static Struct,
) -> Result<Map<String, Value>, GoJsonError> {
    let values = parse_values(input)?;
    if values.len() != 1 {
        return Err(GoJsonError(
            "invalid character after top-level value".into(),
        ));
    }
    let mut out = Map::new();
    let mut d = Decoder { input, saved: None };
    match &values[0].kind {
        NodeKind::Null => {}
        NodeKind::Obj(members) => {
            let known: Vec<(String, Node)> = members
                .iter()
                .filter(|(k, _)| root.fields.iter().any(|f| f.name.eq_ignore_ascii_case(k)))
                .cloned()
                .collect();
            d.object(&known, root, "", &mut out)?;
        }
        _ => return Err(GoJsonError("json: cannot unmarshal into Go value".into())),
    }
    match d.saved {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// True if `input` starts (after JSON white space) with `{` or `[` (nats'
/// `isJSONObjectOrArray`, which decides whether optional request bodies are parsed).
pub fn is_object_or_array(input: &[u8]) -> bool {
    input
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|&b| b == b'{' || b == b'[')
}

/// nats' `isEmptyRequest`: nothing, `{}`, or a JSON object without members.
pub fn is_empty_request(input: &[u8]) -> bool {
    if input.is_empty() || input == b"{}" {
        return true;
    }
    match parse_values(input) {
        Ok(values) if values.len() == 1 => {
            matches!(&values[0].kind, NodeKind::Obj(m) if m.is_empty())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static INNER: Struct = Struct {
        go_type: "server.Placement",
        fields: &[Field {
            name: "cluster",
            ty: Ty::Str,
        }],
    };
    static ROOT: Struct = Struct {
        go_type: "server.StreamConfigRequest",
        fields: &[
            Field {
                name: "name",
                ty: Ty::Str,
            },
            Field {
                name: "max_msgs",
                ty: Ty::I64,
            },
            Field {
                name: "first_seq",
                ty: Ty::U64,
            },
            Field {
                name: "max_msg_size",
                ty: Ty::I32,
            },
            Field {
                name: "subjects",
                ty: Ty::StrList,
            },
            Field {
                name: "no_ack",
                ty: Ty::Bool,
            },
            Field {
                name: "max_age",
                ty: Ty::Duration,
            },
            Field {
                name: "placement",
                ty: Ty::PtrStruct(&INNER),
            },
            Field {
                name: "metadata",
                ty: Ty::StrMap,
            },
            Field {
                name: "retention",
                ty: Ty::RawEnum(&["limits", "interest", "workqueue"], false),
            },
            Field {
                name: "discard",
                ty: Ty::RawEnum(&["old", "new"], true),
            },
            Field {
                name: "compression",
                ty: Ty::Compression,
            },
            Field {
                name: "persist_mode",
                ty: Ty::PersistMode,
            },
        ],
    };

    fn err(input: &str) -> String {
        decode(input.as_bytes(), &ROOT, "StreamConfigRequest")
            .unwrap_err()
            .0
    }

    /// Texts observed from nats-server 2.15.1 (after `invalid JSON: `).
    #[test]
    fn error_texts_match_nats_server() {
        let cases: &[(&str, &str)] = &[
            ("x", "invalid character 'x' looking for beginning of value at offset 1"),
            (r#"{"name":"foo"}}"#, "invalid character '}' looking for beginning of value at offset 15"),
            (r#"{"name" "foo"}"#, "invalid character '\"' after object key at offset 9"),
            (r#"{"name":"foo" x}"#, "invalid character 'x' after object key:value pair at offset 15"),
            (r#"{"name":tru}"#, "invalid character '}' in literal true (expecting 'e') at offset 12"),
            (r#"{"name":"foo",}"#, "invalid character '}' looking for beginning of object key string at offset 15"),
            (r#"{"name":"foo","#, "unexpected EOF"),
            ("[1,2]", "json: cannot unmarshal array into Go value of type server.StreamConfigRequest"),
            (r#""foo""#, "json: cannot unmarshal string into Go value of type server.StreamConfigRequest"),
            (r#"{"name":"foo","bogus":1}"#, "json: unknown field \"bogus\""),
            (r#"{"name":"foo","max_msgs":"x"}"#, "json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64"),
            (r#"{"name":"foo","subjects":"a"}"#, "json: cannot unmarshal string into Go struct field StreamConfigRequest.subjects of type []string"),
            (r#"{"max_msgs":1.5}"#, "json: cannot unmarshal number 1.5 into Go struct field StreamConfigRequest.max_msgs of type int64"),
            (r#"{"max_msgs":99999999999999999999}"#, "json: cannot unmarshal number 99999999999999999999 into Go struct field StreamConfigRequest.max_msgs of type int64"),
            (r#"{"max_msg_size":99999999999}"#, "json: cannot unmarshal number 99999999999 into Go struct field StreamConfigRequest.max_msg_size of type int32"),
            (r#"{"first_seq":-1}"#, "json: cannot unmarshal number -1 into Go struct field StreamConfigRequest.first_seq of type uint64"),
            (r#"{"placement":{"x":1}}"#, "json: unknown field \"x\""),
            (r#"{"placement":{"cluster":1}}"#, "json: cannot unmarshal number into Go struct field StreamConfigRequest.placement.cluster of type string"),
            (r#"{"metadata":{"a":1}}"#, "json: cannot unmarshal number into Go struct field StreamConfigRequest.metadata.a of type string"),
            (r#"{"max_msgs":"x","bogus":1}"#, "json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64"),
            (r#"{"bogus":1,"max_msgs":"x"}"#, "json: unknown field \"bogus\""),
            (r#"{"max_age":"1s"}"#, "json: cannot unmarshal string into Go struct field StreamConfigRequest.max_age of type time.Duration"),
            (r#"{"no_ack":1}"#, "json: cannot unmarshal number into Go struct field StreamConfigRequest.no_ack of type bool"),
            (r#"{"retention":"bogus"}"#, r#"can not unmarshal "\"bogus\"""#),
            (r#"{"discard":5}"#, r#"can not unmarshal "5""#),
            (r#"{"compression":"s3"}"#, "unknown compression algorithm"),
            (r#"{"persist_mode":"x"}"#, r#"can not unmarshal "\"x\"""#),
            (r#"{"max_msgs":1e3}"#, "json: cannot unmarshal number 1e3 into Go struct field StreamConfigRequest.max_msgs of type int64"),
        ];
        for (input, want) in cases {
            assert_eq!(&err(input), want, "input {input}");
        }
    }

    #[test]
    fn keys_fold_nulls_keep_and_values_merge() {
        let m = decode(
            br#"{"NAME":"a","Max_Msgs":5,"max_msgs":null,"discard":"NEW","subjects":["x"]} {"subjects":null,"name":"b"}"#,
            &ROOT,
            "StreamConfigRequest",
        )
        .unwrap();
        assert_eq!(m.get("name"), Some(&Value::String("b".into())));
        assert_eq!(m.get("max_msgs"), Some(&Value::from(5)));
        assert_eq!(m.get("discard"), Some(&Value::String("new".into())));
        assert_eq!(m.get("subjects"), None);
        assert!(decode(b"", &ROOT, "X").unwrap().is_empty());
        assert!(decode(b" null ", &ROOT, "X").unwrap().is_empty());
    }

    #[test]
    fn strings_unescape() {
        let m = decode(br#"{"name":"a\u00e9\ud83d\ude00\n\"\/"}"#, &ROOT, "X").unwrap();
        assert_eq!(m["name"], Value::String("a\u{e9}\u{1F600}\n\"/".into()));
        assert_eq!(
            err("{\"name\":\"a\u{1}\"}"),
            "invalid character '\\x01' in string literal at offset 11"
        );
        assert_eq!(
            err(r#"{"name":"\q"}"#),
            "invalid character 'q' in string escape code at offset 11"
        );
        assert_eq!(
            err(r#"{"max_msgs":-x}"#),
            "invalid character 'x' in numeric literal at offset 14"
        );
        assert_eq!(
            err(r#"{"max_msgs":1.}"#),
            "invalid character '}' after decimal point in numeric literal at offset 15"
        );
        assert_eq!(
            err("[1 2]"),
            "invalid character '2' after array element at offset 4"
        );
    }

    #[test]
    fn go_escaping_on_output() {
        let v = serde_json::json!({"s": "foo.> <&> \u{2028}"});
        assert_eq!(
            String::from_utf8(encode(&v)).unwrap(),
            r#"{"s":"foo.\u003e \u003c\u0026\u003e \u2028"}"#
        );
        assert_eq!(encode_str("a>b"), r#""a\u003eb""#);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_input(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = decode(&input, &ROOT, "StreamConfigRequest");
            let _ = decode_lenient(&input, &ROOT);
            let _ = is_empty_request(&input);
        }

        #[test]
        fn accepts_what_serde_json_writes(name in ".{0,12}", n in proptest::prelude::any::<i64>(), subjects in proptest::collection::vec("[a-z>*.]{0,6}", 0..4)) {
            let body = serde_json::json!({"name": name, "max_msgs": n, "subjects": subjects});
            let m = decode(body.to_string().as_bytes(), &ROOT, "StreamConfigRequest").unwrap();
            proptest::prop_assert_eq!(Value::Object(m), body);
        }
    }

    #[test]
    fn empty_request_detection() {
        for (input, want) in [
            ("", true),
            ("{}", true),
            (" { } ", true),
            ("{\"a\":1}", false),
            ("x", false),
            ("[]", false),
        ] {
            assert_eq!(is_empty_request(input.as_bytes()), want, "{input:?}");
        }
        assert!(is_object_or_array(b"  {"));
        assert!(is_object_or_array(b"["));
        assert!(!is_object_or_array(b"junk"));
        assert!(!is_object_or_array(b""));
    }
}
