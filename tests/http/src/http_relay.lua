-- websocket_relay and sse_relay, with the websocket client module on the other end.
local websocket = require("websocket")
local http_client = require("http_client")
local time = require("time")
local json_decode = json_reader.decode

local function next_message(ch)
    local timeout = time.after("5s")
    local r = channel.select({ ch:case_receive(), timeout:case_receive() })
    assert(r.channel == ch, "a message within 5s")
    return r.value, r.ok
end

local function main(port)
    local client, err = websocket.connect("ws://127.0.0.1:" .. port .. "/ws/connect?user=ada", {
        dial_timeout = "5s",
    })
    assert(client, tostring(err))
    local ch = client:channel()
    assert(client:channel() == ch, "the same channel each time")

    local m = next_message(ch)
    assert(m.type == "text", m.type)
    local welcome = json_decode(m.data)
    assert(welcome.topic == "welcome" and welcome.data.user == "ada", m.data)

    assert(client:send("hello") == true)
    m = next_message(ch)
    local echo = json_decode(m.data)
    assert(echo.topic == "echo" and echo.data == "hello", m.data)

    assert(client:send("bin\0ary", websocket.BINARY) == true)
    m = next_message(ch)
    assert(json_decode(m.data).data == "bin\0ary", "binary bytes reach the process as a string")

    assert(client:ping() == true)
    time.sleep("500ms")
    assert(client:send("beats?"))
    m = next_message(ch)
    local beats = json_decode(m.data)
    assert(beats.topic == "beats" and beats.data >= 1, m.data)

    -- The process closes the connection: the channel closes.
    assert(client:send("bye"))
    local _, ok = next_message(ch)
    assert(ok == false, "the channel closes with the connection")
    assert(client:close() == true)

    -- The target ending closes the connection too.
    local c2 = assert(websocket.connect("ws://127.0.0.1:" .. port .. "/ws/connect"))
    local ch2 = c2:channel()
    next_message(ch2) -- welcome
    c2:send("quit")
    local _, ok2 = next_message(ch2)
    assert(ok2 == false)

    -- Without the upgrade headers, the relay refuses.
    local resp = assert(http_client.get("http://127.0.0.1:" .. port .. "/ws/connect"))
    assert(resp.status_code == 400, resp.status_code)
    -- A browser from another origin is refused.
    local bad, berr = websocket.connect("ws://127.0.0.1:" .. port .. "/ws/connect", {
        headers = { Origin = "https://evil.test" },
    })
    assert(bad == nil and berr ~= nil)

    -- Bad input to the client itself.
    local none, nerr = websocket.connect("http://127.0.0.1:" .. port .. "/")
    assert(none == nil and nerr:kind() == "Invalid")
    none, nerr = websocket.connect("ws://127.0.0.1:1/")
    assert(none == nil and nerr:retryable() == true)

    -- SSE relay: the process feeds three events on sse.message, then closes the stream.
    resp = assert(http_client.get("http://127.0.0.1:" .. port .. "/sse/connect"))
    assert(resp.headers["Content-Type"] == "text/event-stream")
    local want = 'event: sse.message\ndata: {"n":1}\n\n'
        .. 'event: sse.message\ndata: {"n":2}\n\n'
        .. 'event: sse.message\ndata: {"n":3}\n\n'
    assert(resp.body == want, resp.body)

    -- Detached: a ready event names the stream pid.
    resp = assert(http_client.get("http://127.0.0.1:" .. port .. "/sse/connect?detached=1", { stream = true }))
    local first = resp.stream:read(4096)
    assert(first:find("event: ready", 1, true), first)
    local stream_pid = first:match('"stream_pid":"([^"]+)"')
    assert(stream_pid, first)
    assert(process.send(stream_pid, "sse.message", { hi = true }))
    local second = resp.stream:read(4096)
    assert(second == 'event: sse.message\ndata: {"hi":true}\n\n', second)
    assert(process.send(stream_pid, "sse.close"))
    assert(resp.stream:read(4096) == nil, "the stream ends")
    return 0
end

return { main = main }
