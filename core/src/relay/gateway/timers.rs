//! The gateway's deadlines: at most one per key, ordered by time, removable when the thing
//! they guard finishes (so finished requests leave no timer behind).

use crate::time::Instant;
use std::collections::{BTreeSet, HashMap};

/// What a deadline belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum TimerKey {
    /// A pending accept address (by its secret).
    Accept(String),
    /// An HTTP request (by its id).
    Request(String),
    /// A listener's token expiry and keepalive.
    Listener(super::ConnId),
}

/// Keyed deadlines: setting a key again moves its deadline.
#[derive(Debug, Default)]
pub(super) struct Timers {
    by_time: BTreeSet<(Instant, TimerKey)>,
    by_key: HashMap<TimerKey, Instant>,
}

impl Timers {
    /// Sets (or moves) the deadline of `key` to `at`.
    pub(super) fn set(&mut self, at: Instant, key: TimerKey) {
        if let Some(old) = self.by_key.insert(key.clone(), at) {
            self.by_time.remove(&(old, key.clone()));
        }
        self.by_time.insert((at, key));
    }

    /// Removes the deadline of `key`, if any.
    pub(super) fn cancel(&mut self, key: &TimerKey) {
        if let Some(old) = self.by_key.remove(key) {
            self.by_time.remove(&(old, key.clone()));
        }
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// Takes the earliest key whose deadline is at or before `now`.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<TimerKey> {
        let (at, _) = self.by_time.first()?;
        if *at > now {
            return None;
        }
        let (_, key) = self.by_time.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }

    /// How many deadlines are set.
    pub(super) fn len(&self) -> usize {
        self.by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deadline_per_key_in_time_order() {
        let mut t = Timers::default();
        t.set(Instant(50), TimerKey::Request("a".into()));
        t.set(Instant(10), TimerKey::Request("b".into()));
        t.set(Instant(5), TimerKey::Request("a".into()));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(Instant(5)));
        assert_eq!(t.pop_due(Instant(4)), None);
        assert_eq!(t.pop_due(Instant(20)), Some(TimerKey::Request("a".into())));
        t.cancel(&TimerKey::Request("b".into()));
        assert_eq!(t.pop_due(Instant(100)), None);
        assert_eq!(t.len(), 0);
        assert_eq!(t.next(), None);
    }
}
