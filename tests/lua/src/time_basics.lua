-- SPEC 8.1 / 8.3: sleep, after, now, Time:sub, time.unix.

local function elapsed_ms(t0)
    return time.now():sub(t0):milliseconds()
end

local function expect_invalid(what, v, err)
    assert(v == nil, what .. ": expected nil, got " .. tostring(v))
    assert(err ~= nil and err:kind() == errors.INVALID, what .. ": " .. tostring(err))
end

local function main()
    -- sleep: string, number of nanoseconds, Duration value
    local t0 = time.now()
    local r = table.pack(time.sleep("20ms"))
    local ms = elapsed_ms(t0)
    assert(ms >= 19, "sleep 20ms took " .. ms)
    assert(r[1] == nil, "sleep returns nothing")
    t0 = time.now()
    time.sleep(15 * time.MILLISECOND)
    ms = elapsed_ms(t0)
    assert(ms >= 14, "sleep(number ns) took " .. ms)
    t0 = time.now()
    time.sleep(15e6 + 0.9) -- fraction truncated
    assert(elapsed_ms(t0) >= 14)
    t0 = time.now()
    time.sleep(time.parse_duration("15ms"))
    ms = elapsed_ms(t0)
    assert(ms >= 14, "sleep(Duration) took " .. ms)

    -- d <= 0 returns at once: it does not block, so no other coroutine runs meanwhile
    for _, d in ipairs({ 0, "0", "0s", -5, "-1s", time.parse_duration("-1ms") }) do
        local ran = false
        coroutine.spawn(function()
            ran = true
        end)
        local rr = table.pack(pcall(time.sleep, d))
        assert(rr[1] == true, "sleep(" .. tostring(d) .. ") raised: " .. tostring(rr[2]))
        assert(rr[2] == nil, "sleep(" .. tostring(d) .. ") returned " .. tostring(rr[2]))
        assert(not ran, "sleep(" .. tostring(d) .. ") returns at once")
        time.sleep("1ms")
        assert(ran)
    end

    -- bad input: nil, err INVALID, returned, not raised
    for _, d in ipairs({ "bogus", "", "5", "1d", "ms", {}, true }) do
        local ok, v, err = pcall(time.sleep, d)
        assert(ok, "sleep(" .. tostring(d) .. ") must not raise: " .. tostring(v))
        expect_invalid("sleep(" .. tostring(d) .. ")", v, err)
    end

    -- after: one Time value after d, then the channel is closed
    t0 = time.now()
    local ch = time.after("20ms")
    assert(type(ch) == "userdata")
    local v, ok = ch:receive()
    ms = elapsed_ms(t0)
    assert(ok == true and v ~= nil, "after delivers a value")
    assert(ms >= 19, "after 20ms took " .. ms)
    assert(type(v.unix) == "function" or type(v.sub) == "function", "the value is a Time")
    assert(v:sub(t0):milliseconds() >= 19 and not time.now():before(v), "the value is when it fired")
    v, ok = ch:receive()
    assert(v == nil and ok == false, "closed after firing once")
    v, ok = ch:receive()
    assert(v == nil and ok == false)
    -- after with a number and a Duration
    ch = assert(time.after(5 * time.MILLISECOND))
    assert(select(2, ch:receive()) == true)
    ch = assert(time.after(time.parse_duration("5ms")))
    assert(select(2, ch:receive()) == true)
    -- each call gives a fresh channel
    local a1, a2 = time.after("1s"), time.after("1s")
    assert(a1 ~= a2)

    -- after: d <= 0 or bad input -> nil, err INVALID
    for _, d in ipairs({ 0, "0", "0s", -1, "-5ms", "bogus", "", "5", "1d", {} }) do
        local okc, c, err = pcall(time.after, d)
        assert(okc, "after(" .. tostring(d) .. ") must not raise: " .. tostring(c))
        expect_invalid("after(" .. tostring(d) .. ")", c, err)
    end

    -- now and Time:sub
    local n1 = time.now()
    time.sleep("10ms")
    local n2 = time.now()
    local d = n2:sub(n1)
    assert(d:milliseconds() >= 9, "sub is self - t")
    assert(n1:sub(n2):milliseconds() <= -9, "negative the other way")
    assert(math.type(d:nanoseconds()) == "integer")
    assert(math.type(d:microseconds()) == "integer")
    assert(math.type(d:milliseconds()) == "integer")
    assert(d:microseconds() == d:nanoseconds() // 1000, "microseconds truncated")
    assert(d:milliseconds() == d:nanoseconds() // 1000000, "milliseconds truncated")
    assert(math.abs(d:seconds() - d:nanoseconds() / 1e9) < 1e-9)
    assert(math.abs(d:minutes() - d:nanoseconds() / 60e9) < 1e-12)
    assert(math.abs(d:hours() - d:nanoseconds() / 3600e9) < 1e-12)
    assert(d:seconds() > 0, "seconds() of a positive duration")
    assert(time.parse_duration("1500ms"):seconds() == 1.5, "seconds() is a float")
    assert(n1:sub(n1):nanoseconds() == 0)
    -- now agrees with os.time: both read the precise clock (C's time(2), which Luau's os.time
    -- called, lags it by up to a timer tick, so across a second boundary the two differed).
    local before = os.time()
    local now = time.now():unix()
    assert(before <= now and now <= os.time(), "time.now() agrees with os.time()")

    -- time.unix
    local t = time.unix(1700000000, 5)
    assert(t:unix() == 1700000000 and math.type(t:unix()) == "integer")
    assert(t:unix_nano() == 1700000000000000005, tostring(t:unix_nano()))
    assert(t:nanosecond() == 5)
    local u = t:utc()
    assert(u:year() == 2023 and u:month() == 11 and u:day() == 14, "date of 1700000000")
    assert(u:hour() == 22 and u:minute() == 13 and u:second() == 20, "clock of 1700000000")
    assert(time.unix(1700000000, 0):utc():format_rfc3339() == "2023-11-14T22:13:20Z",
        time.unix(1700000000, 0):utc():format_rfc3339())
    assert(time.unix(1700000001, 0):sub(t):nanoseconds() == 999999995)
    assert(time.unix(0, 0):unix() == 0)
end

return { main = main }
