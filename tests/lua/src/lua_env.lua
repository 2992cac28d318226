-- SPEC 4.1 / 4.2 / 4.5: the Lua environment of a process.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function raises(f, what, text)
    local ok, err = pcall(f)
    assert(not ok, what .. " should raise")
    if text then
        assert(tostring(err):find(text, 1, true), what .. ": " .. tostring(err))
    end
end

local function main()
    -- absent globals
    for _, name in ipairs({ "load", "loadstring", "loadfile", "dofile", "collectgarbage", "rawlen",
        "debug", "utf8", "getfenv", "setfenv", "io", "logger", "funcs", "uuid", "newproxy", "gcinfo" }) do
        assert(_G[name] == nil, name .. " must be absent, is " .. type(_G[name]))
    end

    -- present globals
    for _, name in ipairs({ "type", "tonumber", "tostring", "assert", "error", "pcall", "xpcall", "pairs",
        "ipairs", "next", "select", "unpack", "getmetatable", "setmetatable", "rawget", "rawset",
        "rawequal", "require", "print", "subscribe", "unsubscribe" }) do
        assert(type(_G[name]) == "function", name .. " must be a function, is " .. type(_G[name]))
    end
    for _, name in ipairs({ "process", "channel", "coroutine", "errors", "payload", "string", "table",
        "math", "os", "package" }) do
        assert(type(_G[name]) == "table", name .. " must be a table, is " .. type(_G[name]))
    end
    assert(_G._G == _G)
    assert(type(_VERSION) == "string")

    -- os: only time, date, clock, difftime
    local os_keys = {}
    for k in pairs(os) do
        os_keys[#os_keys + 1] = k
    end
    table.sort(os_keys)
    assert(table.concat(os_keys, ",") == "clock,date,difftime,time", table.concat(os_keys, ","))
    assert(math.type(os.time()) == "integer")
    assert(os.time({ year = 2024, month = 1, day = 1, hour = 12 }) > 0)
    assert(type(os.clock()) == "number")
    assert(os.date("!%Y-%m-%d", 0) == "1970-01-01", os.date("!%Y-%m-%d", 0))
    assert(type(os.date()) == "string")
    assert(os.difftime(10, 4) == 6)
    assert(os.execute == nil and os.exit == nil and os.getenv == nil and os.remove == nil)
    assert(os.rename == nil and os.tmpname == nil)

    -- package: minimal
    assert(package.path == "" and package.cpath == "", "package.path/cpath empty")
    local okl, lr, lr2 = pcall(package.loadlib, "libx.so", "f")
    assert(okl, "loadlib does not raise")
    assert(type(lr) == "string" or type(lr2) == "string", "loadlib reports an error string")

    -- string, table, math are read-only
    raises(function() string.upper = nil end, "string.upper = nil")
    raises(function() string.extra = 1 end, "string.extra = 1")
    raises(function() table.insert = nil end, "table.insert = nil")
    raises(function() math.pi = 3 end, "math.pi = 3")
    raises(function() math.extra = 1 end, "math.extra = 1")
    raises(function() rawset(string, "extra", 1) end, "rawset(string)")
    raises(function() rawset(math, "pi", 3) end, "rawset(math)")
    assert(type(string.upper) == "function" and math.pi > 3.14 and type(table.insert) == "function")
    assert(string.extra == nil and math.extra == nil)

    -- subscribe / unsubscribe are out of scope: present, raise "not supported"
    raises(function() subscribe("topic") end, "subscribe", "not supported")
    raises(function() unsubscribe("topic") end, "unsubscribe", "not supported")

    -- Unicode case mapping (open 11)
    assert(string.upper("é") == "É", string.upper("é"))
    assert(string.upper("héllo wörld") == "HÉLLO WÖRLD", string.upper("héllo wörld"))
    assert(string.lower("ÀÉÎÕÜ") == "àéîõü", string.lower("ÀÉÎÕÜ"))
    -- Already in case, not UTF-8, empty: bytes as they are.
    assert(string.upper("ABC 1") == "ABC 1" and string.lower("abc 1") == "abc 1")
    assert(string.upper("a\xffb") == "A\xffB" and string.lower("A\xffB") == "a\xffb")
    assert(string.upper("") == "" and ("x"):upper() == "X")
    assert(("straße"):upper() == "STRASSE" or ("straße"):upper() == "STRAßE", "ß")
    assert(string.upper("abc") == "ABC" and string.lower("ABC") == "abc")
    assert(string.upper("日本") == "日本")
    assert(string.upper("a\255b") == "A\255B" or string.upper("a\255b") == "a\255b", "invalid UTF-8 kept")
    assert(("é"):upper() == "É", "method form")

    -- Lua 5.3 shims on Luau
    assert(math.type(1) == "integer" and math.type(-7) == "integer" and math.type(0) == "integer")
    assert(math.type(1.5) == "float" and math.type(math.huge) == "float")
    assert(math.type("1") == nil and math.type(nil) == nil and math.type({}) == nil)
    assert(math.tointeger(3) == 3 and math.tointeger(3.0) == 3)
    assert(math.tointeger(3.5) == nil and math.tointeger(math.huge) == nil)
    assert(math.ult(1, 2) == true and math.ult(2, 1) == false)
    assert(math.ult(1, -1) == true, "-1 is the largest unsigned")
    assert(math.pow(2, 10) == 1024)
    assert(math.log10(1000) == 3)
    assert(select("#", unpack({ 1, 2, 3 })) == 3)
    assert(7 // 2 == 3 and -7 // 2 == -4 and 7.5 // 2 == 3)

    -- integral numbers print without a fraction
    assert(tostring(1) == "1" and tostring(-7) == "-7" and tostring(0) == "0")
    assert(tostring(3.0) == "3" and tostring(10 / 2) == "5")
    assert(tostring(2 ^ 31) == "2147483648", tostring(2 ^ 31))
    assert(tostring(100000000000) == "100000000000", tostring(100000000000))
    assert(tostring(1.5) == "1.5" and tostring(0.1) == "0.1")
    assert(1 .. "" == "1" and 2.0 .. "" == "2", "concatenation")
    -- globals are per process: the same entry spawned twice sees fresh globals each time,
    -- and nothing set here or by the first probe leaks
    TEST_GLOBAL = "set by test"
    PROBE_GLOBAL = "set by test too"
    local me = process.pid()
    local inbox = process.inbox()
    for i, host in ipairs({ "test:processes", "test:processes", "test:other", "test:processes" }) do
        assert(process.spawn("test.helpers:global_probe", host, me, true))
        local seen = recv(inbox, "probe " .. i):payload():data()
        local where = "probe " .. i .. " on " .. host .. ": "
        assert(seen.counter == 1, where .. "chunk globals are fresh, counter " .. tostring(seen.counter))
        assert(seen.probe_global == nil, where .. "global of an earlier probe leaked")
        assert(seen.test_global == nil, where .. "global of the test leaked")
        assert(seen.string_upper == "function" and seen.str_method == "ABC", where .. "string library intact")
        assert(seen.string_evil == nil and seen.string_meta_evil == nil, where .. "string tables intact")
        assert(seen.math_pi == math.pi and seen.table_insert == "function" and seen.os_time == "function",
            where .. "math/table/os intact")
        assert(seen.errors_new == "function" and seen.channel_new == "function"
            and seen.coroutine_spawn == "function" and seen.payload_new == "function"
            and seen.process_send == "function", where .. "runtime globals intact")
        assert(seen.print == "function" and seen.g_meta == nil, where .. "print and _G intact")
    end
    assert(TEST_GLOBAL == "set by test" and PROBE_GLOBAL == "set by test too")
    assert(("abc"):upper() == "ABC" and type(print) == "function" and os.time ~= nil)
end

return { main = main }
