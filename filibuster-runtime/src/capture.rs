//! Opt-in capture of HTTP headers and bodies into the spans of the
//! [`spans`](crate::spans) module: which headers, whether bodies, how much of
//! a body. Off by default: nothing is captured until [`Capture::install`]
//! is called, or the environment asks for it (`FILIBUSTER_CAPTURE_*`).

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue};

/// The environment variable listing the headers to capture, in requests and
/// responses alike, by name, separated by commas:
/// `FILIBUSTER_CAPTURE_HEADERS=x-user,content-type`.
pub const ENV_HEADERS: &str = "FILIBUSTER_CAPTURE_HEADERS";
/// The environment variable that turns body capture on: `1`, `true`, `yes`
/// or `on`.
pub const ENV_BODIES: &str = "FILIBUSTER_CAPTURE_BODIES";
/// The environment variable bounding a captured body, in bytes (default
/// [`DEFAULT_MAX_BODY_BYTES`]).
pub const ENV_MAX_BODY: &str = "FILIBUSTER_CAPTURE_MAX_BODY";
/// The environment variable listing the sensitive headers to capture as they
/// are, not redacted: `FILIBUSTER_CAPTURE_UNREDACTED=cookie`.
pub const ENV_UNREDACTED: &str = "FILIBUSTER_CAPTURE_UNREDACTED";

/// How much of a body is captured by default: 128 KiB. Past it the body is
/// truncated.
pub const DEFAULT_MAX_BODY_BYTES: usize = 128 * 1024;

/// What a sensitive header is captured as, unless explicitly allowed with
/// [`Capture::unredacted`].
pub const REDACTED: &str = "[REDACTED]";

/// The headers whose values are captured as [`REDACTED`] unless named in
/// [`Capture::unredacted`]: they carry credentials.
pub const SENSITIVE_HEADERS: [&str; 4] = ["authorization", "cookie", "set-cookie", "proxy-authorization"];

/// What the spans of instrumented handlers and calls capture beyond their
/// standard attributes: request and response headers (an allow-list,
/// credentials redacted) and bodies (JSON, form and text only, capped).
///
/// Nothing is captured by default. Configure it once per process, at
/// start-up, with [`Capture::install`]:
///
/// ```
/// # use filibuster_runtime as filibuster;
/// filibuster::Capture::new()
///     .request_headers(["x-user", "authorization"]) // authorization: "[REDACTED]"
///     .response_headers(["content-type"])
///     .bodies(true)
///     .max_body_bytes(16 * 1024)
///     .install();
/// ```
///
/// or with the environment, read the first time a span is made when nothing
/// was installed ([`Capture::from_env`]): `FILIBUSTER_CAPTURE_HEADERS`
/// (request and response headers, comma-separated), `FILIBUSTER_CAPTURE_BODIES=1`,
/// `FILIBUSTER_CAPTURE_MAX_BODY=<bytes>` and `FILIBUSTER_CAPTURE_UNREDACTED`.
///
/// Captured headers are the span attributes `http.request.header.<name>` and
/// `http.response.header.<name>` (lower-case names; several values joined
/// with `,`), bodies `http.request.body` and `http.response.body`. Bodies
/// are captured only where they are in memory already, so that capture
/// never buffers or delays a streamed body: the body of a client request
/// when reqwest holds it as bytes (`.body(..)`, `.json(..)`, `.form(..)`,
/// not a stream), and the body of a client response only when Filibuster
/// is on and the runtime reads it anyway (a `Content-Length` of at most
/// 1 MiB). On the server side, headers are captured (the response's by
/// [`ServiceLayer`](crate::ServiceLayer) only); bodies are not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    request_headers: Vec<HeaderName>,
    response_headers: Vec<HeaderName>,
    unredacted: Vec<HeaderName>,
    bodies: bool,
    max_body_bytes: usize,
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

