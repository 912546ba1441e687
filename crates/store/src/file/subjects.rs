//! Per-subject state of the file store: for each subject, how many messages it has and
//! its first and last sequence. Slots refer to subjects by a small id, so a message
//! costs 4 bytes of subject in memory and a subject costs one name plus 24 bytes.

use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) struct SubjectEntry {
    pub name: Arc<str>,
    pub count: u64,
    pub first: u64,
    pub last: u64,
}

#[derive(Debug, Default)]
pub(crate) struct SubjectIndex {
    ids: HashMap<Arc<str>, u32>,
    entries: Vec<Option<SubjectEntry>>,
    free: Vec<u32>,
}

impl SubjectIndex {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn id(&self, subject: &str) -> Option<u32> {
        self.ids.get(subject).copied()
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
        if let Some(id) = self.id(subject) {
            return id;
        }
        let name: Arc<str> = Arc::from(subject);
        let entry = SubjectEntry {
            name: name.clone(),
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
        self.ids.insert(name, id);
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
        let Some(slot) = self.entries.get_mut(id as usize) else {
            return;
        };
        if slot.as_ref().is_some_and(|e| e.count == 0) {
            if let Some(e) = slot.take() {
                self.ids.remove(&e.name);
            }
            self.free.push(id);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &SubjectEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e)))
    }
}
