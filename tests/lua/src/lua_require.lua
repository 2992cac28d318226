-- SPEC 4.3: modules gated by `modules:`, require. This entry lists only `logger`.

local function raises(f, text)
    local ok, err = pcall(f)
    assert(not ok, "should raise: " .. text)
    assert(tostring(err):find(text, 1, true), tostring(err))
end

local function main()
    -- a listed module is a global of that name, and require returns it
    assert(logger ~= nil, "listed module installed as a global")
    assert(require("logger") == logger)
    assert(require("logger") == require("logger"), "same value each time")

    -- unlisted gated modules are absent and require raises
    assert(time == nil and io == nil and funcs == nil and uuid == nil)
    raises(function() return require("time") end, "module 'time' not found")
    raises(function() return require("io") end, "module 'io' not found")
    raises(function() return require("funcs") end, "module 'funcs' not found")
    raises(function() return require("uuid") end, "module 'uuid' not found")
    raises(function() return require("no_such_module") end, "module 'no_such_module' not found")
    raises(function() return require("json") end, "module 'json' not found")

    -- globals always work through require
    assert(require("string") == string)
    assert(require("table") == table)
    assert(require("math") == math)
    assert(require("os") == os)
    assert(require("channel") == channel)
    assert(require("process") == process)
    assert(require("errors") == errors)
    assert(require("coroutine") == coroutine)
    assert(require("payload") == payload)

    -- a user global becomes requirable too (require returns the global of that name)
    MY_LIB = { answer = 42 }
    assert(require("MY_LIB").answer == 42)

    -- misuse
    assert(not pcall(require), "require() without a name raises")
end

return { main = main }
