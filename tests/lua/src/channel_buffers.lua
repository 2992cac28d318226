-- SPEC 7.1: a channel buffer, and the values of senders blocked on a channel, are bounded by
-- memory only. They are kept in a Lua table per channel, not as values held from Rust: mlua's
-- per-VM reference stack ends near a million slots and is shared by every process of the
-- worker, so a buffer holding one reference per value failed past ~1e6 values ("out of Lua
-- stack") and starved its neighbours meanwhile.
--
-- `main` runs in a few seconds in debug builds. `million` goes past the old ceiling (1.2e6
-- strings, then 1e6 tables, in one buffer): tests/it/lua.rs runs it in release builds only.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function assert_empty(ch, what)
    local r = channel.select({ ch:case_receive(), default = true })
    assert(r.default == true, what .. ": buffer should be empty, got " .. tostring(r.value))
end

-- filler(neighbour, strings, tables), on test:chanbuf next to an idle neighbour: fills one
-- channel with `strings` distinct strings, drains it checking order and contents, then the
-- same with `tables` small tables. It pings the neighbour along the way, with the buffer as
-- full as it gets, so a neighbour short of references would fail it. Returns the pings.
local function filler(neighbour, strings, tables)
    local inbox = process.inbox()
    local pings = 0
    local function ping(what)
        pings += 1
        assert(process.send(neighbour, "ping") == true, what .. ": ping sent")
        local msg = recv(inbox, what .. ": pong")
        assert(msg:topic() == "pong", what .. ": " .. msg:topic())
    end
    local every = strings // 4

    local ch = channel.new(strings)
    for i = 1, strings do
        assert(ch:send("s" .. i) == true)
        if i % every == 0 then
            ping(i .. " strings buffered")
        end
    end
    -- Full: one more send case is not ready.
    local r = channel.select({ ch:case_send("one too many"), default = true })
    assert(r.default == true, "full buffer refuses a send")
    for i = 1, strings do
        local v, ok = ch:receive()
        if v ~= "s" .. i or ok ~= true then
            error("strings out of order at " .. i .. ": " .. tostring(v) .. " " .. tostring(ok))
        end
    end
    assert_empty(ch, "strings drained")
    ping("strings drained")

    -- The same channel, now with tables: the buffer starts mid-ring and wraps around.
    for i = 1, tables do
        ch:send({ i, tag = "t" })
        if i % every == 0 then
            ping(i .. " tables buffered")
        end
    end
    for i = 1, tables do
        local t = ch:receive()
        if type(t) ~= "table" or t[1] ~= i or t.tag ~= "t" then
            error("tables out of order at " .. i)
        end
    end
    assert_empty(ch, "tables drained")

    -- Buffered values survive close, then nil, false.
    for i = 1, 1000 do
        ch:send({ i })
    end
    ch:close()
    for i = 1, 1000 do
        local t, ok = ch:receive()
        assert(ok == true and t[1] == i, "after close, in order")
    end
    local v, ok = ch:receive()
    assert(v == nil and ok == false, "drained closed channel")
    ping("after all")
    return pings
end

local function run_filler(strings, tables)
    local events = process.events()
    local neighbour = assert(process.spawn_monitored("test.helpers:idle", "test:chanbuf"))
    local pid = assert(process.spawn_monitored("test:channel_buffers_filler", "test:chanbuf", neighbour, strings, tables))
    local ev = recv(events, "EXIT of the filler")
    assert(ev.from == pid, "the neighbour ended first: " .. tostring(ev.result.error))
    assert(ev.result.error == nil, "filler failed: " .. tostring(ev.result.error))
    local pings = strings // (strings // 4) + tables // (strings // 4) + 2
    assert(ev.result.value == pings, "filler pings: " .. tostring(ev.result.value))
    -- The neighbour is still there.
    process.send(neighbour, "quit")
    ev = recv(events, "EXIT of the neighbour")
    assert(ev.from == neighbour and ev.result.value == "bye", "neighbour quit")
end

-- Run on test:small (64 MB): 40 rounds that each fill and drop a channel of 2 MB and leave a
-- 2 MB value in a select's send case that is withdrawn, 160 MB in all. Values of a dropped
-- channel and of a withdrawn case must be released, or this ends with the memory error.
local function churn()
    local pad = string.rep("x", 2000)
    local keep = channel.new() -- outlives the rounds, with nobody receiving
    for round = 1, 40 do
        local ch = channel.new(1000)
        for i = 1, 1000 do
            ch:send(round .. ":" .. i .. pad)
        end
        local wake = channel.new()
        local chosen
        coroutine.spawn(function()
            local big = string.rep(string.char(48 + round), 2 * 1024 * 1024)
            chosen = channel.select({ keep:case_send(big), wake:case_receive() }).channel
        end)
        time.sleep("1ms") -- the coroutine blocks in its select
        wake:send(true)
        time.sleep("1ms")
        assert(chosen == wake, "round " .. round .. ": the receive case won")
        ch = nil
    end
    return "churned"
end

-- Run on test:small, several times in a row: leaves 12 MB of strings (distinct in every run:
-- equal strings are shared) in the buffer of a channel that holds itself. Such a cycle through
-- a store is only broken when its process ends; if it were not, the sixth run would not fit.
local function cycle()
    local pad = string.rep("y", 6000)
    local ch = channel.new(2001)
    ch:send(ch)
    local me = process.pid()
    for i = 1, 2000 do
        ch:send(me .. ":" .. i .. pad)
    end
    return "cycled"
end

-- Blocked senders beyond capacity complete in arrival order, and the other guarantees of
-- chan.rs's module docs hold wherever the values are kept.
local function semantics()
    local ch = channel.new(3)
    local done = {}
    for i = 1, 3 do
        assert(ch:send(i) == true)
    end
    for i = 4, 200 do
        coroutine.spawn(function()
            assert(ch:send(i) == true)
            done[#done + 1] = i
        end)
    end
    time.sleep("5ms") -- every sender runs and blocks
    assert(#done == 0, "senders wait while the buffer is full")
    for i = 1, 200 do
        local v, ok = ch:receive()
        assert(v == i and ok == true, "value " .. i .. " in order, got " .. tostring(v))
    end
    time.sleep("1ms")
    assert(#done == 197, "every sender completed: " .. #done)
    for i = 1, 197 do
        assert(done[i] == i + 3, "senders complete in arrival order")
    end
    assert_empty(ch, "blocked senders drained")

    -- More blocked senders than are held inline in a step, received in a later step.
    local many = channel.new(10)
    for i = 1, 5000 do
        coroutine.spawn(function()
            many:send({ i })
        end)
    end
    time.sleep("1ms")
    for i = 1, 5000 do
        assert(many:receive()[1] == i, "5000 senders in order")
    end

    -- Unbuffered: a queue of blocked senders, taken one at a time, in order.
    local un = channel.new()
    for i = 1, 50 do
        coroutine.spawn(function()
            un:send({ i })
        end)
    end
    time.sleep("1ms")
    for i = 1, 50 do
        assert(un:receive()[1] == i, "unbuffered senders in order")
    end

    -- A select's send case is withdrawn when another case wins: its value never arrives.
    local full = channel.new(1)
    full:send("first")
    local other = channel.new()
    local result
    coroutine.spawn(function()
        result = channel.select({ full:case_send("withdrawn"), other:case_receive() })
    end)
    time.sleep("1ms")
    other:send("won")
    time.sleep("1ms")
    assert(result and result.channel == other and result.value == "won", "receive case won")
    assert(full:receive() == "first")
    assert_empty(full, "withdrawn send case left nothing")

    -- nil is a value: buffered and blocked nils keep their place.
    local nils = channel.new(2)
    nils:send(nil)
    nils:send(1)
    coroutine.spawn(function()
        nils:send(nil)
    end)
    time.sleep("1ms")
    local v, ok = nils:receive()
    assert(v == nil and ok == true, "buffered nil")
    assert(nils:receive() == 1)
    v, ok = nils:receive()
    assert(v == nil and ok == true, "blocked sender's nil")

    -- close: blocked senders raise, buffered values (moved in from senders too) stay.
    local c = channel.new(2)
    c:send("a")
    c:send("b")
    local raised = {}
    for i = 1, 3 do
        coroutine.spawn(function()
            local okay, err = pcall(c.send, c, "late" .. i)
            raised[#raised + 1] = okay and "sent" or tostring(err)
        end)
    end
    time.sleep("1ms")
    assert(c:receive() == "a", "a") -- makes room: late1 moves into the buffer
    time.sleep("1ms")
    c:close()
    time.sleep("1ms")
    assert(#raised == 3 and raised[1] == "sent", "late1 sent: " .. tostring(raised[1]))
    assert(raised[2]:find("send on closed channel", 1, true), "late2 raised: " .. raised[2])
    assert(raised[3]:find("send on closed channel", 1, true), "late3 raised: " .. raised[3])
    v, ok = c:receive()
    assert(v == "b" and ok == true, "b after close")
    v, ok = c:receive()
    assert(v == "late1" and ok == true, "late1 after close")
    v, ok = c:receive()
    assert(v == nil and ok == false, "then nil, false")

    -- A reset timer drops its stale tick (clear_buffer), whether it was stored or not.
    local t = time.timer("1ms")
    time.sleep("5ms")
    t:reset("50ms")
    local r = channel.select({ t:channel():case_receive(), default = true })
    assert(r.default == true, "reset dropped the fired tick")
end

local function main()
    semantics()

    local events = process.events()
    local function run_on_small(entry, want)
        local pid = assert(process.spawn_monitored(entry, "test:small"))
        local ev = recv(events, "EXIT of " .. entry)
        assert(ev.from == pid)
        assert(ev.result.value == want, entry .. " failed: " .. tostring(ev.result.error))
    end
    run_on_small("test:channel_buffers_churn", "churned")
    for _ = 1, 6 do
        run_on_small("test:channel_buffers_cycle", "cycled")
    end

    run_filler(150000, 100000)
end

local function million()
    run_filler(1200000, 1000000)
end

return { main = main, million = million, filler = filler, churn = churn, cycle = cycle }
