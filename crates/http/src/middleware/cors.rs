//! `cors`: Cross-Origin Resource Sharing headers, and answers to preflight requests.
//!
//! Options (defaults as Wippy documents them): `cors.allow.origins` (`*`; a list, entries may
//! be `*.example.com`), `cors.allow.methods`, `cors.allow.headers`, `cors.expose.headers`,
//! `cors.allow.credentials` (false), `cors.max.age` (86400 s), `cors.allow.private.network`.
//! A request from an origin not allowed gets no CORS headers (the browser then refuses it);
//! a preflight from such an origin gets a bare 204.

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};

use crate::body::Body;
use crate::error::HttpError;
use crate::middleware::{Opts, ReqCtx};

#[derive(Debug)]
pub(crate) struct Cors {
    any_origin: bool,
    origins: Vec<String>,
    methods: String,
    headers: String,
    expose: Option<String>,
    credentials: bool,
    max_age: u64,
    private_network: bool,
}

impl Cors {
    pub(crate) fn new(o: &Opts<'_>) -> Result<Cors, HttpError> {
        let origins = o.list("allow.origins", "*");
        let any_origin = origins.iter().any(|x| x == "*");
        let join = |key: &str, default: &str| o.list(key, default).join(", ");
        let expose = o.list("expose.headers", "");
        Ok(Cors {
            any_origin,
            origins: origins
                .into_iter()
                .map(|x| x.to_ascii_lowercase())
                .collect(),
            methods: join("allow.methods", "GET,POST,PUT,DELETE,OPTIONS,PATCH"),
            headers: join(
                "allow.headers",
                "Origin,Content-Type,Accept,Authorization,X-Requested-With",
            ),
            expose: (!expose.is_empty()).then(|| expose.join(", ")),
            credentials: o.bool("allow.credentials", false)?,
            max_age: o.number("max.age", 86400.0)? as u64,
            private_network: o.bool("allow.private.network", false)?,
        })
    }

    fn allowed(&self, origin: &str) -> bool {
        if self.any_origin {
            return true;
        }
        let origin = origin.to_ascii_lowercase();
        self.origins.iter().any(|o| {
            if *o == origin {
                return true;
            }
            // `*.example.com` (or `https://*.example.com`): any subdomain.
            match o.split_once("*.") {
                Some((scheme, domain)) => {
                    let rest = origin.strip_prefix(scheme).unwrap_or("");
                    (scheme.is_empty() || origin.starts_with(scheme))
                        && rest.ends_with(&format!(".{domain}"))
                        && !domain.is_empty()
                }
                None => false,
            }
        })
    }

    fn origin(ctx: &ReqCtx) -> Option<&str> {
        ctx.parts
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
    }

    pub(crate) fn before(&self, ctx: &ReqCtx) -> Option<Response<Body>> {
        let preflight = ctx.parts.method == Method::OPTIONS
            && ctx
                .parts
                .headers
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if !preflight {
            return None;
        }
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let Some(origin) = Self::origin(ctx).filter(|o| self.allowed(o)) else {
            return Some(resp);
        };
        let h = resp.headers_mut();
        self.origin_headers(origin, h);
        if let Ok(v) = HeaderValue::from_str(&self.methods) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.headers) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from(self.max_age),
        );
        if self.private_network
            && ctx
                .parts
                .headers
                .contains_key("access-control-request-private-network")
        {
            h.insert(
                "access-control-allow-private-network",
                HeaderValue::from_static("true"),
            );
        }
        Some(resp)
    }

    fn origin_headers(&self, origin: &str, h: &mut HeaderMap) {
        let value = if self.any_origin && !self.credentials {
            HeaderValue::from_static("*")
        } else {
            match HeaderValue::from_str(origin) {
                Ok(v) => v,
                Err(_) => return,
            }
        };
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        if !self.any_origin || self.credentials {
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    pub(crate) fn after(&self, ctx: &ReqCtx, h: &mut HeaderMap) {
        if h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
            return; // a preflight answer, or the handler set its own
        }
        let Some(origin) = Self::origin(ctx).filter(|o| self.allowed(o)) else {
            return;
        };
        self.origin_headers(origin, h);
        if let Some(expose) = self
            .expose
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose);
        }
    }
}
