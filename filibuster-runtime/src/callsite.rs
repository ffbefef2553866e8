//! Callsites: the places in the source that send instrumented requests.

use std::cell::RefCell;

use crate::wire;

/// One instrumented `.send()` in the source, described at compile time by
/// `#[filibuster::call]`.
///
/// `id` is what identifies the callsite to the server (it plays the role the
/// traceback hash plays in the reference): an md5 computed by the macro from
/// the crate name, the file path relative to its package, the function name
/// and the ordinal of the `.send()` in the function, or from an explicit
/// `#[filibuster::call(id = "...")]`. `file` and `line` are for people only.
/// `client_timeout` comes from `#[filibuster::call(timeout = <seconds>)]`.
#[derive(Debug)]
pub struct Callsite {
    /// 32 hex digits, the same on every machine and build.
    pub id: &'static str,
    /// Name of the function holding the `.send()`; `Type::method` (or
    /// `<Type as Trait>::method`) for the methods of an impl block with
    /// `#[filibuster::call]`.
    pub function: &'static str,
    /// Source file, as the compiler displays it.
    pub file: &'static str,
    /// Line of the `.send()`.
    pub line: u32,
    /// The timeout, in seconds, of the client the `.send()` uses, when it
    /// has one (`ClientBuilder::timeout`, which a request does not show):
    /// reported as the call's timeout when the request sets none itself.
    pub client_timeout: Option<f64>,
}

/// The hash pushed onto the execution index for one outgoing call: md5 hex of
/// `callsite_id`, `module`, `method` and the JSON string of `target`, joined
/// with `-` (section 3 of the protocol notes).
///
/// Here `module` is `"reqwest"`, `method` is upper case and `target` is the
/// path and query of the URL: never host or port, so that indices survive a
/// change of ports.
pub fn call_hash(callsite_id: &str, module: &str, method: &str, target: &str) -> String {
    let mut text = String::with_capacity(callsite_id.len() + module.len() + method.len() + target.len() + 8);
    text.push_str(callsite_id);
    text.push('-');
    text.push_str(module);
    text.push('-');
    text.push_str(method);
    text.push('-');
    wire::push_json_str(&mut text, target);
    wire::md5_hex(text)
}

/// Runs `f` with [`call_hash`] of a call from `callsite`, and the same as a
/// JSON string (quoted, as execution indices print it), remembered per
/// thread: a call made again from the same callsite with the same method and
/// target (the common case: a service calls the same few URLs over and over)
/// costs a lookup instead of an md5.
///
/// The cache is direct-mapped and bounded ([`CACHE_SLOTS`] entries per
/// thread): a colliding call replaces the entry, and every entry is checked
/// against the whole key, so that the hash is always `call_hash`'s. `f` must
/// not make calls itself.
pub(crate) fn with_call_hash<R>(
    callsite: &'static Callsite,
    module: &'static str,
    method: &str,
    target: &str,
    f: impl FnOnce(&str, &str) -> R,
) -> R {
    let slot = (fingerprint(callsite.id, module, method, target) % CACHE_SLOTS as u64) as usize;
    CALL_HASHES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.is_empty() {
            cache.resize_with(CACHE_SLOTS, || None);
        }
        let entry = &mut cache[slot];
        match entry {
            Some(hit) if hit.matches(callsite, module, method, target) => {}
            _ => {
                // A miss (a call not seen lately on this thread) is also when
                // the callsite is made known to the explorer's reports.
                crate::known_callsites::register(callsite);
                let hash = call_hash(callsite.id, module, method, target);
                let mut quoted = String::with_capacity(hash.len() + 2);
                wire::push_json_str(&mut quoted, &hash);
                *entry = Some(CachedHash {
                    callsite,
                    module,
                    method: method.to_owned(),
                    target: target.to_owned(),
                    hash,
                    quoted,
                })
            }
        }
        match entry {
            Some(entry) => f(&entry.hash, &entry.quoted),
            None => f("", "\"\""),
        }
    })
}

/// Entries of each thread's call hash cache.
const CACHE_SLOTS: usize = 256;

thread_local! {
    static CALL_HASHES: RefCell<Vec<Option<CachedHash>>> = const { RefCell::new(Vec::new()) };
}

struct CachedHash {
    /// The callsite itself, not only its id: a call from another callsite
    /// with the same id (a collision) is a miss, so that it is registered
    /// and the collision seen.
    callsite: &'static Callsite,
    module: &'static str,
    method: String,
    target: String,
    hash: String,
    /// `hash` as a JSON string.
    quoted: String,
}

