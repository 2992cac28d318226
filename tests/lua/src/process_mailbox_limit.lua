-- Message floods (docs/semantics.md, "Mailbox limit"): a process with more than its host's
-- `max_mailbox` messages queued (test:small_mailbox allows 100) is killed with INTERNAL
-- "mailbox overflow: ..."; its monitors see it, the sender and its neighbours carry on, and
-- traffic that never queues more than the limit is unaffected.

local SMALL = "test:small_mailbox"
local OVERFLOW = "mailbox overflow: more than 100 messages queued"

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

-- The EXIT results of `pids`, by pid, in whatever order they end.
local function exits(events, pids)
    local want, left, got = {}, 0, {}
    for _, p in ipairs(pids) do
        want[p] = true
        left = left + 1
    end
    while left > 0 do
        local ev = recv(events, "EXIT")
        if ev.kind == process.event.EXIT and want[ev.from] then
            got[ev.from] = ev.result
            want[ev.from] = nil
            left = left - 1
        end
    end
    return got
end

local function overflowed(result, who)
    assert(result.error, who .. " should have failed, returned " .. tostring(result.value))
    assert(result.error:kind() == errors.INTERNAL, who .. ": " .. tostring(result.error:kind()))
    assert(tostring(result.error) == OVERFLOW, who .. ": " .. tostring(result.error))
end

local function ping(inbox, echo, n)
    for i = 1, n do
        assert(process.send(echo, "ping", i))
        local msg = recv(inbox, "re:ping")
        assert(msg:topic() == "re:ping" and msg:payload():data() == i, "echo answered wrong")
    end
end

local function main()
    local inbox, events = process.inbox(), process.events()

    -- A neighbour on the same worker as every victim below.
    local echo = assert(process.spawn_monitored("test.helpers:echo", SMALL))
    ping(inbox, echo, 1)

    -- A producer on another host floods a process that never reads: the receiver dies, the
    -- producer only notices that the receiver is gone (NOT_FOUND) and ends normally.
    local victim = assert(process.spawn_monitored("test.helpers:deaf", SMALL))
    local producer = assert(process.spawn_monitored("test.helpers:producer", "test:processes", victim, "x"))
    local got = exits(events, { victim, producer })
    overflowed(got[victim], "flooded process")
    local res = got[producer].value
    assert(type(res) == "table", "producer failed: " .. tostring(got[producer].error))
    assert(res.sent > 100, "producer sent only " .. tostring(res.sent))
    assert(res.kind == errors.NOT_FOUND, res.kind)
    local ok, err = process.send(victim, "x", 0)
    assert(ok == nil and err:kind() == errors.NOT_FOUND, "the victim is gone")

    -- Listen queues count with the mailbox: 60 + 41 queued, neither over 100 alone.
    victim = assert(process.spawn_monitored("test.helpers:deaf", SMALL, "t"))
    for i = 1, 60 do
        assert(process.send(victim, "t", i))
    end
    for i = 1, 41 do
        -- The receiver is alive until its worker handles the 101st: every send is accepted.
        assert(process.send(victim, "u", i))
    end
    overflowed(exits(events, { victim })[victim], "listening process")

    -- Exactly the limit queued is fine; afterwards every message is there, in order.
    local hoarder = assert(process.spawn_monitored("test.helpers:hoarder", SMALL, process.pid(), 100))
    for i = 1, 100 do
        assert(process.send(hoarder, "n", i))
    end
    process.cancel(hoarder)
    local msg = recv(inbox, "hoarded")
    assert(msg:topic() == "hoarded" and msg:payload():data() == 100)
    assert(exits(events, { hoarder })[hoarder].value == "ok")

    -- The neighbour kept working; far more than 100 messages in total never queue up.
    ping(inbox, echo, 1000)
    process.terminate(echo)
    exits(events, { echo })
    return 0
end

return { main = main }
