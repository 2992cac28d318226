-- secret(parent, mode): "keep" sets global SECRET (and a few more) and answers "ping" while
-- alive; "seek" looks for them through every path it knows and reports what it found.
local function seek()
    local found = {}
    local function look(where, v)
        if v ~= nil then
            found[#found + 1] = where .. "=" .. tostring(v)
        end
    end
    look("SECRET", SECRET)
    look("_G.SECRET", _G.SECRET)
    look("rawget(_G)", rawget(_G, "SECRET"))
    local gm = getmetatable(_G)
    if type(gm) == "table" and type(rawget(gm, "__index")) == "table" then
        look("meta(_G).__index", rawget(gm, "__index").SECRET)
    end
    for k, v in pairs(_G) do
        if v == "hunter2" then
            look("pairs(_G)." .. tostring(k), v)
        end
    end
    -- Luau's getfenv(0) hands out the thread's real globals (luau-lang/luau#2735): absent here.
    look("getfenv", getfenv)
    look("setfenv", setfenv)
    look("debug", debug)
    local co = coroutine.create(function()
        return SECRET, _G.SECRET
    end)
    local _, a, b = coroutine.resume(co)
    look("coroutine", a or b)
    for _, name in ipairs({ "string", "table", "math", "os", "coroutine", "process", "errors", "payload", "channel" }) do
        local t = _G[name]
        look(name .. ".SECRET", rawget(t, "SECRET"))
        local mt = getmetatable(t)
        if type(mt) == "table" then
            look("meta(" .. name .. ").SECRET", rawget(mt, "SECRET"))
        end
    end
    local sm = getmetatable("")
    look("string meta", type(sm) == "table" and rawget(sm, "SECRET") or nil)
    look("time.SECRET", rawget(time, "SECRET"))
    return found
end

local function main(parent, mode)
    if mode == "seek" then
        return seek()
    end
    SECRET = "hunter2"
    _G_LEAK = { secret = "hunter2" }
    -- Attempts to plant it somewhere shared; each must fail.
    local planted = {}
    local tries = {
        G = function() rawset(_G, "SECRET", "hunter2") end,
        string = function() string.SECRET = "hunter2" end,
        string_meta = function() getmetatable("").SECRET = "hunter2" end,
        time = function() time.SECRET = "hunter2" end,
        os = function() os.SECRET = "hunter2" end,
        setmeta_G = function() setmetatable(_G, { __index = { SECRET = "hunter2" } }) end,
    }
    for name, f in pairs(tries) do
        if pcall(f) then
            planted[#planted + 1] = name
        end
    end
    process.send(parent, "kept", planted)
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "quit" then
            return SECRET
        end
        process.send(msg:from(), "pong", SECRET)
    end
end

return { main = main }