impl Capture {
    /// Captures nothing: the default.
    pub fn new() -> Self {
        Self {
            request_headers: Vec::new(),
            response_headers: Vec::new(),
            unredacted: Vec::new(),
            bodies: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// What the environment asks for (see the type's docs); nothing when it
    /// names nothing. A name that is not a valid header name is left out,
    /// with a warning.
    pub fn from_env() -> Self {
        let mut capture = Self::new();
        if let Some(headers) = env_var(ENV_HEADERS) {
            for name in headers.split(',') {
                add_name(&mut capture.request_headers, name);
                add_name(&mut capture.response_headers, name);
            }
        }
        if let Some(unredacted) = env_var(ENV_UNREDACTED) {
            for name in unredacted.split(',') {
                add_unredacted(&mut capture.unredacted, name);
            }
        }
        if let Some(bodies) = env_var(ENV_BODIES) {
            capture.bodies = crate::switch::parse_flag(&bodies).unwrap_or_else(|| {
                tracing::warn!(
                    value = %bodies,
                    "{ENV_BODIES} is neither on (1, true, yes, on) nor off (0, false, no, off): bodies \
                     are not captured"
                );
                false
            });
        }
        if let Some(max) = env_var(ENV_MAX_BODY) {
            match max.trim().parse() {
                Ok(max) => capture.max_body_bytes = max,
                Err(_) => tracing::warn!(
                    value = %max,
                    "{ENV_MAX_BODY} is not a number of bytes: captured bodies keep the default bound of \
                     {DEFAULT_MAX_BODY_BYTES} bytes"
                ),
            }
        }
        capture
    }

    /// Also captures these headers of requests (incoming and outgoing), by
    /// name, in any case.
    pub fn request_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, names: I) -> Self {
        add_names(&mut self.request_headers, names);
        self
    }

    /// Also captures these headers of responses, by name, in any case.
    pub fn response_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, names: I) -> Self {
        add_names(&mut self.response_headers, names);
        self
    }

    /// Captures these [sensitive headers](SENSITIVE_HEADERS) as they are,
    /// when captured at all, rather than as [`REDACTED`]. A name that is not
    /// one of them is left out, with a warning: it is not redacted anyway.
    pub fn unredacted<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, names: I) -> Self {
        for name in names {
            add_unredacted(&mut self.unredacted, name.as_ref());
        }
        self
    }

    /// Whether to capture bodies (JSON, form and text content types only,
    /// where they are in memory already: see the type's docs).
    pub fn bodies(mut self, bodies: bool) -> Self {
        self.bodies = bodies;
        self
    }

    /// Bounds a captured body: past `bytes`, it is truncated (at a character
    /// boundary). Default [`DEFAULT_MAX_BODY_BYTES`].
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Makes this the capture of every span made from now on in this
    /// process, in place of the environment's or of an earlier install.
    /// Meant to be called at start-up: each distinct capture installed
    /// registers two `tracing` callsites, kept for the life of the process
    /// (installing an equal capture again reuses them).
    pub fn install(self) {
        crate::spans::install(self);
    }

    /// The capture in force: the one installed last, else the environment's.
    pub fn current() -> Self {
        crate::spans::capture().clone()
    }

    /// Whether anything at all is captured.
    pub fn is_empty(&self) -> bool {
        self.request_headers.is_empty() && self.response_headers.is_empty() && !self.bodies
    }

    /// The request headers captured.
    pub(crate) fn request_header_names(&self) -> &[HeaderName] {
        &self.request_headers
    }

    /// The response headers captured.
    pub(crate) fn response_header_names(&self) -> &[HeaderName] {
        &self.response_headers
    }

    /// Whether bodies are captured.
    pub(crate) fn captures_bodies(&self) -> bool {
        self.bodies
    }

    /// The captured value of header `name` in `headers`, if present:
    /// redacted when sensitive and not allowed; several values joined with
    /// `,`.
    pub(crate) fn header_value<'a>(&self, name: &HeaderName, headers: &'a HeaderMap) -> Option<Cow<'a, str>> {
        let mut values = headers.get_all(name).iter();
        let first = values.next()?;
        if SENSITIVE_HEADERS.contains(&name.as_str()) && !self.unredacted.contains(name) {
            return Some(Cow::Borrowed(REDACTED));
        }
        let text = |value: &'a HeaderValue| String::from_utf8_lossy(value.as_bytes());
        let mut joined = text(first);
        for value in values {
            let joined = joined.to_mut();
            joined.push(',');
            joined.push_str(&text(value));
        }
        Some(joined)
    }

    /// The captured text of a body of `content_type`: `None` when bodies are
    /// not captured or the type is not JSON, form or text; else the body,
    /// cut to the bound.
    pub(crate) fn body_text<'a>(
        &self,
        content_type: Option<&HeaderValue>,
        body: &'a [u8],
    ) -> Option<Cow<'a, str>> {
        if !self.bodies || !content_type.is_some_and(is_textual) {
            return None;
        }
        Some(truncated(body, self.max_body_bytes))
    }
}

