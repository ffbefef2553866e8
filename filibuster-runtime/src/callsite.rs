//! Callsites: the places in the source that send instrumented requests.

use crate::wire;

/// One instrumented `.send()` in the source, described at compile time by
/// `#[filibuster::call]`.
///
/// `id` is what identifies the callsite to the server (it plays the role the
/// traceback hash plays in the reference): an md5 computed by the macro from
/// the crate name, the file path relative to its package, the function name
/// and the ordinal of the `.send()` in the function, or from an explicit
/// `#[filibuster::call(id = "...")]`. `file` and `line` are for people only.
#[derive(Debug)]
pub struct Callsite {
    /// 32 hex digits, the same on every machine and build.
    pub id: &'static str,
    /// Name of the function holding the `.send()`.
    pub function: &'static str,
    /// Source file, as the compiler displays it.
    pub file: &'static str,
    /// Line of the `.send()`.
    pub line: u32,
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
}
