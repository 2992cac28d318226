-- SPEC 2.5: imports become globals before the chunk runs, require() returns them, imports are
-- transitive (modules too), and each process gets its own copy of a library.

local strings = require("strings")

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value
end

local function main()
    assert(strings == _G.strings or strings == require("strings"))
    assert(strings.shout("hi") == "HI!")
    assert(strings.shout("yo") == "YO!")
    assert(strings.count() == 2)
    -- the transitively imported library is a global too
    assert(counter.value() == 2)
    -- another process importing the same library starts from zero
    local me = process.pid()
    assert(process.spawn("test.helpers:libraries_peer", "test:processes", me))
    local msg = recv(process.inbox(), "peer count")
    assert(msg:topic() == "count" and msg:payload():data() == 1, "libraries are per process")
    assert(strings.count() == 2, "the peer did not change this process's copy")
    -- the library table is this process's own: changing it is allowed and stays here
    strings.extra = true
    assert(strings.extra)
end

return { main = main }
