//! The route table of one server: its routers' endpoints and its static mounts.
//!
//! # Matching
//! The path is split at `/` (empty segments dropped, so a trailing slash does not matter) and
//! each segment percent-decoded. An endpoint's pattern is its router's prefix followed by its
//! path. Among the endpoints whose pattern matches, the most specific wins: segment by
//! segment a literal beats a `{param}`, which beats a `{rest...}`. A `GET` endpoint also
//! answers `HEAD`; `*` answers every method. A path some endpoint matches, but not with this
//! method, is a 405 (with `Allow`), except `OPTIONS`, which gets 204 and `Allow`. Otherwise the
//! longest static mount that prefixes the path serves it; otherwise 404.
//!
//! The pre-match middleware of a request is its endpoint's router's, or, when no endpoint
//! matched, that of the router with the longest prefix of the path (or the static mount's).

use std::sync::Arc;

use hyper::Method;
use starling_entry::{Entry, EntryId, EntrySpec, HttpServiceSpec, Project, RouteSegment};

use crate::error::HttpError;
use crate::middleware::Chain;
use crate::static_files::StaticFiles;

/// A route to a handler.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// `None` for `*`.
    method: Option<Method>,
    segments: Vec<RouteSegment>,
    pub(crate) func: Arc<str>,
    /// Index into [`Routes::routers`].
    pub(crate) router: usize,
}

/// A router: a prefix and its middleware.
#[derive(Debug)]
pub(crate) struct Router {
    prefix: Vec<String>,
    pub(crate) chain: Chain,
}

/// A static mount.
#[derive(Debug)]
pub(crate) struct Mount {
    prefix: Vec<String>,
    pub(crate) files: StaticFiles,
    pub(crate) chain: Chain,
}

/// Every route of a server.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    endpoints: Vec<Endpoint>,
    pub(crate) routers: Vec<Router>,
    pub(crate) mounts: Vec<Mount>,
}

/// What a request path found.
#[derive(Debug)]
pub(crate) enum Found<'a> {
    /// An endpoint, with the path parameters.
    Endpoint(&'a Endpoint, Vec<(String, String)>),
    /// A static mount, with the path segments below it.
    Static(&'a Mount, &'a [String]),
    /// Endpoints match the path, not the method: these methods would.
    WrongMethod(Vec<String>, Option<usize>),
    /// Nothing; the router whose prefix is closest, if any.
    Nothing(Option<usize>),
}

/// Splits a raw path into decoded segments; `None` when a segment decodes to something that
/// is not a plain name (an encoded `/` or NUL), which no route can match.
pub(crate) fn split_path(raw: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for seg in raw.split('/').filter(|s| !s.is_empty()) {
        if !seg.contains('%') {
            out.push(seg.to_owned());
            continue;
        }
        let bytes = percent_decode(seg);
        let text = String::from_utf8(bytes).ok()?;
        if text.contains(['/', '\0']) {
            return None;
        }
        out.push(text);
    }
    Some(out)
}

