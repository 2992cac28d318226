-- http_client options and results against the test server.
local http_client = require("http_client")
local time = require("time")
local json_decode = json_reader.decode

local function main(port)
    local base = "http://127.0.0.1:" .. port

    -- query, headers, cookies and basic auth reach the server.
    local resp, err = http_client.get(base .. "/api/inspect/1/x", {
        query = { q = "a b&c", page = 2 },
        headers = { ["X-Test"] = "h" },
        cookies = { session = "abc", theme = "dark" },
        auth = { user = "admin", pass = "secret" },
    })
    assert(err == nil, tostring(err))
    local r = json_decode(resp.body)
    assert(r.q == "a b&c", r.q)
    assert(r.query_params.page == "2")
    assert(r.x_test == "h")
    assert(r.headers["Cookie"] == "session=abc; theme=dark", r.headers["Cookie"])
    assert(r.headers["Authorization"] == "Basic YWRtaW46c2VjcmV0", r.headers["Authorization"])
    assert(resp.url == base .. "/api/inspect/1/x?page=2&q=a+b%26c", resp.url)
    assert(resp.body_size == #resp.body)
    assert(type(resp.cookies) == "table")

    -- form bodies are urlencoded.
    resp = assert(http_client.post(base .. "/api/inspect/1/", { form = { a = "1 2", b = "x" } }))
    r = json_decode(resp.body)
    assert(r.body == "a=1+2&b=x", r.body)
    assert(r.content_type == "application/x-www-form-urlencoded")

    -- Redirects are followed; url is the final one.
    resp = assert(http_client.get(base .. "/redirect"))
    assert(resp.status_code == 200, resp.status_code)
    assert(resp.url == base .. "/api/inspect/me", resp.url)

    -- max_response_body.
    resp, err = http_client.get(base .. "/zipped/big", { max_response_body = 100 })
    assert(resp == nil and err:kind() == "Invalid", tostring(err))

    -- Timeouts: a number of seconds or a duration string; retryable errors.
    local started = time.now()
    resp, err = http_client.get(base .. "/slow", { timeout = "100ms" })
    assert(resp == nil and err ~= nil)
    assert(err:retryable() == true)
    assert(err:message():find("timed out", 1, true), err:message())
    assert(time.now():sub(started):seconds() < 5)
    resp = assert(http_client.get(base .. "/slow", { timeout = 10 }))
    assert(resp.body == "slow done")

    -- Connection refused and bad input.
    resp, err = http_client.get("http://127.0.0.1:1/")
    assert(resp == nil and err:kind() == "Internal" and err:retryable() == true, tostring(err))
    resp, err = http_client.get("ftp://example.com/")
    assert(resp == nil and err:kind() == "Invalid")
    resp, err = http_client.request("BAD METHOD", base)
    assert(resp == nil and err:kind() == "Invalid")
    assert(not pcall(http_client.get, 42), "a non-string URL raises")

    -- Batches report errors by position.
    local all, errs = http_client.request_batch({
        { "GET", base .. "/api/status/200" },
        { "GET", "http://127.0.0.1:1/" },
    })
    assert(all[1].status_code == 200 and all[2] == nil)
    assert(errs[1] == nil and errs[2] ~= nil)

    -- URL encoding.
    assert(http_client.encode_uri("hello world/&=") == "hello+world%2F%26%3D")
    assert(http_client.decode_uri("hello+world%2F") == "hello world/")
    local bad, derr = http_client.decode_uri("%zz")
    assert(bad == nil and derr:kind() == "Invalid")
    return 0
end

return { main = main }
