local time = require("time")

local function main()
    -- pid and id
    local me = process.pid()
    assert(type(me) == "string" and me:match("^{test:terminal|0x%x+}$"), me)
    assert(process.id() == "test:process_basics")

    -- spawn on another host, send, receive the echo
    local inbox = process.inbox()
    local child = assert(process.spawn("test.helpers:echo", "test:processes"))
    assert(child:match("^{test:processes|0x%x+}$"), child)
    assert(process.send(child, "ping", { n = 1, list = { 1, 2, 3 } }))
    local msg = inbox:receive()
    assert(msg:topic() == "re:ping", msg:topic())
    assert(msg:from() == child)
    local data = msg:payload():data()
    assert(data.n == 1 and #data.list == 3 and data.list[3] == 3)

    -- spawn_monitored: EXIT with the result value
    local events = process.events()
    local pid = assert(process.spawn_monitored("test.helpers:ret", "test:processes", 42))
    local ev = events:receive()
    assert(ev.kind == process.event.EXIT, ev.kind)
    assert(ev.from == pid)
    assert(ev.result.value == 42)
    assert(type(ev.at) == "number")

    -- a failing child: EXIT with an error object and traceback
    pid = assert(process.spawn_monitored("test.helpers:boom", "test:processes", "kaput"))
    ev = events:receive()
    assert(ev.from == pid)
    assert(ev.result.value == nil)
    local err = ev.result.error
    assert(tostring(err):find("kaput"), tostring(err))
    assert(type(err:stack()) == "string")

    -- registry
    assert(process.registry.register("basics"))
    assert(process.registry.lookup("basics") == me)
    local none, lerr = process.registry.lookup("nobody")
    assert(none == nil and lerr:kind() == errors.NOT_FOUND)

    -- send errors
    local ok, serr = process.send("nobody", "x")
    assert(ok == nil and serr:kind() == errors.NOT_FOUND)
    ok, serr = process.send(me, "@inbox")
    assert(ok == nil and serr:kind() == errors.INVALID)
    ok, serr = process.send(me)
    assert(ok == nil and serr:kind() == errors.INVALID)
    time.sleep("10ms")
end

return { main = main }
