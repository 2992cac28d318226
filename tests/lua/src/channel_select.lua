-- SPEC 7.2 / 7.3: select order, default, send cases, result fields, closed channels, timeouts.

local function ready(v)
    local ch = channel.new(1)
    ch:send(v)
    return ch
end

local function main()
    -- the first ready case in array order wins, whatever the creation order
    local a, b = ready("a"), ready("b")
    local r = channel.select({ a:case_receive(), b:case_receive() })
    assert(r.channel == a and rawequal(r.channel, a), "first listed ready case")
    assert(r.value == "a" and r.ok == true and r.default == nil)
    a:send("a2")
    r = channel.select({ b:case_receive(), a:case_receive() })
    assert(r.channel == b and r.value == "b", "order follows the array")
    -- exactly one case ran: a still holds its value
    r = channel.select({ a:case_receive(), default = true })
    assert(r.channel == a and r.value == "a2")

    -- a case that is not ready is skipped for a later ready one
    local empty = channel.new()
    local c = ready(3)
    r = channel.select({ empty:case_receive(), c:case_receive() })
    assert(r.channel == c and r.value == 3 and r.ok == true)

    -- default: as a field ...
    r = channel.select({ empty:case_receive(), default = true })
    assert(r.default == true and r.ok == true and r.channel == nil and r.value == nil)
    -- ... or as a second positional true
    r = channel.select({ empty:case_receive() }, true)
    assert(r.default == true and r.ok == true)
    -- default is not taken when a case is ready
    local d = ready("x")
    r = channel.select({ empty:case_receive(), d:case_receive() }, true)
    assert(r.default == nil and r.channel == d and r.value == "x")
    r = channel.select({}, true)
    assert(r.default == true, "no cases, default")

    -- case_send: runs when there is room; value is the sent value
    local s = channel.new(1)
    r = channel.select({ s:case_send(42) })
    assert(r.channel == s and r.value == 42 and r.ok == true)
    assert(s:receive() == 42)
    -- a full channel's send case is not ready
    s:send("fill")
    r = channel.select({ s:case_send("no room"), default = true })
    assert(r.default == true)
    assert(s:receive() == "fill")
    -- an unbuffered send case runs once a receiver waits
    local un = channel.new()
    local received
    coroutine.spawn(function()
        received = un:receive()
    end)
    time.sleep("5ms")
    r = channel.select({ empty:case_receive(), un:case_send("hand-off") })
    assert(r.channel == un and r.value == "hand-off" and r.ok == true)
    time.sleep("1ms")
    assert(received == "hand-off")
    -- an unbuffered send case with nobody receiving is not ready
    r = channel.select({ un:case_send("nobody"), default = true })
    assert(r.default == true)

    -- a blocking select wakes when a case becomes ready, and runs exactly that case
    local late = channel.new()
    coroutine.spawn(function()
        time.sleep("10ms")
        late:send("late value")
    end)
    local t0 = time.now()
    r = channel.select({ empty:case_receive(), late:case_receive() })
    assert(r.channel == late and r.value == "late value" and r.ok == true)
    assert(time.now():sub(t0):milliseconds() >= 8, "select waited")

    -- a closed channel's receive case is always ready: value nil, ok false
    local closed = channel.new()
    closed:close()
    r = channel.select({ empty:case_receive(), closed:case_receive() })
    assert(r.channel == closed and r.value == nil and r.ok == false)
    r = channel.select({ closed:case_receive(), default = true })
    assert(r.default == nil and r.channel == closed and r.ok == false)
    -- closed with buffered values: the values first
    local cb = ready("buffered")
    cb:close()
    r = channel.select({ cb:case_receive() })
    assert(r.value == "buffered" and r.ok == true)
    r = channel.select({ cb:case_receive() })
    assert(r.value == nil and r.ok == false)
    -- a send case on a closed channel raises
    assert(not pcall(channel.select, { closed:case_send(1) }), "send case on closed raises")
    assert(not pcall(channel.select, { closed:case_send(1), default = true }), "even with default")
    -- a select blocked on a channel that gets closed wakes with ok = false
    local tbc = channel.new()
    coroutine.spawn(function()
        time.sleep("5ms")
        tbc:close()
    end)
    r = channel.select({ tbc:case_receive() })
    assert(r.channel == tbc and r.ok == false and r.value == nil)

    -- non-case elements raise "invalid case"
    local ok, err = pcall(channel.select, { 1 })
    assert(not ok and tostring(err):find("invalid case", 1, true), tostring(err))
    ok, err = pcall(channel.select, { empty:case_receive(), "nope" })
    assert(not ok and tostring(err):find("invalid case", 1, true), tostring(err))
    ok, err = pcall(channel.select, { {} })
    assert(not ok and tostring(err):find("invalid case", 1, true), tostring(err))
    ok, err = pcall(channel.select, { empty })
    assert(not ok and tostring(err):find("invalid case", 1, true), "a channel is not a case: " .. tostring(err))
    assert(not pcall(channel.select), "no table raises")

    -- the timeout idiom: a fresh time.after next to the real source
    t0 = time.now()
    local timeout = time.after("20ms")
    r = channel.select({ empty:case_receive(), timeout:case_receive() })
    assert(r.channel == timeout and r.channel ~= empty and r.ok == true)
    local waited = time.now():sub(t0):milliseconds()
    assert(waited >= 18, "the timeout came no sooner than 20ms: " .. waited)
    -- the source wins when it is ready first
    local src = ready("job")
    r = channel.select({ src:case_receive(), time.after("1s"):case_receive() })
    assert(r.channel == src and r.value == "job")
    -- many unfired timers are fine (they are cleaned up)
    for _ = 1, 200 do
        channel.select({ ready(1):case_receive(), time.after("10s"):case_receive() })
    end
end

return { main = main }
