//! Parsed configuration values and their source positions.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where something was found: file, 1-based line and 1-based column
/// (in characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pos {
    /// The file the text came from (as given by the caller or the
    /// `include` statement, not canonicalised).
    pub file: Arc<Path>,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn new(file: Arc<Path>, line: u32, col: u32) -> Self {
        Pos { file, line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A configuration value.
///
/// Sizes written with suffixes (`1MB`, `10k`) are already converted to
/// [`Value::Int`]. Durations are *not* interpreted: `"2m"` stays a string
/// (note that an unquoted `2m` is the integer 2,000,000, as in nats-server).
/// ISO-8601 Zulu datetimes (`2006-01-02T15:04:05Z`) are kept as strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Array(Vec<Item>),
    Map(Map),
}

impl Value {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }

    /// The type and (for scalars) the value, e.g. `string "abc"`,
    /// `integer 5`, `array`; for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Bool(b) => format!("boolean {b}"),
            Value::Int(i) => format!("integer {i}"),
            Value::Float(x) => format!("float {x}"),
            Value::String(s) => format!("string {s:?}"),
            Value::Array(a) => format!("array of {} element(s)", a.len()),
            Value::Map(_) => "map".to_string(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Item]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
}

/// A value together with the position where it was written. For a value
/// obtained through a `$VARIABLE` reference, the position is that of the
/// reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Value,
    pub pos: Pos,
}

impl Item {
    pub fn new(value: Value, pos: Pos) -> Self {
        Item { value, pos }
    }
}

/// One `key: value` of a [`Map`].
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key as written (original case).
    pub key: String,
    /// Where the key was written.
    pub key_pos: Pos,
    pub item: Item,
    /// True when a later `$key` reference used this entry as a variable.
    /// nats-server does not report such keys as unknown fields.
    pub used_as_variable: bool,
}

/// An ordered map of keys to items. Keeps the order of first definition and
/// the original key case. Defining the same key (exact spelling) again
/// replaces the value in place, as nats-server does ("last one wins").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
    /// Exact key → index in `entries`.
    index: HashMap<String, usize>,
}

impl Map {
    pub fn new() -> Self {
        Map::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks a key up case-insensitively (ASCII). If several keys differ only
    /// in case, the last one defined wins.
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.get_entry(key).map(|e| &e.item)
    }

    /// Like [`Map::get`] but returns the whole entry.
    pub fn get_entry(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
    }

    /// Looks a key up with its exact spelling.
    pub fn get_exact(&self, key: &str) -> Option<&Item> {
        self.entries.iter().find(|e| e.key == key).map(|e| &e.item)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get_entry(key).is_some()
    }

    /// Entries in order as (key, item).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Item)> {
        self.entries.iter().map(|e| (e.key.as_str(), &e.item))
    }

    /// Keys in order, original spelling.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }

    /// All entries in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Inserts an entry; an existing entry with exactly the same key is
    /// replaced in place.
    pub fn insert_entry(&mut self, entry: Entry) {
        if let Some(&i) = self.index.get(&entry.key) {
            self.entries[i] = entry;
        } else {
            self.index.insert(entry.key.clone(), self.entries.len());
            self.entries.push(entry);
        }
    }

    /// Convenience for building maps by hand: the key position is the item's.
    pub fn insert(&mut self, key: impl Into<String>, item: Item) {
        let key_pos = item.pos.clone();
        self.insert_entry(Entry {
            key: key.into(),
            key_pos,
            item,
            used_as_variable: false,
        });
    }

    /// Finds the entry with exactly this key for a variable reference (the
    /// last definition), marking it as used.
    pub(crate) fn lookup_variable(&mut self, name: &str) -> Option<&Item> {
        let &i = self.index.get(name)?;
        let e = &mut self.entries[i];
        e.used_as_variable = true;
        Some(&e.item)
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a str, &'a Item);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a Item)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
