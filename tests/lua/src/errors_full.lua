-- SPEC 9.3 in full: constructors and their argument errors, wrap chains, is, call_stack,
-- methods, tostring and concatenation, error()/pcall identity. Also SPEC 4.3: without
-- `modules: [uuid]` there is no uuid global.

local function raises(pattern, f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok, "expected an error matching " .. pattern)
    assert(tostring(err):find(pattern, 1, true), "got: " .. tostring(err))
end

local function make_here()
    return errors.new("made here")
end

local function main()
    assert(uuid == nil, "uuid is not installed unless listed")
    assert(not pcall(require, "uuid"))

    -- new: string form
    local e = errors.new("plain")
    assert(e:kind() == errors.UNKNOWN and e:message() == "plain" and e:retryable() == nil)
    -- SPEC 11.21: two strings where the first names a kind
    local t1 = errors.new("TIMEOUT", "took too long")
    assert(t1:kind() == errors.TIMEOUT and t1:message() == "took too long", t1:message())
    local t2 = errors.new("NotFound", "gone")
    assert(t2:kind() == errors.NOT_FOUND and t2:message() == "gone")
    assert(t2:retryable() == nil)
    local t3 = errors.new("just a message", "ignored")
    assert(t3:kind() == errors.UNKNOWN and t3:message() == "just a message")
    local t4 = errors.new("TIMEOUT")
    assert(t4:kind() == errors.UNKNOWN and t4:message() == "TIMEOUT", "one string is always the message")

    -- new: table form and its mistakes
    local d = errors.new({ message = "bad input", kind = errors.INVALID, retryable = false, details = { field = "email", list = { 1, 2 } } })
    assert(d:kind() == "Invalid" and d:retryable() == false and d:details().field == "email")
    assert(d:details().list[2] == 2)
    local k2 = errors.new({ message = "by constant name", kind = "RATE_LIMITED", retryable = true })
    assert(k2:kind() == errors.RATE_LIMITED and k2:retryable() == true)
    assert(errors.new({ message = "empty kind", kind = "" }):kind() == errors.UNKNOWN)
    -- details() gives a fresh copy each time
    local det = d:details()
    det.field = "changed"
    assert(d:details().field == "email")
    raises("message' is required", errors.new, { kind = errors.INVALID })
    raises("'message' must be a string", errors.new, { message = 42 })
    raises("unknown error kind 'Nope'", errors.new, { message = "x", kind = "Nope" })
    raises("'kind' must be a string", errors.new, { message = "x", kind = 1 })
    raises("'retryable' must be a boolean", errors.new, { message = "x", retryable = "yes" })
    raises("bad argument #1 to 'new' (string or table expected, got no value)", errors.new)
    raises("bad argument #1 to 'new' (string or table expected, got number)", errors.new, 5)

    -- stack: where the error was made
    local here = make_here()
    local st = here:stack()
    assert(type(st) == "string" and st:find("make_here", 1, true), tostring(st))

    -- call_stack: structured frames with source, line, name
    local cs = errors.call_stack(here)
    assert(type(cs) == "table" and type(cs.thread) == "string" and type(cs.frames) == "table")
    assert(#cs.frames >= 2, "frames: " .. #cs.frames)
    local top = cs.frames[1]
    assert(top.source == "test:errors_full", top.source)
    assert(top.line == 12, "line " .. tostring(top.line))
    assert(top.name == "make_here", tostring(top.name))
    assert(cs.frames[2].name == "main")
    for _, f in ipairs(cs.frames) do
        assert(type(f.source) == "string" and type(f.line) == "number" and type(f.name) == "string")
    end
    assert(errors.call_stack(nil) == nil)
    assert(errors.call_stack("a string") == nil)
    assert(errors.call_stack({}) == nil)

    -- wrap: nested chains keep kind, retryable, details; message "outer: inner"
    local base = errors.new({ message = "disk full", kind = errors.UNAVAILABLE, retryable = true, details = { dev = "sda" } })
    local w1 = errors.wrap(base, "saving")
    local w2 = errors.wrap(w1, "request 7")
    assert(tostring(w2) == "request 7: saving: disk full", tostring(w2))
    assert(w2:message() == "request 7: saving: disk full")
    assert(w2:kind() == errors.UNAVAILABLE and w2:retryable() == true and w2:details().dev == "sda")
    assert(errors.is(w2, errors.UNAVAILABLE) and not errors.is(w2, errors.INTERNAL))
    assert(errors.wrap(nil, "x") == nil)
    -- wrapping a plain string error
    local ws = errors.wrap("socket closed", "reading")
    assert(tostring(ws) == "reading: socket closed" and ws:kind() == errors.UNKNOWN)
    raises("bad argument #2 to 'wrap' (string expected, got no value)", errors.wrap, base)
    raises("bad argument #2 to 'wrap' (string expected, got table)", errors.wrap, base, {})

    -- is: kinds by value, unknown kinds and non-errors are false
    assert(errors.is(base, "Unavailable") and errors.is(base, errors.UNAVAILABLE))
    assert(errors.is(base, "NoSuchKind") == false)
    assert(errors.is(nil, errors.UNAVAILABLE) == false)
    assert(errors.is("text", errors.UNKNOWN) == false)
    assert(errors.is(e, "") == true)

    -- concatenation on both sides, with numbers too
    assert("[" .. base .. "]" == "[disk full]")
    assert(base .. 1 == "disk full1")
    assert(1 .. base == "1disk full")
    assert(w1 .. w1 == "saving: disk fullsaving: disk full")

    -- error() and pcall: the very same object comes back
    local ok, got = pcall(function() error(base) end)
    assert(not ok and rawequal(got, base), "same object through pcall")
    ok, got = pcall(function()
        local function lvl3() error(w2) end
        local function lvl2() lvl3() end
        lvl2()
    end)
    assert(not ok and rawequal(got, w2))
    -- xpcall hands the handler the object too
    ok, got = xpcall(function() error(base) end, function(err) return err end)
    assert(not ok and rawequal(got, base))
    -- error objects from the runtime behave the same
    local _, rerr = process.send("errors_full_nobody", "x")
    ok, got = pcall(error, rerr)
    assert(not ok and rawequal(got, rerr) and errors.is(got, errors.NOT_FOUND))

    -- constants are read-only
    assert(not pcall(function() errors.NOT_FOUND = "x" end))
    assert(errors.NOT_FOUND == "NotFound")
end

return { main = main }
