-- SPEC 5 / 5.1: pid and id formats, constants, read-only process table.

local function main()
    local me = process.pid()
    assert(type(me) == "string", type(me))
    -- `{`, host id, `|`, `0x` + lowercase hex zero-padded to at least 5 digits, `}`
    assert(me:match("^{test:terminal|0x[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+}$"), me)
    assert(process.pid() == me, "pid() is stable")
    assert(process.id() == "test:process_ids", process.id())

    -- Fresh pids are distinct, carry their host and come from one counter per node.
    local a = assert(process.spawn("test.helpers:ret", "test:processes"))
    local b = assert(process.spawn("test.helpers:ret", "test:other"))
    assert(a:match("^{test:processes|0x[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+}$"), a)
    assert(b:match("^{test:other|0x[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+}$"), b)
    local na = tonumber(a:match("|0x(%x+)}$"), 16)
    local nb = tonumber(b:match("|0x(%x+)}$"), 16)
    local nme = tonumber(me:match("|0x(%x+)}$"), 16)
    assert(nme >= 1, me)
    assert(na > nme and nb > na, "counter increases across hosts: " .. me .. " " .. a .. " " .. b)

    -- Constants
    assert(process.event.EXIT == "pid.exit")
    assert(process.event.LINK_DOWN == "pid.link.down")
    assert(process.event.CANCEL == "pid.cancel")
    assert(process.registry.LOCAL == 0)
    assert(process.registry.EVENTUAL == 1)
    assert(process.registry.CONSISTENT == 2)
    assert(process.registry.STRONG == 3)

    -- The process table and its sub-tables are read-only.
    assert(not pcall(function() process.pid = nil end), "process is read-only")
    assert(not pcall(function() process.extra = 1 end), "process is read-only (new key)")
    assert(not pcall(function() process.event.EXIT = "x" end), "process.event is read-only")
    assert(not pcall(function() process.registry.lookup = nil end), "process.registry is read-only")
    assert(process.event.EXIT == "pid.exit" and type(process.pid) == "function")
    assert(rawget(process, "extra") == nil)

    -- upgrade is out of scope and raises
    local ok, err = pcall(process.upgrade)
    assert(not ok and tostring(err):find("not supported", 1, true), tostring(err))
end

return { main = main }
