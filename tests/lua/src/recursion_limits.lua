-- Issue 4: recursion without end is a "stack overflow" error of the process that recursed,
-- catchable by pcall; uncaught, it ends only that process.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function overflows(f, what)
    local ok, err = pcall(f)
    assert(not ok, what .. " should fail")
    assert(tostring(err):find("stack overflow", 1, true), what .. ": " .. tostring(err))
end

local function main()
    local inbox, events = process.inbox(), process.events()

    overflows(function()
        local function f(n)
            return 1 + f(n + 1)
        end
        return f(1)
    end, "Lua recursion")
    overflows(function()
        -- Luau has no proper tail calls: a tail call still takes a frame
        local function f(n)
            return f(n + 1)
        end
        return f(1)
    end, "tail recursion")
    overflows(function()
        local t = setmetatable({}, {})
        getmetatable(t).__index = function(self, k)
            return self[k]
        end
        return t.x
    end, "__index recursion")
    overflows(function()
        local t = setmetatable({}, {})
        getmetatable(t).__tostring = function(self)
            return tostring(self)
        end
        return tostring(t)
    end, "__tostring recursion")
    overflows(function()
        local function f(s)
            return (s:gsub(".", f))
        end
        return f("ab")
    end, "gsub recursion")
    overflows(function()
        local function cmp(a, b)
            table.sort({ 3, 2, 1 }, cmp)
            return a < b
        end
        table.sort({ 3, 2, 1 }, cmp)
    end, "sort comparator recursion")
    -- recursion through pcall and coroutines ends too (with an error or a false status)
    local depth = 0
    local function p()
        depth += 1
        return pcall(p)
    end
    p()
    assert(depth > 100, "pcall recursion went " .. depth .. " deep")
    local nested = 0
    local function c()
        nested += 1
        return coroutine.resume(coroutine.create(c))
    end
    c()
    assert(nested > 100, "coroutine recursion went " .. nested .. " deep")
    -- the process is fine afterwards
    assert(("ok"):upper() == "OK")

    -- uncaught: only the recursing process ends; its neighbour on the worker carries on
    local echo = assert(process.spawn("test.helpers:echo", "test:other"))
    for _, mode in ipairs({ "recurse", "recurse_meta" }) do
        local pid = assert(process.spawn_monitored("test.helpers:hog", "test:other", mode))
        local ev = recv(events, "EXIT of " .. mode)
        assert(ev.from == pid and ev.result.error, mode .. " must fail")
        assert(tostring(ev.result.error):find("stack overflow", 1, true), mode .. ": " .. tostring(ev.result.error))
        process.send(echo, "ping", mode)
        assert(recv(inbox, "echo"):payload():data() == mode, "neighbour answers after " .. mode)
    end
    process.terminate(echo)
end

return { main = main }
