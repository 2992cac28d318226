-- SPEC 5.2 / 5.3: send to pids and names, Message objects, every send error of the 5.2 table.

-- Receives from ch, failing instead of hanging when nothing arrives within 2 s.
local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function expect_err(kind, message, ok, err)
    assert(ok == nil, "expected nil, got " .. tostring(ok))
    assert(err ~= nil, "expected an error")
    assert(err:kind() == kind, "kind " .. tostring(err:kind()) .. " ~= " .. kind)
    assert(err:message() == message, "message: " .. tostring(err:message()))
    -- errors produced by the runtime are non-retryable unless stated (9.3)
    assert(err:retryable() == false, "retryable: " .. tostring(err:retryable()))
end

local function main()
    local me = process.pid()
    local inbox = process.inbox()

    -- zero payload values: payload() is nil
    assert(process.send(me, "zero") == true)
    local msg = recv(inbox, "zero")
    assert(msg:topic() == "zero", msg:topic())
    assert(msg:from() == me, tostring(msg:from()))
    assert(msg:payload() == nil, "no values -> nil payload")
    assert(tostring(msg) == "process.Message{topic=zero}", tostring(msg))

    -- one value: a Payload
    assert(process.send(me, "one", { a = 1, s = "x" }) == true)
    msg = recv(inbox, "one")
    assert(msg:topic() == "one")
    local p = msg:payload()
    assert(type(p) == "userdata", type(p))
    local d = p:data()
    assert(type(d) == "table" and d.a == 1 and d.s == "x")
    assert(p:get_format() == payload.format.LUA, p:get_format())

    -- one scalar value of each kind
    for _, v in ipairs({ 0, -5, 2.5, "", "text", true, false }) do
        assert(process.send(me, "scalar", v))
        msg = recv(inbox, "scalar")
        assert(msg:payload():data() == v, "scalar " .. tostring(v))
    end

    -- several values: an array of Payloads, in order
    assert(process.send(me, "many", 1, "b", { c = true }) == true)
    msg = recv(inbox, "many")
    p = msg:payload()
    assert(type(p) == "table" and #p == 3, "array of 3 payloads")
    assert(p[1]:data() == 1)
    assert(p[2]:data() == "b")
    assert(p[3]:data().c == true)

    -- to a registered name, from another process (echo replies to msg:from())
    assert(process.registry.register("send_test_me"))
    assert(process.send("send_test_me", "by-name", 7) == true)
    msg = recv(inbox, "by-name")
    assert(msg:topic() == "by-name" and msg:payload():data() == 7)
    local echo = assert(process.spawn("test.helpers:echo", "test:other"))
    assert(process.send(echo, "hi", "there"))
    msg = recv(inbox, "echo reply")
    assert(msg:topic() == "re:hi" and msg:from() == echo and msg:payload():data() == "there")

    -- fewer than 2 arguments
    local need2 = "send requires at least destination and topic arguments"
    expect_err(errors.INVALID, need2, process.send())
    expect_err(errors.INVALID, need2, process.send(me))
    -- reserved topics
    expect_err(errors.INVALID, "cannot send to @ topics", process.send(me, "@inbox"))
    expect_err(errors.INVALID, "cannot send to @ topics", process.send(me, "@", 1))
    expect_err(errors.INVALID, "cannot send to @ topics", process.send("send_test_me", "@x"))
    -- unknown name / unparsable pid
    expect_err(errors.NOT_FOUND, "could not resolve 'nobody' as PID or registered name",
        process.send("nobody", "x"))
    expect_err(errors.NOT_FOUND, "could not resolve '{broken' as PID or registered name",
        process.send("{broken", "x"))
    expect_err(errors.NOT_FOUND, "could not resolve '' as PID or registered name", process.send("", "x"))
    -- well-formed pid of an ended process
    local events = process.events()
    local dead = assert(process.spawn_monitored("test.helpers:ret", "test:processes"))
    local ev = recv(events, "EXIT")
    assert(ev.kind == process.event.EXIT and ev.from == dead)
    expect_err(errors.NOT_FOUND, "process not found", process.send(dead, "x"))
    expect_err(errors.NOT_FOUND, "process not found", process.send(dead, "x", 1, 2))
    -- a pid the counter never handed out, on a known host
    expect_err(errors.NOT_FOUND, "process not found", process.send("{test:processes|0xfffffff}", "x"))
    -- a pid on an unknown host
    expect_err(errors.NOT_FOUND, "host not found", process.send("{test:nohost|0x00001}", "x"))
    -- non-string dest or topic raises (argument error), it is not a nil, err result
    assert(not pcall(process.send, 42, "x"), "number dest raises")
    assert(not pcall(process.send, {}, "x"), "table dest raises")
    assert(not pcall(process.send, true, "x"), "boolean dest raises")
    assert(not pcall(process.send, me, {}), "table topic raises")
    assert(not pcall(process.send, me, 5), "number topic raises")
    assert(not pcall(process.send, me, false), "boolean topic raises")

    -- nothing stray arrived from the failed sends
    local r = channel.select({ inbox:case_receive(), default = true })
    assert(r.default == true, "no stray message: " .. tostring(r.value))
end

return { main = main }
