//! The token trie behind `SubjectIndex`, without any caching.
//!
//! Nodes live in one arena and refer to each other by index. That keeps every
//! walk iterative and makes dropping flat, so a subscription with a huge
//! number of tokens can't overflow the stack (recursive `Box` trees would on
//! both lookup and drop).

use std::collections::HashMap;
use std::mem;

use crate::result::{MatchResult, QueueGroup};

const ROOT: usize = 0;

/// Above this many queue entries in one lookup, merging by name switches from
/// a linear scan to a hash map so many groups can't make a lookup quadratic.
const LINEAR_MERGE_MAX: usize = 8;

#[derive(Debug)]
struct Queue<T> {
    name: Box<str>,
    members: Vec<T>,
}

#[derive(Debug)]
struct Node<T> {
    literal: HashMap<Box<str>, usize>,
    /// Child for a `*` token.
    pwc: Option<usize>,
    /// Child for a `>` token; always a leaf.
    fwc: Option<usize>,
    plain: Vec<T>,
    /// Few names per subject in practice, so a vector (which also keeps
    /// results in insertion order) beats a map.
    queues: Vec<Queue<T>>,
}

// Manual impl: deriving would needlessly require `T: Default`.
impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            literal: HashMap::new(),
            pwc: None,
            fwc: None,
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> Node<T> {
    fn is_unused(&self) -> bool {
        self.plain.is_empty()
            && self.queues.is_empty()
            && self.literal.is_empty()
            && self.pwc.is_none()
            && self.fwc.is_none()
    }
}

#[derive(Debug)]
pub(crate) struct Trie<T> {
    nodes: Vec<Node<T>>,
    /// Arena slots released by pruning, reused before growing `nodes`.
    free: Vec<usize>,
    len: usize,
    // Scratch buffers kept between calls so lookups and removes don't allocate.
    stack: Vec<(usize, usize)>,
    matched: Vec<usize>,
    path: Vec<usize>,
}

impl<T: Clone + PartialEq> Trie<T> {
    pub(crate) fn new() -> Self {
        Trie {
            nodes: vec![Node::default()],
            free: Vec::new(),
            len: 0,
            stack: Vec::new(),
            matched: Vec::new(),
            path: Vec::new(),
        }
    }

    /// Number of subscriptions stored.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Number of live nodes, root included; lets tests check pruning.
    #[cfg(test)]
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Adds a subscription. The caller has validated `subject`.
    pub(crate) fn insert(&mut self, subject: &str, queue: Option<&str>, item: T) {
        let mut cur = ROOT;
        for tok in subject.split('.') {
            cur = match self.child(cur, tok) {
                Some(c) => c,
                None => {
                    let c = self.alloc();
                    self.link(cur, tok, c);
                    c
                }
            };
        }
        let Some(node) = self.nodes.get_mut(cur) else {
            return;
        };
        match queue {
            None => node.plain.push(item),
            Some(name) => match node.queues.iter_mut().find(|q| &*q.name == name) {
                Some(q) => q.members.push(item),
                None => node.queues.push(Queue {
                    name: name.into(),
                    members: vec![item],
                }),
            },
        }
        self.len += 1;
    }

    /// Removes one subscription equal to `item`, then prunes nodes left empty.
    pub(crate) fn remove(&mut self, subject: &str, queue: Option<&str>, item: &T) -> bool {
        let mut path = mem::take(&mut self.path);
        path.clear();
        let mut cur = ROOT;
        let mut found = true;
        for tok in subject.split('.') {
            match self.child(cur, tok) {
                Some(c) => {
                    cur = c;
                    path.push(c);
                }
                None => {
                    found = false;
                    break;
                }
            }
        }
        let removed = found && self.remove_item(cur, queue, item);
        if removed {
            self.len -= 1;
            self.prune(subject, &path);
        }
        self.path = path;
        removed
    }

    /// All subscriptions matching the published subject, whose tokens are
    /// taken literally (a `*` token only reaches wildcard subscriptions). The
    /// caller has checked it has no empty tokens.
    pub(crate) fn collect(&mut self, subject: &str) -> MatchResult<T> {
        let mut stack = mem::take(&mut self.stack);
        let mut matched = mem::take(&mut self.matched);
        stack.clear();
        matched.clear();
        // (node, byte offset of the next token to consume).
        stack.push((ROOT, 0));
        while let Some((n, off)) = stack.pop() {
            let (Some(node), Some(rest)) = (self.nodes.get(n), subject.get(off..)) else {
                continue;
            };
            let (tok, next) = match rest.split_once('.') {
                Some((tok, after)) => (tok, Some(subject.len() - after.len())),
                None => (rest, None),
            };
            // `>` takes this token and everything after it.
            if let Some(f) = node.fwc {
                matched.push(f);
            }
            // Literal children never hold a `*` key, so a published `*` token
            // only follows the `pwc` edge here, never twice. Order as nats-server:
            // the stack pops the `*` branch before the literal one, and at the last
            // token the literal node is matched before the `*` node.
            for c in [node.literal.get(tok).copied(), node.pwc]
                .into_iter()
                .flatten()
            {
                match next {
                    Some(o) => stack.push((c, o)),
                    None => matched.push(c),
                }
            }
        }
        let result = self.build(&matched);
        self.stack = stack;
        self.matched = matched;
        result
    }

