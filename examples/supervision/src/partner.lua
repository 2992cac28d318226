-- Spawned by the links demo. Links itself to a faulty process and reports what happens.
-- With trap = true it sets trap_links and waits for the LINK_DOWN event; otherwise it just
-- waits, and the failure of the linked process ends it too.
local time = require("time")

local function main(report_to, trap)
    if trap then
        process.set_options({ trap_links = true })
    end
    local faulty = process.spawn_linked("app:faulty", "app:processes")
    process.send(report_to, "linked", faulty)
    local events = process.events()
    while true do
        local ev = events:receive()
        if ev.kind == process.event.LINK_DOWN then
            process.send(report_to, "link_down", {
                from_faulty = ev.from == faulty,
                error = tostring(ev.result.error),
            })
            return "survived"
        end
    end
end

return { main = main }
