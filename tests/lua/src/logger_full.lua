-- SPEC 9.2: logger API contract (the printed lines are checked by tests/it/logging.rs).

local function raises(pattern, f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok, "expected an error matching " .. pattern)
    assert(tostring(err):find(pattern, 1, true), "got: " .. tostring(err))
end

local function main()
    local log = require("logger")
    assert(logger == log, "the module is also the global 'logger'")

    -- every level returns nothing and accepts no fields, nil fields, empty fields
    for _, level in ipairs({ "debug", "info", "warn", "error" }) do
        assert(select("#", log[level](log, "m")) == 0, level)
        log[level](log, "m", nil)
        log[level](log, "m", {})
        -- a non-string message is converted with tostring
        log[level](log, 42)
        log[level](log, errors.new("as message"))
    end

    -- argument mistakes raise, naming the method and argument, whatever the level filter
    raises("bad argument #1 to 'info' (string expected, got no value)", log.info, log)
    raises("bad argument #1 to 'debug' (string expected, got no value)", log.debug, log, nil)
    raises("bad argument #2 to 'warn' (table expected, got string)", log.warn, log, "m", "f")
    raises("bad argument #2 to 'debug' (table expected, got number)", log.debug, log, "m", 3)
    raises("bad argument #2 to 'error' (field names must be strings, got number)", log.error, log, "m", { "a" })
    raises("bad argument #1 to 'with' (table expected, got string)", log.with, log, "x")
    raises("bad argument #1 to 'with' (field names must be strings", log.with, log, { [true] = 1 })
    raises("name cannot be empty", log.named, log, "")
    raises("bad argument #1 to 'named' (string expected, got number)", log.named, log, 5)
    raises("bad argument #1 to 'named' (string expected, got no value)", log.named, log)

    -- with and named return new loggers and leave the original alone
    local a = log:named("a")
    local ab = a:named("b")
    local w = ab:with({ k = 1 })
    assert(a ~= log and ab ~= a and w ~= ab)
    assert(type(a) == "userdata" and type(w) == "userdata")
    w:info("ok")
    log:with({}):info("empty with")
    log:with(nil):info("nil with")

    -- every kind of field value is accepted
    local cyc = {}
    cyc.self = cyc
    log:info("fields", {
        s = "x", n = 1, f = 0.5, b = false, t = { 1, { 2 } }, o = { a = 1 },
        e = errors.new("x"), fn = print, co = coroutine.create(function() end),
        cyc = cyc, nan = 0 / 0, inf = math.huge,
    })
end

return { main = main }
