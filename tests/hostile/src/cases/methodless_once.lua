-- A process.lua without `method` runs its chunk once, as the body, with the arguments; a body
-- that blocks can be spawned (issue 11: it ran twice, and a blocking body failed to spawn).
--! exit: 0
--! stdout: one hi, then bye
--! stdout: survived

local function child(...)
    return ...
end

local function func(...)
    return ...
end

local function main()
    local channel = require("channel")
    local bare = assert(process.spawn_monitored("hostile:bare", "hostile:solo", process.pid()))
    local inbox = process.inbox()
    local first = inbox:receive()
    assert(first:topic() == "hi", first:topic())
    process.send(bare, "go", 7)
    local bye = inbox:receive()
    assert(bye:topic() == "bye" and bye:payload():data() == 7, bye:topic())
    while true do
        local ev = process.events():receive()
        if ev.kind == process.event.EXIT and ev.from == bare then
            assert(ev.result.error == nil, tostring(ev.result.error))
            break
        end
    end
    -- Its messages came before its EXIT: whatever else it sent is queued now.
    local extra = 0
    while true do
        local r = channel.select({ inbox:case_receive(), default = true })
        if r.default then
            break
        end
        extra = extra + 1
    end
    assert(extra == 0, "the chunk ran more than once: " .. extra .. " extra messages")
    io.print("one hi, then bye")
    io.print("survived")
end

return { main = main, child = child, func = func }
