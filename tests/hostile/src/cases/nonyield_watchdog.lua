-- Code that cannot yield (a user coroutine, a metamethod, a sort comparator, an error handler,
-- a pattern match, a chunk's top level) is ended by the watchdog (host.watchdog, 250 ms of CPU
-- by default) with an error naming where it was, and its neighbours on the same worker run
-- again: a sleeper parked beside such a loop wakes (issue 11).
--! exit: 0
--! stdout: sleeper woke
--! stdout: survived
--! not-stderr: panicked

local WEDGES = {
    wrap = function()
        coroutine.wrap(function()
            while true do
            end
        end)()
    end,
    index = function()
        local t = setmetatable({}, {
            __index = function()
                while true do
                end
            end,
        })
        return t.x
    end,
    sort = function()
        table.sort({ 3, 2, 1, 5, 4 }, function()
            while true do
            end
        end)
    end,
    xpcall = function()
        xpcall(function()
            error("x")
        end, function()
            while true do
            end
        end)
    end,
    tostring = function()
        error(setmetatable({}, {
            __tostring = function()
                while true do
                end
            end,
        }))
    end,
    find = function()
        return string.find(("a"):rep(3000), ".-.-.-.-.-.-.-b")
    end,
}

local function child(kind, parent)
    if kind == "sleeper" then
        local time = require("time")
        local t0 = time.now()
        time.sleep("200ms")
        process.send(parent, "woke", time.now():sub(t0):milliseconds() - 200)
        return
    end
    WEDGES[kind]()
    return "returned"
end

local function func(...)
    return ...
end

-- Waits for the EXIT of `pid`; returns its result.
local function exit_of(pid)
    while true do
        local ev = process.events():receive()
        if ev.kind == process.event.EXIT and ev.from == pid then
            return ev.result
        end
    end
end

local function main()
    -- Every wedge ends; those that raise say the watchdog ended them.
    for _, kind in ipairs({ "wrap", "index", "sort", "find" }) do
        local pid = assert(process.spawn_monitored("hostile:child", "hostile:solo", kind))
        local r = exit_of(pid)
        assert(r.error and tostring(r.error):find("ended by the watchdog", 1, true), kind .. ": " .. tostring(r.error))
        io.print(kind .. ": " .. tostring(r.error))
    end
    -- The handler's error ends the handler (xpcall returns false); an error object whose
    -- __tostring loops is never rendered by calling it.
    for _, kind in ipairs({ "xpcall", "tostring" }) do
        local pid = assert(process.spawn_monitored("hostile:child", "hostile:solo", kind))
        exit_of(pid)
        io.print(kind .. ": ended")
    end
    -- A sleeper parked on the same worker as a loop wakes once the watchdog ends the loop.
    local me = process.pid()
    assert(process.spawn("hostile:child", "hostile:solo", "sleeper", me))
    local hog = assert(process.spawn_monitored("hostile:child", "hostile:solo", "wrap"))
    local msg = process.inbox():receive()
    assert(msg:topic() == "woke")
    io.print("sleeper woke, late by about " .. tostring(msg:payload():data()) .. " ms")
    local r = exit_of(hog)
    assert(tostring(r.error):find("ended by the watchdog", 1, true), tostring(r.error))
    -- A fresh process on that worker still answers.
    local pid = assert(process.spawn_monitored("hostile:child", "hostile:solo", "sleeper", me))
    assert(process.inbox():receive():topic() == "woke")
    exit_of(pid)
    io.print("survived")
end

return { main = main, child = child, func = func }
