-- Demos (b) and (c): what a failing linked process does to its partner.
local io = require("io")
local time = require("time")

local function expect_message(inbox, topic)
    local r = channel.select({ inbox:case_receive(), time.after("60s"):case_receive() })
    if r.channel ~= inbox then
        error("no '" .. topic .. "' message within 60s")
    end
    local msg = r.value
    if msg:topic() ~= topic then
        error("expected '" .. topic .. "', got '" .. msg:topic() .. "'")
    end
    return msg:payload():data()
end

local function expect_exit(events, pid)
    local r = channel.select({ events:case_receive(), time.after("60s"):case_receive() })
    if r.channel ~= events then
        error("no EXIT within 60s")
    end
    local ev = r.value
    assert(ev.kind == process.event.EXIT and ev.from == pid, "unexpected event " .. ev.kind)
    return ev.result
end

local function main()
    local me = process.pid()
    local inbox = process.inbox()
    local events = process.events()

    io.print("(b) linked pair, trap_links = false")
    local partner = process.spawn_monitored("app:partner", "app:processes", me, false)
    local faulty = expect_message(inbox, "linked")
    io.print("partner linked to faulty: " .. tostring(type(faulty) == "string"))
    local result = expect_exit(events, partner)
    io.print("partner ended with: " .. tostring(result.error))

    io.print("(c) linked pair, trap_links = true")
    partner = process.spawn_monitored("app:partner", "app:processes", me, true)
    faulty = expect_message(inbox, "linked")
    local down = expect_message(inbox, "link_down")
    io.print("partner got LINK_DOWN from faulty: " .. tostring(down.from_faulty))
    io.print("LINK_DOWN carries: " .. down.error)
    result = expect_exit(events, partner)
    io.print("partner returned: " .. tostring(result.value))
    return 0
end

return { main = main }
