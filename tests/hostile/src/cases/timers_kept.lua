-- Issue 11: pending timers count against the memory limit. A process that keeps timers in a
-- table (millions of live timers) ends with the usual out-of-memory error on hostile:small
-- (64 MB) instead of growing the node's memory, and a fresh process there still works.
--! stdout: survived
--! stdout: out of memory

local io = require("io")
local time = require("time")

local function child(what)
    if what == "fresh" then
        time.after("1ms"):receive()
        return 42
    end
    local kept = {}
    local n = 0
    while true do
        n = n + 1
        kept[n] = (what == "after") and time.after("1h") or time.ticker("1h")
    end
end

local function run(what)
    local pid = process.spawn_monitored("hostile:child", "hostile:small", what)
    local ev = process.events():receive()
    assert(ev.from == pid, "an EXIT from the child")
    return ev.result
end

local function main()
    for _, what in ipairs({ "after", "ticker" }) do
        local result = run(what)
        local err = tostring(result.error)
        assert(err:find("out of memory"), what .. ": " .. err)
        io.print(what, err)
        assert(run("fresh").value == 42, "a fresh process on the same host works")
    end
    io.print("survived")
end

return { main = main, child = child }
