-- crossping KIND N: N sequential round trips between two processes the terminal host placed,
-- so that with two or more workers they run on different workers (least-loaded placement) and
-- with `-o bench:processes:host.workers=1` on the same one. KIND is what each message carries:
-- `scalar` (the topic only), `string` (30 bytes) or `table` (the Echo request's shape,
-- { sender = pid, data = "hello world" }). The difference between the two placements is what
-- crossing workers costs (BENCHMARKS.md, "Where Starling is slow"). Not an Erlang shape.

local function ponger(kind)
    local inbox = process.inbox()
    local me = process.pid()
    while true do
        local msg = inbox:receive()
        local topic = msg:topic()
        if topic == "stop" then
            return
        elseif kind == "table" then
            local req = msg:payload():data()
            process.send(req.sender, "pong", { data = string.upper(req.data), worker = me })
        elseif kind == "string" then
            process.send(msg:from(), "pong", string.upper(msg:payload():data()))
        else
            process.send(msg:from(), "pong")
        end
    end
end

local function driver(parent, p, kind, n)
    local time = require("time")
    local inbox = process.inbox()
    local me = process.pid()
    local t0 = time.now()
    for _ = 1, n do
        if kind == "table" then
            process.send(p, "ping", { sender = me, data = "hello world" })
            inbox:receive():payload():data()
        elseif kind == "string" then
            process.send(p, "ping", "hello world, thirty bytes long")
            inbox:receive():payload():data()
        else
            process.send(p, "ping")
            inbox:receive()
        end
    end
    local ns = time.now():sub(t0):nanoseconds()
    process.send(p, "stop")
    process.send(parent, "result", string.format("crossping %s roundtrip: %.3f us", kind, ns / 1000 / n))
end

return { driver = driver, ponger = ponger }
