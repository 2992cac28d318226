local time = require("time")

local function main()
    -- buffered channel
    local ch = channel.new(2)
    assert(ch:send(1))
    assert(ch:send(2))
    local v, ok = ch:receive()
    assert(v == 1 and ok == true)

    -- unbuffered hand-off between coroutines
    local un = channel.new()
    coroutine.spawn(function()
        un:send("hello")
    end)
    v, ok = un:receive()
    assert(v == "hello" and ok)

    -- select with default
    local empty = channel.new()
    local r = channel.select({ empty:case_receive(), default = true })
    assert(r.default == true and r.ok == true)

    -- timeout idiom
    local t0 = time.now()
    r = channel.select({ empty:case_receive(), time.after("20ms"):case_receive() })
    assert(r.channel ~= empty)
    assert(time.now():sub(t0):milliseconds() >= 15)

    -- close wakes receivers
    local c = channel.new()
    coroutine.spawn(function()
        c:close()
    end)
    v, ok = c:receive()
    assert(v == nil and ok == false)
end

return { main = main }
