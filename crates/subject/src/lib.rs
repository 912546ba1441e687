//! Subjects for Sluice: syntax rules, wildcard matching and the subscription
//! index the server routes every published message through.
//!
//! Module map:
//!
//! - [`validate`]: is a string a valid subject, literal subject or queue name.
//! - [`matching`]: pairwise comparisons with wildcards — does a filter match a
//!   subject, is one pattern a subset of another, can two patterns overlap.
//! - [`index`]: [`SubjectIndex`], subscriptions (plain and queue groups)
//!   looked up by published subject, with a bounded result cache.
//! - `trie` (private): the arena-backed token trie inside the index.
//! - `cache` (private): the bounded subject → result cache inside the index.
//! - `result`: [`MatchResult`] and [`QueueGroup`], what a lookup returns.
//! - `error`: [`InvalidSubject`], why an insert was refused.
//!
//! Everything is also re-exported at the crate root.

mod cache;
mod error;
pub mod index;
pub mod matching;
mod result;
pub mod transform;
mod trie;
pub mod validate;

pub use index::{InvalidSubject, MatchResult, QueueGroup, SubjectIndex, DEFAULT_CACHE_CAPACITY};
pub use matching::{subject_matches, subjects_collide, subset_of};
pub use transform::{SubjectTransform, TransformError};
pub use validate::{is_literal, is_valid_literal_subject, is_valid_queue_name, is_valid_subject};
