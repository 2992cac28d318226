-- Router middleware: CORS, request ids, rate limits, compression.
local http_client = require("http_client")

local function main(port)
    local base = "http://127.0.0.1:" .. port

    -- CORS: an allowed origin gets its headers, with credentials and exposed headers.
    local resp = assert(http_client.get(base .. "/api/status/200", {
        headers = { Origin = "https://app.example.com" },
    }))
    assert(resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com")
    assert(resp.headers["Access-Control-Allow-Credentials"] == "true")
    assert(resp.headers["Access-Control-Expose-Headers"] == "X-Request-ID")
    assert(resp.headers["X-Request-Id"] ~= nil, "request_id echoes the id")
    -- A wildcard subdomain is allowed, another origin is not.
    resp = assert(http_client.get(base .. "/api/status/200", { headers = { Origin = "https://a.trusted.test" } }))
    assert(resp.headers["Access-Control-Allow-Origin"] == "https://a.trusted.test")
    resp = assert(http_client.get(base .. "/api/status/200", { headers = { Origin = "https://evil.test" } }))
    assert(resp.headers["Access-Control-Allow-Origin"] == nil)
    -- A preflight is answered without running the handler.
    resp = assert(http_client.request("OPTIONS", base .. "/api/json", {
        headers = { Origin = "https://app.example.com", ["Access-Control-Request-Method"] = "POST" },
    }))
    assert(resp.status_code == 204, resp.status_code)
    assert(resp.headers["Access-Control-Allow-Methods"]:find("POST", 1, true))
    assert(resp.headers["Access-Control-Max-Age"] == "86400")

    -- Rate limit: a burst of 2 per client key, then 429.
    local codes = {}
    for i = 1, 3 do
        resp = assert(http_client.get(base .. "/limited/", { headers = { ["X-Client"] = "c1" } }))
        codes[i] = resp.status_code
    end
    assert(codes[1] == 200 and codes[2] == 200 and codes[3] == 429, table.concat(codes, ","))
    assert(resp.headers["X-Ratelimit-Limit"] == "1")
    resp = assert(http_client.get(base .. "/limited/", { headers = { ["X-Client"] = "c2" } }))
    assert(resp.status_code == 200, "another key has its own bucket")

    -- Compression when the client takes gzip.
    resp = assert(http_client.get(base .. "/zipped/big", { headers = { ["Accept-Encoding"] = "gzip" } }))
    assert(resp.headers["Content-Encoding"] == "gzip")
    assert(#resp.body < 1000, #resp.body)
    resp = assert(http_client.get(base .. "/zipped/big"))
    assert(resp.headers["Content-Encoding"] == nil and #resp.body == 9000)
    return 0
end

return { main = main }
