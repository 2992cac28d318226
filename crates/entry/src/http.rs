//! Checks across the HTTP entries: every link names an entry of the right kind, no two
//! endpoints of a server answer the same method and path, no two servers share an address.
//!
//! | Problem | Result |
//! |---|---|
//! | `meta.server` of a router or static handler names no `http.service` | load error |
//! | `meta.router` of an endpoint names no `http.router` | load error |
//! | `func` names no `function.lua` entry | load error |
//! | `fs` of a static handler names no `fs.directory` | load error |
//! | two endpoints of one server with the same method (or `*`) and path shape | load error |
//! | two servers with the same `addr` (port other than 0) | load error |

use std::collections::BTreeMap;

use crate::entry::Entry;
use crate::error::LoadError;
use crate::id::EntryId;
use crate::kind::EntrySpec;
use crate::kind::{HttpEndpointSpec, RouteSegment};

/// Runs the checks over every entry (sorted by id); the first problem is the error.
pub(crate) fn check_http(entries: &[Entry]) -> Result<(), LoadError> {
    let by_id: BTreeMap<&EntryId, &Entry> = entries.iter().map(|e| (&e.id, e)).collect();
    let link =
        |e: &Entry, field: &str, target: &EntryId, kind: &str, ok: bool| match by_id.get(target) {
            None => Err(LoadError::definition(
                &e.site(),
                format!("{field}: {target} not found (expected a {kind} entry)"),
            )),
            Some(t) if !ok => Err(LoadError::definition(
                &e.site(),
                format!("{field}: {target} is a {}, not a {kind}", t.kind),
            )),
            Some(_) => Ok(()),
        };
    let spec_of = |id: &EntryId| by_id.get(id).map(|e| &e.spec);

    let mut addrs: BTreeMap<(String, u16), &Entry> = BTreeMap::new();
    // Per server: (method or None for any, path shape) -> the endpoint that claimed it.
    type RouteKey = (Option<String>, Vec<String>);
    let mut routes: BTreeMap<&EntryId, BTreeMap<RouteKey, &Entry>> = BTreeMap::new();
    for e in entries {
        match &e.spec {
            EntrySpec::HttpService(s) if s.port != 0 => {
                let key = (s.bind_host.clone(), s.port);
                if let Some(first) = addrs.insert(key, e) {
                    return Err(LoadError::definition(
                        &e.site(),
                        format!("addr {} is already used by {}", s.addr, first.id),
                    ));
                }
            }
            EntrySpec::HttpRouter(r) => {
                let ok = matches!(spec_of(&r.server), Some(EntrySpec::HttpService(_)));
                link(e, "meta.server", &r.server, "http.service", ok)?;
            }
            EntrySpec::HttpStatic(s) => {
                let ok = matches!(spec_of(&s.server), Some(EntrySpec::HttpService(_)));
                link(e, "meta.server", &s.server, "http.service", ok)?;
                let ok = matches!(spec_of(&s.fs), Some(EntrySpec::FsDirectory(_)));
                link(e, "fs", &s.fs, "fs.directory", ok)?;
            }
            EntrySpec::HttpEndpoint(ep) => {
                let router = match spec_of(&ep.router) {
                    Some(EntrySpec::HttpRouter(r)) => r,
                    _ => {
                        link(e, "meta.router", &ep.router, "http.router", false)?;
                        unreachable!("a failed link is an error");
                    }
                };
                let ok = matches!(spec_of(&ep.func), Some(EntrySpec::LuaFunction(_)));
                link(e, "func", &ep.func, "function.lua", ok)?;
                let key = (ep.method.clone(), shape(&router.prefix, ep));
                let server = routes.entry(&router.server).or_default();
                let clash = server.iter().find(|((m, p), _)| {
                    *p == key.1 && (m.is_none() || key.0.is_none() || *m == key.0)
                });
                if let Some((_, first)) = clash {
                    return Err(LoadError::definition(
                        &e.site(),
                        format!(
                            "route {} {} is already answered by {}",
                            ep.method.as_deref().unwrap_or("*"),
                            full_path(&router.prefix, &ep.path.text),
                            first.id
                        ),
                    ));
                }
                server.insert(key, e);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The prefix joined with an endpoint path, for messages.
fn full_path(prefix: &str, path: &str) -> String {
    if prefix == "/" {
        path.to_owned()
    } else {
        format!("{prefix}{path}")
    }
}

/// The full path of an endpoint with parameter names erased, so `/u/{id}` and `/u/{name}`
/// compare equal.
fn shape(prefix: &str, ep: &HttpEndpointSpec) -> Vec<String> {
    prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .chain(ep.path.segments.iter().map(|s| match s {
            RouteSegment::Literal(l) => l.clone(),
            RouteSegment::Param(_) => "{}".into(),
            RouteSegment::Rest(_) => "{...}".into(),
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::project::load_definitions;
    use std::path::Path;

    fn load(entries: &str) -> Result<(), String> {
        let yaml = format!("version: \"1.0\"\nnamespace: app\nentries:\n{entries}");
        load_definitions(Path::new("/p"), &[("a.yaml".into(), yaml)])
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    const BASE: &str = "  - { name: gateway, kind: http.service, addr: \":8080\" }
  - { name: api, kind: http.router, meta: { server: gateway }, prefix: /api }
  - { name: hello, kind: function.lua, source: \"return {h = function() end}\", method: h }
  - { name: public, kind: fs.directory, directory: ./public }
";

    #[test]
    fn valid_links_load() {
        let extra = "  - { name: e1, kind: http.endpoint, meta: { router: api }, method: GET, path: \"/u/{id}\", func: hello }
  - { name: e2, kind: http.endpoint, meta: { router: api }, method: POST, path: \"/u/{id}\", func: hello }
  - { name: s, kind: http.static, meta: { server: gateway }, path: /, fs: public }
";
        assert_eq!(load(&format!("{BASE}{extra}")), Ok(()));
    }

    #[test]
    fn broken_links_and_clashes() {
        let cases = [
            (
                "  - { name: r2, kind: http.router, meta: { server: nope } }\n",
                "entry app:r2: meta.server: app:nope not found (expected a http.service entry)",
            ),
            (
                "  - { name: r2, kind: http.router, meta: { server: api } }\n",
                "entry app:r2: meta.server: app:api is a http.router, not a http.service",
            ),
            (
                "  - { name: e, kind: http.endpoint, meta: { router: gateway }, method: GET, path: /, func: hello }\n",
                "entry app:e: meta.router: app:gateway is a http.service, not a http.router",
            ),
            (
                "  - { name: e, kind: http.endpoint, meta: { router: api }, method: GET, path: /, func: nope }\n",
                "entry app:e: func: app:nope not found (expected a function.lua entry)",
            ),
            (
                "  - { name: s, kind: http.static, meta: { server: gateway }, path: /, fs: hello }\n",
                "entry app:s: fs: app:hello is a function.lua, not a fs.directory",
            ),
            (
                "  - { name: e1, kind: http.endpoint, meta: { router: api }, method: GET, path: \"/u/{id}\", func: hello }
  - { name: e2, kind: http.endpoint, meta: { router: api }, method: \"*\", path: \"/u/{name}\", func: hello }\n",
                "entry app:e2: route * /api/u/{name} is already answered by app:e1",
            ),
            (
                "  - { name: g2, kind: http.service, addr: \":8080\" }\n",
                "entry app:gateway: addr :8080 is already used by app:g2",
            ),
        ];
        for (extra, want) in cases {
            let err = load(&format!("{BASE}{extra}")).expect_err(extra);
            assert!(err.ends_with(want), "{extra}\n got: {err}\nwant: {want}");
        }
    }
}
