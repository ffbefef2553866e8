//! The `X-Filibuster-*` headers an instrumented call sends: written into
//! the outgoing request's header map, whatever its client.

use http::{HeaderMap, HeaderValue};

use crate::context::ClockWire;
use crate::headers::name::{EXECUTION_INDEX, FORCED_SLEEP, GENERATED_ID, ORIGIN_VCLOCK, REQUEST_ID, VCLOCK};
use crate::vclock::VectorClock;

/// What the outgoing request of a call carries.
pub(crate) struct OutgoingHeaders<'a> {
    pub(crate) generated_id: u64,
    pub(crate) vclock: &'a VectorClock,
    /// `vclock`'s wire text, when the request context has it.
    pub(crate) vclock_text: Option<&'a ClockWire>,
    pub(crate) execution_index: &'a str,
    pub(crate) request_id: Option<&'a HeaderValue>,
}

impl OutgoingHeaders<'_> {
    /// Sets the headers in `map`, the outgoing request's, with the forced
    /// sleep of a non-aborting fault when there is one.
    pub(crate) fn set(&self, map: &mut HeaderMap, sleep: Option<f64>) {
        // The generated id, the clock (sent twice: `origin_vclock` is the
        // same text) and the execution index are printed into one buffer,
        // of which each value is a shared slice: one allocation for all.
        let clock_len =
            self.vclock_text.map_or_else(|| self.vclock.wire_len_hint(), ClockWire::wire_len_hint);
        let mut text = String::with_capacity(20 + clock_len + self.execution_index.len());
        crate::wire::push_u64(&mut text, self.generated_id);
        let id_end = text.len();
        match self.vclock_text {
            Some(clock) => clock.push_wire(&mut text),
            None => self.vclock.push_wire(&mut text),
        }
        let vclock_end = text.len();
        text.push_str(self.execution_index);
        let text = bytes::Bytes::from(text);
        let value = |range: std::ops::Range<usize>| HeaderValue::from_maybe_shared(text.slice(range)).ok();
        let (id, vclock, index) =
            (value(0..id_end), value(id_end..vclock_end), value(vclock_end..text.len()));
        match (id, vclock, index, self.request_id) {
            // The usual case, a request without headers of its own yet: a
            // copy of the template, whose values are then put in, in order.
            (Some(id), Some(vclock), Some(index), Some(request_id)) if map.is_empty() => {
                *map = TEMPLATE.clone();
                let values = [id, vclock.clone(), vclock, index, request_id.clone()];
                for (slot, value) in map.values_mut().zip(values) {
                    *slot = value;
                }
            }
            (id, vclock, index, request_id) => {
                let pairs = [
                    (GENERATED_ID, id),
                    (VCLOCK, vclock.clone()),
                    (ORIGIN_VCLOCK, vclock),
                    (EXECUTION_INDEX, index),
                    (REQUEST_ID, request_id.cloned()),
                ];
                map.reserve(pairs.len() + 1);
                for (name, value) in pairs {
                    if let Some(value) = value {
                        map.insert(name, value);
                    }
                }
            }
        }
        if let Some(value) = sleep.map(format_seconds).and_then(|text| HeaderValue::try_from(text).ok()) {
            map.insert(FORCED_SLEEP, value);
        }
    }
}

/// The outgoing headers of a call, in the order they are set, with empty
/// values: inserting a header hashes its name, copying a map does not, so
/// that a request without headers of its own gets a copy of this map with
/// the call's values put in ([`OutgoingHeaders::set`]): the same names, in
/// the same order, as inserting them one by one.
static TEMPLATE: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(|| {
    let mut map = HeaderMap::with_capacity(6);
    for name in [GENERATED_ID, VCLOCK, ORIGIN_VCLOCK, EXECUTION_INDEX, REQUEST_ID] {
        map.insert(name, HeaderValue::from_static(""));
    }
    map
});

/// Seconds as the reference's handlers parse them (`int(...)`): whole
/// numbers without a fraction or an exponent, however large (`1e20` is
/// `100000000000000000000`, not the `i64` it would saturate to).
pub(crate) fn format_seconds(seconds: f64) -> String {
    // `Display` of an `f64` prints whole numbers without `.0` and never
    // uses an exponent.
    seconds.to_string()
}
