-- hoarder(parent, n): reads nothing until it gets a CANCEL event, then receives n messages,
-- checks they are 1..n in order and reports "hoarded" with the count to parent.
local function main(parent, n)
    local ev = process.events():receive()
    assert(ev.kind == process.event.CANCEL, ev.kind)
    local inbox = process.inbox()
    for i = 1, n do
        local v = inbox:receive():payload():data()
        assert(v == i, "expected " .. i .. ", got " .. tostring(v))
    end
    process.send(parent, "hoarded", n)
    return "ok"
end
return { main = main }
