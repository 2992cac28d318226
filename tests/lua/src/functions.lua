-- SPEC 2.6: function.lua entries called through `funcs`: call, async futures, executors,
-- target errors, error kinds passed through, timeouts, cancel, payload copying.

local funcs = require("funcs")

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function main()
    -- call
    assert(funcs.call("test.lib:double", 21) == 42)
    local v, err = funcs.call("test.lib:fail", "it broke")
    assert(v == nil and tostring(err):find("it broke", 1, true), tostring(err))
    v, err = funcs.call("test.lib:kinds", errors.CONFLICT)
    assert(v == nil and err:kind() == errors.CONFLICT and err:message() == "typed failure", tostring(err))

    -- target errors
    for target, msg in pairs({ [""] = "target empty", ["nocolon"] = "namespace missing", ["test.lib:"] = "name missing" }) do
        v, err = funcs.call(target)
        assert(v == nil and err:kind() == errors.INVALID and err:message() == msg, target .. ": " .. tostring(err))
    end
    v, err = funcs.call("test.lib:nope")
    assert(v == nil and err:kind() == errors.NOT_FOUND, tostring(err))
    v, err = funcs.call("test:functions")
    assert(v == nil and err:kind() == errors.NOT_FOUND, "a process entry is not a function")
    assert(not pcall(funcs.call, 42), "non-string target raises")

    -- arguments and results are copies; imports of the function entry are installed
    local t = { text = "abc" }
    local r = funcs.call("test.lib:echo_table", t)
    assert(r.seen == "ABC!" and r.mutated_here == true)
    assert(t.seen == nil and t.mutated_here == nil, "the caller's table is untouched")

    -- async: future API
    local f = assert(funcs.async("test.lib:double", 5))
    assert(tostring(f) == "funcs.Future")
    local ch = f:response()
    assert(f:channel() == ch, "same channel each call")
    local res, none = f:result()
    assert(res == nil and none == nil, "pending")
    assert(f:is_complete() == false and f:is_canceled() == false)
    local p, ok = ch:receive()
    assert(ok and p:data() == 10)
    assert(f:is_complete())
    assert(f:result():data() == 10)
    local e, failed = f:error()
    assert(e == nil and failed == false)

    -- async failure: the channel closes without a value
    f = assert(funcs.async("test.lib:fail", "async broke"))
    p, ok = f:response():receive()
    assert(p == nil and ok == false)
    e, failed = f:error()
    assert(failed and tostring(e):find("async broke", 1, true))
    res, err = f:result()
    assert(res == nil and tostring(err):find("async broke", 1, true))

    -- cancel
    f = assert(funcs.async("test.lib:slow", "2s"))
    assert(f:cancel() == true)
    assert(f:is_canceled())
    res, err = f:result()
    assert(res == nil and err:kind() == errors.CANCELED)
    assert(f:cancel() == true, "cancel twice is fine")

    -- executors: immutable builders, timeout option
    local ex = funcs.new()
    assert(tostring(ex) == "funcs.Executor")
    local timed = ex:with_options({ timeout = 30 }):with_context({ a = 1 }):with_actor({}):with_scope({})
    assert(timed ~= ex)
    assert(ex:call("test.lib:double", 2) == 4)
    assert(timed:call("test.lib:double", 3) == 6)
    -- (an hour-long call: only the timeout can end it before the test's deadline)
    v, err = timed:call("test.lib:slow", "1h")
    assert(v == nil and err:kind() == errors.TIMEOUT, tostring(err))
    f = assert(timed:async("test.lib:slow", "1h"))
    p, ok = f:response():receive()
    assert(ok == false and f:error():kind() == errors.TIMEOUT)
    assert(not pcall(ex.with_options, ex, "x"), "with_options needs a table")
    assert(not pcall(function() ex.x = 1 end), "executors are read-only")

    -- calls from a process host run there and may overlap (coroutines)
    local results = {}
    local finished = channel.new(3)
    for i = 1, 3 do
        coroutine.spawn(function()
            results[i] = funcs.call("test.lib:double", i)
            finished:send(i)
        end)
    end
    for _ = 1, 3 do
        recv(finished, "a call")
    end
    assert(results[1] == 2 and results[2] == 4 and results[3] == 6)
end

return { main = main }
