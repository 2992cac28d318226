-- SPEC 9.1 / 9.2 / 4.2: io outside a terminal host, io.args, logger methods, print.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local function main()
    local inbox = process.inbox()

    -- On the terminal host io works; the harness passes no positional arguments.
    local args = io.args()
    assert(type(args) == "table" and #args == 0 and next(args) == nil, "no exec arguments")
    assert(io.write("") == true, "io.write on the terminal")
    assert(io.flush() == true)
    assert(require("io") == io)

    -- Outside a terminal host: every call but args is nil, err UNAVAILABLE "no terminal context".
    local probe = assert(process.spawn("test.helpers:io_probe", "test:processes", process.pid()))
    local msg = recv(inbox, "io probe report")
    assert(msg:topic() == "io" and msg:from() == probe)
    local rep = msg:payload():data()
    assert(rep.args_type == "table" and next(rep.args) == nil, "io.args() is {} outside a terminal")
    assert(#rep.results == 7)
    for _, r in ipairs(rep.results) do
        assert(not r.raised, "io." .. r.name .. " raised: " .. tostring(r.err))
        assert(r.value == nil, "io." .. r.name .. " returned " .. tostring(r.value))
        assert(r.err ~= nil and type(r.err) == "userdata", "io." .. r.name .. ": error object, got " .. tostring(r.err))
        assert(r.err:kind() == errors.UNAVAILABLE, "io." .. r.name .. " kind " .. tostring(r.err:kind()))
        assert(r.err:message() == "no terminal context", "io." .. r.name .. ": " .. r.err:message())
    end

    -- logger: levels with and without fields; fields of every kind are accepted
    local logger = require("logger")
    assert(logger ~= nil and require("logger") == logger)
    local fields = {
        str = "s",
        int = 1,
        float = 1.5,
        bool = true,
        list = { 1, 2, 3 },
        obj = { a = { b = "c" } },
        err = errors.new("field error"),
        fn = function() end,
        ch = channel.new(),
    }
    for _, level in ipairs({ "debug", "info", "warn", "error" }) do
        assert(pcall(logger[level], logger, "message at " .. level), level .. " without fields")
        assert(pcall(logger[level], logger, "message at " .. level, fields), level .. " with fields")
        assert(pcall(logger[level], logger, "message at " .. level, {}), level .. " with empty fields")
    end
    assert(pcall(logger.error, logger, "failed", { error = errors.new("boom") }), "error field")
    assert(pcall(logger.info, logger, "own pid", { pid = "custom" }), "a field replacing a context field")

    -- with: a new logger, the original unchanged
    local withl = logger:with({ request = 7 })
    assert(withl ~= nil and withl ~= logger, "with returns a new logger")
    withl:info("with fields", { extra = true })
    local nested = withl:with({ more = "x" })
    assert(nested ~= withl)
    nested:warn("nested with")
    logger:info("original still works")

    -- named: a new logger, names extend; empty name raises
    local a = logger:named("a")
    assert(a ~= nil and a ~= logger)
    local ab = a:named("b")
    assert(ab ~= a)
    ab:info("named a.b", { k = "v" })
    ab:with({ w = 1 }):debug("named then with")
    local ok, err = pcall(logger.named, logger, "")
    assert(not ok and tostring(err):find("name cannot be empty", 1, true), tostring(err))
    ok, err = pcall(a.named, a, "")
    assert(not ok and tostring(err):find("name cannot be empty", 1, true), tostring(err))

    -- print exists and logs (to stderr), never raising, whatever the arguments
    assert(type(print) == "function")
    assert(pcall(print, "a", 1, 2.5, nil, true, {}, errors.new("e")))
    assert(pcall(print))
end

return { main = main }
