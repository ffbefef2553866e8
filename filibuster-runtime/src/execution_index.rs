//! Execution indices: where in the tree of calls of one test execution a call is.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire;

/// One step of an [`ExecutionIndex`]: a call hash and how many times that
/// hash had been called, counting this call, in the enclosing request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Step {
    /// md5 hex of the call (see [`call_hash`](crate::call_hash)).
    pub hash: String,
    /// 1 for the first such call in the request, 2 for the second, ...
    pub count: u32,
}

/// The path of a call from the root of a test execution: the steps of every
/// enclosing call, outermost first, then the call itself.
///
/// On the wire it is a JSON array of `[hash, count]` pairs, e.g.
/// `[["5e1f...", 1], ["9a0c...", 2]]`; the empty index is `[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutionIndex(Vec<Step>);

impl ExecutionIndex {
    /// The empty index `[]`, where the calls of a test's first service start.
    pub fn new() -> Self {
        Self::default()
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// Number of steps (the depth of the call).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether this is the empty index.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends a step (the reference's *push*).
    pub fn push(&mut self, hash: impl Into<String>, count: u32) {
        self.0.push(Step { hash: hash.into(), count });
    }

    /// Removes the last step (the reference's *pop*).
    pub fn pop(&mut self) -> Option<Step> {
        self.0.pop()
    }

    /// A copy of `self` with one more step.
    pub fn child(&self, hash: &str, count: u32) -> Self {
        self.child_owned(hash.to_owned(), count)
    }

    /// [`ExecutionIndex::child`] with a hash the caller no longer needs.
    fn child_owned(&self, hash: String, count: u32) -> Self {
        let mut steps = Vec::with_capacity(self.0.len() + 1);
        steps.extend_from_slice(&self.0);
        steps.push(Step { hash, count });
        Self(steps)
    }

    /// [`ExecutionIndex::child_wire_quoted`] of a hash not yet quoted.
    #[cfg(test)]
    pub(crate) fn child_wire(parent: &str, hash: &str, count: u32) -> String {
        let mut quoted = String::with_capacity(hash.len() + 2);
        wire::push_json_str(&mut quoted, hash);
        Self::child_wire_quoted(parent, &quoted, count)
    }

    /// The wire form of `parent.child(hash, count)`, given the wire form of
    /// `parent` (as [`ExecutionIndex::to_wire`] prints it) and `hash` as
    /// its JSON string (quoted): the parent's steps are copied, not printed
    /// again.
    pub(crate) fn child_wire_quoted(parent: &str, quoted_hash: &str, count: u32) -> String {
        let mut out = String::with_capacity(parent.len() + quoted_hash.len() + 16);
        match parent.strip_suffix(']') {
            Some(steps) if steps != "[" => {
                out.push_str(steps);
                out.push_str(", [");
            }
            _ => out.push_str("[["),
        }
        out.push_str(quoted_hash);
        out.push_str(", ");
        wire::push_u64(&mut out, count.into());
        out.push_str("]]");
        out
    }

    /// The index of the enclosing call (`[]` for a root call).
    pub fn parent(&self) -> Self {
        let mut parent = self.clone();
        parent.0.pop();
        parent
    }

    /// Parses the JSON wire form.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON wire form, spaced as the reference prints it.
    pub fn to_wire(&self) -> String {
        let mut out = String::with_capacity(2 + self.0.len() * 44);
        out.push('[');
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push('[');
            wire::push_json_str(&mut out, &step.hash);
            out.push_str(", ");
            wire::push_u64(&mut out, step.count.into());
            out.push(']');
        }
        out.push(']');
        out
    }
}

