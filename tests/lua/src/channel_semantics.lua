-- SPEC 7.1: unbuffered and buffered channels, blocking, close.

local function main()
    -- channel.new() is unbuffered: send waits until a receiver takes the value.
    local un = channel.new()
    local log = {}
    coroutine.spawn(function()
        log[#log + 1] = "before send"
        local r = un:send("v1")
        log[#log + 1] = "after send " .. tostring(r)
    end)
    time.sleep("10ms") -- the sender runs and blocks in send
    assert(#log == 1 and log[1] == "before send", "sender blocked: " .. table.concat(log, ","))
    local v, ok = un:receive()
    assert(v == "v1" and ok == true)
    time.sleep("1ms")
    assert(log[2] == "after send true", "send returns true once taken: " .. tostring(log[2]))

    -- receiver first: receive waits until a sender arrives
    local got = {}
    coroutine.spawn(function()
        got[#got + 1] = table.pack(un:receive())
    end)
    time.sleep("5ms")
    assert(#got == 0, "receiver waits while empty")
    assert(un:send(nil) == true, "nil is a value too")
    time.sleep("1ms")
    assert(#got == 1 and got[1][1] == nil and got[1][2] == true, "nil, true")

    -- channel.new(0) is unbuffered as well
    local zero = channel.new(0)
    local sent = false
    coroutine.spawn(function()
        zero:send(1)
        sent = true
    end)
    time.sleep("5ms")
    assert(not sent, "new(0) is unbuffered")
    assert(zero:receive() == 1)

    -- buffered: send waits only while full; values come out in order
    local b = channel.new(2)
    assert(b:send("a") == true and b:send("b") == true, "fills without blocking")
    local third = false
    coroutine.spawn(function()
        b:send("c")
        third = true
    end)
    time.sleep("5ms")
    assert(not third, "third send blocks while full")
    v, ok = b:receive()
    assert(v == "a" and ok)
    time.sleep("1ms")
    assert(third, "space made: blocked sender completes")
    assert(b:receive() == "b" and b:receive() == "c")

    -- close: waiting receivers (all of them) get nil, false
    local c = channel.new()
    local results = {}
    for i = 1, 3 do
        coroutine.spawn(function()
            results[i] = table.pack(c:receive())
        end)
    end
    time.sleep("5ms")
    c:close()
    time.sleep("1ms")
    for i = 1, 3 do
        assert(results[i] and results[i][1] == nil and results[i][2] == false, "receiver " .. i .. " woken")
    end
    -- receive on a closed, empty channel: nil, false every time
    v, ok = c:receive()
    assert(v == nil and ok == false)
    v, ok = c:receive()
    assert(v == nil and ok == false)
    -- close is idempotent
    assert(pcall(c.close, c), "second close does not raise")
    assert(pcall(c.close, c), "third close does not raise")
    -- send on a closed channel raises
    local sok, serr = pcall(c.send, c, 1)
    assert(not sok, "send on closed raises")
    assert(type(tostring(serr)) == "string")

    -- buffered values stay receivable after close, then nil, false
    local bc = channel.new(3)
    bc:send(1)
    bc:send(2)
    bc:close()
    assert(not pcall(bc.send, bc, 3), "send on closed buffered raises")
    v, ok = bc:receive()
    assert(v == 1 and ok == true)
    v, ok = bc:receive()
    assert(v == 2 and ok == true)
    v, ok = bc:receive()
    assert(v == nil and ok == false)

    -- a sender waiting on a channel that gets closed raises (caught here with pcall)
    local ws = channel.new()
    local outcome
    coroutine.spawn(function()
        outcome = table.pack(pcall(ws.send, ws, "never"))
    end)
    time.sleep("5ms")
    assert(outcome == nil, "sender is waiting")
    ws:close()
    time.sleep("1ms")
    assert(outcome and outcome[1] == false, "waiting sender raises on close")

    -- values of any Lua type pass through a channel unchanged (same process: no copy)
    local anyc = channel.new(4)
    local t = {}
    local f = function() end
    anyc:send(t)
    anyc:send(f)
    anyc:send(anyc)
    assert(anyc:receive() == t, "same table, not a copy")
    assert(anyc:receive() == f)
    assert(anyc:receive() == anyc)

    -- a full buffer drains in FIFO order
    local fifo = channel.new(100)
    for i = 1, 100 do
        fifo:send(i)
    end
    for i = 1, 100 do
        assert(fifo:receive() == i)
    end

    -- misuse raises
    assert(not pcall(channel.new, "x"), "non-number capacity raises")
    assert(not pcall(channel.new, -1), "negative capacity raises")
    assert(not pcall(un.receive, {}), "receive on a non-channel raises")
end

return { main = main }
