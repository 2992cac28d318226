-- SPEC 8.2 / 8.3: parse_duration, Duration methods, Go-style tostring, constants.

local function dur(s)
    local d, err = time.parse_duration(s)
    assert(d, "parse_duration(" .. tostring(s) .. "): " .. tostring(err))
    return d
end

local function main()
    -- valid forms
    local cases = {
        { "1h30m", 5400 * 1000000000 },
        { "1.5s", 1500000000 },
        { ".5ms", 500000 },
        { "-2m", -120 * 1000000000 },
        { "0", 0 },
        { "0s", 0 },
        { "1ns", 1 },
        { "1us", 1000 },
        { "1µs", 1000 }, -- U+00B5 micro sign
        { "1μs", 1000 }, -- U+03BC greek mu
        { "250ms", 250000000 },
        { "+5s", 5000000000 },
        { "2h45m30.5s", (2 * 3600 + 45 * 60 + 30) * 1000000000 + 500000000 },
        { "1h2m3s4ms5us6ns", 3723004005006 },
        { "1.0000001s", 1000000100 },
        { "100h", 360000 * 1000000000 },
    }
    for _, c in ipairs(cases) do
        local d = dur(c[1])
        assert(d:nanoseconds() == c[2],
            c[1] .. ": expected " .. string.format("%d", c[2]) .. ", got " .. tostring(d:nanoseconds()))
    end
    -- a number is nanoseconds (fraction truncated); a Duration is taken as is
    assert(dur(1500):nanoseconds() == 1500)
    assert(dur(1500.9):nanoseconds() == 1500)
    assert(dur(dur("3s")):nanoseconds() == 3000000000)

    -- invalid forms: nil, err INVALID
    for _, s in ipairs({ "", "5", "1d", "abc", "s", "-", "1.5", "1 s", "1sm", "--1s", "1e3s", ".s" }) do
        local d, err = time.parse_duration(s)
        assert(d == nil, "parse_duration('" .. s .. "') should fail")
        assert(err ~= nil and err:kind() == errors.INVALID, "'" .. s .. "': " .. tostring(err))
    end

    -- out of the int64 nanosecond range
    local big, berr = time.parse_duration("9999999h")
    assert(big == nil and berr:kind() == errors.INVALID, "overflow: " .. tostring(berr))

    -- conversions: integers truncated toward zero, floats exact
    local d = dur("1h30m")
    assert(d:nanoseconds() == 5400000000000 and math.type(d:nanoseconds()) == "integer")
    assert(d:microseconds() == 5400000000)
    assert(d:milliseconds() == 5400000)
    assert(d:seconds() == 5400)
    assert(d:minutes() == 90)
    assert(d:hours() == 1.5)
    d = dur("1500ns")
    assert(d:microseconds() == 1 and d:milliseconds() == 0)
    assert(d:seconds() == 1.5e-6)
    d = dur("-1500us")
    assert(d:milliseconds() == -1, "truncated toward zero: " .. tostring(d:milliseconds()))
    assert(d:microseconds() == -1500)
    d = dur("90s")
    assert(d:minutes() == 1.5 and math.type(d:minutes()) == "float")
    assert(dur("45m"):hours() == 0.75)

    -- tostring: Go style
    local printed = {
        { "1h30m", "1h30m0s" },
        { "250ms", "250ms" },
        { "0", "0s" },
        { "1.5s", "1.5s" },
        { "-2m", "-2m0s" },
        { "2h", "2h0m0s" },
        { "90s", "1m30s" },
        { "1us", "1µs" },
        { "100ns", "100ns" },
        { "1.5ms", "1.5ms" },
        { "1h2m3.004005006s", "1h2m3.004005006s" },
        { "-1.5s", "-1.5s" },
        { "3600.5s", "1h0m0.5s" },
        { "1000ns", "1µs" },
        { "999ns", "999ns" },
        { "1m0.000001s", "1m0.000001s" },
        { "-0s", "0s" },
    }
    for _, c in ipairs(printed) do
        assert(tostring(dur(c[1])) == c[2], c[1] .. " printed as " .. tostring(dur(c[1])) .. ", want " .. c[2])
    end

    -- constants (nanoseconds)
    assert(time.NANOSECOND == 1)
    assert(time.MICROSECOND == 1000)
    assert(time.MILLISECOND == 1000000)
    assert(time.SECOND == 1000000000)
    assert(time.MINUTE == 60000000000)
    assert(time.HOUR == 3600000000000)
    assert(math.type(time.SECOND) == "integer")
    assert(dur("1h"):nanoseconds() == time.HOUR)
    local months = { "JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST",
        "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER" }
    for i, m in ipairs(months) do
        assert(time[m] == i, m)
    end
    local days = { "SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY" }
    for i, w in ipairs(days) do
        assert(time[w] == i - 1, w)
    end
    local layouts = {
        RFC3339 = "2006-01-02T15:04:05Z07:00",
        RFC3339NANO = "2006-01-02T15:04:05.999999999Z07:00",
        RFC822 = "02 Jan 06 15:04 MST",
        RFC822Z = "02 Jan 06 15:04 -0700",
        RFC850 = "Monday, 02-Jan-06 15:04:05 MST",
        RFC1123 = "Mon, 02 Jan 2006 15:04:05 MST",
        RFC1123Z = "Mon, 02 Jan 2006 15:04:05 -0700",
        KITCHEN = "3:04PM",
        STAMP = "Jan _2 15:04:05",
        STAMP_MILLI = "Jan _2 15:04:05.000",
        STAMP_MICRO = "Jan _2 15:04:05.000000",
        STAMP_NANO = "Jan _2 15:04:05.000000000",
        DATE_TIME = "2006-01-02 15:04:05",
        DATE_ONLY = "2006-01-02",
        TIME_ONLY = "15:04:05",
    }
    for k, v in pairs(layouts) do
        assert(time[k] == v, k .. " = " .. tostring(time[k]))
    end
end

return { main = main }
