//! What a lookup returns: the plain subscribers and the queue groups that a
//! published subject reaches.

/// Every subscription interested in one published subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchResult<T> {
    /// Non-queue subscribers; each gets a copy of the message.
    pub plain: Vec<T>,
    /// One entry per distinct queue name; one member of each gets the message.
    pub queues: Vec<QueueGroup<T>>,
}

/// All members of one queue group across every matching subscription subject,
/// e.g. members on `foo.*` and on `foo.bar` with the same queue name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup<T> {
    pub name: String,
    pub members: Vec<T>,
}

impl<T> MatchResult<T> {
    /// True if no subscription at all matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

// Manual impl: deriving would needlessly require `T: Default`.
impl<T> Default for MatchResult<T> {
    fn default() -> Self {
        MatchResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}
