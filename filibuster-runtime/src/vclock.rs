//! Vector clocks: which service has made how many calls, causally.

use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire;

/// A vector clock: a map from service name to a positive count of events.
///
/// On the wire it is a JSON object, e.g. `{"users": 2, "bookings": 1}`
/// (header `X-Filibuster-VClock` and the `vclock` fields of the records).
///
/// Clones share the map until one of them changes (copy on write): every
/// call copies its caller's clock into its records and headers, which then
/// cost a reference count, not a map; service names are shared too.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VectorClock(Arc<Entries>);

/// The entries of a clock, sorted by service name, one per service: what a
/// `BTreeMap` would hold (and compare, hash and print the same way), in a
/// `Vec`, whose code is a fraction of a `BTreeMap`'s, and which clocks of a
/// few services search as fast.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Entries(Vec<(Arc<str>, u64)>);

impl Entries {
    fn find(&self, service: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(s, _)| (**s).cmp(service))
    }

    fn get(&self, service: &str) -> Option<&u64> {
        self.find(service).ok().map(|i| &self.0[i].1)
    }

    fn get_mut(&mut self, service: &str) -> Option<&mut u64> {
        self.find(service).ok().map(|i| &mut self.0[i].1)
    }

    /// Sets the count of `service`, replacing the one it had.
    fn insert(&mut self, service: Arc<str>, count: u64) {
        match self.find(&service) {
            Ok(i) => self.0[i].1 = count,
            Err(i) => self.0.insert(i, (service, count)),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &u64)> {
        self.0.iter().map(|(s, c)| (s, c))
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Entries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl VectorClock {
    /// The empty clock, `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether no service has an entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// About how many bytes the clock holds: its services' names and their
    /// counts.
    pub fn approx_bytes(&self) -> usize {
        self.0.iter().map(|(service, _)| service.len() + 8).sum()
    }

    /// The count of `service`, 0 when absent.
    pub fn get(&self, service: &str) -> u64 {
        self.0.get(service).copied().unwrap_or(0)
    }

    /// Adds one to the entry of `service`. A count already at `u64::MAX`
    /// (which only a client can send) stays there: the clock saturates
    /// rather than wrapping to 0 or panicking.
    pub fn increment(&mut self, service: &str) {
        self.incremented(service);
    }

    /// [`VectorClock::increment`], answering the new count.
    pub(crate) fn incremented(&mut self, service: &str) -> u64 {
        let map = Arc::make_mut(&mut self.0);
        match map.get_mut(service) {
            Some(count) => {
                *count = count.saturating_add(1);
                *count
            }
            None => {
                map.insert(Arc::from(service), 1);
                1
            }
        }
    }

    /// Pointwise maximum of `self` and `other`, stored in `self`.
    pub fn merge(&mut self, other: &VectorClock) {
        if Arc::ptr_eq(&self.0, &other.0) || other.is_empty() {
            return;
        }
        let map = Arc::make_mut(&mut self.0);
        for (service, &count) in other.0.iter() {
            match map.get_mut(service) {
                Some(mine) => *mine = (*mine).max(count),
                None => {
                    map.insert(service.clone(), count);
                }
            }
        }
    }

    /// Whether `self` has seen everything `other` has (`self >= other` pointwise).
    pub fn descends(&self, other: &VectorClock) -> bool {
        other.0.iter().all(|(service, &count)| self.get(service) >= count)
    }

    /// The entries, in service-name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(s, &c)| (&**s, c))
    }

    /// Parses the JSON wire form.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON wire form, spaced as Python's `json.dumps` spaces it.
    pub fn to_wire(&self) -> String {
        let mut out = String::with_capacity(self.wire_len_hint());
        self.push_wire(&mut out);
        out
    }

    /// About how long [`VectorClock::to_wire`] is.
    pub(crate) fn wire_len_hint(&self) -> usize {
        2 + self.0.len() * 16
    }

    /// The wire text of `self` around the count of `service`, for a clock
    /// whose other entries stay as they are: `None` when `service` has no
    /// entry.
    pub(crate) fn wire_around(&self, service: &str) -> Option<ClockText> {
        let mut text = String::with_capacity(self.wire_len_hint());
        let mut count_at = None;
        text.push('{');
        for (i, (name, count)) in self.0.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            wire::push_json_str(&mut text, name);
            text.push_str(": ");
            if **name == *service {
                count_at = Some(text.len());
            } else {
                wire::push_u64(&mut text, *count);
            }
        }
        text.push('}');
        Some(ClockText { text, count_at: count_at? })
    }

    /// Appends [`VectorClock::to_wire`] to `out`.
    pub(crate) fn push_wire(&self, out: &mut String) {
        out.push('{');
        for (i, (service, count)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            wire::push_json_str(out, service);
            out.push_str(": ");
            wire::push_u64(out, *count);
        }
        out.push('}');
    }
}

/// The wire text of a clock but for the count of one service (see
/// [`VectorClock::wire_around`]): a request's clock, of which only its own
/// service's count changes, call after call, is printed from it.
#[derive(Debug)]
pub(crate) struct ClockText {
    /// The text without the count.
    text: String,
    /// Where the count goes.
    count_at: usize,
}

