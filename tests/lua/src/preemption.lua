-- SPEC 4.5: busy loops do not starve other processes; they do not keep the runtime alive.
-- The busy loops never end, so without preemption nothing below would happen at all: the
-- waits have generous deadlines, and how late a wake-up is on a busy machine is for the
-- benchmarks (BENCHMARKS.md), not for this test.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function main()
    local me = process.pid()
    local inbox = process.inbox()

    -- 16 busy loops on the 2 workers of test:processes, all running
    local busy = {}
    for i = 1, 16 do
        busy[i] = assert(process.spawn("test.helpers:busy", "test:processes", me))
    end
    for i = 1, 16 do
        local msg = recv(inbox, "busy " .. i .. " started")
        assert(msg:topic() == "busy")
    end

    -- a sleeper on the same host still wakes (no sooner than asked), measured from inside
    assert(process.spawn("test.helpers:sleeper", "test:processes", me, "100ms"))
    -- and so does this process, on the terminal host
    local t0 = time.now()
    time.sleep("100ms")
    local mine = time.now():sub(t0):milliseconds()
    assert(mine >= 99, "terminal sleeper woke after " .. mine .. " ms")
    local msg = recv(inbox, "sleeper report")
    assert(msg:topic() == "slept")
    local slept = msg:payload():data()
    assert(slept >= 99, "sleeper among busy loops woke after " .. slept .. " ms")

    -- messages still flow to and from the busy host
    local echo = assert(process.spawn("test.helpers:echo", "test:processes"))
    assert(process.send(echo, "ping", 1))
    msg = recv(inbox, "echo among busy loops")
    assert(msg:topic() == "re:ping")

    -- busy loops are still alive (they never block); returning now must end the run promptly
    for _, pid in ipairs(busy) do
        assert(process.send(pid, "still there?") == true, "busy loop alive")
    end
end

return { main = main }
