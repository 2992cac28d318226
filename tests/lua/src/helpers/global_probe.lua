-- global_probe(parent, pollute): reports what this process sees of globals and standard tables;
-- with pollute = true it first tries every way it can think of to change shared state (each in
-- pcall), so a later probe can check that nothing leaked into another process (SPEC 4.5).
PROBE_COUNTER = (PROBE_COUNTER or 0) + 1

local function observe()
    local smt = getmetatable("")
    return {
        counter = PROBE_COUNTER,
        probe_global = PROBE_GLOBAL,
        test_global = TEST_GLOBAL,
        string_upper = type(string.upper),
        string_evil = rawget(string, "evil"),
        str_method = ("abc"):upper(),
        string_meta_evil = type(smt) == "table" and rawget(smt, "evil") or nil,
        math_pi = math.pi,
        table_insert = type(table.insert),
        os_time = type(os.time),
        errors_new = type(errors.new),
        channel_new = type(channel.new),
        coroutine_spawn = type(coroutine.spawn),
        payload_new = type(payload.new),
        process_send = type(process.send),
        print = type(print),
        g_meta = getmetatable(_G) ~= nil and rawget(getmetatable(_G), "evil") or nil,
    }
end

local function pollute()
    local tries = {
        function() string.upper = nil end,
        function() rawset(string, "evil", 1) end,
        function() rawset(string, "upper", nil) end,
        function() math.pi = 3 end,
        function() rawset(math, "pi", 3) end,
        function() rawset(table, "insert", nil) end,
        function() os.time = nil end,
        function() rawset(os, "time", nil) end,
        function() errors.new = nil end,
        function() rawset(errors, "new", nil) end,
        function() channel.new = nil end,
        function() rawset(channel, "new", nil) end,
        function() coroutine.spawn = nil end,
        function() rawset(coroutine, "spawn", nil) end,
        function() payload.new = nil end,
        function() rawset(payload, "new", nil) end,
        function() rawset(process, "send", nil) end,
        function() getmetatable("").evil = 1 end,
        function() rawset(getmetatable(""), "evil", 1) end,
        function() getmetatable("").__index = {} end,
        function() local m = getmetatable(_G); if m then m.evil = 1 end end,
    }
    for _, f in ipairs(tries) do
        pcall(f)
    end
    PROBE_GLOBAL = "set by probe"
    print = nil
end

local function main(parent, do_pollute)
    local seen = observe()
    if do_pollute then
        pollute()
    end
    process.send(parent, "globals", seen)
end
return { main = main }
