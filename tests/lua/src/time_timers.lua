-- SPEC 8.1: timers (stop, reset) and tickers (ticks, drop policy, stop).

local function ms_since(t0)
    return time.now():sub(t0):milliseconds()
end

local function main()
    -- a timer fires once, no earlier than asked
    local t0 = time.now()
    local timer = assert(time.timer("20ms"))
    assert(timer:response() == timer:channel(), "same channel each call")
    local v, ok = timer:response():receive()
    assert(ok and ms_since(t0) >= 19)
    assert(type(v:unix()) == "number", "a Time value")
    assert(timer:stop() == false, "already fired")

    -- stop before firing: nothing arrives
    timer = assert(time.timer("20ms"))
    assert(timer:stop() == true)
    local r = channel.select({ timer:channel():case_receive(), time.after("60ms"):case_receive() })
    assert(r.channel ~= timer:channel(), "a stopped timer never fires")

    -- reset re-arms
    timer = assert(time.timer("1h"))
    t0 = time.now()
    timer:reset("20ms")
    timer:channel():receive()
    local waited = ms_since(t0)
    assert(waited >= 19, waited)
    assert(not pcall(timer.reset, timer, 0), "reset needs a positive duration")

    -- a ticker ticks until stopped
    local ticker = assert(time.ticker("10ms"))
    local ch = ticker:channel()
    for _ = 1, 3 do
        assert(select(2, ch:receive()))
    end
    assert(ticker:stop() == true)
    time.sleep("30ms")
    while true do
        local x = channel.select({ ch:case_receive(), default = true })
        if x.default then
            break
        end
    end
    r = channel.select({ ch:case_receive(), time.after("40ms"):case_receive() })
    assert(r.channel ~= ch, "a stopped ticker never ticks")

    -- a slow reader: at most 16 ticks buffered
    ticker = assert(time.ticker("1ms"))
    time.sleep("60ms")
    local n = 0
    while n < 100 and not channel.select({ ticker:channel():case_receive(), default = true }).default do
        n = n + 1
    end
    ticker:stop()
    assert(n >= 1 and n <= 17, "buffered ticks: " .. n)

    -- closing an `after` channel before it fires drops the tick; the process lives on
    local early = time.after("10ms")
    early:close()
    time.sleep("30ms")
    local _, open = early:receive()
    assert(open == false, "closed stays closed")

    -- bad durations
    local x, err = time.timer(0)
    assert(x == nil and err:kind() == errors.INVALID)
    x, err = time.ticker("soon")
    assert(x == nil and err:kind() == errors.INVALID)
    x, err = time.after(-1)
    assert(x == nil and err:kind() == errors.INVALID)
end

return { main = main }
