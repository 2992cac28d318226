//! `ratelimit`: a token bucket per client key; an empty bucket answers 429.
//!
//! Options: `ratelimit.requests` (100) per `ratelimit.window` (1m) is the refill rate,
//! `ratelimit.burst` (20) the bucket size, `ratelimit.key` (`ip`, `header:NAME` or
//! `query:NAME`), `ratelimit.cleanup_interval` (5m), `ratelimit.entry_ttl` (10m),
//! `ratelimit.max_entries` (100000: beyond it, new keys are refused until old ones expire,
//! so memory stays bounded). Responses carry `X-RateLimit-Limit` and `X-RateLimit-Window`.

use std::time::{Duration, Instant};

use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::body::Body;
use crate::error::HttpError;
use crate::middleware::{Opts, ReqCtx};

#[derive(Debug)]
enum Key {
    Ip,
    Header(String),
    Query(String),
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
struct Buckets {
    map: FxHashMap<String, Bucket>,
    cleaned: Instant,
}

#[derive(Debug)]
pub(crate) struct RateLimit {
    requests: f64,
    window: Duration,
    burst: f64,
    key: Key,
    cleanup: Duration,
    ttl: Duration,
    max_entries: usize,
    limit_header: HeaderValue,
    window_header: HeaderValue,
    buckets: Mutex<Buckets>,
}

impl RateLimit {
    pub(crate) fn new(o: &Opts<'_>) -> Result<RateLimit, HttpError> {
        let requests = o.number("requests", 100.0)?.max(1.0);
        let window = o.duration("window", Duration::from_secs(60))?;
        let key = match o.get("key").unwrap_or("ip") {
            "ip" | "" => Key::Ip,
            k => match k.split_once(':') {
                Some(("header", name)) if !name.is_empty() => {
                    Key::Header(name.to_ascii_lowercase())
                }
                Some(("query", name)) if !name.is_empty() => Key::Query(name.to_owned()),
                _ => {
                    return Err(o.error(
                        "key",
                        format!("expected ip, header:NAME or query:NAME, found {k:?}"),
                    ));
                }
            },
        };
        let window_text = o.get("window").filter(|w| !w.is_empty()).unwrap_or("1m");
        Ok(RateLimit {
            requests,
            window,
            burst: o.number("burst", 20.0)?.max(1.0),
            key,
            cleanup: o.duration("cleanup_interval", Duration::from_secs(300))?,
            ttl: o.duration("entry_ttl", Duration::from_secs(600))?,
            max_entries: o.number("max_entries", 100_000.0)? as usize,
            limit_header: HeaderValue::from(requests as u64),
            window_header: HeaderValue::from_str(window_text)
                .unwrap_or(HeaderValue::from_static("1m")),
            buckets: Mutex::new(Buckets {
                map: FxHashMap::default(),
                cleaned: Instant::now(),
            }),
        })
    }

    fn key(&self, ctx: &ReqCtx) -> String {
        match &self.key {
            Key::Ip => ctx.remote.ip(),
            Key::Header(name) => ctx
                .parts
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            Key::Query(name) => {
                crate::static_files::query_value(ctx.parts.uri.query(), name).unwrap_or_default()
            }
        }
    }

    /// Takes a token for `key`; false when there is none.
    fn take(&self, key: String, now: Instant) -> bool {
        let rate = self.requests / self.window.as_secs_f64();
        let mut b = self.buckets.lock();
        if now.duration_since(b.cleaned) >= self.cleanup || b.map.len() >= self.max_entries {
            let ttl = self.ttl;
            b.map.retain(|_, v| now.duration_since(v.last) < ttl);
            b.cleaned = now;
        }
        let full = !b.map.contains_key(&key) && b.map.len() >= self.max_entries;
        if full {
            return false;
        }
        let burst = self.burst;
        let bucket = b.map.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub(crate) fn before(&self, ctx: &ReqCtx) -> Option<Response<Body>> {
        if self.take(self.key(ctx), Instant::now()) {
            return None;
        }
        Some(crate::server::plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests\n",
        ))
    }

    pub(crate) fn after(&self, h: &mut HeaderMap) {
        h.insert("x-ratelimit-limit", self.limit_header.clone());
        h.insert("x-ratelimit-window", self.window_header.clone());
    }
}