impl fmt::Display for ExecutionIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl Serialize for ExecutionIndex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for step in &self.0 {
            seq.serialize_element(&(&step.hash, step.count))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ExecutionIndex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor;
        impl<'de> Visitor<'de> for StepsVisitor {
            type Value = ExecutionIndex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an execution index: a list of [hash, count] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut steps = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some((hash, count)) = seq.next_element::<(String, u32)>()? {
                    if count == 0 {
                        return Err(de::Error::custom("an execution index count starts at 1"));
                    }
                    steps.push(Step { hash, count });
                }
                Ok(ExecutionIndex(steps))
            }
        }
        deserializer.deserialize_seq(StepsVisitor)
    }
}

/// Per-request invocation counters: how many times each call hash has been
/// called so far in one incoming request. They give repeated identical calls
/// distinct indices (counts 1, 2, 3, ...). They are never serialized.
#[derive(Clone, Debug, Default)]
pub struct InvocationCounters(HashMap<String, u32, BuildHasherDefault<wire::FastHasher>>);

impl InvocationCounters {
    /// Counts one more call of `hash` and returns its count (1 for the first).
    /// The count saturates at `u32::MAX` rather than overflowing.
    pub fn next(&mut self, hash: &str) -> u32 {
        if let Some(count) = self.0.get_mut(hash) {
            *count = count.saturating_add(1);
            return *count;
        }
        self.0.insert(hash.to_owned(), 1);
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_reference_prints() {
        let text = r#"[["a1b2", 1], ["c3d4", 2]]"#;
        let ei = ExecutionIndex::parse(text).unwrap();
        assert_eq!(ei.len(), 2);
        assert_eq!(ei.steps()[1], Step { hash: "c3d4".into(), count: 2 });
        assert_eq!(ei.to_wire(), text);
        assert_eq!(ExecutionIndex::parse(r#"[["a1b2",1],["c3d4",2]]"#).unwrap(), ei);
        assert_eq!(ExecutionIndex::new().to_wire(), "[]");
        assert_eq!(ei.parent().to_wire(), r#"[["a1b2", 1]]"#);
    }

    #[test]
    fn child_wire_is_the_childs_wire() {
        let mut parent = ExecutionIndex::new();
        for depth in 0..4 {
            for (hash, count) in [("a1b2", 1), ("c\"d", 12)] {
                assert_eq!(
                    ExecutionIndex::child_wire(&parent.to_wire(), hash, count),
                    parent.child(hash, count).to_wire()
                );
            }
            parent.push(format!("h{depth}"), depth + 1);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The wire form of a child, built from any parent's wire form and
        /// any hash (an incoming header's, with escapes), is the child's.
        #[test]
        fn child_wire_of_any_parent(
            steps in proptest::collection::vec((".{0,12}", 1u32..), 0..5),
            hash in ".{0,40}",
            count: u32,
        ) {
            let mut parent = ExecutionIndex::new();
            for (hash, count) in steps {
                parent.push(hash, count);
            }
            let wire = ExecutionIndex::child_wire(&parent.to_wire(), &hash, count);
            proptest::prop_assert_eq!(&wire, &parent.child(&hash, count).to_wire());
            proptest::prop_assert_eq!(&ExecutionIndex::parse(&parent.to_wire()).unwrap(), &parent);
            if count > 0 {
                proptest::prop_assert_eq!(ExecutionIndex::parse(&wire).unwrap(), parent.child(&hash, count));
            }
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in
            ["", "{}", "[[1, 1]]", r#"[["a"]]"#, r#"[["a", -1]]"#, r#"[["a", 0]]"#, "[", r#"[["a", 1, 2]]"#]
        {
            assert!(ExecutionIndex::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counters_count_per_hash() {
        let mut c = InvocationCounters::default();
        assert_eq!(c.next("x"), 1);
        assert_eq!(c.next("y"), 1);
        assert_eq!(c.next("x"), 2);
    }

    #[test]
    fn counters_saturate() {
        let mut c = InvocationCounters::default();
        c.0.insert("x".into(), u32::MAX - 1);
        assert_eq!(c.next("x"), u32::MAX);
        assert_eq!(c.next("x"), u32::MAX);
    }
}