impl ClockText {
    /// Appends the clock's wire text with `count` as the service's count.
    pub(crate) fn push_wire(&self, out: &mut String, count: u64) {
        let (before, after) = self.text.split_at(self.count_at);
        out.push_str(before);
        wire::push_u64(out, count);
        out.push_str(after);
    }

    /// About how long the wire text is.
    pub(crate) fn wire_len_hint(&self) -> usize {
        self.text.len() + 20
    }
}

impl Serialize for VectorClock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (service, count) in self.0.iter() {
            map.serialize_entry(&**service, count)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for VectorClock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// A service name, read without an intermediate `String` when the
        /// text allows it.
        struct Service(Arc<str>);
        impl<'de> Deserialize<'de> for Service {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ServiceVisitor;
                impl Visitor<'_> for ServiceVisitor {
                    type Value = Service;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Service, E> {
                        Ok(Service(Arc::from(v)))
                    }
                }
                deserializer.deserialize_str(ServiceVisitor)
            }
        }
        struct ClockVisitor;
        impl<'de> Visitor<'de> for ClockVisitor {
            type Value = VectorClock;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VectorClock, A::Error> {
                let mut clock = Entries::default();
                while let Some((Service(service), count)) = map.next_entry::<Service, u64>()? {
                    clock.insert(service, count);
                }
                Ok(VectorClock(Arc::new(clock)))
            }
        }
        deserializer.deserialize_map(ClockVisitor)
    }
}

impl fmt::Display for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_wire())
    }
}

impl<S: Into<String>> FromIterator<(S, u64)> for VectorClock {
    fn from_iter<I: IntoIterator<Item = (S, u64)>>(iter: I) -> Self {
        let mut clock = Entries::default();
        for (service, count) in iter {
            clock.insert(Arc::from(service.into()), count);
        }
        Self(Arc::new(clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_merge_descends() {
        let mut a = VectorClock::new();
        a.increment("a");
        a.increment("a");
        let mut b: VectorClock = [("b", 3), ("a", 1)].into_iter().collect();
        assert!(!b.descends(&a));
        b.merge(&a);
        assert_eq!(b.get("a"), 2);
        assert_eq!(b.get("b"), 3);
        assert!(b.descends(&a));
        assert_eq!(b.to_wire(), r#"{"a": 2, "b": 3}"#);
    }

    /// A count at `u64::MAX`, as any client can send it in
    /// `X-Filibuster-VClock`, saturates instead of overflowing.
    #[test]
    fn increment_saturates_at_the_largest_count() {
        let mut clock = VectorClock::parse(r#"{"users": 18446744073709551615}"#).unwrap();
        clock.increment("users");
        clock.increment("users");
        assert_eq!(clock.get("users"), u64::MAX);
        assert_eq!(clock.to_wire(), r#"{"users": 18446744073709551615}"#);
        let mut other: VectorClock = [("users", 7), ("b", u64::MAX)].into_iter().collect();
        other.merge(&clock);
        assert_eq!((other.get("users"), other.get("b")), (u64::MAX, u64::MAX));
        assert!(other.descends(&clock));
    }

    #[test]
    fn the_text_around_a_count_is_the_wire_text() {
        let clocks: [&[(&str, u64)]; 4] =
            [&[("users", 1)], &[("a\"b", 3), ("users", 9)], &[("gateway", 1), ("users", 2), ("zz", 7)], &[]];
        for entries in clocks {
            let clock: VectorClock = entries.iter().copied().collect();
            for service in ["users", "gateway", "a\"b", "missing"] {
                let Some(around) = clock.wire_around(service) else {
                    assert_eq!(clock.get(service), 0, "{service}");
                    continue;
                };
                for count in [0, 1, 10, 12345, u64::MAX] {
                    let mut expected = clock.clone();
                    Arc::make_mut(&mut expected.0).insert(Arc::from(service), count);
                    let mut out = String::from("x");
                    around.push_wire(&mut out, count);
                    assert_eq!(out, format!("x{}", expected.to_wire()));
                }
            }
        }
    }

    #[test]
    fn wire_round_trip() {
        let text = r#"{"users": 2, "bookings": 1}"#;
        let clock = VectorClock::parse(text).unwrap();
        assert_eq!(VectorClock::parse(&clock.to_wire()).unwrap(), clock);
        assert_eq!(VectorClock::new().to_wire(), "{}");
        assert!(VectorClock::parse("[1]").is_err());
        assert!(VectorClock::parse(r#"{"a": -1}"#).is_err());
        assert!(VectorClock::parse(r#"{"a": "1"}"#).is_err());
        let escaped = VectorClock::parse(r#"{"a\"b": 1, "c": 2, "c": 3}"#).unwrap();
        assert_eq!(escaped.get("a\"b"), 1);
        assert_eq!(escaped.get("c"), 3);
        assert_eq!(escaped.to_wire(), r#"{"a\"b": 1, "c": 3}"#);
        let value = serde_json::to_value(&escaped).unwrap();
        assert_eq!(serde_json::from_value::<VectorClock>(value).unwrap(), escaped);
    }
}