impl CachedHash {
    fn matches(&self, callsite: &'static Callsite, module: &str, method: &str, target: &str) -> bool {
        self.target == target
            && self.method == method
            && std::ptr::eq(self.callsite, callsite)
            && self.module == module
    }
}

/// A cheap hash of a cache key: where the key's entry lives, nothing more.
fn fingerprint(id: &str, module: &str, method: &str, target: &str) -> u64 {
    use std::hash::Hasher;
    let mut hasher = wire::FastHasher::default();
    for part in [id, module, method, target] {
        hasher.write(part.as_bytes());
    }
    hasher.finish()
}

/// The target of a call as it enters the call hash and the `args` of the
/// invocation record: the path and, when present, `?query` of `url`.
pub fn normalized_target(url: &url::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{}", url.path(), query),
        None => url.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_hash_ignores_host_and_port() {
        let a = url::Url::parse("http://127.0.0.1:5003/bookings/chris?x=1").unwrap();
        let b = url::Url::parse("http://bookings:80/bookings/chris?x=1").unwrap();
        assert_eq!(normalized_target(&a), "/bookings/chris?x=1");
        assert_eq!(normalized_target(&a), normalized_target(&b));
        let h = call_hash("abc", "reqwest", "GET", "/bookings/chris");
        assert_eq!(h, wire::md5_hex(r#"abc-reqwest-GET-"/bookings/chris""#));
    }

    #[test]
    fn cached_call_hash_is_call_hash() {
        static A: Callsite =
            Callsite { id: "abc", function: "f", file: "f.rs", line: 1, client_timeout: None };
        static B: Callsite =
            Callsite { id: "abd", function: "f", file: "f.rs", line: 2, client_timeout: None };
        for _ in 0..3 {
            for callsite in [&A, &B] {
                for method in ["GET", "POST"] {
                    for i in 0..600 {
                        let target = format!("/bookings/{i}");
                        assert_eq!(
                            with_call_hash(callsite, "reqwest", method, &target, |hash, quoted| {
                                assert_eq!(quoted, serde_json::to_string(hash).unwrap());
                                hash.to_owned()
                            }),
                            call_hash(callsite.id, "reqwest", method, &target)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn colliding_callsites_are_registered_even_for_the_same_call() {
        static FIRST: Callsite =
            Callsite { id: "cached-collision", function: "get", file: "a.rs", line: 1, client_timeout: None };
        static SECOND: Callsite =
            Callsite { id: "cached-collision", function: "get", file: "b.rs", line: 1, client_timeout: None };
        for callsite in [&FIRST, &SECOND, &FIRST] {
            assert_eq!(
                with_call_hash(callsite, "reqwest", "GET", "/", |hash, _| hash.to_owned()),
                call_hash("cached-collision", "reqwest", "GET", "/")
            );
        }
        let found: Vec<_> = crate::known_callsites::collisions()
            .into_iter()
            .filter(|c| c.id() == "cached-collision")
            .collect();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].first.file, found[0].second.file), ("a.rs", "b.rs"));
    }
}

/// Says, once per callsite (`$said`, a [`SaidOnce`], remembers which), a
/// `tracing` event at `$level` about `$callsite`: its id, fn, file and line
/// as fields, then the message.
macro_rules! say_once {
    ($said:expr, $level:ident, $callsite:expr, $($message:tt)+) => {{
        let callsite: &'static $crate::callsite::Callsite = $callsite;
        if $said.first_time(callsite) {
            tracing::$level!(
                callsite = callsite.id,
                function = callsite.function,
                file = callsite.file,
                line = callsite.line,
                $($message)+
            );
        }
    }};
}
pub(crate) use say_once;

/// The callsites something was said about, so that a warning is said once
/// per callsite: `static SAID: SaidOnce = SaidOnce::new();`.
#[derive(Debug)]

pub(crate) struct SaidOnce(std::sync::Mutex<std::collections::BTreeSet<&'static str>>);

impl SaidOnce {
    pub(crate) const fn new() -> Self {
        Self(std::sync::Mutex::new(std::collections::BTreeSet::new()))
    }

    /// Whether nothing was said about `callsite` yet (and now it is).
    pub(crate) fn first_time(&self, callsite: &'static Callsite) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(callsite.id)
    }
}
