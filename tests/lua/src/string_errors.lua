-- String functions accept error objects as the string they work on (issue 13): the error
-- stands for its message, as in Wippy.

local function main()
    local pid = process.spawn_monitored("test:string_errors_quit", "test:processes")
    local event = process.events():receive()
    assert(event.kind == process.event.EXIT, tostring(event.kind))
    local ok, err = process.send(pid, "x", 1)
    assert(not ok)
    assert(err, "send to a finished process fails")
    assert(string.find(err, "not found"), tostring(err))
    assert(string.match(err, "process (%w+)") == "not")
    assert(string.upper(err) == string.upper(tostring(err)))
    assert(string.lower(err) == tostring(err):lower())
    assert(string.len(err) == #tostring(err))
    assert(string.sub(err, 1, 7) == tostring(err):sub(1, 7))
    assert(select(2, string.gsub(err, "o", "0")) >= 1)
    assert(string.rep(errors.new("ab"), 2) == "abab")
    assert(string.byte(errors.new("A")) == 65)
    -- Plain strings and numbers as before; other types still raise.
    assert(string.find("abc", "b") == 2 and string.upper(12) == "12")
    assert(not pcall(string.find, {}, "x"))
    assert(not pcall(string.upper, {}))
    return 0
end

local function quit()
    return 0
end

return { main = main, quit = quit }
