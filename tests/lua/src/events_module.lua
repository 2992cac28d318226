-- events (issue 13): subscribe, send, close, system patterns and kind filters, between
-- processes.
local events = require("events")
local time = require("time")

local function receive(ch)
    local r = channel.select { ch:case_receive(), time.after("5s"):case_receive() }
    assert(r.channel == ch, "event expected")
    return r.value
end

local function nothing(ch)
    local r = channel.select { ch:case_receive(), time.after("200ms"):case_receive() }
    assert(r.channel ~= ch, "no event expected")
end

local function main()
    local all = assert(events.subscribe("orders"))
    local created = assert(events.subscribe("orders", "order.created"))
    local wild = assert(events.subscribe("shop.*"))

    assert(events.send("orders", "order.created", "/orders/1", {id = 1}) == true)
    local e = receive(all:channel())
    assert(e.system == "orders" and e.kind == "order.created" and e.path == "/orders/1")
    assert(e.data.id == 1)
    assert(receive(created:channel()).path == "/orders/1")
    nothing(wild:channel())

    assert(events.send("orders", "order.paid", "/orders/1"))
    local paid = receive(all:channel())
    assert(paid.kind == "order.paid" and paid.data == nil)
    nothing(created:channel())

    assert(events.send("shop.eu", "x", "/p"))
    assert(receive(wild:channel()).system == "shop.eu")
    nothing(all:channel())

    -- From another process.
    process.spawn("test:events_publisher", "test:processes", "orders", "from.other")
    assert(receive(all:channel()).kind == "from.other")

    -- Close: no more events, the channel ends.
    assert(all:close() == true and all:close() == true)
    assert(events.send("orders", "after.close", "/x"))
    local v, ok = all:channel():receive()
    assert(v == nil and ok == false, "closed channel")

    -- Errors.
    local sub, err = events.subscribe("")
    assert(sub == nil and err:kind() == errors.INVALID)
    local sent, err2 = events.send("orders", "", "/x")
    assert(sent == nil and err2:kind() == errors.INVALID)
    sent, err2 = events.send("orders", "k", "")
    assert(sent == nil and err2:kind() == errors.INVALID)
    return 0
end

local function publisher(system, kind)
    events.send(system, kind, "/from/other", {pid = process.pid()})
    return 0
end

return { main = main, publisher = publisher }
