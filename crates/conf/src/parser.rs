//! A recursive-descent parser for the NATS configuration format.
//!
//! Written from the format's observable behaviour (see the crate docs); the
//! grammar accepts everything nats-server accepts with the same meaning, and
//! is more lenient in a few places where nats-server rejects input that has
//! an obvious meaning (e.g. `1.5s` unquoted is the string "1.5s", unknown
//! backslash escapes are kept literally, `key{` needs no space).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::ConfError;
use crate::value::{Entry, Item, Map, Pos, Value};
use crate::{MAX_EXPANDED_VALUES, MAX_INCLUDE_DEPTH, MAX_NESTING_DEPTH};

/// State shared by a top-level parse and every parser it starts (for
/// included files and environment variable values).
pub(crate) struct Shared {
    /// Canonical paths of the files being parsed, outermost first.
    include_stack: Vec<PathBuf>,
    /// Environment variables being expanded, outermost first.
    env_stack: Vec<String>,
    /// Current nesting of maps, arrays, includes and environment values.
    depth: usize,
    /// Values copied by variable substitution so far (bounds the
    /// exponential growth of `b: [$a, $a], c: [$b, $b], ...`).
    expanded: usize,
}

impl Shared {
    pub(crate) fn new(origin: &Path) -> Self {
        Shared {
            include_stack: vec![canonical(origin)],
            env_stack: Vec::new(),
            depth: 0,
            expanded: 0,
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What closes the body currently being parsed.
#[derive(Clone, Copy)]
enum Body {
    /// The top level of a file: ends at end of input.
    Top,
    /// `{ ... }` wrapping (part of) the top level, JSON style: its keys go
    /// into the top-level map. Holds where the `{` was.
    TopBlock(u32, u32),
    /// A map value `{ ... }`; holds where the `{` was.
    Map(u32, u32),
}

pub(crate) struct Parser<'a, 's> {
    src: &'a str,
    /// Byte offset of the next character.
    off: usize,
    line: u32,
    col: u32,
    file: Arc<Path>,
    base_dir: PathBuf,
    /// Maps under construction, outermost first; variables are looked up
    /// innermost first.
    scopes: Vec<Map>,
    shared: &'s mut Shared,
}

fn is_blank(c: char) -> bool {
    c != '\n' && c.is_whitespace()
}

/// Characters that end a bare (unquoted) value.
fn ends_bare(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | ']' | '}')
}

fn show(c: char) -> String {
    match c {
        '\n' => "new line".to_string(),
        '\r' => "'\\r'".to_string(),
        '\t' => "tab".to_string(),
        c if c.is_control() => format!("{:?}", c),
        c => format!("'{c}'"),
    }
}

impl<'a, 's> Parser<'a, 's> {
    pub(crate) fn new(src: &'a str, file: &Path, shared: &'s mut Shared) -> Self {
        let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let src = src.strip_prefix('\u{feff}').unwrap_or(src);
        Parser {
            src,
            off: 0,
            line: 1,
            col: 1,
            file: Arc::from(file),
            base_dir,
            scopes: Vec::new(),
            shared,
        }
    }

    // ----- cursor -----

    fn peek(&self) -> Option<char> {
        self.src[self.off..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.off..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.off += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn here(&self) -> Pos {
        Pos::new(self.file.clone(), self.line, self.col)
    }

    fn err_here(&self, msg: impl Into<String>) -> ConfError {
        ConfError::at(&self.here(), msg)
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek2() == Some('/'),
            _ => false,
        }
    }

    /// Skips a comment up to (not including) the end of line, if at one.
    fn skip_comment(&mut self) -> bool {
        if !self.at_comment() {
            return false;
        }
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
        true
    }

    /// Skips blanks, new lines and comments.
    fn skip_trivia(&mut self) {
        loop {
            self.skip_blanks();
            if self.peek() == Some('\n') {
                self.bump();
            } else if !self.skip_comment() {
                return;
            }
        }
    }

    fn enter(&mut self, what: &str) -> Result<(), ConfError> {
        if self.shared.depth >= MAX_NESTING_DEPTH {
            return Err(self
                .err_here(format!(
                    "{what} nested too deeply (limit is {MAX_NESTING_DEPTH} levels)"
                ))
                .fatal());
        }
        self.shared.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.shared.depth -= 1;
    }

    // ----- structure -----

    /// Parses a whole document (a file's contents) into a map.
    pub(crate) fn parse_document(&mut self) -> Result<Map, ConfError> {
        self.scopes.push(Map::new());
        let r = self.parse_body(Body::Top);
        let map = self.scopes.pop().unwrap_or_default();
        r.map(|()| map)
    }

    fn current_map(&mut self) -> &mut Map {
        if self.scopes.is_empty() {
            self.scopes.push(Map::new());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    fn parse_body(&mut self, body: Body) -> Result<(), ConfError> {
        loop {
            self.skip_trivia();
            let Some(c) = self.peek() else {
                return match body {
                    Body::Top => Ok(()),
                    Body::TopBlock(l, c) | Body::Map(l, c) => Err(self.err_here(format!(
                        "unexpected end of file: the '{{' at line {l}, column {c} is never closed"
                    ))),
                };
            };
            match c {
                ';' | ',' => {
                    self.bump();
                }
                '}' => {
                    if let Body::Top = body {
                        return Err(self.err_here("unexpected '}' (no '{' is open)"));
                    }
                    self.bump();
                    return Ok(());
                }
                '{' => match body {
                    Body::Top | Body::TopBlock(..) => {
                        let (l, c) = (self.line, self.col);
                        self.bump();
                        self.enter("blocks")?;
                        let r = self.parse_body(Body::TopBlock(l, c));
                        self.leave();
                        r?;
                    }
                    Body::Map(..) => {
                        return Err(self.err_here("unexpected '{' where a key was expected"));
                    }
                },
                '[' | ']' => {
                    return Err(self.err_here(format!("unexpected '{c}' where a key was expected")));
                }
                ':' | '=' => {
                    return Err(self.err_here(format!(
                        "unexpected key separator '{c}' where a key was expected"
                    )));
                }
                _ => self.parse_entry()?,
            }
        }
    }

    /// Parses `key [:|=] value` or `include path` and adds it to the current
    /// map.
    fn parse_entry(&mut self) -> Result<(), ConfError> {
        let key_pos = self.here();
        let (key, quoted) = self.parse_key()?;

        if !quoted && key.eq_ignore_ascii_case("include") {
            match self.peek() {
                None | Some('\n') => {
                    return Err(self.err_here("expected a file name after 'include'"));
                }
                Some(c) if is_blank(c) => {
                    self.skip_blanks();
                    match self.peek() {
                        Some(':') | Some('=') => {} // an ordinary key named "include"
                        _ => {
                            let name = self.parse_include_name(&key_pos)?;
                            self.value_end("include")?;
                            return self.include(&name, &key_pos);
                        }
                    }
                }
                _ => {}
            }
        }

        // nats-server allows new lines between a key and its separator.
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        if matches!(self.peek(), Some(':') | Some('=')) {
            self.bump();
            self.skip_blanks();
        }
        match self.peek() {
            None => {
                return Err(ConfError::at(
                    &key_pos,
                    format!("key '{key}' has no value (unexpected end of file)"),
                ))
            }
            Some('\n') => {
                return Err(self.err_here(format!(
                    "expected a value for key '{key}' but found a new line"
                )))
            }
            _ => {}
        }
        let item = self.parse_value()?;
        self.value_end(&key)?;
        self.current_map().insert_entry(Entry {
            key,
            key_pos,
            item,
            used_as_variable: false,
        });
        Ok(())
    }

    /// Returns the key and whether it was quoted.
    fn parse_key(&mut self) -> Result<(String, bool), ConfError> {
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                let open = self.here();
                self.bump();
                let start = self.off;
                loop {
                    match self.peek() {
                        None | Some('\n') => {
                            return Err(ConfError::at(&open, "unterminated quoted key"));
                        }
                        Some(c) if c == q => break,
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
                let key = self.src[start..self.off].to_string();
                self.bump();
                Ok((key, true))
            }
            _ => {
                let start = self.off;
                while self
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && !matches!(c, ':' | '=' | '{'))
                {
                    self.bump();
                }
                Ok((self.src[start..self.off].to_string(), false))
            }
        }
    }

    /// After a value in a map or at top level: only blanks, then a new line,
    /// `;`, `,`, `}`, a comment or the end.
    fn value_end(&mut self, key: &str) -> Result<(), ConfError> {
        self.skip_blanks();
        match self.peek() {
            None | Some('\n' | ';' | ',' | '}') => Ok(()),
            Some(_) if self.at_comment() => Ok(()),
            Some(c) => Err(self.err_here(format!(
                "expected a new line, ';', ',' or '}}' after the value of '{key}', found {}",
                show(c)
            ))),
        }
    }

    fn parse_include_name(&mut self, key_pos: &Pos) -> Result<String, ConfError> {
        let name = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                let open = self.here();
                self.bump();
                let start = self.off;
                loop {
                    match self.peek() {
                        None | Some('\n') => {
                            return Err(ConfError::at(&open, "unterminated include file name"));
                        }
                        Some(c) if c == q => break,
                        Some(_) => {
                            self.bump();
                        }
                    }
                }
                let name = self.src[start..self.off].to_string();
                self.bump();
                name
            }
            _ => {
                let start = self.off;
                while self.peek().is_some_and(|c| !ends_bare(c)) {
                    self.bump();
                }
                self.src[start..self.off].to_string()
            }
        };
        if name.is_empty() {
            return Err(ConfError::at(
                key_pos,
                "expected a file name after 'include'",
            ));
        }
        Ok(name)
    }

    /// Parses the file `name` (relative to this file's directory) and merges
    /// its keys into the current map.
    fn include(&mut self, name: &str, key_pos: &Pos) -> Result<(), ConfError> {
        let path = self.base_dir.join(name);
        if self.shared.include_stack.len() > MAX_INCLUDE_DEPTH {
            return Err(ConfError::at(
                key_pos,
                format!("include of '{name}': includes nested too deeply (limit is {MAX_INCLUDE_DEPTH})"),
            )
            .fatal());
        }
        let canon = canonical(&path);
        if self.shared.include_stack.contains(&canon) {
            return Err(ConfError::at(
                key_pos,
                format!("include cycle: '{}' includes itself", path.display()),
            )
            .fatal());
        }
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfError::at(
                key_pos,
                format!("error reading include file '{}': {e}", path.display()),
            )
        })?;
        self.enter("includes")?;
        self.shared.include_stack.push(canon);
        let r = Parser::new(&text, &path, self.shared).parse_document();
        self.shared.include_stack.pop();
        self.leave();
        let included = r?;
        let target = self.current_map();
        for entry in included.entries() {
            target.insert_entry(entry.clone());
        }
        Ok(())
    }

