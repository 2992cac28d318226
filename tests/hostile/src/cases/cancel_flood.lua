-- A victim that never reads its events gets 1,500 cancels with a 1 MB reason each: pending
-- events are counted in bytes against the mailbox limit (256 MiB a process), so the victim
-- is killed with a mailbox overflow instead of the node's memory growing by 1.5 GB (issue 11).
--! exit: 0
--! stdout: victim killed: mailbox overflow
--! stdout: survived

local function child(what)
    if what == "victim" then
        require("time").sleep("120s")
        return
    end
    return what
end

local function func(...)
    return ...
end

local function exit_of(pid)
    while true do
        local ev = process.events():receive()
        if ev.kind == process.event.EXIT and ev.from == pid then
            return ev.result
        end
    end
end

local function main()
    local victim = assert(process.spawn_monitored("hostile:child", "hostile:solo", "victim"))
    local reason = string.rep("x", 1024 * 1024)
    for _ = 1, 1500 do
        -- Once the victim is gone, cancel answers nil, err: stop there.
        if not process.cancel(victim, reason) then
            break
        end
    end
    local r = exit_of(victim)
    assert(tostring(r.error):find("mailbox overflow", 1, true), tostring(r.error))
    io.print("victim killed: " .. tostring(r.error))
    local pid = assert(process.spawn_monitored("hostile:child", "hostile:solo", 42))
    assert(exit_of(pid).value == 42, "a fresh process answers")
    io.print("survived")
end

return { main = main, child = child, func = func }
