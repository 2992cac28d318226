-- SPEC 5.1, 5.4, 5.6: monitor/unmonitor, terminate, cancel, exec, names released at exit.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

-- Waits until `pid` has ended (sends to it fail), without monitoring it.
local function ended(pid)
    local deadline = time.now():add("120s")
    while process.send(pid, "still there?") do
        assert(time.now():before(deadline), "process did not end: " .. tostring(pid))
        time.sleep("5ms")
    end
end

local function nothing(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("50ms"):case_receive() })
    assert(r.channel ~= ch, "unexpected " .. what)
end

local function main()
    local inbox, events = process.inbox(), process.events()
    local H = "test:processes"

    -- monitor / unmonitor
    local a = assert(process.spawn("test.helpers:idle", H))
    assert(process.monitor(a) == true)
    local v, err = process.monitor(a)
    assert(v == nil and err:kind() == errors.ALREADY_EXISTS and err:message() == "already monitoring pid")
    assert(process.unmonitor(a) == true)
    process.send(a, "quit")
    ended(a)
    nothing(events, "EXIT after unmonitor")
    v, err = process.monitor(a)
    assert(v == nil and err:kind() == errors.NOT_FOUND and err:message() == "pid not registered", tostring(err))
    -- a monitor that fired is gone: unmonitor of the ended pid is a harmless success
    a = assert(process.spawn_monitored("test.helpers:ret", H, "done"))
    local exit = recv(events, "EXIT of ret")
    assert(exit.from == a and exit.result.value == "done")
    assert(process.unmonitor(a) == true)
    v, err = process.monitor("{test:processes|0xfffff}")
    assert(v == nil and err:kind() == errors.NOT_FOUND)
    v, err = process.monitor("{no:host|0x00001}")
    assert(v == nil and err:kind() == errors.NOT_FOUND and err:message() == "host not found")

    -- terminate: forced end, result error "process terminated"; a second terminate fails
    a = assert(process.spawn_monitored("test.helpers:busy", H, process.pid()))
    assert(recv(inbox, "busy"):topic() == "busy")
    assert(process.terminate(a) == true)
    local ev = recv(events, "EXIT of terminated")
    assert(ev.kind == process.event.EXIT and ev.from == a)
    assert(tostring(ev.result.error) == "process terminated", tostring(ev.result.error))
    v, err = process.terminate(a)
    assert(v == nil and err:kind() == errors.NOT_FOUND)
    v, err = process.terminate("unknown-name")
    assert(v == nil and err:kind() == errors.NOT_FOUND)

    -- cancel: only an event, the target decides
    local w = assert(process.spawn_monitored("test.helpers:watcher", H, process.pid(), false))
    assert(recv(inbox, "ready"):topic() == "ready")
    assert(process.cancel(w, "please stop") == true)
    local msg = recv(inbox, "forwarded CANCEL")
    local e = msg:payload():data()
    assert(e.kind == process.event.CANCEL and e.from == process.pid() and e.reason == "please stop")
    assert(process.cancel(w) == true)
    e = recv(inbox, "second CANCEL"):payload():data()
    assert(e.reason == "", "reason defaults to the empty string")
    assert(process.send(w, "quit"))
    ev = recv(events, "EXIT of watcher")
    assert(ev.result.value == "done")
    v, err = process.cancel(w)
    assert(v == nil and err:kind() == errors.NOT_FOUND)

    -- exec: waits for the child and returns its result value, or nil + its error
    assert(process.exec("test.helpers:ret", H, 42) == 42)
    local r, err = process.exec("test.helpers:ret", H, 42, "second value is an error")
    assert(r == nil and tostring(err) == "second value is an error", tostring(err))
    assert(process.exec("test.helpers:ret", "test:other", { k = "v" }).k == "v")
    r, err = process.exec("test.helpers:boom", H, "exec failure")
    assert(r == nil and tostring(err):find("exec failure", 1, true), tostring(err))
    r, err = process.exec("test.helpers:nope", H)
    assert(r == nil and err:kind() == errors.NOT_FOUND, tostring(err))
    r, err = process.exec("test.helpers:ret", "test:nohost")
    assert(r == nil and err:kind() == errors.NOT_FOUND)
    -- like Wippy, each exec takes one pid number for its watcher before the child's
    local function num(pid) return tonumber(pid:match("|0x(%x+)}$"), 16) end
    local before = num(assert(process.spawn("test.helpers:ret", H)))
    local child = process.exec("test.helpers:report", H, process.pid())
    local rep = recv(inbox, "report"):payload():data()
    assert(num(rep.pid) == before + 2, rep.pid)
    assert(num(assert(process.spawn("test.helpers:ret", H))) == before + 3)
    assert(child == nil)

    -- exec on the caller's own host (a local spawn inside the worker)
    local rep2 = assert(process.exec("test.helpers:execer", H, H))
    assert(rep2.ok == "local value")
    assert(rep2.failed and rep2.failed:find("local failure", 1, true), tostring(rep2.failed))
    assert(rep2.not_found == errors.NOT_FOUND)
    assert(rep2.named == true)

    -- exec from a coroutine while the main coroutine keeps going
    local got
    coroutine.spawn(function()
        got = process.exec("test.helpers:sleeper", H, process.pid(), "20ms")
    end)
    assert(got == nil)
    assert(recv(inbox, "slept"):topic() == "slept")
    time.sleep("20ms")
    assert(got == nil, "sleeper returns nothing")

    -- names are released when their process ends
    a = assert(process.spawn_monitored("test.helpers:idle", H))
    assert(process.registry.register("control-test", a))
    assert(process.registry.lookup("control-test") == a)
    process.send("control-test", "die")
    recv(events, "EXIT of named")
    v, err = process.registry.lookup("control-test")
    assert(v == nil and err:kind() == errors.NOT_FOUND and err:message() == "name not registered")
    assert(process.registry.unregister("control-test") == false)
    -- a dead pid cannot be registered
    v, err = process.registry.register("ghost", a)
    assert(v == nil and err:kind() == errors.NOT_FOUND)

    -- argument errors from the runtime reach pcall/xpcall as plain messages
    local ok, msg = pcall(process.monitor, 42)
    assert(not ok and msg == "bad argument #1 to 'monitor' (string expected, got number)", msg)
    local _, handled = xpcall(function() process.send(1, "t") end, function(m) return "handled: " .. m end)
    assert(handled == "handled: bad argument #1 to 'send' (string expected, got number)", handled)
end

return { main = main }
