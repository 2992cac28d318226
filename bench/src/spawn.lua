-- spawn N: like echo_erl:spawn_bench/1 (spawn_monitor + wait for every 'DOWN').

local function noop()
    return 0
end

local function driver(parent, n)
    local time = require("time")
    local events = process.events()
    local t0 = time.now()
    for _ = 1, n do
        local _, err = process.spawn_monitored("bench:noop", "bench:processes")
        if err then
            error(err)
        end
    end
    local left = n
    while left > 0 do
        local ev = events:receive()
        if ev == nil then
            -- Seen when a wake-up is lost (the EXIT it carried is gone; the run will stall).
            process.send(parent, "warn", "events:receive() returned nil (runtime bug)")
        elseif ev.kind == process.event.EXIT then
            left = left - 1
        end
    end
    local us = time.now():sub(t0):microseconds()
    process.send(parent, "result", string.format(
        "spawn_monitored+exit: %d per s (%.3f us each)", n * 1000000 // us, us / n
    ))
end

return { driver = driver, noop = noop }
