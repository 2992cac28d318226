-- SPEC 5.4: links fire only on abnormal ends; without trap_links the survivor dies with
-- "linked process failed", with trap_links it gets LINK_DOWN; monitors see the cascade.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function expect(inbox, topic)
    local msg = recv(inbox, topic)
    assert(msg:topic() == topic, "expected " .. topic .. ", got " .. msg:topic())
    local p = msg:payload()
    return p and p:data()
end

local function main()
    local inbox, events = process.inbox(), process.events()
    local H = "test:processes"

    -- a linked child that fails takes down a linked, non-trapping partner
    local a = assert(process.spawn_monitored("test.helpers:idle", H))
    local b = assert(process.spawn_monitored("test.helpers:watcher", H, process.pid(), false))
    expect(inbox, "ready")
    process.send(b, "link", a)
    assert(expect(inbox, "linked") == true)
    process.send(a, "die")
    local seen = {}
    for _ = 1, 2 do
        local ev = recv(events, "EXIT")
        assert(ev.kind == process.event.EXIT)
        seen[ev.from] = ev.result
    end
    assert(tostring(seen[a].error):find("died on request", 1, true), tostring(seen[a].error))
    assert(tostring(seen[b].error) == "linked process failed", tostring(seen[b].error))
    assert(seen[b].error:kind() == errors.CANCELED, seen[b].error:kind())

    -- with trap_links the partner survives and gets LINK_DOWN with the failure
    a = assert(process.spawn_monitored("test.helpers:idle", H))
    b = assert(process.spawn_monitored("test.helpers:watcher", H, process.pid(), true))
    expect(inbox, "ready")
    process.send(b, "link", a)
    assert(expect(inbox, "linked") == true)
    process.send(a, "die")
    local ev = expect(inbox, "event")
    assert(ev.kind == process.event.LINK_DOWN, ev.kind)
    assert(ev.from == a)
    assert(ev.error and ev.error:find("died on request", 1, true), tostring(ev.error))
    local exit = recv(events, "EXIT of a")
    assert(exit.from == a)
    -- b is still alive
    assert(process.send(b, "quit"))
    exit = recv(events, "EXIT of b")
    assert(exit.from == b and exit.result.value == "done", tostring(exit.result.value))

    -- a normal return never fires a link
    a = assert(process.spawn_monitored("test.helpers:idle", H))
    b = assert(process.spawn_monitored("test.helpers:watcher", H, process.pid(), true))
    expect(inbox, "ready")
    process.send(b, "link", a)
    assert(expect(inbox, "linked") == true)
    process.send(a, "quit")
    exit = recv(events, "EXIT of a (normal)")
    assert(exit.from == a and exit.result.value == "bye")
    assert(process.send(b, "quit"))
    exit = recv(events, "EXIT of b")
    assert(exit.from == b and exit.result.value == "done", "b must not have seen LINK_DOWN")
    -- and no stray LINK_DOWN message from b arrived
    local r = channel.select({ inbox:case_receive(), default = true })
    assert(r.default, "unexpected message after a normal return")

    -- spawn_linked from this process, with trap_links: a failing child gives LINK_DOWN here
    assert(process.set_options({ trap_links = true }))
    assert(process.get_options().trap_links == true)
    local c = assert(process.spawn_linked("test.helpers:boom", H, "child failed"))
    ev = recv(events, "LINK_DOWN")
    assert(ev.kind == process.event.LINK_DOWN and ev.from == c)
    assert(tostring(ev.result.error):find("child failed", 1, true))
    assert(type(ev.at) == "number" and ev.at > 1.6e9)

    -- spawn_linked_monitored: both LINK_DOWN and EXIT
    c = assert(process.spawn_linked_monitored("test.helpers:boom", H, "both"))
    local kinds = {}
    for _ = 1, 2 do
        ev = recv(events, "LINK_DOWN and EXIT")
        assert(ev.from == c)
        kinds[ev.kind] = true
    end
    assert(kinds[process.event.LINK_DOWN] and kinds[process.event.EXIT])

    -- unlink: no LINK_DOWN afterwards
    c = assert(process.spawn_linked("test.helpers:idle", H))
    assert(process.unlink(c) == true)
    assert(process.monitor(c) == true)
    process.send(c, "die")
    ev = recv(events, "EXIT after unlink")
    assert(ev.kind == process.event.EXIT and ev.from == c, ev.kind)

    -- link to a dead pid / unknown name
    local v, err = process.link(c)
    assert(v == nil and err:kind() == errors.NOT_FOUND, tostring(err))
    v, err = process.link("no-such-name")
    assert(v == nil and err:kind() == errors.NOT_FOUND)
    assert(not pcall(process.link, 42), "non-string dest raises")

    -- set_options errors
    local ok
    ok, err = process.set_options("x")
    assert(ok == false and err:kind() == errors.INVALID and err:message() == "options parameter must be a table")
    ok, err = process.set_options({ trap_links = "yes" })
    assert(ok == false and err:message() == "trap_links must be a boolean")
    ok, err = process.set_options({ nope = true })
    assert(ok == false and err:message() == "option nope is not supported")
    assert(process.set_options({ upgradable = true, trap_links = false }))
    assert(process.get_options().trap_links == false)
end

return { main = main }
