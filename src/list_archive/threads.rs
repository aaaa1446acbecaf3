//! A thread's messages in reading order: each answer under the message it answers, oldest
//! first among answers to the same message, with its depth for indenting.

use std::collections::{HashMap, HashSet};

use crate::store::ArchivedHead;

/// The deepest indentation shown: deeper answers are shown at this depth, still in order.
pub const DEEPEST: usize = 8;

/// `heads` (of one thread, oldest first) in reading order, each with its depth from 0. A
/// message whose parent is not among them (removed, or in another month) starts a branch
/// at depth 0.
pub fn arranged(heads: &[ArchivedHead]) -> Vec<(usize, &ArchivedHead)> {
    let present: HashSet<&str> = heads.iter().map(|h| h.message_key.as_str()).collect();
    let mut children: HashMap<&str, Vec<&ArchivedHead>> = HashMap::new();
    let mut roots = Vec::new();
    for head in heads {
        match head.parent_key.as_deref().filter(|p| present.contains(p)) {
            Some(parent) if parent != head.message_key => {
                children.entry(parent).or_default().push(head)
            }
            _ => roots.push(head),
        }
    }
    let mut out = Vec::with_capacity(heads.len());
    let mut seen = HashSet::new();
    // Depth first, without recursion: a deep thread cannot overflow the stack.
    let mut stack: Vec<(usize, &ArchivedHead)> = roots.into_iter().rev().map(|h| (0, h)).collect();
    while let Some((depth, head)) = stack.pop() {
        if !seen.insert(head.message_key.as_str()) {
            continue;
        }
        out.push((depth.min(DEEPEST), head));
        if let Some(answers) = children.get(head.message_key.as_str()) {
            stack.extend(answers.iter().rev().map(|h| (depth + 1, *h)));
        }
    }
    // Anything left out by a cycle of parents (which well-formed mail cannot make).
    for head in heads {
        if seen.insert(head.message_key.as_str()) {
            out.push((0, head));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(key: &str, parent: Option<&str>, at: i64) -> ArchivedHead {
        ArchivedHead {
            message_key: key.into(),
            thread_key: "a".into(),
            parent_key: parent.map(Into::into),
            subject: key.into(),
            author_name: String::new(),
            author_address: String::new(),
            posted_at: at,
            month: "2026-01".into(),
        }
    }

    #[test]
    fn answers_follow_what_they_answer() {
        let heads = [
            head("a", None, 1),
            head("b", Some("a"), 2),
            head("c", Some("a"), 3),
            head("d", Some("b"), 4),
            head("e", Some("gone"), 5),
        ];
        let order: Vec<(usize, &str)> = arranged(&heads)
            .into_iter()
            .map(|(depth, h)| (depth, h.message_key.as_str()))
            .collect();
        assert_eq!(order, [(0, "a"), (1, "b"), (2, "d"), (1, "c"), (0, "e")]);
    }
}
