-- Issue 11: closing a coroutine.spawn task withdraws its waits. A task closed while blocked
-- in `ch:receive()` stayed registered as a receiver: a later send went into the dead task
-- and the value was lost (a `select` with a default took the send case).
--! stdout: survived

local io = require("io")
local channel = require("channel")

-- Spawns a task that blocks in `wait()`; returns its coroutine once it is blocked.
local function blocked(wait)
    local started = channel.new(1)
    local co = coroutine.spawn(function()
        started:send(true)
        wait()
    end)
    started:receive()
    return co
end

local function main()
    local ch = channel.new()

    -- A receiver closed: a send finds no receiver.
    local co = blocked(function() ch:receive() end)
    assert(coroutine.close(co) == true)
    assert(coroutine.status(co) == "dead")
    local r = channel.select({ ch:case_send("lost?"), default = true })
    assert(r.default == true, "select sent into a closed task")

    -- A value sent after the close reaches a live receiver.
    local got = channel.new(1)
    blocked(function() got:send(ch:receive()) end)
    ch:send("v")
    assert(got:receive() == "v", "the live receiver gets the value")

    -- A select closed while waiting: none of its cases keeps it.
    local other = channel.new()
    co = blocked(function() channel.select({ ch:case_receive(), other:case_receive() }) end)
    coroutine.close(co)
    assert(channel.select({ ch:case_send(1), default = true }).default == true)
    assert(channel.select({ other:case_send(2), default = true }).default == true)

    -- A sender closed: its value is not received afterwards.
    co = blocked(function() ch:send("from the dead") end)
    coroutine.close(co)
    r = channel.select({ ch:case_receive(), default = true })
    assert(r.default == true, "received the value of a closed sender")

    -- A task closed while waiting on the inbox: the message goes to the next reader.
    co = blocked(function() process.inbox():receive() end)
    coroutine.close(co)
    process.send(process.pid(), "hello", 1)
    local m = process.inbox():receive()
    assert(m:topic() == "hello", "the inbox message went to a closed task")

    -- The main task cannot be closed from another task.
    local main_co = coroutine.running()
    local done = channel.new(1)
    coroutine.spawn(function() done:send(table.pack(coroutine.close(main_co))) end)
    local res = done:receive()
    assert(res[1] == false, "closing the main task is refused")

    io.print("survived")
end

return { main = main }
