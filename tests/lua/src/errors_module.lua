-- SPEC 9.3: the errors global.

local function main()
    -- kind constants, exactly Wippy's values
    assert(errors.NOT_FOUND == "NotFound")
    assert(errors.ALREADY_EXISTS == "AlreadyExists")
    assert(errors.INVALID == "Invalid")
    assert(errors.PERMISSION_DENIED == "PermissionDenied")
    assert(errors.UNAVAILABLE == "Unavailable")
    assert(errors.INTERNAL == "Internal")
    assert(errors.CANCELED == "Canceled")
    assert(errors.CONFLICT == "Conflict")
    assert(errors.TIMEOUT == "Timeout")
    assert(errors.RATE_LIMITED == "RateLimited")
    assert(errors.UNKNOWN == "")

    -- new(string): kind UNKNOWN, retryable unknown
    local e = errors.new("plain text")
    assert(type(e) == "userdata", type(e))
    assert(e:message() == "plain text")
    assert(e:kind() == errors.UNKNOWN and e:kind() == "")
    assert(e:retryable() == nil, "retryable unknown: " .. tostring(e:retryable()))
    assert(e:details() == nil)
    assert(tostring(e) == "plain text")
    -- stack(): a traceback string for raised errors (see process_spawn); spec leaves open
    -- whether errors.new captures one, so only the type is checked here
    local st = e:stack()
    assert(st == nil or type(st) == "string")

    -- new(table)
    local t = errors.new({ message = "no user", kind = errors.NOT_FOUND, retryable = false, details = { id = 42, tags = { "a" } } })
    assert(t:message() == "no user" and tostring(t) == "no user")
    assert(t:kind() == errors.NOT_FOUND)
    assert(t:retryable() == false)
    local det = t:details()
    assert(type(det) == "table" and det.id == 42 and det.tags[1] == "a")
    local r = errors.new({ message = "later", kind = errors.TIMEOUT, retryable = true })
    assert(r:retryable() == true and r:details() == nil)
    local k = errors.new({ message = "kind only" })
    assert(k:kind() == errors.UNKNOWN and k:retryable() == nil)
    -- message is required
    local ok, res = pcall(errors.new, { kind = errors.INVALID })
    assert(not ok or res == nil, "new{} without message must not make an error")

    -- wrap: "context: inner", same kind / retryable / details
    local w = errors.wrap(t, "loading profile")
    assert(w ~= t)
    assert(tostring(w) == "loading profile: no user", tostring(w))
    assert(w:message() == "loading profile: no user", w:message())
    assert(w:kind() == errors.NOT_FOUND)
    assert(w:retryable() == false)
    assert(w:details() and w:details().id == 42)
    local ww = errors.wrap(w, "handler")
    assert(tostring(ww) == "handler: loading profile: no user", tostring(ww))
    assert(ww:kind() == errors.NOT_FOUND)
    assert(errors.wrap(r, "ctx"):retryable() == true)
    assert(tostring(t) == "no user", "wrapping leaves the inner error unchanged")
    -- wrap(nil) is nil
    assert(errors.wrap(nil, "ctx") == nil)
    assert(select("#", errors.wrap(nil, "ctx")) >= 1)

    -- is: through wraps
    assert(errors.is(t, errors.NOT_FOUND) == true)
    assert(errors.is(w, errors.NOT_FOUND) == true)
    assert(errors.is(ww, errors.NOT_FOUND) == true)
    assert(errors.is(ww, errors.INVALID) == false)
    assert(errors.is(e, errors.UNKNOWN) == true)
    assert(errors.is(e, errors.TIMEOUT) == false)
    assert(errors.is(errors.wrap(r, "x"), errors.TIMEOUT) == true)

    -- tostring and concatenation
    assert("error: " .. t == "error: no user")
    assert(t .. "!" == "no user!")
    assert(w .. "" == "loading profile: no user")

    -- error() with an error object keeps it: pcall returns the object with its kind
    ok, res = pcall(error, t)
    assert(not ok and type(res) == "userdata", type(res))
    assert(res:kind() == errors.NOT_FOUND and res:message() == "no user")
    ok, res = pcall(function()
        local function deep()
            error(errors.new({ message = "deep", kind = errors.CONFLICT }))
        end
        deep()
    end)
    assert(not ok and res:kind() == errors.CONFLICT and res:message() == "deep")
    assert(errors.is(res, errors.CONFLICT))
    -- rethrowing keeps it too
    ok, res = pcall(function()
        local ok2, inner = pcall(error, w)
        assert(not ok2)
        error(inner)
    end)
    assert(not ok and res:kind() == errors.NOT_FOUND and tostring(res) == "loading profile: no user")
    -- error(string) stays a string
    ok, res = pcall(error, "just text", 0)
    assert(not ok and res == "just text")

    -- runtime errors are error objects with kinds too
    local nope, serr = process.send("errors_test_nobody", "x")
    assert(nope == nil and errors.is(serr, errors.NOT_FOUND) and serr:retryable() == false)

    -- call_stack: a table with frames, or nil
    local cs = errors.call_stack(t)
    assert(cs == nil or type(cs.frames) == "table", "call_stack shape")
end

return { main = main }