/// The value of the environment variable `name`, when set and not blank.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Adds the valid header names of `names` to `list`, once each.
fn add_names<I: IntoIterator<Item = S>, S: AsRef<str>>(list: &mut Vec<HeaderName>, names: I) {
    for name in names {
        add_name(list, name.as_ref());
    }
}

/// Adds `name` to `list` when it is a valid header name not there yet (one
/// copy of this, whatever the callers' iterators).
fn add_name(list: &mut Vec<HeaderName>, name: &str) {
    let name = name.trim();
    if name.is_empty() {
        return;
    }
    match HeaderName::from_bytes(name.as_bytes()) {
        Ok(name) if !list.contains(&name) => list.push(name),
        Ok(_) => {}
        Err(_) => tracing::warn!(name, "not a header name: it is not captured"),
    }
}

/// Adds `name` to the sensitive headers captured as they are. A header that
/// is not sensitive is never redacted: naming it is a mistake (a typo, or
/// the belief that it would be redacted otherwise), said and left out.
fn add_unredacted(list: &mut Vec<HeaderName>, name: &str) {
    let known = list.len();
    add_name(list, name);
    if list.len() > known && !SENSITIVE_HEADERS.contains(&list[known].as_str()) {
        let name = list.remove(known);
        tracing::warn!(
            name = name.as_str(),
            "not a redacted header (those are {}): it is captured as it is already, when captured; \
             naming it as unredacted does nothing",
            SENSITIVE_HEADERS.join(", ")
        );
    }
}

/// Whether a body of this content type is captured: JSON (`application/json`,
/// `*/*+json`), form (`application/x-www-form-urlencoded`) or text (`text/*`).
fn is_textual(content_type: &HeaderValue) -> bool {
    let Ok(text) = content_type.to_str() else { return false };
    let media = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json"
        || media.ends_with("+json")
        || media == "application/x-www-form-urlencoded"
        || media.starts_with("text/")
}

/// `body` as text, at most `max` bytes of it, cut at a character boundary.
fn truncated(body: &[u8], max: usize) -> Cow<'_, str> {
    let cut = &body[..body.len().min(max)];
    let end = match std::str::from_utf8(cut) {
        Ok(_) => cut.len(),
        // A character cut in two at the bound: left out.
        Err(error) if error.error_len().is_none() => error.valid_up_to(),
        Err(_) => cut.len(),
    };
    String::from_utf8_lossy(&cut[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_headers_are_redacted_unless_allowed() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer secret"));
        headers.append("x-user", HeaderValue::from_static("chris"));
        headers.append("x-user", HeaderValue::from_static("rivers"));
        let capture = Capture::new().request_headers(["Authorization", "X-User"]);
        let name = |n: &'static str| HeaderName::from_static(n);
        assert_eq!(capture.header_value(&name("authorization"), &headers).as_deref(), Some(REDACTED));
        assert_eq!(capture.header_value(&name("x-user"), &headers).as_deref(), Some("chris,rivers"));
        assert_eq!(capture.header_value(&name("cookie"), &headers), None);
        let capture = capture.unredacted(["authorization"]);
        assert_eq!(capture.header_value(&name("authorization"), &headers).as_deref(), Some("Bearer secret"));
    }

    #[test]
    fn only_sensitive_headers_are_kept_as_unredacted() {
        let capture = Capture::new().unredacted(["Cookie", "x-api-key", "cookie", "not a name"]);
        assert_eq!(capture.unredacted, vec![HeaderName::from_static("cookie")]);
    }

    #[test]
    fn bodies_are_textual_and_capped() {
        let json = HeaderValue::from_static("application/json; charset=utf-8");
        let binary = HeaderValue::from_static("application/octet-stream");
        let capture = Capture::new().bodies(true).max_body_bytes(4);
        assert_eq!(capture.body_text(Some(&json), b"{\"a\": 1}").as_deref(), Some("{\"a\""));
        assert_eq!(capture.body_text(Some(&binary), b"abc"), None);
        assert_eq!(capture.body_text(None, b"abc"), None);
        // "é" is two bytes: cut before it rather than in it.
        let text = HeaderValue::from_static("text/plain");
        assert_eq!(capture.body_text(Some(&text), "abcé".as_bytes()).as_deref(), Some("abc"));
        assert_eq!(Capture::new().body_text(Some(&json), b"{}"), None);
    }
}
