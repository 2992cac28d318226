-- Issue 4: a process that allocates without bound ends with an out-of-memory error, whatever it
-- does to catch it; its neighbours on the same worker VM keep running, and its memory is
-- reclaimed. test:small has one worker with `memory_limit: 64MB`.

local SMALL = "test:small"

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

-- Waits for the message with `topic`, dropping others (late replies to earlier pings).
local function recv_topic(inbox, topic)
    while true do
        local msg = recv(inbox, topic)
        if msg:topic() == topic then
            return msg
        end
    end
end

local function assert_memory_error(ev, what)
    local err = ev.result.error
    assert(err, what .. ": must fail, returned " .. tostring(ev.result.value))
    local text = tostring(err)
    assert(text:find("out of memory", 1, true) and text:find("64 MiB", 1, true), what .. ": " .. text)
    assert(err:kind() == errors.INTERNAL, what .. ": kind " .. tostring(err:kind()))
end

-- A process that needs 24 MB, run after a hog died: only fits if the hog's memory was freed.
local function assert_memory_free(events, what)
    local fits = assert(process.spawn_monitored("test.helpers:hog", SMALL, "fits"))
    local ev = recv(events, what .. ": EXIT of fits")
    assert(ev.from == fits and ev.result.value == "fit", what .. ": memory not reclaimed: "
        .. tostring(ev.result.error))
end

local function hog(mode)
    local inbox, events = process.inbox(), process.events()
    local echo = assert(process.spawn_monitored("test.helpers:echo", SMALL))
    local pid = assert(process.spawn_monitored("test.helpers:hog", SMALL, mode))
    -- Keep the neighbour working while the hog grows.
    local n = 0
    local exit
    local deadline = time.after("120s")
    while not exit do
        process.send(echo, "ping", n)
        local r = channel.select({ events:case_receive(), inbox:case_receive(), deadline:case_receive() })
        if r.channel == events then
            assert(r.value.from == pid, mode .. ": the neighbour ended: " .. tostring(r.value.result.error))
            exit = r.value
        elseif r.channel == inbox then
            n += 1
        else
            error(mode .. ": the hog did not end")
        end
    end
    assert_memory_error(exit, mode)
    process.send(echo, "after", mode)
    assert(recv_topic(inbox, "re:after"):payload():data() == mode, mode .. ": neighbour reply")
    assert_memory_free(events, mode)
    process.send(echo, "after2", mode)
    assert(recv_topic(inbox, "re:after2"):payload():data() == mode, mode .. ": neighbour reply after")
    assert(process.terminate(echo))
    local ev = recv(events, "EXIT of echo")
    assert(ev.from == echo and tostring(ev.result.error) == "process terminated")
end

local function main()
    for _, mode in ipairs({ "table", "string", "rep", "pcall", "pcall_table", "xpcall", "coroutine", "wrap", "spawned" }) do
        hog(mode)
    end

    -- A process that takes 58 MB of the 64 MB and then blocks is ended at once: the VM holds
    -- more than 7/8 of its limit after a collection, and that process holds the most.
    -- Otherwise the next process to allocate would fail instead.
    local inbox, events = process.inbox(), process.events()
    local holder = assert(process.spawn_monitored("test.helpers:hog", SMALL, "hold", process.pid()))
    local ev = recv(events, "EXIT of hold")
    assert(ev.from == holder)
    assert_memory_error(ev, "hold")
    assert(recv_topic(inbox, "held"):payload():data() == 58, "hold reported")
    assert_memory_free(events, "hold")

    -- The same allocations on a host with the default limit (1 GiB) are fine.
    local big = assert(process.spawn_monitored("test.helpers:hog", "test:other", "fits"))
    ev = recv(events, "EXIT of fits on test:other")
    assert(ev.from == big and ev.result.value == "fit", tostring(ev.result.error))
end

return { main = main }
