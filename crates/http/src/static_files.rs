//! `http.static`: files of an `fs.directory`, served under a mount path.
//!
//! # Guarantees
//! - Nothing outside the directory is served: path segments are decoded one by one, a `..`
//!   or `.` segment, a backslash or a NUL is refused with 400 (and a log line), and the file
//!   found is resolved (symbolic links included) and must still lie inside the directory.
//! - Only `GET` and `HEAD`; other methods get 405.
//! - Directories are never listed: a directory serves its index file or 404.
//! - `ETag` and `Last-Modified` make repeated requests cheap (304); `static_options.cache`
//!   becomes `Cache-Control`.
//! - Files up to [`WHOLE_FILE`] are read at once; larger ones stream from disk. A single byte
//!   range (`Range: bytes=…`, honouring `If-Range`) gets a 206; an unsatisfiable one a 416.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};
use starling_entry::{Entry, FsDirectorySpec, HttpStaticSpec};

use crate::body::Body;
use crate::error::HttpError;
use crate::routes::config;
use crate::server::plain;

/// Files up to this size are read whole; larger ones are streamed.
const WHOLE_FILE: u64 = 1 << 20;

/// One static mount's directory and options.
#[derive(Debug)]
pub(crate) struct StaticFiles {
    root: PathBuf,
    spa: bool,
    index: String,
    cache: Option<HeaderValue>,
}

/// What a request resolved to.
enum Resolved {
    File(PathBuf, std::fs::Metadata),
    NotFound,
    Outside,
}

/// The first value of `name` in a raw query string, decoded.
pub(crate) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|p| p.split_once('=').or(Some((p, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            String::from_utf8_lossy(&crate::routes::percent_decode(&v.replace('+', " ")))
                .into_owned()
        })
}

/// The content type of a file name's extension.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "csv" => "text/csv; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

/// True when a decoded path segment could step out of the directory.
pub(crate) fn unsafe_segment(s: &str) -> bool {
    s == ".." || s == "." || s.contains(['\\', '\0']) || (cfg!(windows) && s.contains(':'))
}

