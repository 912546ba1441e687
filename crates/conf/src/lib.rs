//! Parser for the NATS server configuration file format.
//!
//! The format (as used by nats-server's `-c` option):
//!
//! * `key: value`, `key = value` or `key value`; `key { ... }` for maps.
//!   Entries end at a new line, `;` or `,`. Keys may be quoted.
//! * Values: booleans (`true/false/yes/no/on/off`, any case), integers with
//!   optional size suffix (`k`=1000, `kb`/`ki`/`kib`=1024, likewise `m`, `g`,
//!   `t`, `p`, `e`; any case), floats (`1.5`), strings (bare, `"double"` with
//!   `\t \n \r \" \\ \xHH` escapes, `'single'` raw), block strings
//!   (`key (` ... a line holding only `)`), arrays `[a, b]` (comma or new line
//!   separated) and maps `{ k: v }`.
//! * Bare strings run to white space, `,`, `;`, `]` or `}` and may contain
//!   `:`, `.`, `/`, `-`, e.g. `listen: 127.0.0.1:4222`. Anything that is not
//!   exactly a number is a string: `10s`, `1e5`, `127.0.0.1`.
//! * `#` and `//` comments run to the end of the line.
//! * `include file` (quoted or not), relative to the including file's
//!   directory; the included file's keys are merged at that point, also
//!   inside maps. Included files do not see the includer's variables.
//! * `$NAME` refers to a key defined earlier in an enclosing map (innermost
//!   first, exact spelling), then to the environment variable `NAME`, whose
//!   text is parsed as a value (text that is not a single value, e.g.
//!   `two words`, is taken as a string). Undefined variables and reference
//!   cycles are errors. `$2a$...` (bcrypt hashes; also `$2b$`, `$2y$`) are
//!   strings.
//!
//! Durations are not interpreted: `"2m"` stays a string.
//!
//! Parsing never panics; nesting, include depth and variable expansion are
//! bounded ([`MAX_NESTING_DEPTH`], [`MAX_INCLUDE_DEPTH`],
//! [`MAX_EXPANDED_VALUES`]).

mod error;
mod parser;
mod value;

use std::path::Path;

pub use error::ConfError;
pub use value::{Entry, Item, Map, Pos, Value};

/// Maximum nesting of maps, arrays, includes and environment variable
/// expansions together.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Maximum number of values that `$variable` substitutions may copy in one
/// parse (guards against exponential expansion).
pub const MAX_EXPANDED_VALUES: usize = 1_000_000;

/// Maximum depth of nested `include`s.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Parses configuration text. `origin` is the file the text came from: it is
/// used in positions and error messages, and `include` paths are relative to
/// its directory.
pub fn parse_str(text: &str, origin: &Path) -> Result<Map, ConfError> {
    let mut shared = parser::Shared::new(origin);
    parser::Parser::new(text, origin, &mut shared).parse_document()
}

/// Reads and parses a configuration file.
pub fn parse_file(path: &Path) -> Result<Map, ConfError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfError::whole_file(path, format!("error opening config file: {e}")))?;
    parse_str(&text, path)
}

#[cfg(test)]
mod tests;
