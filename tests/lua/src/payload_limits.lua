-- Issue 4: big, cyclic and deeply nested payloads cross process boundaries or fail cleanly in
-- the sender; the receiver and the runtime never fall over (SPEC 6).

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function main()
    local inbox, events = process.inbox(), process.events()
    local echo = assert(process.spawn_monitored("test.helpers:echo", "test:other"))
    local function round_trip(v, what)
        assert(process.send(echo, "v", v) == true, what .. ": send")
        local msg = recv(inbox, what)
        assert(msg:topic() == "re:v", what .. ": " .. msg:topic())
        return msg:payload():data()
    end

    -- a 10 MB string
    local big = string.rep("0123456789", 1024 * 1024)
    local got = round_trip(big, "10 MB string")
    assert(#got == #big and got == big, "10 MB string intact")

    -- a table with 1e6 entries, array and hash parts
    local t = {}
    for i = 1, 1000000 do
        t[i] = i
    end
    got = round_trip(t, "1e6 array")
    assert(#got == 1000000 and got[1] == 1 and got[1000000] == 1000000, "1e6 array intact")
    t = {}
    for i = 1, 200000 do
        t["k" .. i] = i
    end
    got = round_trip(t, "2e5 keys")
    assert(got.k1 == 1 and got.k200000 == 200000, "2e5 keys intact")

    -- 2e5 small tables in one payload (beyond 4096 they are parked in a Lua table while copied;
    -- helpers/payload_million.lua goes past mlua's reference stack with 1e6)
    t = {}
    for i = 1, 200000 do
        t[i] = { i }
    end
    got = round_trip(t, "2e5 tables")
    assert(#got == 200000 and got[177777][1] == 177777, "2e5 tables intact")
    t, got = nil, nil

    -- cycles and shared sub-tables keep their shape (SPEC 6): no error, no hang
    local c = { name = "c" }
    c.self = c
    c.list = { c, c }
    local shared = { n = 1 }
    c.a, c.b = shared, shared
    got = round_trip(c, "cycle")
    assert(got.self == got and got.list[1] == got and got.list[2] == got, "cycle kept")
    assert(got.a == got.b and got.a.n == 1 and got.a ~= shared, "shared sub-table kept, copied")
    local k = {}
    k[k] = k
    got = round_trip(k, "self key")
    local key, value = next(got)
    assert(key == got and value == got, "a table that is its own key and value")

    -- deep nesting: 1e5 levels; copying is iterative, so neither side's Rust stack can
    -- overflow (helpers/payload_million.lua: 1e6 levels)
    local deep = {}
    local cur = deep
    for _ = 1, 100000 do
        cur.next = {}
        cur = cur.next
    end
    cur.bottom = true
    got = round_trip(deep, "depth 1e5")
    local n = 0
    while got.next do
        got, n = got.next, n + 1
    end
    assert(n == 100000 and got.bottom == true, "depth 1e5: " .. n)
    deep, cur, got = nil, nil, nil
    -- nested tables as keys, and through payload.new
    local kd = {}
    cur = kd
    for _ = 1, 10000 do
        local nk = {}
        cur[nk] = true
        cur = nk
    end
    assert(type(round_trip(kd, "deep keys")) == "table")
    local p = payload.new({ { { { "x" } } } })
    assert(p:data()[1][1][1][1] == "x")

    -- errors wrapped or nested without end stay shallow: no Rust recursion blows up
    local e = errors.new({ kind = errors.NOT_FOUND, message = "root" })
    for i = 1, 5000 do
        e = errors.wrap(e, "w" .. i)
    end
    got = round_trip(e, "wrapped error")
    assert(errors.is(got, errors.NOT_FOUND), "the root cause is kept")
    local text = tostring(got)
    assert(text:find("w5000", 1, true) == 1 and text:find("root", 1, true), text)
    local d = errors.new("inner")
    for i = 1, 2000 do
        d = errors.new({ message = "d" .. i, details = { d } })
    end
    got = round_trip(d, "nested details")
    assert(got:message() == "d2000" and got:details()[1]:message() == "d1999")

    -- the receiver is still alive
    assert(round_trip("ok", "last") == "ok")
    assert(process.terminate(echo))
    local ev = recv(events, "EXIT of echo")
    assert(ev.from == echo and tostring(ev.result.error) == "process terminated", tostring(ev.result.error))
end

return { main = main }
