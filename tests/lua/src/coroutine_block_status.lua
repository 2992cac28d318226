-- SPEC 4.5: a coroutine blocked inside the runtime (here in time.sleep, resumed by another
-- coroutine) is not "suspended": it cannot be resumed or closed by anyone else, and the
-- original resume completes normally once the wait is over.

local function main()
    local co = coroutine.create(function()
        local t0 = time.now()
        time.sleep("30ms")
        return "done", time.now():sub(t0):milliseconds()
    end)
    local first
    coroutine.spawn(function()
        first = table.pack(coroutine.resume(co))
    end)
    time.sleep("5ms") -- the spawned coroutine resumed co, which now sleeps in the runtime

    -- co is not suspended by a user yield: it must not be resumable from here
    assert(coroutine.status(co) ~= "suspended", "blocked coroutine reported as suspended")
    local ok, err = coroutine.resume(co)
    assert(ok == false, "resuming a coroutine blocked in the runtime must fail")
    assert(tostring(err):find("cannot resume", 1, true), tostring(err))

    -- the original resume completes normally once the sleep is over
    time.sleep("60ms")
    assert(first ~= nil, "first resume finished")
    assert(first[1] == true and first[2] == "done", "first resume: " .. tostring(first[1]) .. " " .. tostring(first[2]))
    assert(first[3] >= 29, "the sleep was not cut short: " .. tostring(first[3]))
    assert(coroutine.status(co) == "dead")

    -- same with wrap
    local gen = coroutine.wrap(function()
        time.sleep("20ms")
        coroutine.yield("after sleep")
    end)
    local got
    coroutine.spawn(function()
        got = gen()
    end)
    time.sleep("5ms")
    assert(not pcall(gen), "calling a wrap generator blocked in the runtime raises")
    time.sleep("40ms")
    assert(got == "after sleep", tostring(got))
end

return { main = main }