impl StaticFiles {
    pub(crate) fn new(
        e: &Entry,
        s: &HttpStaticSpec,
        fs: &FsDirectorySpec,
        project_dir: &Path,
    ) -> Result<StaticFiles, HttpError> {
        let dir = if fs.directory.is_absolute() {
            fs.directory.clone()
        } else {
            project_dir.join(&fs.directory)
        };
        if !dir.is_dir() && fs.auto_init {
            std::fs::create_dir_all(&dir).map_err(|err| {
                config(
                    e,
                    format!("cannot create directory {}: {err}", dir.display()),
                )
            })?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(fs.mode));
            }
        }
        let root = dir.canonicalize().map_err(|err| {
            config(
                e,
                format!(
                    "directory {} of {} is not usable: {err}",
                    dir.display(),
                    s.fs
                ),
            )
        })?;
        if !root.is_dir() {
            return Err(config(e, format!("{} is not a directory", root.display())));
        }
        let cache = match &s.cache {
            None => None,
            Some(c) => Some(HeaderValue::from_str(c).map_err(|_| {
                config(
                    e,
                    format!("static_options.cache {c:?} is not a valid header value"),
                )
            })?),
        };
        Ok(StaticFiles {
            root,
            spa: s.spa,
            index: s.index.clone(),
            cache,
        })
    }

    async fn resolve(&self, rest: &[String]) -> Resolved {
        let mut path = self.root.clone();
        for seg in rest {
            path.push(seg);
        }
        let Ok(meta) = tokio::fs::metadata(&path).await else {
            return Resolved::NotFound;
        };
        if meta.is_dir() {
            path.push(&self.index);
        }
        // Symbolic links may point anywhere: the real path must stay inside the root.
        let Ok(real) = tokio::fs::canonicalize(&path).await else {
            return Resolved::NotFound;
        };
        if !real.starts_with(&self.root) {
            return Resolved::Outside;
        }
        match tokio::fs::metadata(&real).await {
            Ok(m) if m.is_file() => Resolved::File(real, m),
            _ => Resolved::NotFound,
        }
    }

    /// Answers `method` for the segments below the mount.
    pub(crate) async fn serve(
        &self,
        method: &Method,
        rest: &[String],
        headers: &HeaderMap,
    ) -> Result<Response<Body>, &'static str> {
        if *method != Method::GET && *method != Method::HEAD {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return Ok(r);
        }
        if rest.iter().any(|s| unsafe_segment(s)) {
            return Err("path escapes the static directory");
        }
        let mut found = self.resolve(rest).await;
        if matches!(found, Resolved::NotFound) && self.spa {
            found = self.resolve(std::slice::from_ref(&self.index)).await;
        }
        let (path, meta) = match found {
            Resolved::File(p, m) => (p, m),
            Resolved::Outside => return Err("a link leads outside the static directory"),
            Resolved::NotFound => return Ok(plain(StatusCode::NOT_FOUND, "not found\n")),
        };
        let modified = meta.modified().ok();
        let mtime = modified
            .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let etag = format!("\"{:x}-{:x}\"", mtime, meta.len());
        let not_modified = match headers.get(header::IF_NONE_MATCH) {
            Some(inm) => inm
                .to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")),
            None => match (headers.get(header::IF_MODIFIED_SINCE), modified) {
                (Some(ims), Some(m)) => ims
                    .to_str()
                    .ok()
                    .and_then(|v| httpdate::parse_http_date(v).ok())
                    .and_then(|since| since.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .is_some_and(|since| since.as_secs() >= mtime && m <= SystemTime::now()),
                _ => false,
            },
        };
        let mut resp = Response::new(Body::Empty);
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        if let Some(m) = modified {
            if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(m)) {
                h.insert(header::LAST_MODIFIED, v);
            }
        }
        if let Some(c) = &self.cache {
            h.insert(header::CACHE_CONTROL, c.clone());
        }
        if not_modified {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(resp);
        }
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&path)),
        );
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        let len = meta.len();
        // One byte range (`bytes=a-b`, `a-`, `-n`), unless the file changed since
        // the client's copy (`If-Range`).
        let range = headers
            .get(header::RANGE)
            .and_then(|r| r.to_str().ok())
            .filter(|_| {
                headers
                    .get(header::IF_RANGE)
                    .is_none_or(|v| v.to_str().is_ok_and(|v| v == etag))
            })
            .map(|r| byte_range(r, len));
        let (start, count) = match range {
            None => (0, len),
            Some(Some((a, b))) => {
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                (a, b - a + 1)
            }
            Some(None) => {
                let mut r = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(r);
            }
        };
        if *method == Method::HEAD {
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(count));
            return Ok(resp);
        }
        let body = if count <= WHOLE_FILE && start == 0 && count == len {
            match tokio::fs::read(&path).await {
                Ok(bytes) => Body::full(bytes),
                Err(_) => return Ok(plain(StatusCode::NOT_FOUND, "not found\n")),
            }
        } else {
            use tokio::io::AsyncSeekExt;
            match tokio::fs::File::open(&path).await {
                Ok(mut f) => {
                    if start > 0 && f.seek(std::io::SeekFrom::Start(start)).await.is_err() {
                        return Ok(plain(StatusCode::NOT_FOUND, "not found\n"));
                    }
                    Body::file(f, count)
                }
                Err(_) => return Ok(plain(StatusCode::NOT_FOUND, "not found\n")),
            }
        };
        *resp.body_mut() = body;
        Ok(resp)
    }

    /// A directory served by the `sendfile` middleware (no index, no cache header).
    pub(crate) fn directory(root: PathBuf) -> StaticFiles {
        StaticFiles {
            root,
            spa: false,
            index: "index.html".into(),
            cache: None,
        }
    }
}

/// The first range of a `Range: bytes=...` header for a file of `len` bytes: `Some((first,
/// last))` inclusive, `None` when it cannot be satisfied.
pub(crate) fn byte_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let first = spec.split(',').next()?.trim();
    let (a, b) = first.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if len == 0 {
        return None;
    }
    if a.is_empty() {
        let n: u64 = b.parse().ok().filter(|n| *n > 0)?;
        return Some((len.saturating_sub(n), len - 1));
    }
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() {
        len - 1
    } else {
        b.parse::<u64>().ok()?.min(len - 1)
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range("bytes=0-4", 10), Some((0, 4)));
        assert_eq!(byte_range("bytes=5-", 10), Some((5, 9)));
        assert_eq!(byte_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(byte_range("bytes=8-100", 10), Some((8, 9)));
        assert_eq!(byte_range("bytes=10-", 10), None);
        assert_eq!(byte_range("bytes=5-2", 10), None);
        assert_eq!(byte_range("items=1-2", 10), None);
    }

    #[test]
    fn segments_and_types() {
        assert!(unsafe_segment(".."));
        assert!(unsafe_segment("."));
        assert!(unsafe_segment("a\\b"));
        assert!(!unsafe_segment("..a"));
        assert_eq!(
            content_type(Path::new("x/app.JS")),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
        assert_eq!(
            query_value(Some("a=1&key=x%20y"), "key"),
            Some("x y".into())
        );
        assert_eq!(query_value(Some("a=1"), "key"), None);
    }
}
