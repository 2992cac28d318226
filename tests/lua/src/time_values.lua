-- SPEC 8.1-8.2: Time values, calendar arithmetic, locations; fixed inputs, zone-independent.

local function main()
    local utc = time.utc
    assert(utc:string() == "UTC" and time.localtz:string() == "Local")

    -- date / unix / getters
    local t = time.date(2024, 2, 29, 13, 4, 5, 123456789, utc)
    assert(t:year() == 2024 and t:month() == 2 and t:day() == 29)
    assert(t:hour() == 13 and t:minute() == 4 and t:second() == 5 and t:nanosecond() == 123456789)
    assert(t:weekday() == time.THURSDAY and t:year_day() == 60)
    local y, m, d = t:date()
    assert(y == 2024 and m == 2 and d == 29)
    local h, mi, s = t:clock()
    assert(h == 13 and mi == 4 and s == 5)
    assert(t:unix() == 1709211845)
    assert(t:unix_nano() == 1709211845123456789)
    local u = time.unix(1709211845, 123456789):in_location(utc)
    assert(u:equal(t) and u == t)

    -- normalisation: month 13, day 0, second 60
    local n = time.date(2023, 13, 1, 0, 0, 0, 0, utc)
    assert(n:year() == 2024 and n:month() == 1 and n:day() == 1)
    n = time.date(2024, 3, 0, 0, 0, 0, 0, utc)
    assert(n:month() == 2 and n:day() == 29)
    n = time.date(2024, 1, 1, 23, 59, 60, 0, utc)
    assert(n:day() == 2 and n:hour() == 0)

    -- arithmetic and comparison
    local later = t:add("1h30m")
    assert(later:sub(t):minutes() == 90)
    assert(t:add(time.SECOND):sub(t):seconds() == 1)
    assert(t:add(later:sub(t)) == later)
    assert(t:before(later) and later:after(t) and not t:equal(later))
    assert(t < later and t <= later and not (later < t))
    local nextyear = t:add_date(1, 0, 0)
    assert(nextyear:year() == 2025 and nextyear:month() == 3 and nextyear:day() == 1, tostring(nextyear))
    assert(t:add_date(0, -2, 0):month() == 12)

    -- rounding
    local r = time.date(2024, 1, 1, 10, 29, 31, 0, utc)
    assert(r:truncate(time.parse_duration("1h")):hour() == 10)
    assert(r:round(time.parse_duration("1h")):hour() == 10)
    assert(r:round(time.parse_duration("1m")):minute() == 30)
    assert(not pcall(r.round, r, "1h"), "round needs a Duration value")

    -- locations
    local paris = assert(time.load_location("Europe/Paris"))
    assert(paris:string() == "Europe/Paris")
    local summer = time.date(2024, 7, 1, 12, 0, 0, 0, paris)
    assert(summer:utc():hour() == 10, "CEST is UTC+2")
    assert(summer:in_location(utc):hour() == 10 and summer:location():string() == "Europe/Paris")
    local fixed = time.fixed_zone("PLUS3", 3 * 3600)
    assert(fixed:string() == "PLUS3")
    assert(time.date(2024, 1, 1, 3, 0, 0, 0, fixed):utc():hour() == 0)
    assert(summer:in_local():equal(summer))
    local loc, err = time.load_location("")
    assert(loc == nil and err:kind() == errors.INVALID)
    loc, err = time.load_location("Nowhere/Special")
    assert(loc == nil and err:kind() == errors.NOT_FOUND)
    local fz
    fz, err = time.fixed_zone("BAD", 100 * 3600)
    assert(fz == nil and err:kind() == errors.INVALID)

    -- zero time and misuse
    assert(not t:is_zero())
    assert(time.date(1, 1, 1, 0, 0, 0, 0, utc):is_zero())
    assert(not pcall(time.date, "x", 1, 1))
    assert(not pcall(t.add_date, t, 1.5, 0, 0))
    assert(not pcall(t.before, t, 5))

    -- Durations print Go style
    assert(tostring(time.parse_duration("1h30m")) == "1h30m0s")
    assert(tostring(time.parse_duration("250ms")) == "250ms")
    assert(tostring(t:sub(t)) == "0s")
end

return { main = main }
