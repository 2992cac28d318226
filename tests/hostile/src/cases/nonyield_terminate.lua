-- process.terminate takes effect while the target runs code that cannot yield (the worker is
-- busy in it and does not read its queue): a flag the interrupt checks, set from the
-- terminating thread. hostile:patient's watchdog is an hour, so only terminate can end these.
-- Then the exec process returns while another such loop runs: the shutdown ends it too.
--! exit: 0
--! stdout: survived
--! timeout: 120

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
    find = function()
        return string.find(("a"):rep(3000), ".-.-.-.-.-.-.-b")
    end,
}

local function child(kind, parent)
    process.send(parent, "started", kind)
    WEDGES[kind]()
end

local function func(...)
    return ...
end

local function main()
    local me = process.pid()
    for _, kind in ipairs({ "wrap", "index", "sort", "find" }) do
        local pid = assert(process.spawn_monitored("hostile:child", "hostile:patient", kind, me))
        assert(process.inbox():receive():topic() == "started")
        process.terminate(pid)
        while true do
            local ev = process.events():receive()
            if ev.kind == process.event.EXIT and ev.from == pid then
                assert(tostring(ev.result.error):find("terminated", 1, true), kind .. ": " .. tostring(ev.result.error))
                io.print(kind .. ": " .. tostring(ev.result.error))
                break
            end
        end
    end
    -- Left running: the runtime's stop must end it.
    assert(process.spawn("hostile:child", "hostile:patient", "wrap", me))
    assert(process.inbox():receive():topic() == "started")
    io.print("survived")
end

return { main = main, child = child, func = func }
