-- watcher(parent, trap): optionally traps links, reports "ready", then forwards every event to
-- parent as "event" {kind, from, value, error, reason}; "link" messages link it to a pid.
local function main(parent, trap)
    if trap then
        assert(process.set_options({ trap_links = true }))
    end
    local inbox, events = process.inbox(), process.events()
    process.send(parent, "ready", process.pid())
    while true do
        local r = channel.select({ events:case_receive(), inbox:case_receive() })
        if r.channel == events then
            local ev = r.value
            process.send(parent, "event", {
                kind = ev.kind,
                from = ev.from,
                value = ev.result and ev.result.value,
                error = ev.result and ev.result.error and tostring(ev.result.error),
                reason = ev.reason,
            })
        else
            local msg = r.value
            if msg:topic() == "link" then
                process.send(parent, "linked", process.link(msg:payload():data()))
            elseif msg:topic() == "quit" then
                return "done"
            end
        end
    end
end
return { main = main }
