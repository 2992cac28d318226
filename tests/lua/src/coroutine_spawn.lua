-- SPEC 7.4 / 4.4 / 4.5: coroutine.spawn starts when the caller blocks, shares globals and
-- upvalues, interleaves only at blocking points; an error in one ends the whole process.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function main()
    -- returns its thread; does not run until the caller blocks
    local ran = false
    local co = coroutine.spawn(function()
        ran = true
    end)
    assert(type(co) == "thread", type(co))
    local x = 0
    for i = 1, 100000 do
        x = x + i
    end
    assert(not ran, "not started before the caller blocks")
    time.sleep("1ms")
    assert(ran, "started once the caller blocked")

    -- shares globals and upvalues (no copy)
    SHARED_GLOBAL = { n = 1 }
    local up = { n = 1 }
    local done = channel.new()
    coroutine.spawn(function()
        SHARED_GLOBAL.n = SHARED_GLOBAL.n + 1
        up.n = up.n + 1
        NEW_GLOBAL = "from coroutine"
        done:send(true)
    end)
    done:receive()
    assert(SHARED_GLOBAL.n == 2 and up.n == 2 and NEW_GLOBAL == "from coroutine")

    -- several coroutines interleave only at blocking points
    local trace = {}
    for id = 1, 3 do
        coroutine.spawn(function()
            trace[#trace + 1] = id .. "a"
            time.sleep("5ms")
            trace[#trace + 1] = id .. "b"
            done:send(id)
        end)
    end
    local finished = {}
    for _ = 1, 3 do
        finished[done:receive()] = true
    end
    assert(finished[1] and finished[2] and finished[3])
    assert(#trace == 6)
    -- every coroutine ran its first step before any woke from its sleep
    for i = 1, 3 do
        assert(trace[i]:sub(-1) == "a", table.concat(trace, ","))
    end
    -- a non-blocking coroutine runs to completion without being interleaved
    local steps = {}
    coroutine.spawn(function()
        for i = 1, 1000 do
            steps[#steps + 1] = i
        end
        steps.done = true
    end)
    coroutine.spawn(function()
        steps.second_saw = #steps
    end)
    time.sleep("1ms")
    assert(steps.done and steps.second_saw == 1000, "no switch without a blocking point")

    -- preemption lets other processes run but never switches coroutines inside a process (4.5)
    local flag = false
    coroutine.spawn(function()
        flag = true
    end)
    local b0 = time.now()
    while time.now():sub(b0):milliseconds() < 30 and not flag do
    end
    assert(not flag, "a busy main function is not interleaved with its coroutines")
    time.sleep("1ms")
    assert(flag)

    -- the main function keeps running while a coroutine blocks
    local blocked = channel.new()
    local reached = false
    coroutine.spawn(function()
        blocked:receive()
        reached = true
    end)
    time.sleep("1ms")
    assert(not reached)
    blocked:send("go")
    time.sleep("1ms")
    assert(reached)

    -- argument misuse raises
    assert(not pcall(coroutine.spawn, 42), "spawn of a non-function raises")

    -- an uncaught error in a spawned coroutine ends the whole process with that error
    local events = process.events()
    local pid = assert(process.spawn_monitored("test.helpers:coro_boom", "test:processes", "coroutine failed here"))
    local ev = recv(events, "EXIT of coro_boom")
    assert(ev.from == pid)
    assert(ev.result.value == nil, "main did not finish: " .. tostring(ev.result.value))
    local err = ev.result.error
    assert(err ~= nil and err:message():find("coroutine failed here", 1, true), tostring(err))
    assert(type(err:stack()) == "string")
    -- (its main sleeps for an hour: the EXIT came from the coroutine's error, at once)
    -- with an error object: its kind survives
    pid = assert(process.spawn_monitored("test.helpers:coro_boom", "test:processes",
        errors.new({ message = "typed", kind = errors.CONFLICT })))
    ev = recv(events, "EXIT of coro_boom (typed)")
    assert(ev.from == pid and ev.result.error:kind() == errors.CONFLICT, tostring(ev.result.error))
    assert(ev.result.error:message() == "typed")

    -- coroutines still blocked when main returns are discarded (the test exits 0 below)
    coroutine.spawn(function()
        channel.new():receive()
        error("never")
    end)
    coroutine.spawn(function()
        time.sleep("10s")
        error("never either")
    end)
end

return { main = main }
