-- pingpong N: like echo_erl:pingpong/1, N sequential round trips between two processes.

local function ponger()
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg == nil then
            -- Seen when a wake-up is lost; the driver will stall.
        elseif msg:topic() == "stop" then
            return
        else
            process.send(msg:from(), "pong")
        end
    end
end

local function driver(parent, n)
    local time = require("time")
    local inbox = process.inbox()
    local p, err = process.spawn("bench:ponger", "bench:processes")
    if err then
        error(err)
    end
    local t0 = time.now()
    for _ = 1, n do
        process.send(p, "ping")
        while inbox:receive() == nil do
            process.send(parent, "warn", "pingpong: inbox:receive() returned nil (runtime bug)")
        end
    end
    local ns = time.now():sub(t0):nanoseconds()
    process.send(p, "stop")
    process.send(parent, "result", string.format("pingpong roundtrip: %.3f us", ns / 1000 / n))
end

return { driver = driver, ponger = ponger }
