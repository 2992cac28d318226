-- Static files: content, types, caching, index files, and no way out of the directory.
local http_client = require("http_client")

local function main(port)
    local base = "http://127.0.0.1:" .. port .. "/static"

    local resp = assert(http_client.get(base .. "/style.css"))
    assert(resp.status_code == 200)
    assert(resp.body == "body { color: red; }\n", resp.body)
    assert(resp.headers["Content-Type"] == "text/css; charset=utf-8")
    assert(resp.headers["Cache-Control"] == "public, max-age=60")
    local etag = assert(resp.headers["Etag"])
    assert(resp.headers["Last-Modified"] ~= nil)

    -- A repeated request with the ETag: 304.
    resp = assert(http_client.get(base .. "/style.css", { headers = { ["If-None-Match"] = etag } }))
    assert(resp.status_code == 304, resp.status_code)

    -- Index files, nested files, missing files, methods.
    resp = assert(http_client.get(base .. "/"))
    assert(resp.status_code == 200 and resp.body:find("hello static", 1, true))
    assert(resp.headers["Content-Type"] == "text/html; charset=utf-8")
    resp = assert(http_client.get(base .. "/sub/note.txt"))
    assert(resp.body == "nested file\n")
    resp = assert(http_client.get(base .. "/sub/"))
    assert(resp.status_code == 404, "a directory without index is not listed")
    resp = assert(http_client.get(base .. "/missing.js"))
    assert(resp.status_code == 404)
    resp = assert(http_client.post(base .. "/style.css", { body = "x" }))
    assert(resp.status_code == 405)

    -- Path traversal, plain and encoded, and a symlink pointing outside: never served.
    for _, p in ipairs({ "/../secret.txt", "/%2e%2e/secret.txt", "/sub/..%2f..%2fsecret.txt", "/link.txt", "/..%5csecret.txt" }) do
        resp = assert(http_client.get(base .. p))
        assert(resp.status_code == 400 or resp.status_code == 404, p .. " gave " .. resp.status_code)
        assert(not resp.body:find("secret outside", 1, true), p)
    end
    -- Byte ranges.
    resp = assert(http_client.get(base .. "/style.css", { headers = { Range = "bytes=0-3" } }))
    assert(resp.status_code == 206 and resp.body == "body", resp.status_code .. " " .. resp.body)
    assert(resp.headers["Content-Range"] == "bytes 0-3/21", resp.headers["Content-Range"])
    resp = assert(http_client.get(base .. "/style.css", { headers = { Range = "bytes=-2" } }))
    assert(resp.body == "}\n")
    resp = assert(http_client.get(base .. "/style.css", { headers = { Range = "bytes=99-" } }))
    assert(resp.status_code == 416)

    -- sendfile: the handler names a file, the middleware serves it.
    local dl = "http://127.0.0.1:" .. port .. "/download"
    resp = assert(http_client.get(dl .. "/sub/note.txt"))
    assert(resp.status_code == 200 and resp.body == "nested file\n", resp.status_code)
    assert(resp.headers["Content-Disposition"] == 'attachment; filename="download-sub/note.txt"')
    assert(resp.headers["X-Kept"] == "yes" and resp.headers["X-Sendfile"] == nil)
    resp = assert(http_client.get(dl .. "/style.css", { headers = { Range = "bytes=5-9" } }))
    assert(resp.status_code == 206 and resp.body == "{ col", resp.body)
    resp = assert(http_client.get(dl .. "/link.txt"))
    assert(resp.status_code == 400 and not resp.body:find("secret", 1, true))
    return 0
end

return { main = main }
