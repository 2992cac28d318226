-- Prints Starling's Lua API surface, one line per global, module field and method, for the
-- checked-in listing tests/api_surface.txt (compared by tests/it/api.rs). Run with
-- STARLING_API_SURFACE=1, which installs the __api_* probes.

local lines = {}
local function add(s)
    lines[#lines + 1] = s
end

local function describe(v)
    local t = type(v)
    if t == "number" or t == "boolean" then
        return t .. " = " .. tostring(v)
    elseif t == "string" then
        return string.format("string = %q", v)
    end
    return t
end

local function walk(prefix, t, depth)
    local keys = {}
    for k in pairs(t) do
        keys[#keys + 1] = tostring(k)
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
        local v = t[k]
        if v == nil then
            v = t[tonumber(k)]
        end
        add(prefix .. "." .. k .. " " .. describe(v))
        if type(v) == "table" and depth < 3 then
            walk(prefix .. "." .. k, v, depth + 1)
        end
    end
end

local function methods(name, v)
    for _, m in ipairs(__api_methods(v)) do
        add(name .. ":" .. m)
    end
end

local function main()
    local skip = { _G = true }
    for _, name in ipairs(__api_globals()) do
        local v = _G[name]
        add(name .. " " .. describe(v))
        if type(v) == "table" and not skip[name] then
            walk(name, v, 1)
        end
    end
    for _, name in ipairs({ "io", "time", "funcs", "uuid", "json", "env", "registry", "events", "system", "http", "http_client", "websocket" }) do
        local v = require(name)
        add("module " .. name .. " " .. describe(v))
        if type(v) == "table" then
            walk(name, v, 1)
        end
    end

    local logger = require("logger")
    methods("Logger", logger)
    local ch = channel.new()
    methods("Channel", ch)
    methods("Case", ch:case_receive())
    methods("Error", errors.new("x"))
    methods("Payload", payload.new(1))
    local now = time.now()
    methods("Time", now)
    methods("Duration", now:sub(now))
    if now.location then
        methods("Location", now:location())
    end
    if time.timer then
        local t = time.timer("1h")
        methods("Timer", t)
        t:stop()
        local k = time.ticker("1h")
        methods("Ticker", k)
        k:stop()
    end
    process.send(process.pid(), "self", 1)
    methods("Message", process.inbox():receive())
    methods("Spawner", process.with_context({}))
    methods("Executor", require("funcs").new())
    methods("Future", require("funcs").async("test.lib:double", 1))
    local registry = require("registry")
    local snap = registry.snapshot()
    methods("Snapshot", snap)
    methods("Version", snap:version())
    methods("Changes", snap:changes())
    local sub = require("events").subscribe("api.surface")
    methods("Subscription", sub)
    sub:close()
    for _, kind in ipairs({ "Request", "Response", "Stream" }) do
        for _, m in ipairs(__api_http_methods(kind)) do
            add("http." .. kind .. ":" .. m)
        end
    end

    io.print(table.concat(lines, "\n"))
end

return { main = main }
