-- hog(mode, parent): allocates without bound in the way `mode` names, so it must end with an
-- out-of-memory error on a host with a small `memory_limit` (64 MB). "hold" takes 58 MB,
-- reports "held" to `parent` and blocks; "fits" allocates 24 MB, drops it, returns "fit".
-- "recurse" and "recurse_meta" recurse without end (Lua calls, a metamethod).
local function grow_table()
    local t = {}
    local i = 0
    while true do
        i += 1
        t[i] = { i, tostring(i) }
    end
end

-- Fails within one time slice, leaving only garbage behind: only the out-of-memory error
-- itself (not the VM's soft limit) can end a process that keeps catching it.
local function double()
    local s = "x"
    while true do
        s = s .. s
    end
end

local function main(mode, parent)
    if mode == "table" then
        grow_table()
    elseif mode == "string" then
        double()
    elseif mode == "rep" then
        local s = string.rep("x", 200 * 1024 * 1024)
        return #s
    elseif mode == "pcall_table" then
        while true do
            pcall(grow_table)
        end
    elseif mode == "pcall" then
        -- Swallowing the error must not keep the process alive.
        local caught = 0
        while true do
            local ok = pcall(double)
            if not ok then
                caught += 1
            end
        end
    elseif mode == "xpcall" then
        while true do
            xpcall(double, function(e)
                return e
            end)
        end
    elseif mode == "coroutine" then
        while true do
            local co = coroutine.create(double)
            coroutine.resume(co)
        end
    elseif mode == "wrap" then
        while true do
            pcall(coroutine.wrap(double))
        end
    elseif mode == "spawned" then
        -- The error is raised in a coroutine.spawn'ed coroutine.
        coroutine.spawn(grow_table)
        time.sleep("10s")
    elseif mode == "hold" then
        -- Takes 58 MB in one go (no garbage: each string is built directly), tells `parent`,
        -- then blocks holding it: the VM's soft limit must end it, as no allocation fails.
        local kept = {}
        for i = 1, 58 do
            kept[i] = string.rep(string.format("%04d", i), 256 * 1024)
        end
        process.send(parent, "held", #kept)
        process.inbox():receive()
        return #kept
    elseif mode == "recurse" then
        local function f(n)
            return 1 + f(n + 1)
        end
        return f(1)
    elseif mode == "recurse_meta" then
        local t = setmetatable({}, {})
        getmetatable(t).__index = function(self, k)
            return self[k]
        end
        return t.x
    elseif mode == "fits" then
        local t = {}
        for i = 1, 24 do
            t[i] = string.rep(string.char(64 + i), 1024 * 1024)
        end
        t = nil
        return "fit"
    end
    error("unknown mode " .. tostring(mode))
end

return { main = main }
