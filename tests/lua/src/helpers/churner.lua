-- Alternates CPU-heavy string work (long enough to hit the slice interrupt) with short
-- timer waits, so preemption lands between registering a wait and suspending on it.
local function main(parent, rounds)
    local s = string.rep("abcdefgh", 4096)
    for i = 1, rounds do
        for _ = 1, (i % 7) + 1 do
            s = string.lower(string.upper(s))
        end
        local r = channel.select({ time.after("1us"):case_receive() })
        assert(r.ok)
    end
    process.send(parent, "churned", rounds)
end
return { main = main }