    /// Gathers the subscribers of the matched nodes, merging queue groups of
    /// the same name found on different subjects.
    fn build(&self, matched: &[usize]) -> MatchResult<T> {
        let nodes = || matched.iter().filter_map(|&n| self.nodes.get(n));
        let plain_len = nodes().map(|n| n.plain.len()).sum();
        let queue_entries: usize = nodes().map(|n| n.queues.len()).sum();

        let mut plain = Vec::with_capacity(plain_len);
        let mut queues: Vec<QueueGroup<T>> = Vec::new();
        let use_index = queue_entries > LINEAR_MERGE_MAX;
        let mut index: HashMap<&str, usize> = HashMap::new();

        for node in nodes() {
            plain.extend_from_slice(&node.plain);
            for q in &node.queues {
                let pos = if use_index {
                    index.get(&*q.name).copied()
                } else {
                    queues.iter().position(|g| *g.name == *q.name)
                };
                match pos.and_then(|p| queues.get_mut(p)) {
                    Some(g) => g.members.extend_from_slice(&q.members),
                    None => {
                        if use_index {
                            index.insert(&q.name, queues.len());
                        }
                        queues.push(QueueGroup {
                            name: q.name.to_string(),
                            members: q.members.clone(),
                        });
                    }
                }
            }
        }
        MatchResult { plain, queues }
    }

    fn child(&self, n: usize, tok: &str) -> Option<usize> {
        let node = self.nodes.get(n)?;
        match tok {
            "*" => node.pwc,
            ">" => node.fwc,
            _ => node.literal.get(tok).copied(),
        }
    }

    fn link(&mut self, parent: usize, tok: &str, child: usize) {
        if let Some(node) = self.nodes.get_mut(parent) {
            match tok {
                "*" => node.pwc = Some(child),
                ">" => node.fwc = Some(child),
                _ => {
                    node.literal.insert(tok.into(), child);
                }
            }
        }
    }

    fn unlink(&mut self, parent: usize, tok: &str) {
        if let Some(node) = self.nodes.get_mut(parent) {
            match tok {
                "*" => node.pwc = None,
                ">" => node.fwc = None,
                _ => {
                    node.literal.remove(tok);
                }
            }
        }
    }

    fn alloc(&mut self) -> usize {
        match self.free.pop() {
            Some(i) => i,
            None => {
                self.nodes.push(Node::default());
                self.nodes.len() - 1
            }
        }
    }

    fn release(&mut self, n: usize) {
        if let Some(node) = self.nodes.get_mut(n) {
            // Replace rather than clear so the node's buffers are freed too.
            *node = Node::default();
            self.free.push(n);
        }
    }

    fn remove_item(&mut self, n: usize, queue: Option<&str>, item: &T) -> bool {
        let Some(node) = self.nodes.get_mut(n) else {
            return false;
        };
        match queue {
            None => remove_one(&mut node.plain, item),
            Some(name) => {
                let Some(qi) = node.queues.iter().position(|q| &*q.name == name) else {
                    return false;
                };
                let Some(q) = node.queues.get_mut(qi) else {
                    return false;
                };
                let removed = remove_one(&mut q.members, item);
                if q.members.is_empty() {
                    node.queues.remove(qi);
                }
                removed
            }
        }
    }

    /// Walks `path` (the node reached after each token of `subject`) from the
    /// leaf up, unlinking nodes that no longer hold anything.
    fn prune(&mut self, subject: &str, path: &[usize]) {
        for (depth, tok) in subject.rsplit('.').enumerate() {
            let Some(i) = path.len().checked_sub(depth + 1) else {
                return;
            };
            let Some(&n) = path.get(i) else {
                return;
            };
            if !self.nodes.get(n).is_some_and(Node::is_unused) {
                return;
            }
            let parent = match i.checked_sub(1) {
                Some(p) => path.get(p).copied().unwrap_or(ROOT),
                None => ROOT,
            };
            self.unlink(parent, tok);
            self.release(n);
        }
    }
}

fn remove_one<T: PartialEq>(v: &mut Vec<T>, item: &T) -> bool {
    match v.iter().position(|x| x == item) {
        Some(p) => {
            // `remove`, not `swap_remove`, so delivery order stays stable.
            v.remove(p);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_back_to_root() {
        let mut t = Trie::new();
        let subs = ["foo.bar.baz", "foo.*", "foo.>", ">", "*.bar", "a.b.c.d.e"];
        for (i, s) in subs.iter().enumerate() {
            t.insert(s, None, i);
            t.insert(s, Some("q"), i);
        }
        assert!(t.node_count() > 1);
        for (i, s) in subs.iter().enumerate() {
            assert!(t.remove(s, None, &i));
            assert!(t.remove(s, Some("q"), &i));
        }
        assert_eq!(t.len(), 0);
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn prune_keeps_shared_prefix() {
        let mut t = Trie::new();
        t.insert("foo.bar", None, 1);
        t.insert("foo.bar.baz", None, 2);
        assert!(t.remove("foo.bar.baz", None, &2));
        // root, foo, bar
        assert_eq!(t.node_count(), 3);
        assert_eq!(t.collect("foo.bar").plain, vec![1]);
        assert!(t.remove("foo.bar", None, &1));
        assert_eq!(t.node_count(), 1);
    }

    #[test]
    fn freed_nodes_are_reused() {
        let mut t = Trie::new();
        for round in 0..10 {
            t.insert("a.b.c", None, round);
            assert!(t.remove("a.b.c", None, &round));
        }
        assert_eq!(t.nodes.len(), 4);
    }

    #[test]
    fn deep_subject_does_not_overflow() {
        let deep = vec!["t"; 200_000].join(".");
        let mut t = Trie::new();
        t.insert(&deep, None, 1u8);
        t.insert(&format!("{deep}.>"), None, 2u8);
        let mut got = t.collect(&format!("{deep}.x")).plain;
        got.sort();
        assert_eq!(got, vec![2]);
        assert_eq!(t.collect(&deep).plain, vec![1]);
        // Dropping with one subscription still in place must not recurse.
        assert!(t.remove(&deep, None, &1));
        drop(t);
    }
}
