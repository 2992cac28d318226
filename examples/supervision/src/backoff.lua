-- Demo (a): exponential backoff and max_attempts, seen from outside the service.
--
-- The crasher service reports every start, with the time it started, to the name "observer".
-- With initial_delay 40ms, backoff_factor 2, jitter 0.01 and max_attempts 4 the restarts
-- come about 40, 80 and 160 ms after a failure, and after the fourth failure there are no
-- more. Only facts that do not depend on the machine's speed are printed: a restart never
-- comes before its delay (on a busy machine it comes later), so each start is at least the
-- delay after the one before.
local io = require("io")
local time = require("time")

local ATTEMPTS = 4
local FIRST_DELAY_MS = 40

local function main()
    process.registry.register("observer")
    local inbox = process.inbox()
    local starts = {}
    while #starts < ATTEMPTS do
        -- A generous deadline: a start is normally a few milliseconds away.
        local r = channel.select({ inbox:case_receive(), time.after("60s"):case_receive() })
        if r.channel ~= inbox then
            io.print(string.format("only %d starts", #starts))
            return 1
        end
        starts[#starts + 1] = r.value:payload():data()
        io.print(string.format("crasher started (attempt %d)", #starts))
    end

    local delay = FIRST_DELAY_MS
    for i = 2, #starts do
        local gap_ms = (starts[i] - starts[i - 1]) / 1e6
        -- the delay less its 1 % jitter, in whole milliseconds
        local least = math.floor(delay * 0.99)
        io.print(string.format("restart %d came at least %d ms after start %d: %s", i - 1, least,
            i - 1, tostring(gap_ms >= least)))
        delay = delay * 2
    end

    -- Another restart would be due 320 ms after the fourth failure; none comes.
    local r = channel.select({ inbox:case_receive(), time.after("1s"):case_receive() })
    if r.channel == inbox then
        io.print("a fifth start: the service did not give up")
        return 1
    end
    io.print(string.format("no restart after attempt %d: the service gave up", #starts))
    return 0
end

return { main = main }
