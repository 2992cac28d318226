-- Issue 11: timers nobody can receive from are dropped. `time.after("1h")` in a loop, its
-- channel dropped at once, kept every timer in the worker's heap for an hour: RSS grew past
-- 1.6 GB in 30 s on a 64 MB host. Now a timer whose channel was collected (or that was
-- stopped) leaves the heap, and two million of them run in the 64 MB of hostile:small.
--! stdout: survived
--! stdout: dropped 2000000 after
--! stdout: dropped 200000 stopped

local io = require("io")
local time = require("time")

local function child(what, n)
    if what == "after" then
        for _ = 1, n do
            time.after("1h")
        end
    elseif what == "stopped" then
        for i = 1, n do
            local t = (i % 2 == 0) and time.timer("1h") or time.ticker("1h")
            t:stop()
        end
    elseif what == "timer" then
        for _ = 1, n do
            time.timer("1h")
        end
    end
    -- Timers still work.
    time.after("1ms"):receive()
    local t = time.timer("1ms")
    t:channel():receive()
    return n
end

local function run(what, n)
    local pid = process.spawn_monitored("hostile:child", "hostile:small", what, n)
    local ev = process.events():receive()
    assert(ev.from == pid, "an EXIT from the child")
    assert(not ev.result.error, what .. ": " .. tostring(ev.result.error))
    io.print("dropped " .. ev.result.value .. " " .. what)
end

local function main()
    run("after", 2000000)
    run("stopped", 200000)
    run("timer", 500000)
    io.print("survived")
end

return { main = main, child = child }
