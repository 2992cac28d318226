-- SPEC 5.6: register / lookup / unregister, conflicts, release on exit, cluster scopes.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function main()
    local me = process.pid()
    local inbox = process.inbox()
    local events = process.events()
    local reg = process.registry

    -- register / lookup; registering the same name to the same pid again is fine
    assert(reg.register("reg_a") == true)
    assert(reg.register("reg_a") == true, "same name, same pid again")
    assert(reg.register("reg_a", me) == true, "explicit own pid")
    assert(reg.register("reg_a", me, reg.LOCAL) == true, "explicit LOCAL scope")
    assert(reg.lookup("reg_a") == me)
    -- several names for one process
    assert(reg.register("reg_b") == true)
    assert(reg.lookup("reg_b") == me and reg.lookup("reg_a") == me)

    -- lookup of an unknown name
    local pid, err = reg.lookup("reg_nobody")
    assert(pid == nil and err:kind() == errors.NOT_FOUND, tostring(err))
    assert(err:message() == "name not registered", err:message())

    -- unregister: true when removed, false when it was not registered
    assert(reg.unregister("reg_b") == true)
    assert(reg.unregister("reg_b") == false)
    assert(reg.unregister("reg_never") == false)
    pid, err = reg.lookup("reg_b")
    assert(pid == nil and err:kind() == errors.NOT_FOUND)
    local ok
    ok, err = process.send("reg_b", "x")
    assert(ok == nil and err:kind() == errors.NOT_FOUND, "send to an unregistered name")

    -- a name held by another process
    local holder = assert(process.spawn_monitored("test.helpers:registrar", "test:processes", me, "reg_held"))
    local msg = recv(inbox, "registered")
    assert(msg:topic() == "registered" and msg:from() == holder)
    assert(msg:payload()[1]:data() == true, "registrar registered its name")
    assert(reg.lookup("reg_held") == holder)
    ok, err = reg.register("reg_held")
    assert(ok == nil and err:kind() == errors.ALREADY_EXISTS, tostring(err))
    assert(err:message() == "name already registered", err:message())
    assert(reg.lookup("reg_held") == holder, "failed register changed nothing")
    -- my own name cannot be given to another pid either
    ok, err = reg.register("reg_a", holder)
    assert(ok == nil and err:kind() == errors.ALREADY_EXISTS, tostring(err))
    -- registering another pid under a free name
    assert(reg.register("reg_other", holder) == true)
    assert(reg.lookup("reg_other") == holder)

    -- sending by name reaches the holder
    assert(process.send("reg_held", "ping") == true)
    msg = recv(inbox, "pong")
    assert(msg:topic() == "pong" and msg:from() == holder and msg:payload():data() == "reg_held")
    assert(process.send("reg_other", "ping") == true)
    msg = recv(inbox, "pong via second name")
    assert(msg:from() == holder)

    -- names are released when the owner ends
    assert(process.send("reg_held", "stop"))
    local ev = recv(events, "EXIT of registrar")
    assert(ev.from == holder and ev.result.value == "stopped")
    local released = false
    for _ = 1, 100 do
        local p = reg.lookup("reg_held")
        if p == nil and reg.lookup("reg_other") == nil then
            released = true
            break
        end
        time.sleep("10ms")
    end
    assert(released, "names of an ended process are released")
    ok, err = process.send("reg_held", "x")
    assert(ok == nil and err:kind() == errors.NOT_FOUND)
    -- and free to take again
    assert(reg.register("reg_held") == true)
    assert(reg.lookup("reg_held") == me)
    assert(reg.lookup("reg_a") == me, "my own names untouched")

    -- cluster scopes are unavailable on a standalone node
    for _, scope in ipairs({ reg.EVENTUAL, reg.CONSISTENT, reg.STRONG }) do
        ok, err = reg.register("reg_cluster", me, scope)
        assert(ok == nil and err:kind() == errors.UNAVAILABLE, "scope " .. scope .. ": " .. tostring(err))
        assert(err:message() == "cluster registry not available", err:message())
    end
    pid, err = reg.lookup("reg_cluster")
    assert(pid == nil, "nothing registered by a failed cluster register")

    -- a non-number scope or unparsable pid is INVALID
    ok, err = reg.register("reg_bad", me, "local")
    assert(ok == nil and err:kind() == errors.INVALID, "string scope: " .. tostring(err))
    ok, err = reg.register("reg_bad", "not a pid")
    assert(ok == nil and err:kind() == errors.INVALID, "bad pid: " .. tostring(err))
    assert(reg.lookup("reg_bad") == nil)
end

return { main = main }
