-- SPEC 5.3: listen / unlisten, raw values and Message objects, routing between listeners and
-- the inbox, listen errors.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function nothing_ready(ch, what)
    local r = channel.select({ ch:case_receive(), default = true })
    assert(r.default == true, "unexpected value on " .. what .. ": " .. tostring(r.value))
end

local function main()
    local me = process.pid()

    -- With no inbox and no listener, a message waits until a matching listen appears.
    assert(process.send(me, "late", "kept"))
    time.sleep("10ms")
    local late = assert(process.listen("late"))
    local v, ok = recv(late, "late message")
    assert(v == "kept" and ok == true, tostring(v))

    local alpha = assert(process.listen("alpha"))
    assert(process.listen("alpha") == alpha, "listening twice returns the same channel")
    assert(alpha ~= late)
    local inbox = process.inbox()
    assert(alpha ~= inbox)

    -- Raw values: one value -> the value; several -> array; none -> nil.
    -- The listener gets its topic, in send order; everything else goes to the inbox.
    assert(process.send(me, "alpha", 1))
    assert(process.send(me, "beta", "b1"))
    assert(process.send(me, "alpha", 3, 4, "five"))
    assert(process.send(me, "alpha"))
    assert(process.send(me, "alpha", { t = true }))
    assert(process.send(me, "beta", "b2"))
    v, ok = recv(alpha, "alpha 1")
    assert(v == 1 and ok == true, tostring(v))
    v = recv(alpha, "alpha 2")
    assert(type(v) == "table" and #v == 3 and v[1] == 3 and v[2] == 4 and v[3] == "five", "array of values")
    v, ok = recv(alpha, "alpha 3")
    assert(v == nil and ok == true, "no values -> nil, still ok")
    v = recv(alpha, "alpha 4")
    assert(type(v) == "table" and v.t == true)
    local msg = recv(inbox, "beta 1")
    assert(msg:topic() == "beta" and msg:payload():data() == "b1")
    msg = recv(inbox, "beta 2")
    assert(msg:topic() == "beta" and msg:payload():data() == "b2")
    nothing_ready(inbox, "inbox")
    nothing_ready(alpha, "alpha")

    -- {message = true}: Message objects
    local gamma = assert(process.listen("gamma", { message = true }))
    assert(process.send(me, "gamma", "g", 2))
    msg = recv(gamma, "gamma")
    assert(msg:topic() == "gamma" and msg:from() == me)
    local p = msg:payload()
    assert(#p == 2 and p[1]:data() == "g" and p[2]:data() == 2)
    assert(tostring(msg) == "process.Message{topic=gamma}")
    assert(process.send(me, "gamma"))
    msg = recv(gamma, "gamma empty")
    assert(msg:payload() == nil)
    -- message = false is the raw form
    local delta = assert(process.listen("delta", { message = false }))
    assert(process.send(me, "delta", "d"))
    assert(recv(delta, "delta") == "d")

    -- messages from another process go to the listener of their topic too
    local echo = assert(process.spawn("test.helpers:echo", "test:other"))
    local re = assert(process.listen("re:ping", { message = true }))
    assert(process.send(echo, "ping", "hello"))
    msg = recv(re, "echo reply")
    assert(msg:from() == echo and msg:payload():data() == "hello")
    nothing_ready(inbox, "inbox after echo")

    -- unlisten: the topic falls back to the inbox
    local none = table.pack(process.unlisten(alpha))
    assert(none.n == 0 or none[1] == nil, "unlisten returns nothing")
    assert(process.send(me, "alpha", "after unlisten"))
    msg = recv(inbox, "alpha via inbox")
    assert(msg:topic() == "alpha" and msg:payload():data() == "after unlisten")
    -- listening again works and takes the topic back
    local alpha2 = assert(process.listen("alpha"))
    assert(process.send(me, "alpha", "again"))
    assert(recv(alpha2, "alpha again") == "again")
    nothing_ready(inbox, "inbox after re-listen")

    -- errors
    local ch, err = process.listen("")
    assert(ch == nil and err:kind() == errors.INVALID, tostring(err))
    assert(err:message() == "topic cannot be empty", err:message())
    ch, err = process.listen("@inbox")
    assert(ch == nil and err:kind() == errors.INVALID, tostring(err))
    assert(err:message() == "cannot listen to @ topics", err:message())
    assert(not pcall(process.listen, 5), "non-string topic raises")
end

return { main = main }
