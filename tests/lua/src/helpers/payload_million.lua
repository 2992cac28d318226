-- Issue 4, run by tests/it/lua.rs `payload_million_tables` (slow in debug builds, so not a
-- `lua_tests!` script): payloads of a million tables, wide and deep. Every Lua value Rust holds
-- takes a slot of mlua's per-VM reference stack, which ends near a million: copying must not
-- hold one per table, or the sender fails and the receiver dies with "out of Lua stack".

local function main()
    local inbox, events = process.inbox(), process.events()
    local echo = assert(process.spawn_monitored("test.helpers:echo", "test:other"))
    local function round_trip(v, what)
        assert(process.send(echo, "v", v) == true, what .. ": send")
        local r = channel.select({ inbox:case_receive(), events:case_receive() })
        assert(r.channel == inbox, what .. ": the receiver ended: " .. tostring(r.value and r.value.kind) .. " " .. tostring(r.value and r.value.from) .. " " .. tostring(r.value and r.value.result and r.value.result.error))
        return r.value:payload():data()
    end

    local t = {}
    for i = 1, 1000000 do
        t[i] = { i }
    end
    local got = round_trip(t, "1e6 tables")
    assert(#got == 1000000 and got[777777][1] == 777777, "1e6 tables intact")
    got = payload.new(t):data()
    assert(#got == 1000000 and got[1000000][1] == 1000000, "payload.new of 1e6 tables")
    t, got = nil, nil

    local deep = {}
    local cur = deep
    for _ = 1, 1000000 do
        cur[1] = {}
        cur = cur[1]
    end
    got = round_trip(deep, "depth 1e6")
    local n = 0
    while got[1] do
        got, n = got[1], n + 1
    end
    assert(n == 1000000, "depth 1e6: " .. n)
end

return { main = main }
