-- idlehold N: like echo_erl:idle_hold/1. Peak RSS is measured from outside (cargo xtask bench).

local function idle()
    process.inbox():receive()
end

local function driver(parent, n)
    local time = require("time")
    for _ = 1, n do
        local _, err = process.spawn("bench:idle", "bench:processes")
        if err then
            error(err)
        end
    end
    time.sleep("500ms")
    process.send(parent, "result", string.format("idle ready: %d processes", n))
end

return { driver = driver, idle = idle }
