-- Issue 4 / SPEC 4.2, 4.5: ways out of the sandbox that must stay shut. lua_env.lua covers the
-- list of globals; this covers attempts to use what is there to reach shared or foreign state.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function raises(f, what, text)
    local ok, err = pcall(f)
    assert(not ok, what .. " should raise")
    if text then
        assert(tostring(err):find(text, 1, true), what .. ": " .. tostring(err))
    end
end

local function main()
    local inbox, events = process.inbox(), process.events()

    -- code loading, debug, bytecode, the standard io library, os beyond SPEC's subset
    assert(load == nil and loadstring == nil and loadfile == nil and dofile == nil)
    assert(debug == nil and string.dump == nil and io == nil)
    for _, name in ipairs({ "execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale" }) do
        assert(os[name] == nil, "os." .. name .. " must be absent")
    end
    for _, name in ipairs({ "debug", "io", "utf8", "load", "package.loaded", "funcs", "uuid" }) do
        raises(function() require(name) end, "require " .. name, "module '" .. name .. "' not found")
    end
    assert(require("string") == string and require("os") == os)

    -- getfenv/setfenv games: absent, so neither the real globals (luau#2735) nor a shared
    -- function's environment can be reached
    assert(getfenv == nil and setfenv == nil)
    raises(function() getfenv(0).x = 1 end, "getfenv(0)")
    raises(function() setfenv(print, {}) end, "setfenv")

    -- shared tables and metatables are read-only
    raises(function() string.foo = 1 end, "string.foo", "readonly")
    raises(function() table.insert = nil end, "table.insert", "readonly")
    raises(function() math.pi = 3 end, "math.pi", "readonly")
    raises(function() os.time = nil end, "os.time", "readonly")
    raises(function() coroutine.resume = nil end, "coroutine.resume", "readonly")
    raises(function() process.send = nil end, "process.send", "readonly")
    raises(function() process.event.EXIT = "x" end, "process.event", "readonly")
    raises(function() errors.new = nil end, "errors.new", "readonly")
    raises(function() payload.format.JSON = "x" end, "payload.format", "readonly")
    raises(function() channel.new = nil end, "channel.new", "readonly")
    raises(function() time.sleep = nil end, "time.sleep", "readonly")
    raises(function() package.loaded.x = 1 end, "package.loaded", "readonly")
    raises(function() rawset(_G, "x", 1) end, "rawset(_G)", "readonly")
    raises(function() rawset(string, "x", 1) end, "rawset(string)", "readonly")
    raises(function() setmetatable(_G, {}) end, "setmetatable(_G)")
    raises(function() setmetatable(string, nil) end, "setmetatable(string)")
    raises(function() setmetatable(process, {}) end, "setmetatable(process)")
    raises(function() getmetatable("").__index = {} end, "string metatable __index", "readonly")
    raises(function() getmetatable("").__index.upper = nil end, "string methods", "readonly")
    raises(function() rawset(getmetatable(""), "__add", print) end, "rawset string metatable", "readonly")
    raises(function() table.freeze(string) end, "freeze string")
    -- userdata metatables (pids, channels, errors, times) are hidden
    for what, v in pairs({ chan = channel.new(), inbox = inbox, err = errors.new("x"), now = time.now() }) do
        assert(getmetatable(v) == false, what .. " metatable must be hidden")
    end
    assert(("abc"):upper() == "ABC" and math.pi > 3.14 and type(table.insert) == "function")

    -- coroutines share the process's globals, nothing more
    SANDBOX_G = 1
    local co = coroutine.create(function()
        SANDBOX_G = 2
        return _G.SANDBOX_G
    end)
    local ok, seen = coroutine.resume(co)
    assert(ok and seen == nil and SANDBOX_G == 2, "a coroutine writes the process's globals")
    local rok, rerr = coroutine.resume(coroutine.running())
    assert(not rok and tostring(rerr):find("cannot resume", 1, true), "resume self: " .. tostring(rerr))

    -- another process on the same worker (test:other has one) cannot see this one's globals,
    -- nor plant anything shared, through any path
    local keeper = assert(process.spawn("test.helpers:secret", "test:other", process.pid(), "keep"))
    local planted = recv(inbox, "kept"):payload():data()
    assert(#planted == 0, "planted through: " .. table.concat(planted, ", "))
    for _ = 1, 2 do
        local seeker = assert(process.spawn_monitored("test.helpers:secret", "test:other", process.pid(), "seek"))
        local ev = recv(events, "EXIT of seeker")
        assert(ev.from == seeker and ev.result.value, tostring(ev.result.error))
        assert(#ev.result.value == 0, "the secret leaked: " .. table.concat(ev.result.value, ", "))
    end
    assert(SECRET == nil)
    process.send(keeper, "ping")
    assert(recv(inbox, "pong"):payload():data() == "hunter2", "the keeper still has its secret")
    process.send(keeper, "quit")
end

return { main = main }
