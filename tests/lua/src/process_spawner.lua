-- SPEC 5.7: with_context / with_options spawners are immutable builders with the module's
-- spawn signatures; with_name registers the child, with_message queues its first messages.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function main()
    local inbox, events = process.inbox(), process.events()
    local H = "test:processes"

    local base = process.with_context({ request_id = "r-1" })
    assert(tostring(base) == "process.Spawner")
    local named = base:with_name("spawned-echo")
    assert(named ~= base, "builders return new spawners")
    assert(not pcall(function() base.name = "x" end), "spawners are read-only")

    -- with_name + with_message: the name resolves and the queued message is answered first
    local pid = assert(named:with_message("hello", { 1, 2, 3 }):spawn_monitored("test.helpers:echo", H))
    assert(process.registry.lookup("spawned-echo") == pid)
    local msg = recv(inbox, "re:hello")
    assert(msg:topic() == "re:hello" and msg:from() == pid)
    assert(process.send("spawned-echo", "again", "x"))
    assert(recv(inbox, "re:again"):payload():data() == "x")

    -- the same name again fails: ALREADY_EXISTS, nothing spawned
    local v, err = named:spawn("test.helpers:echo", H)
    assert(v == nil and err:kind() == errors.ALREADY_EXISTS, tostring(err))
    process.terminate(pid)
    local ev = recv(events, "EXIT of echo")
    assert(ev.from == pid)

    -- on another host (spawn crosses workers)
    pid = assert(process.with_options({}):with_name("remote-echo"):with_message("m", "v")
        :spawn("test.helpers:echo", "test:other"))
    assert(process.registry.lookup("remote-echo") == pid)
    assert(recv(inbox, "re:m"):payload():data() == "v")
    process.terminate(pid)

    -- exec and the other spawn forms
    assert(base:with_actor({ id = "a" }):with_scope({}):exec("test.helpers:ret", H, "via spawner") == "via spawner")
    local c = assert(base:spawn_linked_monitored("test.helpers:ret", H, 1))
    ev = recv(events, "EXIT of linked")
    assert(ev.from == c and ev.result.value == 1)
    c = assert(base:spawn_linked("test.helpers:ret", H, 2))
    c = assert(base:spawn("test.helpers:report", H, process.pid(), "a", "b"))
    local rep = recv(inbox, "report"):payload():data()
    assert(rep.n == 2 and rep.args[1] == "a" and rep.pid == c)

    -- misuse raises naming the method
    local ok, e = pcall(process.with_context, "x")
    assert(not ok and tostring(e):find("with_context", 1, true), tostring(e))
    ok, e = pcall(base.with_name, base, "")
    assert(not ok and tostring(e):find("name cannot be empty", 1, true))
    ok, e = pcall(base.with_message, base, "@x")
    assert(not ok and tostring(e):find("@ topics", 1, true))
    ok, e = pcall(base.spawn, base, 1, H)
    assert(not ok and tostring(e):find("spawn", 1, true))
end

return { main = main }
