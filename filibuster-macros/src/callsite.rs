//! Compile-time callsite ids.

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// The key that callsite ids of one function are derived from: the explicit
/// id when given, else `<package>:<file relative to the package>:<function>`.
pub(crate) fn key(explicit: Option<String>, function: &str, file: Option<PathBuf>) -> String {
    if let Some(id) = explicit {
        return id;
    }
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let file = file.map(|f| relative_to_package(&f)).unwrap_or_default();
    format!("{package}:{file}:{function}")
}

/// The id of the `ordinal`-th (from 1) `.send()` of the function with `key`:
/// md5 hex of `"<key>#<ordinal>"`.
pub(crate) fn id(key: &str, ordinal: usize) -> String {
    let digest = Md5::digest(format!("{key}#{ordinal}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `file` relative to the package's manifest directory, with `/` separators,
/// so that the id is the same wherever the package is checked out.
fn relative_to_package(file: &Path) -> String {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let relative = manifest_dir
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .and_then(|dir| absolute.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| file.to_path_buf());
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}
