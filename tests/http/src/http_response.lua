-- The response API: status, headers, streaming, server-sent events, handler errors,
-- timeouts, multipart forms and body streams.
local http_client = require("http_client")
local time = require("time")
local json_decode = json_reader.decode

local function main(port)
    local base = "http://127.0.0.1:" .. port

    -- Status, custom headers and a text body.
    local resp = assert(http_client.get(base .. "/api/status/201"))
    assert(resp.status_code == 201, resp.status_code)
    assert(resp.body == "status 201", resp.body)
    assert(resp.headers["X-Custom"] == "yes")
    assert(resp.headers["X-Number"] == "42")
    assert(resp.headers["Content-Type"] == "text/plain")

    -- A chunked stream, read as a stream by the client.
    resp = assert(http_client.get(base .. "/stream", { stream = true }))
    assert(resp.status_code == 200 and resp.body_size == -1)
    assert(resp.headers["X-Before"] == "1" and resp.headers["X-After"] == nil)
    local parts = {}
    while true do
        local chunk, err = resp.stream:read(4)
        assert(err == nil, tostring(err))
        if not chunk then
            break
        end
        parts[#parts + 1] = chunk
        assert(#chunk <= 4)
    end
    assert(resp.stream:close() == true)
    assert(table.concat(parts) == "chunk1\nchunk2\nchunk3\nend\n", table.concat(parts))

    -- Server-sent events.
    resp = assert(http_client.get(base .. "/events"))
    assert(resp.headers["Content-Type"] == "text/event-stream", resp.headers["Content-Type"])
    assert(resp.headers["Cache-Control"] == "no-cache")
    local want = 'event: status\ndata: {"state":"started"}\n\n'
        .. 'event: progress\ndata: {"percent":50}\n\n'
        .. 'id: 3\nevent: status\ndata: "done"\n\n'
    assert(resp.body == want, resp.body)

    -- A handler error is a 500, whatever it wrote before.
    resp = assert(http_client.get(base .. "/fail"))
    assert(resp.status_code == 500, resp.status_code)
    assert(not resp.body:find("partial", 1, true))

    -- Misuse inside a handler (handlers/state.lua asserts in the handler).
    resp = assert(http_client.get(base .. "/state"))
    assert(resp.status_code == 200, resp.status_code .. " " .. resp.body)
    assert(resp.body == '{"n":null}|tail', resp.body)

    -- A handler that never answers is ended by timeouts.write (2s): 503.
    local started = time.now()
    resp = assert(http_client.get(base .. "/hang"))
    assert(resp.status_code == 503, resp.status_code)
    assert(time.now():sub(started):seconds() >= 1.5)

    -- Slow handlers do not hold up others: four in parallel take about as long as one.
    started = time.now()
    local all, errs = http_client.request_batch({
        { "GET", base .. "/slow" }, { "GET", base .. "/slow" },
        { "GET", base .. "/slow" }, { "GET", base .. "/slow" },
        { "GET", base .. "/api/status/200" },
    })
    assert(errs == nil, tostring(errs and errs[1]))
    for i = 1, 4 do
        assert(all[i].body == "slow done", all[i].body)
    end
    assert(all[5].status_code == 200)

    -- Multipart forms.
    resp = assert(http_client.post(base .. "/upload", {
        form = { title = "My Document", kind = "report" },
        files = {
            { name = "attachment", filename = "report.txt", content = "hello file" },
            { name = "attachment", filename = "b.bin", content = "\0\1\2\3" },
        },
    }))
    assert(resp.status_code == 200, resp.status_code .. " " .. resp.body)
    local form = json_decode(resp.body)
    assert(form.values.title == "My Document" and form.values.kind == "report")
    assert(#form.files == 2)
    assert(form.files[1].field == "attachment" and form.files[1].name == "report.txt")
    assert(form.files[1].size == 10 and form.files[1].first == "hel" and form.files[1].rest == "lo file")
    resp = assert(http_client.post(base .. "/upload", { body = "not a form" }))
    assert(resp.status_code == 400, resp.status_code)

    -- A body read as a stream.
    resp = assert(http_client.post(base .. "/count", { body = string.rep("z", 250000) }))
    local counted = json_decode(resp.body)
    assert(counted.total == 250000, counted.total)
    assert(counted.pieces >= 250, counted.pieces)
    return 0
end

return { main = main }
