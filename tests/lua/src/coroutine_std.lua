-- SPEC 4.5 / 7.4: standard coroutine functions still work, and blocking calls work inside
-- coroutines made with coroutine.create / coroutine.wrap.

local function main()
    -- yield / resume pass values both ways
    local co = coroutine.create(function(a, b)
        assert(coroutine.isyieldable())
        local c = coroutine.yield(a + b, "first")
        local d, e = coroutine.yield(c * 2)
        return d .. e, "end"
    end)
    assert(coroutine.status(co) == "suspended")
    local r = table.pack(coroutine.resume(co, 1, 2))
    assert(r.n == 3 and r[1] == true and r[2] == 3 and r[3] == "first")
    r = table.pack(coroutine.resume(co, 10))
    assert(r.n == 2 and r[1] == true and r[2] == 20)
    r = table.pack(coroutine.resume(co, "x", "y"))
    assert(r.n == 3 and r[1] == true and r[2] == "xy" and r[3] == "end")
    assert(coroutine.status(co) == "dead")
    local ok, err = coroutine.resume(co)
    assert(ok == false and tostring(err):find("dead", 1, true), tostring(err))

    -- running / status from inside
    local inner
    co = coroutine.create(function()
        inner = coroutine.running()
        assert(coroutine.status(inner) == "running")
        coroutine.yield()
    end)
    coroutine.resume(co)
    assert(inner == co and coroutine.status(co) == "suspended")
    local main_co = coroutine.running()
    assert(type(main_co) == "thread")

    -- errors inside resume are returned, not raised
    co = coroutine.create(function()
        error("inside", 0)
    end)
    ok, err = coroutine.resume(co)
    assert(ok == false and err == "inside", tostring(err))
    co = coroutine.create(function()
        error(errors.new({ message = "obj", kind = errors.INVALID }))
    end)
    ok, err = coroutine.resume(co)
    assert(ok == false and err:kind() == errors.INVALID)

    -- wrap: a generator
    local gen = coroutine.wrap(function()
        for i = 1, 3 do
            coroutine.yield(i)
        end
        return "done"
    end)
    assert(gen() == 1 and gen() == 2 and gen() == 3 and gen() == "done")
    assert(not pcall(gen), "wrap of a dead coroutine raises")
    -- wrap propagates errors
    local bad = coroutine.wrap(function()
        error("wrapped failure", 0)
    end)
    ok, err = pcall(bad)
    assert(not ok and err == "wrapped failure", tostring(err))

    -- blocking inside coroutine.create: sleep, then a yield, then a channel receive
    local ch = channel.new(1)
    co = coroutine.create(function(a)
        local t0 = time.now()
        time.sleep("10ms")
        local slept = time.now():sub(t0):milliseconds()
        local x = coroutine.yield(a + 1, slept)
        local v = ch:receive()
        return x * 2, v
    end)
    local ok1, r1, slept = coroutine.resume(co, 1)
    assert(ok1 == true and r1 == 2, "sleep is not a user yield: " .. tostring(r1))
    assert(slept >= 9, "slept inside create: " .. tostring(slept))
    assert(coroutine.status(co) == "suspended")
    ch:send("from channel")
    local ok2, twice, v = coroutine.resume(co, 10)
    assert(ok2 and twice == 20 and v == "from channel", tostring(twice) .. " " .. tostring(v))
    assert(coroutine.status(co) == "dead")

    -- blocking on an unbuffered channel inside wrap, fed by a spawned coroutine
    local un = channel.new()
    coroutine.spawn(function()
        time.sleep("5ms")
        un:send("a")
        un:send("b")
    end)
    local reader = coroutine.wrap(function()
        while true do
            local val, okr = un:receive()
            coroutine.yield(val, okr)
        end
    end)
    local v1, o1 = reader()
    local v2 = reader()
    assert(v1 == "a" and o1 == true and v2 == "b", tostring(v1) .. " " .. tostring(v2))

    -- select inside nested coroutines
    local outer = coroutine.wrap(function()
        local innerw = coroutine.wrap(function()
            local rr = channel.select({ channel.new():case_receive(), time.after("5ms"):case_receive() })
            coroutine.yield(rr.ok)
            return "inner done"
        end)
        local first = innerw()
        coroutine.yield(first)
        return innerw()
    end)
    assert(outer() == true)
    assert(outer() == "inner done")

    -- a long-running user coroutine is not cut short by preemption (no stray yields)
    co = coroutine.create(function(a)
        local t0 = time.now()
        local n = 0
        while time.now():sub(t0):milliseconds() < 30 do
            n = n + 1
        end
        return "finished", a
    end)
    local bok, bv, ba = coroutine.resume(co, "arg")
    assert(bok == true and bv == "finished" and ba == "arg", "busy coroutine: " .. tostring(bv))
    assert(coroutine.status(co) == "dead")

    -- pcall around a blocking call
    local pok, pv = pcall(function()
        time.sleep("1ms")
        return "after sleep in pcall"
    end)
    assert(pok and pv == "after sleep in pcall")
    co = coroutine.create(function()
        return pcall(function()
            time.sleep("1ms")
            error("raised after sleep", 0)
        end)
    end)
    local rok, pok2, perr = coroutine.resume(co)
    assert(rok and pok2 == false and perr == "raised after sleep", tostring(perr))
end

return { main = main }
