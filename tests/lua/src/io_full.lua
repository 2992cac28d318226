-- SPEC 9.1 on the terminal host, with stdin an empty pipe (as the test harness runs it).

local function raises(pattern, f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok, "expected an error matching " .. pattern)
    assert(tostring(err):find(pattern, 1, true), "got: " .. tostring(err))
end

local function main()
    assert(require("io") == io)
    -- writes return true; every value goes through tostring
    assert(io.write() == true)
    assert(io.write("") == true)
    assert(io.print() == true)
    assert(io.eprint() == true)
    assert(io.flush() == true)
    local ok, err = io.write({}, print)
    assert(ok == true and err == nil)

    -- args: an array of strings, empty here
    local args = io.args()
    assert(type(args) == "table" and #args == 0)
    assert(io.args() ~= args, "a fresh table each call")

    -- end of input: nil, err (not retryable-specific, message EOF), for both reads, repeatedly
    for _ = 1, 2 do
        local line, lerr = io.readline()
        assert(line == nil and lerr ~= nil and lerr:message() == "EOF", tostring(lerr))
        local data, derr = io.read(16)
        assert(data == nil and derr:message() == "EOF")
    end
    -- reads block only the calling coroutine: two coroutines read at once
    local ch = channel.new(2)
    coroutine.spawn(function() ch:send({ io.readline() }) end)
    coroutine.spawn(function() ch:send({ io.read() }) end)
    for _ = 1, 2 do
        local r = ch:receive()
        assert(r[1] == nil and r[2]:message() == "EOF")
    end

    -- raw mode needs a terminal on stdin: a pipe gives nil, err UNAVAILABLE, and the
    -- reference count is not taken
    local rok, rerr = io.raw(true)
    assert(rok == nil and rerr:kind() == errors.UNAVAILABLE, tostring(rerr))
    assert(rerr:message():find("not a terminal", 1, true), rerr:message())
    -- switching off what was never on is fine
    assert(io.raw(false) == true)

    -- argument mistakes raise, naming the function
    raises("bad argument #1 to 'read' (number expected, got string)", io.read, "10")
    raises("bad argument #1 to 'read' (number expected, got table)", io.read, {})
    raises("bad argument #1 to 'raw' (boolean expected, got number)", io.raw, 1)
    raises("bad argument #1 to 'raw' (boolean expected, got string)", io.raw, "on")

    -- the module table is read-only
    assert(not pcall(function() io.write = nil end))
end

return { main = main }
