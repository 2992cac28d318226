-- Regression: a task preempted by the time-slice interrupt just after registering a wait
-- must still see the wake-up that arrives before it runs again (it used to hang forever).

local function main()
    local me = process.pid()
    local inbox = process.inbox()
    local n = 8
    for i = 1, n do
        assert(process.spawn("test.helpers:churner", "test:processes", me, 400))
    end
    local done = 0
    local deadline = time.after("120s")
    while done < n do
        local r = channel.select({ inbox:case_receive(), deadline:case_receive() })
        assert(r.channel == inbox, "churners stalled: " .. done .. " of " .. n .. " finished")
        assert(r.value:topic() == "churned")
        done = done + 1
    end
end

return { main = main }
