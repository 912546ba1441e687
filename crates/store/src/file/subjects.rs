//! Per-subject state of the file store: for each subject, how many messages it has and
//! its first and last sequence. Slots refer to subjects by a small id, so a message
//! costs 4 bytes of subject in memory and a subject costs one name plus 24 bytes.
//!
//! The name-to-id map is a hash table of (id, 32-bit hash) pairs that compares names
//! through the entries: each name is stored once, each lookup hashes the subject once,
//! and growing the table rehashes nothing (recovery of a million subjects grows it
//! twenty times). The hasher is std's randomly keyed one: subjects come from clients.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;

#[derive(Debug, Clone)]
pub(crate) struct SubjectEntry {
    pub name: Arc<str>,
    pub count: u64,
    pub first: u64,
    pub last: u64,
}

#[derive(Debug, Default)]
pub(crate) struct SubjectIndex {
    hasher: RandomState,
    ids: HashTable<(u32, u32)>,
    entries: Vec<Option<SubjectEntry>>,
    free: Vec<u32>,
}

/// The table's 64-bit hash from the stored 32 bits: the high bits (hashbrown's tag)
/// and the low bits (the bucket) both vary.
fn widen(h: u32) -> u64 {
    u64::from(h) << 32 | u64::from(h)
}

fn name_of(entries: &[Option<SubjectEntry>], id: u32) -> &str {
    entries
        .get(id as usize)
        .and_then(Option::as_ref)
        .map_or("", |e| &e.name)
}

impl SubjectIndex {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// 32 bits of the subject's hash (kept in the table).
    fn hash(&self, subject: &str) -> u32 {
        self.hasher.hash_one(subject) as u32
    }

    fn find(&self, hash: u32, subject: &str) -> Option<u32> {
        self.ids
            .find(widen(hash), |&(id, h)| {
                h == hash && name_of(&self.entries, id) == subject
            })
            .map(|&(id, _)| id)
    }

    pub(crate) fn id(&self, subject: &str) -> Option<u32> {
        self.find(self.hash(subject), subject)
    }

    pub(crate) fn get(&self, id: u32) -> Option<&SubjectEntry> {
        self.entries.get(id as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut SubjectEntry> {
        self.entries.get_mut(id as usize).and_then(Option::as_mut)
    }

    pub(crate) fn lookup(&self, subject: &str) -> Option<&SubjectEntry> {
        self.id(subject).and_then(|id| self.get(id))
    }

    /// The id of `subject`, creating an entry with no messages if needed.
    pub(crate) fn intern(&mut self, subject: &str) -> u32 {
        let hash = self.hash(subject);
        if let Some(id) = self.find(hash, subject) {
            return id;
        }
        let entry = SubjectEntry {
            name: Arc::from(subject),
            count: 0,
            first: 0,
            last: 0,
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(e) = self.entries.get_mut(id as usize) {
                    *e = Some(entry);
                }
                id
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as u32
            }
        };
        self.ids
            .insert_unique(widen(hash), (id, hash), |&(_, h)| widen(h));
        id
    }

    /// Counts a message appended (or recovered, in sequence order) at `seq`.
    pub(crate) fn add(&mut self, id: u32, seq: u64) {
        if let Some(e) = self.get_mut(id) {
            if e.count == 0 {
                e.first = seq;
            }
            e.count += 1;
            e.last = seq;
        }
    }

    /// Forgets a subject with no messages left, so its id can be reused.
    pub(crate) fn release_if_empty(&mut self, id: u32) {
        let empty = self.get(id).is_some_and(|e| e.count == 0);
        if !empty {
            return;
        }
        let hash = self.hash(name_of(&self.entries, id));
        if let Ok(found) = self.ids.find_entry(widen(hash), |&(i, _)| i == id) {
            found.remove();
        }
        if let Some(slot) = self.entries.get_mut(id as usize) {
            *slot = None;
        }
        self.free.push(id);
    }

    /// Forgets every subject with no messages (after recovery counted the live ones).
    pub(crate) fn release_all_empty(&mut self) {
        for id in 0..self.entries.len() as u32 {
            self.release_if_empty(id);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &SubjectEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reused_only_after_release() {
        let mut ix = SubjectIndex::default();
        let a = ix.intern("a");
        let b = ix.intern("b");
        assert_ne!(a, b);
        assert_eq!(ix.intern("a"), a);
        ix.add(a, 1);
        ix.release_if_empty(a);
        assert_eq!(ix.id("a"), Some(a), "a still has a message");
        ix.release_if_empty(b);
        assert_eq!((ix.id("b"), ix.len()), (None, 1));
        let c = ix.intern("c");
        assert_eq!(c, b, "b's id is reused");
        assert_eq!(ix.lookup("c").map(|e| e.count), Some(0));
        for i in 0..10_000 {
            ix.intern(&format!("s.{i}"));
        }
        assert_eq!(ix.len(), 10_002);
        assert_eq!(
            ix.id("s.9999").and_then(|id| ix.get(id)).map(|e| &*e.name),
            Some("s.9999")
        );
        ix.release_all_empty();
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.id("a"), Some(a));
    }
}
