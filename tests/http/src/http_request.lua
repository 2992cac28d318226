-- The request API, seen from a handler that reports it (handlers/inspect.lua).
local http_client = require("http_client")
local json_decode = json_reader.decode

local function main(port)
    local base = "http://127.0.0.1:" .. port
    local function get_json(resp, err)
        assert(err == nil, tostring(err))
        assert(resp.status_code == 200, "status " .. resp.status_code .. ": " .. resp.body)
        return assert(json_decode(resp.body))
    end

    -- A GET with path parameters, a wildcard tail, query and headers.
    local r = get_json(http_client.get(base .. "/api/inspect/42/docs/guides/a%20b.md?q=hello+world&tag=a&tag=b&empty=", {
        headers = { ["X-Test"] = "yes", ["Accept"] = "text/html, application/*;q=0.5" },
    }))
    assert(r.method == "GET", r.method)
    assert(r.path == "/api/inspect/42/docs/guides/a%20b.md", r.path)
    assert(r.id == "42")
    assert(r.rest == "docs/guides/a b.md", r.rest)
    assert(r.params.id == "42" and r.params.rest == "docs/guides/a b.md")
    assert(r.missing_param == true)
    assert(r.q == "hello world", r.q)
    assert(r.missing_query == true)
    assert(r.query_params.tag == "a,b", r.query_params.tag)
    assert(r.query_params.empty == "")
    assert(r.x_test == "yes" and r.x_test_lower == "yes")
    assert(r.headers["X-Test"] == "yes", "headers use canonical names")
    assert(r.headers["User-Agent"] ~= nil)
    assert(r.body == "", "no body reads as an empty string")
    assert(r.has_body == false)
    assert(r.content_length == 0)
    assert(r.host == "127.0.0.1:" .. port, r.host)
    assert(r.remote_addr:match("^127%.0%.0%.1:%d+$"), r.remote_addr)
    assert(r.accepts_json == true and r.accepts_png == false)
    assert(r.is_json == false)
    assert(type(r.request_id) == "string" and #r.request_id > 0, "request_id middleware sets one")

    -- The literal route /inspect/me beats /inspect/{id}/{rest...}.
    local me = get_json(http_client.get(base .. "/api/inspect/me"))
    assert(me.id == nil and me.path == "/api/inspect/me")

    -- A POST body, with its content type and length; any method reaches a "*" endpoint.
    local body = '{"a":1}'
    r = get_json(http_client.post(base .. "/api/inspect/7/", {
        headers = { ["Content-Type"] = "application/json; charset=utf-8", ["X-Request-ID"] = "given-id" },
        body = body,
    }))
    assert(r.method == "POST")
    assert(r.body == body, r.body)
    assert(r.has_body == true)
    assert(r.content_length == #body)
    assert(r.content_type == "application/json; charset=utf-8")
    assert(r.is_json == true)
    assert(r.request_id == "given-id", "a sane X-Request-ID is kept")
    r = get_json(http_client.request("PATCH", base .. "/api/inspect/7/x"))
    assert(r.method == "PATCH" and r.rest == "x")

    -- A body larger than the prefetch: read on demand.
    local large = string.rep("x", 200000)
    r = get_json(http_client.put(base .. "/api/inspect/1/", { body = large }))
    assert(#r.body == #large, #r.body)

    -- JSON in and out.
    local resp = assert(http_client.post(base .. "/api/json", {
        headers = { ["Content-Type"] = "application/json" },
        body = '{"name":"x","list":[1,2,{"deep":true}],"n":1.5}',
    }))
    assert(resp.status_code == 200)
    assert(resp.headers["Content-Type"] == "application/json", resp.headers["Content-Type"])
    assert(resp.body == '{"echo":{"list":[1,2,{"deep":true}],"n":1.5,"name":"x"},"type":"table"}', resp.body)

    -- Invalid JSON: the handler answers 400 with an INVALID error.
    resp = assert(http_client.post(base .. "/api/json", { body = '{"name": ' }))
    assert(resp.status_code == 400, resp.status_code)
    local e = json_decode(resp.body)
    assert(e.kind == "Invalid", e.kind)
    assert(e.error:find("invalid JSON", 1, true), e.error)

    -- A body over limits.max_body (1MB) is refused before the handler runs.
    resp = assert(http_client.post(base .. "/api/json", { body = string.rep("y", 1100000) }))
    assert(resp.status_code == 413, resp.status_code)

    -- Wrong method: 405 with Allow; OPTIONS: 204 with Allow; unknown path: 404.
    resp = assert(http_client.request("DELETE", base .. "/api/json"))
    assert(resp.status_code == 405 and resp.headers["Allow"]:find("POST", 1, true))
    resp = assert(http_client.request("OPTIONS", base .. "/api/json"))
    assert(resp.status_code == 204, resp.status_code)
    resp = assert(http_client.get(base .. "/nowhere"))
    assert(resp.status_code == 404)

    -- HEAD reaches GET endpoints, without a body.
    resp = assert(http_client.head(base .. "/api/inspect/me"))
    assert(resp.status_code == 200 and resp.body == "")
    return 0
end

return { main = main }
