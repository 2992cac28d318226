-- Lua <-> Rust interop (issue 5): send, spawn, monitor, link and the registry both ways.
-- The Rust side is `test:rust` (tests/it/native.rs): it answers each request topic below.

local H = "test:processes"

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function expect(inbox, topic)
    local msg = recv(inbox, topic)
    assert(msg:topic() == topic, "expected " .. topic .. ", got " .. msg:topic())
    return msg:payload():data(), msg
end

local function exit_of(events, pid)
    local ev = recv(events, "EXIT")
    assert(ev.kind == process.event.EXIT, ev.kind)
    assert(ev.from == pid, "EXIT from " .. tostring(ev.from) .. ", wanted " .. tostring(pid))
    return ev.result
end

local function main()
    local inbox, events = process.inbox(), process.events()
    local me = process.pid()
    assert(process.registry.register("lua_driver"))

    -- Lua spawns Rust (monitored); a table crosses both ways unchanged.
    local rust = assert(process.spawn_monitored("test:rust", H))
    assert(type(rust) == "string" and rust:find("{test:processes|", 1, true), tostring(rust))
    local sent = { text = "héllo", n = 42, f = 1.5, yes = true, list = { 1, "two", { three = 3 } } }
    assert(process.send(rust, "echo", sent))
    local back, msg = expect(inbox, "echoed")
    assert(msg:from() == rust, "sender is the Rust pid")
    assert(back.text == "héllo" and back.n == 42 and back.f == 1.5 and back.yes == true)
    assert(back.list[1] == 1 and back.list[2] == "two" and back.list[3].three == 3)

    -- Typed decoding on the Rust side: a good payload and one that cannot convert.
    process.send(rust, "typed", { name = "ada", age = 36 })
    local typed = expect(inbox, "typed")
    assert(typed.ok == true and typed.greeting == "ada is 36", tostring(typed.greeting))
    process.send(rust, "typed", { name = "ada", age = "old" })
    typed = expect(inbox, "typed")
    assert(typed.ok == false and type(typed.error) == "string" and #typed.error > 0)

    -- The registry both ways: Rust registers a name Lua sends to, and looks up Lua's.
    process.send(rust, "register", "rust_named")
    assert(expect(inbox, "registered") == true)
    assert(process.registry.lookup("rust_named") == rust)
    assert(process.send("rust_named", "lookup", "lua_driver"))
    assert(expect(inbox, "lookup") == me)

    -- Rust spawns a Lua process, monitored: the child's message and its EXIT reach Rust.
    process.send(rust, "spawn_lua", "ok")
    local report = expect(inbox, "child_exit")
    assert(report.hello and report.hello.n == 1 and report.hello.list[2] == "b", "hello from Lua")
    assert(report.value == 7, tostring(report.value))
    process.send(rust, "spawn_lua", "fail")
    report = expect(inbox, "child_exit")
    assert(report.error and report.error:find("lua child failed", 1, true), tostring(report.error))

    -- Rust monitors a Lua process it did not spawn.
    local child = assert(process.spawn("test:lua_child", H, me, "wait"))
    process.send(rust, "monitor", child)
    assert(expect(inbox, "monitoring") == true)
    process.send(child, "go", "payload for the child")
    assert(expect(inbox, "back") == "payload for the child")
    report = expect(inbox, "monitored_exit")
    assert(report.from == child and report.value == "payload for the child", tostring(report.value))

    -- Rust links to a failing Lua process while trapping links: LINK_DOWN, and it survives.
    process.send(rust, "link_lua_trap")
    report = expect(inbox, "link_down")
    assert(report.error and report.error:find("lua child failed", 1, true), tostring(report.error))

    -- Lua spawns a Rust process it is linked to, with trap_links: the Rust failure is LINK_DOWN.
    assert(process.set_options({ trap_links = true }))
    local linked = assert(process.spawn_linked("test:rust", H))
    process.send(linked, "fail")
    local ev = recv(events, "LINK_DOWN")
    assert(ev.kind == process.event.LINK_DOWN and ev.from == linked, ev.kind)
    assert(tostring(ev.result.error):find("asked to fail", 1, true), tostring(ev.result.error))
    assert(process.set_options({ trap_links = false }))

    -- Rust without trap_links, linked to a failing Lua child: the Rust process is killed.
    local victim = assert(process.spawn_monitored("test:rust", H))
    process.send(victim, "link_lua_die")
    local result = exit_of(events, victim)
    assert(tostring(result.error) == "linked process failed", tostring(result.error))
    assert(result.error:kind() == errors.CANCELED, result.error:kind())

    -- Errors and panics in Rust end only that process, with a typed error for its monitors.
    local r2 = assert(process.spawn_monitored("test:rust", H))
    process.send(r2, "fail")
    result = exit_of(events, r2)
    assert(result.error:kind() == errors.INVALID, result.error:kind())
    assert(tostring(result.error) == "asked to fail", tostring(result.error))
    local r3 = assert(process.spawn_monitored("test:rust", H))
    process.send(r3, "panic")
    result = exit_of(events, r3)
    assert(result.error:kind() == errors.INTERNAL, result.error:kind())
    assert(tostring(result.error):find("asked to panic", 1, true), tostring(result.error))

    -- Rust cancels and terminates Lua processes.
    local c = assert(process.spawn_monitored("test:lua_child", H, rust, "cancel"))
    process.send(rust, "cancel", c)
    result = exit_of(events, c)
    assert(result.value.kind == process.event.CANCEL, tostring(result.value.kind))
    assert(result.value.reason == "from Rust" and result.value.by_parent == true)
    local t = assert(process.spawn_monitored("test:lua_child", H, me, "wait"))
    process.send(rust, "terminate", t)
    result = exit_of(events, t)
    assert(result.error:kind() == errors.CANCELED, result.error:kind())
    assert(tostring(result.error) == "process terminated", tostring(result.error))

    -- Sends that cannot happen are typed errors on the Rust side.
    process.send(rust, "bad_sends")
    local bad = expect(inbox, "bad_sends")
    assert(bad.payload == "payload" and bad.dead == "not_found" and bad.name == "not_found",
        string.format("%s %s %s", tostring(bad.payload), tostring(bad.dead), tostring(bad.name)))

    -- Rust spawning an entry that does not exist gets a typed error, not a panic.
    process.send(rust, "spawn_unknown")
    local unknown = expect(inbox, "spawn_unknown")
    assert(unknown.kind == "NotFound", tostring(unknown.kind))
    assert(unknown.message:find("test:nope", 1, true), unknown.message)

    -- A process.service runs a Rust process.
    local service
    local deadline = time.now():add("120s")
    while not service and time.now():before(deadline) do
        service = process.registry.lookup("rust_service")
        if not service then
            time.sleep("10ms")
        end
    end
    assert(service, "the Rust service registered its name")
    process.send("rust_service", "echo", "via the service")
    assert(expect(inbox, "echoed") == "via the service")

    -- The Rust process ends normally with a value, which its monitor sees.
    process.send(rust, "stop", 99)
    result = exit_of(events, rust)
    assert(result.value == 99, tostring(result.value))
    return "ok"
end

return { main = main }
