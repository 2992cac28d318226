//! `compress`: gzip for whole (not streamed) responses the client accepts gzip for.
//!
//! Options: `compress.level` (`fastest`, `default`, `best`), `compress.min.length` (1024
//! bytes). Skipped for responses that already have a `Content-Encoding`, for streams, and for
//! types that do not shrink (images, archives, video).

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use hyper::Response;
use hyper::header::{self, HeaderValue};

use crate::body::Body;
use crate::error::HttpError;
use crate::middleware::{Opts, ReqCtx, takes_gzip};

#[derive(Debug)]
pub(crate) struct Compress {
    level: Compression,
    min_length: usize,
}

impl Compress {
    pub(crate) fn new(o: &Opts<'_>) -> Result<Compress, HttpError> {
        let level = match o.get("level").unwrap_or("default") {
            "fastest" => Compression::fast(),
            "default" | "" => Compression::default(),
            "best" => Compression::best(),
            other => {
                return Err(o.error(
                    "level",
                    format!("expected fastest, default or best, found {other:?}"),
                ));
            }
        };
        Ok(Compress {
            level,
            min_length: o.number("min.length", 1024.0)? as usize,
        })
    }

    pub(crate) fn after(&self, ctx: &ReqCtx, resp: &mut Response<Body>) {
        if !takes_gzip(&ctx.parts.headers) || resp.headers().contains_key(header::CONTENT_ENCODING)
        {
            return;
        }
        let compressible = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| {
                let ct = ct.to_ascii_lowercase();
                !(ct.starts_with("image/") && !ct.contains("svg")
                    || ct.starts_with("video/")
                    || ct.starts_with("audio/")
                    || ct.contains("zip")
                    || ct.contains("gzip")
                    || ct.contains("compressed"))
            });
        let Some(bytes) = resp.body().as_full() else {
            return;
        };
        if !compressible || bytes.len() < self.min_length {
            return;
        }
        let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), self.level);
        if enc.write_all(bytes).is_err() {
            return;
        }
        let Ok(out) = enc.finish() else {
            return;
        };
        let h = resp.headers_mut();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h.remove(header::CONTENT_LENGTH);
        h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        *resp.body_mut() = Body::full(out);
    }
}
