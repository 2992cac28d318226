-- SPEC 2.3, 5.1, 5.4, 6: spawn / spawn_monitored on several hosts, spawn failures, EXIT events,
-- spawn arguments copied.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function recv_topic(inbox, topic)
    local msg = recv(inbox, topic)
    assert(msg:topic() == topic, "expected topic " .. topic .. ", got " .. msg:topic())
    return msg:payload() and msg:payload():data()
end

-- Spawns monitored and returns the EXIT event of the child.
local function run_to_exit(events, id, host, ...)
    local pid, err = process.spawn_monitored(id, host, ...)
    assert(pid, "spawn " .. id .. ": " .. tostring(err))
    local ev = recv(events, "EXIT of " .. id)
    assert(ev.kind == process.event.EXIT, tostring(ev.kind))
    assert(ev.from == pid, tostring(ev.from) .. " ~= " .. pid)
    assert(type(ev.result) == "table", "result table")
    return ev, pid
end

local function is_pid(s, host)
    return type(s) == "string" and s:match("^{" .. host:gsub("%p", "%%%0") .. "|0x%x+}$") ~= nil
end

local function main()
    local me = process.pid()
    local inbox = process.inbox()

    -- A child spawned before events() is first read: its EXIT is kept until then (5.8).
    local early = assert(process.spawn_monitored("test.helpers:ret", "test:other", "early"))
    time.sleep("20ms")
    local events = process.events()
    local ev = recv(events, "early EXIT")
    assert(ev.from == early and ev.result.value == "early")

    -- spawn: plain pid string on the named host, arguments as separate parameters, copied
    local t = { v = "orig", nested = { 1, 2 } }
    local child = assert(process.spawn("test.helpers:report", "test:processes", me, 1, "two", t, true))
    t.v = "changed after spawn"
    t.nested[1] = 99
    assert(is_pid(child, "test:processes"), child)
    local rep = recv_topic(inbox, "args")
    assert(rep.pid == child, rep.pid)
    assert(rep.id == "test.helpers:report", rep.id)
    assert(rep.n == 4, "4 args after parent, got " .. tostring(rep.n))
    assert(rep.args[1] == 1 and rep.args[2] == "two" and rep.args[4] == true)
    assert(rep.args[3].v == "orig", "spawn args are copied at spawn time: " .. tostring(rep.args[3].v))
    assert(rep.args[3].nested[1] == 1 and rep.args[3].nested[2] == 2)

    -- a function argument becomes nil and keeps its position
    assert(process.spawn("test.helpers:report", "test:other", me, function() end, 5))
    rep = recv_topic(inbox, "args")
    assert(rep.n == 2 and rep.args[1] == nil and rep.args[2] == 5, "function arg -> nil, n = " .. tostring(rep.n))

    -- no extra arguments at all
    assert(process.spawn("test.helpers:report", "test:other", me))
    rep = recv_topic(inbox, "args")
    assert(rep.n == 0 and next(rep.args) == nil)

    -- spawn on the same host from inside a process.host (spawner runs on test:processes)
    assert(process.spawn("test.helpers:spawner", "test:processes", me, "test.helpers:ret", "test:processes", "x"))
    local sp = recv_topic(inbox, "spawned")
    assert(sp.err == nil, tostring(sp.err))
    assert(is_pid(sp.pid, "test:processes") and is_pid(sp.self, "test:processes"))
    local sev = recv_topic(inbox, "exit")
    assert(sev.kind == process.event.EXIT and sev.from == sp.pid and sev.result.value == "x")
    -- and onto another host from there
    assert(process.spawn("test.helpers:spawner", "test:processes", me, "test.helpers:ret", "test:other", 5))
    sp = recv_topic(inbox, "spawned")
    assert(is_pid(sp.pid, "test:other"), tostring(sp.pid))
    sev = recv_topic(inbox, "exit")
    assert(sev.from == sp.pid and sev.result.value == 5)

    -- A child made at once on the spawner's own worker takes scalar arguments straight from
    -- the spawner's stack (no payload): nils keep their places, numbers, booleans and strings
    -- arrive as sent, the count includes trailing nils. `spawned`, `args` and `exit` come from
    -- two processes, so they are collected by topic.
    local function collect(n)
        local got = {}
        for _ = 1, n do
            local msg = recv(inbox, "a report")
            got[msg:topic()] = msg:payload():data()
        end
        return got
    end
    local long = string.rep("x", 300)
    assert(process.spawn("test.helpers:spawner", "test:processes", me, "test.helpers:report", "test:processes",
        me, nil, true, false, 2.5, -7, "s", long, nil))
    local got = collect(3)
    assert(got.spawned and got.spawned.err == nil, tostring(got.spawned and got.spawned.err))
    rep = assert(got.args, "no args report")
    assert(rep.pid == got.spawned.pid, tostring(rep.pid))
    assert(rep.n == 8, "8 args after parent, got " .. tostring(rep.n))
    local a = rep.args
    assert(a[1] == nil and a[2] == true and a[3] == false and a[4] == 2.5 and a[5] == -7)
    assert(a[6] == "s" and a[7] == long and a[8] == nil)
    assert(got.exit and got.exit.from == got.spawned.pid)
    -- the same with a table among them: copied through a payload, so later changes stay out
    assert(process.spawn("test.helpers:spawner", "test:processes", me, "test.helpers:report", "test:processes",
        me, "t", { k = "v" }, 3))
    got = collect(3)
    rep = assert(got.args, "no args report")
    assert(rep.n == 3 and rep.args[1] == "t" and rep.args[2].k == "v" and rep.args[3] == 3)
    -- and for an entry with imported libraries (its start takes a payload: made from the stack)
    assert(process.spawn("test.helpers:spawner", "test:processes", me, "test.helpers:libraries_peer",
        "test:processes", me))
    got = collect(3)
    assert(got.spawned and got.spawned.err == nil, tostring(got.spawned and got.spawned.err))
    assert(got.exit and got.exit.from == got.spawned.pid)
    got.spawned, got.exit = nil, nil
    assert(next(got) ~= nil, "libraries_peer reported nothing")

    -- EXIT: result.value is the first return value
    local before = os.time()
    ev = run_to_exit(events, "test.helpers:ret", "test:processes", 42)
    assert(ev.result.value == 42 and ev.result.error == nil)
    assert(math.type(ev.at) == "integer", "at is an integer: " .. tostring(ev.at))
    assert(ev.at >= before and ev.at <= os.time(), "at is unix seconds: " .. tostring(ev.at))
    ev = run_to_exit(events, "test.helpers:ret", "test:other", 0)
    assert(ev.result.value == 0)
    ev = run_to_exit(events, "test.helpers:ret", "test:other", { a = { b = "deep" } })
    assert(ev.result.value.a.b == "deep")
    ev = run_to_exit(events, "test.helpers:ret", "test:other", true)
    assert(ev.result.value == true and ev.result.error == nil)
    ev = run_to_exit(events, "test.helpers:ret", "test:other")
    assert(ev.result.value == nil and ev.result.error == nil, "nothing returned")

    -- EXIT: a non-nil second return value that is a string or error means failure (4.4)
    ev = run_to_exit(events, "test.helpers:ret", "test:other", false, "bad")
    assert(ev.result.value == nil, "value absent on failure")
    assert(ev.result.error ~= nil and ev.result.error:message() == "bad", tostring(ev.result.error))
    ev = run_to_exit(events, "test.helpers:ret", "test:other", false,
        errors.new({ message = "typed", kind = errors.TIMEOUT }))
    assert(ev.result.error:kind() == errors.TIMEOUT and ev.result.error:message() == "typed")
    -- a non-error second value does not
    ev = run_to_exit(events, "test.helpers:ret", "test:other", "v", 5)
    assert(ev.result.value == "v" and ev.result.error == nil)

    -- EXIT: a raised error carries message, kind and a traceback
    ev = run_to_exit(events, "test.helpers:boom", "test:processes", "kaput")
    local err = ev.result.error
    assert(ev.result.value == nil)
    assert(err:message():find("kaput", 1, true), err:message())
    assert(tostring(err):find("kaput", 1, true))
    assert(type(err:stack()) == "string" and #err:stack() > 0, "stack")
    ev = run_to_exit(events, "test.helpers:boom", "test:processes",
        errors.new({ message = "clash", kind = errors.CONFLICT, details = { id = 9 } }))
    err = ev.result.error
    assert(err:kind() == errors.CONFLICT, "kind survives: " .. tostring(err:kind()))
    assert(err:message() == "clash", err:message())
    assert(err:details() and err:details().id == 9)

    -- a monitor fires once: nothing else is pending
    time.sleep("10ms")
    local r = channel.select({ events:case_receive(), default = true })
    assert(r.default, "no duplicate EXIT")

    -- chunk returning a function, and an entry without `method`
    ev = run_to_exit(events, "test.helpers:fnchunk", "test:other", "arg")
    assert(ev.result.value[1] == "fn" and ev.result.value[2] == "arg", "chunk's function is the body")
    ev = run_to_exit(events, "test.helpers:body", "test:other")
    assert(ev.result.value == "body", tostring(ev.result.value))

    -- spawn failures are nil, err (never raised)
    local pid
    pid, err = process.spawn("test:no_such_entry", "test:processes")
    assert(pid == nil and err:kind() == errors.NOT_FOUND, "unknown entry: " .. tostring(err))
    pid, err = process.spawn_monitored("test:no_such_entry", "test:processes")
    assert(pid == nil and err:kind() == errors.NOT_FOUND, "unknown entry (monitored): " .. tostring(err))
    -- unknown host: the spec gives no kind; NOT_FOUND mirrors send's `host not found` (5.2)
    pid, err = process.spawn("test.helpers:ret", "test:nohost")
    assert(pid == nil and err ~= nil, "unknown host")
    assert(err:kind() == errors.NOT_FOUND, "unknown host kind: " .. tostring(err:kind()) .. " " .. tostring(err))
    pid, err = process.spawn("test.helpers:ret", "test:stopped")
    assert(pid == nil and err:kind() == errors.UNAVAILABLE, "stopped host: " .. tostring(err))
    assert(err:message() == "host test:stopped not running", err:message())
    pid, err = process.spawn("test.helpers:nomethod", "test:processes")
    assert(pid == nil and err ~= nil, "method not found")
    assert(err:message():find("method not found: nope", 1, true), err:message())
    pid, err = process.spawn("test.helpers:toplevel_block", "test:processes")
    assert(pid == nil and err ~= nil, "blocking at top level fails the spawn")
    -- a terminal host runs one process at a time (open 15)
    pid, err = process.spawn("test.helpers:ret", "test:terminal")
    assert(pid == nil and err:kind() == errors.UNAVAILABLE, "terminal busy: " .. tostring(err))
    assert(err:message() == "terminal host busy", err:message())
    -- misuse raises
    assert(not pcall(process.spawn), "no arguments")
    assert(not pcall(process.spawn, 1, "test:processes"), "number id")
    assert(not pcall(process.spawn, "test.helpers:ret", {}), "table host")

    -- none of the failed spawns produced an EXIT
    r = channel.select({ events:case_receive(), default = true })
    assert(r.default, "no EXIT for failed spawns")
end

return { main = main }
