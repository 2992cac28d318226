-- Demo (a): exponential backoff and max_attempts, seen from outside the service.
--
-- The crasher service reports every start to the name "observer". With initial_delay 40ms,
-- backoff_factor 2 and max_attempts 4 the restarts come after about 40, 80 and 160 ms, and
-- then no more. Only facts that do not depend on the machine's speed are printed.
local io = require("io")
local time = require("time")

local function main()
    process.registry.register("observer")
    local inbox = process.inbox()
    local starts = {}
    while true do
        -- Quiet for 500 ms (far longer than the last delay): the service has given up.
        local r = channel.select({ inbox:case_receive(), time.after("500ms"):case_receive() })
        if r.channel ~= inbox then
            break
        end
        starts[#starts + 1] = time.now()
        io.print(string.format("crasher started (attempt %d)", #starts))
    end

    local gaps = {}
    for i = 2, #starts do
        gaps[#gaps + 1] = starts[i]:sub(starts[i - 1]):milliseconds()
    end
    for i = 2, #gaps do
        io.print(string.format("restart %d waited longer than restart %d: %s", i, i - 1,
            tostring(gaps[i] > gaps[i - 1])))
    end
    io.print(string.format("no restart after attempt %d: the service gave up", #starts))
    return 0
end

return { main = main }