/// Decodes `%XX` escapes (a malformed escape stays as written).
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn prefix_segments(prefix: &str) -> Vec<String> {
    prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Specificity of a pattern, compared lexicographically: higher is more specific.
fn rank(segments: &[RouteSegment]) -> Vec<u8> {
    segments
        .iter()
        .map(|s| match s {
            RouteSegment::Literal(_) => 3,
            RouteSegment::Param(_) => 2,
            RouteSegment::Rest(_) => 1,
        })
        .collect()
}

fn matches(pattern: &[RouteSegment], path: &[String]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (i, seg) in pattern.iter().enumerate() {
        match seg {
            RouteSegment::Rest(name) => {
                params.push((name.clone(), path.get(i..).unwrap_or(&[]).join("/")));
                return Some(params);
            }
            RouteSegment::Literal(l) => {
                if path.get(i) != Some(l) {
                    return None;
                }
            }
            RouteSegment::Param(name) => {
                params.push((name.clone(), path.get(i)?.clone()));
            }
        }
    }
    (pattern.len() == path.len()).then_some(params)
}

fn starts_with(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

impl Routes {
    /// The routes of server `id` from the project's entries.
    pub(crate) fn build(project: &Project, id: &EntryId) -> Result<Routes, HttpError> {
        let mut routes = Routes::default();
        let mut router_index: Vec<(&EntryId, usize)> = Vec::new();
        for e in &project.entries {
            if let EntrySpec::HttpRouter(r) = &e.spec {
                if r.server != *id {
                    continue;
                }
                router_index.push((&e.id, routes.routers.len()));
                routes.routers.push(Router {
                    prefix: prefix_segments(&r.prefix),
                    chain: Chain::build(
                        project,
                        e,
                        &r.middleware,
                        &r.options,
                        &r.post_middleware,
                        &r.post_options,
                    )?,
                });
            }
        }
        for e in &project.entries {
            match &e.spec {
                EntrySpec::HttpEndpoint(ep) => {
                    let Some((_, ri)) = router_index.iter().find(|(rid, _)| **rid == ep.router)
                    else {
                        continue;
                    };
                    let mut segments: Vec<RouteSegment> = routes.routers[*ri]
                        .prefix
                        .iter()
                        .cloned()
                        .map(RouteSegment::Literal)
                        .collect();
                    segments.extend(ep.path.segments.iter().cloned());
                    let method = match &ep.method {
                        None => None,
                        Some(m) => Some(
                            Method::from_bytes(m.as_bytes())
                                .map_err(|_| config(e, format!("invalid method {m}")))?,
                        ),
                    };
                    routes.endpoints.push(Endpoint {
                        method,
                        segments,
                        func: ep.func.to_string().into(),
                        router: *ri,
                    });
                }
                EntrySpec::HttpStatic(s) if s.server == *id => {
                    let fs = project
                        .get(&s.fs)
                        .and_then(|f| match &f.spec {
                            EntrySpec::FsDirectory(d) => Some(d),
                            _ => None,
                        })
                        .ok_or_else(|| config(e, format!("fs {} is not an fs.directory", s.fs)))?;
                    routes.mounts.push(Mount {
                        prefix: prefix_segments(&s.path),
                        files: StaticFiles::new(e, s, fs, &project.dir)?,
                        chain: Chain::build(
                            project,
                            e,
                            &s.middleware,
                            &s.options,
                            &[],
                            &Default::default(),
                        )?,
                    });
                }
                _ => {}
            }
        }
        // Most specific first, so the first match wins.
        routes
            .endpoints
            .sort_by_key(|e| std::cmp::Reverse(rank(&e.segments)));
        routes
            .mounts
            .sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
        Ok(routes)
    }

    /// True when the server has nothing to serve.
    pub(crate) fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.mounts.is_empty()
    }

    /// Finds what answers `method` on `path`.
    pub(crate) fn find<'a>(&'a self, method: &Method, path: &'a [String]) -> Found<'a> {
        let mut allowed: Vec<String> = Vec::new();
        let mut router = None;
        for ep in &self.endpoints {
            let Some(params) = matches(&ep.segments, path) else {
                continue;
            };
            let ok = match &ep.method {
                None => true,
                Some(m) => m == method || (*method == Method::HEAD && *m == Method::GET),
            };
            if ok {
                return Found::Endpoint(ep, params);
            }
            router.get_or_insert(ep.router);
            if let Some(m) = &ep.method {
                let name = m.as_str().to_owned();
                if !allowed.contains(&name) {
                    allowed.push(name);
                    if *m == Method::GET {
                        allowed.push("HEAD".into());
                    }
                }
            }
        }
        if !allowed.is_empty() {
            if !allowed.iter().any(|m| m == "OPTIONS") {
                allowed.push("OPTIONS".into());
            }
            return Found::WrongMethod(allowed, router);
        }
        for m in &self.mounts {
            if starts_with(path, &m.prefix) {
                return Found::Static(m, &path[m.prefix.len()..]);
            }
        }
        let closest = self
            .routers
            .iter()
            .enumerate()
            .filter(|(_, r)| starts_with(path, &r.prefix))
            .max_by_key(|(_, r)| r.prefix.len())
            .map(|(i, _)| i);
        Found::Nothing(closest)
    }
}

/// A configuration error naming `e`.
pub(crate) fn config(e: &Entry, message: impl Into<String>) -> HttpError {
    HttpError::Config {
        site: e.site().to_string(),
        message: message.into(),
    }
}

/// The `http.service` spec of `id`.
pub(crate) fn service<'a>(
    project: &'a Project,
    id: &EntryId,
) -> Option<(&'a Entry, &'a HttpServiceSpec)> {
    let e = project.get(id)?;
    match &e.spec {
        EntrySpec::HttpService(s) => Some((e, s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use starling_entry::RoutePath;

    fn pattern(p: &str) -> Vec<RouteSegment> {
        RoutePath::parse(p).expect("pattern").segments
    }

    fn path(p: &str) -> Vec<String> {
        split_path(p).expect("path")
    }

    #[test]
    fn patterns_match_segments() {
        assert_eq!(matches(&pattern("/hello"), &path("/hello/")), Some(vec![]));
        assert_eq!(matches(&pattern("/hello"), &path("/hello/x")), None);
        assert_eq!(
            matches(&pattern("/u/{id}/p/{post}"), &path("/u/7/p/a%20b")),
            Some(vec![
                ("id".into(), "7".into()),
                ("post".into(), "a b".into())
            ])
        );
        assert_eq!(
            matches(&pattern("/files/{rest...}"), &path("/files/docs/a.md")),
            Some(vec![("rest".into(), "docs/a.md".into())])
        );
        assert_eq!(
            matches(&pattern("/files/{rest...}"), &path("/files")),
            Some(vec![("rest".into(), String::new())])
        );
        assert_eq!(matches(&pattern("/"), &path("/")), Some(vec![]));
        assert!(rank(&pattern("/u/me")) > rank(&pattern("/u/{id}")));
        assert!(rank(&pattern("/u/{id}")) > rank(&pattern("/u/{rest...}")));
    }

    #[test]
    fn encoded_slashes_and_nul_match_nothing() {
        assert_eq!(split_path("/a%2Fb"), None);
        assert_eq!(split_path("/a%00"), None);
        assert_eq!(split_path("//a///b/"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(split_path("/%zz"), Some(vec!["%zz".into()]));
    }
}
