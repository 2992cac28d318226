-- busy: preemption. 16 processes spin forever; one sleeps 100 ms and reports how long it
-- actually took to run again. The exec process then returns and the runtime must stop the
-- spinning processes promptly (SPEC 3.6, 4.5).

local function loop()
    local x = 0
    while true do
        x = x + 1
    end
end

local function sleeper(parent, loops)
    local time = require("time")
    local t0 = time.now()
    time.sleep("100ms")
    local us = time.now():sub(t0):microseconds()
    process.send(parent, "result", string.format(
        "busy: sleeper woke after %.1f ms with %d busy loops", us / 1000, loops
    ))
end

return { loop = loop, sleeper = sleeper }