    // ----- values -----

    fn parse_value(&mut self) -> Result<Item, ConfError> {
        let pos = self.here();
        let value = match self.peek() {
            None => return Err(self.err_here("expected a value, found end of file")),
            Some('\n') => return Err(self.err_here("expected a value, found a new line")),
            Some('[') => self.parse_array()?,
            Some('{') => self.parse_map()?,
            Some('"') => self.parse_dq_string()?,
            Some('\'') => self.parse_sq_string()?,
            Some('(') => self.parse_block()?,
            Some(_) => return self.parse_bare(pos),
        };
        Ok(Item::new(value, pos))
    }

    fn parse_map(&mut self) -> Result<Value, ConfError> {
        let (l, c) = (self.line, self.col);
        self.bump();
        self.enter("maps")?;
        self.scopes.push(Map::new());
        let r = self.parse_body(Body::Map(l, c));
        let map = self.scopes.pop().unwrap_or_default();
        self.leave();
        r?;
        Ok(Value::Map(map))
    }

    fn parse_array(&mut self) -> Result<Value, ConfError> {
        let open = self.here();
        self.bump();
        self.enter("arrays")?;
        let r = self.parse_array_items(&open);
        self.leave();
        r.map(Value::Array)
    }

    fn parse_array_items(&mut self, open: &Pos) -> Result<Vec<Item>, ConfError> {
        let unterminated = |p: &Self| {
            p.err_here(format!(
                "unexpected end of file: the '[' at line {}, column {} is never closed",
                open.line, open.col
            ))
        };
        let mut items = Vec::new();
        loop {
            self.skip_trivia();
            match self.peek() {
                None => return Err(unterminated(self)),
                Some(']') => {
                    self.bump();
                    return Ok(items);
                }
                Some(',') => return Err(self.err_here("unexpected ',' in array (missing value)")),
                Some(_) => {}
            }
            items.push(self.parse_value()?);
            self.skip_blanks();
            self.skip_comment();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('\n' | ']') => {}
                None => return Err(unterminated(self)),
                Some(c) => {
                    return Err(self.err_here(format!(
                        "expected ',', ']' or a new line after an array element, found {}",
                        show(c)
                    )))
                }
            }
        }
    }

    fn parse_sq_string(&mut self) -> Result<Value, ConfError> {
        let open = self.here();
        self.bump();
        let start = self.off;
        loop {
            match self.peek() {
                None => return Err(ConfError::at(&open, "unterminated single-quoted string")),
                Some('\'') => break,
                Some(_) => {
                    self.bump();
                }
            }
        }
        let s = self.src[start..self.off].to_string();
        self.bump();
        Ok(Value::String(s))
    }

    fn parse_dq_string(&mut self) -> Result<Value, ConfError> {
        let open = self.here();
        self.bump();
        let start = self.off;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(ConfError::at(&open, "unterminated double-quoted string")),
                Some('"') => break,
                Some('\\') => {
                    escaped = true;
                    self.bump();
                    if self.bump().is_none() {
                        return Err(ConfError::at(&open, "unterminated double-quoted string"));
                    }
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
        let raw = &self.src[start..self.off];
        let s = if escaped {
            unescape(raw)
        } else {
            raw.to_string()
        };
        self.bump();
        Ok(Value::String(s))
    }

    /// `(` ... a line holding only `)`. The text between, including the new
    /// line before the `)`, is the value.
    fn parse_block(&mut self) -> Result<Value, ConfError> {
        let open = self.here();
        self.bump();
        let start = self.off;
        loop {
            match self.bump() {
                None => {
                    return Err(ConfError::at(
                        &open,
                        "unterminated block string: expected a line holding only ')'",
                    ))
                }
                Some('\n') => {
                    let rest = &self.src[self.off..];
                    if let Some(after) = rest.strip_prefix(')') {
                        let after = after.trim_start_matches(is_blank);
                        if after.is_empty() || after.starts_with('\n') {
                            let s = self.src[start..self.off].to_string();
                            self.bump();
                            return Ok(Value::String(s));
                        }
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// An unquoted value: number, size, boolean, variable or string.
    fn parse_bare(&mut self, pos: Pos) -> Result<Item, ConfError> {
        let start = self.off;
        let mut escaped = false;
        while let Some(c) = self.peek() {
            if ends_bare(c) {
                break;
            }
            self.bump();
            if c == '\\' {
                escaped = true;
                if self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            }
        }
        let src = self.src;
        let raw = &src[start..self.off];
        if raw.is_empty() {
            let found = self.peek().map(show).unwrap_or_default();
            return Err(ConfError::at(
                &pos,
                format!("expected a value, found {found}"),
            ));
        }
        if escaped {
            return Ok(Item::new(Value::String(unescape(raw)), pos));
        }
        if let Some(b) = parse_bool(raw) {
            return Ok(Item::new(Value::Bool(b), pos));
        }
        if let Some(name) = raw.strip_prefix('$') {
            if ["2a$", "2b$", "2y$"].iter().any(|p| name.starts_with(p)) {
                // A bcrypt hash, not a variable.
                return Ok(Item::new(Value::String(raw.to_string()), pos));
            }
            return self.resolve_variable(name, pos);
        }
        match classify_number(raw) {
            Some(Ok(v)) => Ok(Item::new(v, pos)),
            Some(Err(msg)) => Err(ConfError::at(&pos, msg)),
            None => Ok(Item::new(Value::String(raw.to_string()), pos)),
        }
    }

    // ----- variables -----

    fn resolve_variable(&mut self, name: &str, pos: Pos) -> Result<Item, ConfError> {
        if name.is_empty() {
            return Err(ConfError::at(&pos, "empty variable name after '$'"));
        }
        let found = self
            .scopes
            .iter_mut()
            .rev()
            .find_map(|scope| scope.lookup_variable(name))
            .map(|item| item.value.clone());
        if let Some(value) = found {
            self.shared.expanded += node_count(&value);
            if self.shared.expanded > MAX_EXPANDED_VALUES {
                return Err(ConfError::at(
                    &pos,
                    format!(
                        "variable references expand to too many values (limit is {MAX_EXPANDED_VALUES})"
                    ),
                )
                .fatal());
            }
            return Ok(Item::new(value, pos));
        }
        if self.shared.env_stack.iter().any(|n| n == name) {
            let chain = self.shared.env_stack.join("' -> '");
            return Err(ConfError::at(
                &pos,
                format!("variable reference cycle for '{name}' (environment variables '{chain}' -> '{name}')"),
            )
            .fatal());
        }
        let text = match std::env::var(name) {
            Ok(t) => t,
            Err(std::env::VarError::NotPresent) => {
                return Err(ConfError::at(
                    &pos,
                    format!(
                        "variable reference for '{name}' can not be found (no such key in an enclosing block and no such environment variable)"
                    ),
                ))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(ConfError::at(
                    &pos,
                    format!("environment variable '{name}' is not valid UTF-8"),
                ))
            }
        };
        self.enter("variable references")?;
        self.shared.env_stack.push(name.to_string());
        let env_file = PathBuf::from(format!("<environment variable {name}>"));
        let base_dir = self.base_dir.clone();
        let mut sub = Parser::new(&text, &env_file, self.shared);
        sub.base_dir = base_dir;
        let r = sub.parse_single_value();
        self.shared.env_stack.pop();
        self.leave();
        match r {
            Ok(mut item) => {
                relocate(&mut item, &pos);
                Ok(item)
            }
            // Cycles and limits are reported with the reference's position.
            Err(e) if e.fatal => Err(ConfError::at(
                &pos,
                format!("in environment variable '{name}': {}", e.message),
            )
            .fatal()),
            // Text that is not a single config value is taken literally
            // (nats-server rejects it; e.g. "two words").
            Err(_) => Ok(Item::new(Value::String(text), pos)),
        }
    }

    /// Parses the whole input as a single value (the text of an environment
    /// variable).
    fn parse_single_value(&mut self) -> Result<Item, ConfError> {
        self.scopes.push(Map::new());
        self.skip_blanks();
        let item = self.parse_value()?;
        self.skip_blanks();
        match self.peek() {
            None => Ok(item),
            Some(c) => Err(self.err_here(format!("unexpected {} after the value", show(c)))),
        }
    }
}

/// Gives a value (recursively) the position of the variable reference it was
/// substituted for.
fn relocate(item: &mut Item, pos: &Pos) {
    item.pos = pos.clone();
    match &mut item.value {
        Value::Array(items) => items.iter_mut().for_each(|i| relocate(i, pos)),
        Value::Map(m) => {
            let mut out = Map::new();
            for e in m.entries() {
                let mut e = e.clone();
                e.key_pos = pos.clone();
                relocate(&mut e.item, pos);
                out.insert_entry(e);
            }
            *m = out;
        }
        _ => {}
    }
}

/// Number of values in `v`, counting nested ones.
fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(|i| node_count(&i.value)).sum::<usize>(),
        Value::Map(m) => 1 + m.iter().map(|(_, i)| node_count(&i.value)).sum::<usize>(),
        _ => 1,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Processes `\t \n \r \" \\ \xHH`; any other backslash sequence is kept
/// as written.
fn unescape(raw: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.peek().map(|&(_, c)| c) {
            Some('t') => out.push(b'\t'),
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex = raw
                    .get(i + 2..i + 4)
                    .filter(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()));
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        chars.next(); // x
                        chars.next();
                        chars.next();
                        continue;
                    }
                    None => {
                        out.push(b'\\');
                        continue;
                    }
                }
            }
            _ => {
                out.push(b'\\');
                continue;
            }
        }
        chars.next();
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Recognises integers (with optional size suffix) and floats. `None` means
/// the text is a plain string (e.g. `10s`, `127.0.0.1:4222`, `1e5`).
fn classify_number(raw: &str) -> Option<Result<Value, String>> {
    let body = raw.strip_prefix('-').unwrap_or(raw);
    let ndigits = body.bytes().take_while(u8::is_ascii_digit).count();
    if ndigits == 0 {
        return None;
    }
    let digits_end = raw.len() - body.len() + ndigits;
    let rest = &raw[digits_end..];
    let int = || {
        raw[..digits_end]
            .parse::<i64>()
            .map_err(|_| format!("integer '{raw}' is out of range"))
    };
    if rest.is_empty() {
        return Some(int().map(Value::Int));
    }
    if let Some(frac) = rest.strip_prefix('.') {
        if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) {
            return Some(match raw.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Value::Float(x)),
                _ => Err(format!("float '{raw}' is out of range")),
            });
        }
        return None;
    }
    let mut rc = rest.chars();
    let first = rc.next()?.to_ascii_lowercase();
    let power = match first {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let tail = rc.as_str();
    if !tail.chars().all(|c| matches!(c, 'b' | 'B' | 'i' | 'I')) {
        return None;
    }
    let base: i64 = match tail.to_ascii_lowercase().as_str() {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => {
            return Some(Err(format!(
                "invalid size suffix '{rest}' in '{raw}' (use e.g. k, kb, ki, kib)"
            )))
        }
    };
    Some(int().and_then(|n| {
        let mult = base
            .checked_pow(power)
            .ok_or_else(|| format!("integer '{raw}' is out of range"))?;
        n.checked_mul(mult)
            .map(Value::Int)
            .ok_or_else(|| format!("integer '{raw}' is out of range"))
    }))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(classify_number("12"), Some(Ok(Value::Int(12))));
        assert_eq!(classify_number("-12"), Some(Ok(Value::Int(-12))));
        assert_eq!(classify_number("1k"), Some(Ok(Value::Int(1000))));
        assert_eq!(classify_number("1KiB"), Some(Ok(Value::Int(1024))));
        assert_eq!(
            classify_number("-2mb"),
            Some(Ok(Value::Int(-2 * 1024 * 1024)))
        );
        assert_eq!(classify_number("1.5"), Some(Ok(Value::Float(1.5))));
        assert_eq!(classify_number("10s"), None);
        assert_eq!(classify_number("1e5"), None);
        assert_eq!(classify_number("1.2.3"), None);
        assert_eq!(classify_number("abc"), None);
        assert!(matches!(classify_number("1kbb"), Some(Err(_))));
        assert!(matches!(classify_number("10e"), Some(Err(_))));
        assert!(matches!(
            classify_number("99999999999999999999"),
            Some(Err(_))
        ));
        assert_eq!(
            classify_number("-9223372036854775808"),
            Some(Ok(Value::Int(i64::MIN)))
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\tb"), "a\tb");
        assert_eq!(unescape(r"a\x41b"), "aAb");
        assert_eq!(unescape(r"\xc3\xa9"), "é");
        assert_eq!(unescape(r"C:\data"), r"C:\data");
        assert_eq!(unescape(r"\x4"), r"\x4");
        assert_eq!(unescape(r"\xzz"), r"\xzz");
        assert_eq!(unescape(r#"\\\"\n\r"#), "\\\"\n\r");
        assert_eq!(unescape("\\"), "\\");
        assert_eq!(unescape(r"\xff"), "\u{fffd}");
    }
}
