-- SPEC 8.4: Go reference layouts for format and parse, layout constants, parse errors.

local function main()
    local utc = time.utc
    local t = time.date(2006, 1, 2, 15, 4, 5, 123456789, utc)
    assert(t:format(time.RFC3339) == "2006-01-02T15:04:05Z")
    assert(t:format(time.RFC3339NANO) == "2006-01-02T15:04:05.123456789Z")
    assert(t:format_rfc3339() == "2006-01-02T15:04:05Z")
    assert(t:format(time.KITCHEN) == "3:04PM")
    assert(t:format(time.DATE_TIME) == "2006-01-02 15:04:05")
    assert(t:format(time.DATE_ONLY) == "2006-01-02" and t:format(time.TIME_ONLY) == "15:04:05")
    assert(t:format(time.RFC1123) == "Mon, 02 Jan 2006 15:04:05 UTC", t:format(time.RFC1123))
    assert(t:format(time.RFC1123Z) == "Mon, 02 Jan 2006 15:04:05 +0000")
    assert(t:format(time.STAMP_MILLI) == "Jan  2 15:04:05.123")
    assert(t:format("Monday January _2 2006 03:04:05.000 pm -07:00") == "Monday January  2 2006 03:04:05.123 pm +00:00")
    assert(t:format("06/1/2 3 002 .999") == "06/1/2 3 002 .123")
    assert(time.date(2006, 1, 2, 15, 4, 5, 500000000, utc):format("05.999") == "05.5")
    assert(time.date(2006, 1, 2, 15, 4, 5, 0, utc):format("05.999") == "05")
    local plus = time.date(2006, 1, 2, 15, 4, 5, 0, time.fixed_zone("X", -7 * 3600))
    assert(plus:format("Z07:00 -0700 -07") == "-07:00 -0700 -07")

    -- parse
    local p = assert(time.parse(time.RFC3339, "2024-03-10T08:30:00+02:00"))
    assert(p:utc():hour() == 6 and p:minute() == 30)
    p = assert(time.parse(time.DATE_TIME, "2024-03-10 08:30:15", utc))
    assert(p:hour() == 8 and p:second() == 15 and p:location():string() == "UTC")
    p = assert(time.parse("2006-01-02 15:04:05", "2024-03-10 08:30:15.25", utc))
    assert(p:nanosecond() == 250000000, "fraction accepted after seconds")
    p = assert(time.parse("Jan 2, 2006 at 3:04pm (MST)", "Feb 3, 2013 at 7:54pm (UTC)"))
    assert(p:year() == 2013 and p:hour() == 19)
    -- round trip
    local again = assert(time.parse(time.RFC3339NANO, t:format(time.RFC3339NANO)))
    assert(again == t)

    -- errors
    local v, err = time.parse(time.RFC3339, "not a time")
    assert(v == nil and err:kind() == errors.INVALID, tostring(err))
    v, err = time.parse(time.DATE_ONLY, "2024-02-30")
    assert(v == nil and err:kind() == errors.INVALID, "day out of range")
    assert(not pcall(time.parse, 1, "x"), "layout must be a string")
end

return { main = main }
