-- idlehold N: like echo_erl:idle_hold/1. Peak RSS is measured from outside (cargo xtask bench).

local function idle()
    process.inbox():receive()
end

local function driver(parent, n)
    local time = require("time")
    for _ = 1, n do
        local _, err = process.spawn("bench:idle", "bench:processes")
        if err then
            error(err)
        end
    end
    time.sleep("500ms")
    process.send(parent, "result", string.format("idle ready: %d processes", n))
end

-- selecthold N: N processes parked in the Echo relay's shape, a two-case select on the inbox
-- and the events channel. Once all are parked each gets a ping and must answer; pings go out in
-- batches so the driver's mailbox never holds more than BATCH answers.
local BATCH = 10000

local function select_idle(driver)
    local channel = require("channel")
    local inbox = process.inbox()
    local r = channel.select({ inbox:case_receive(), process.events():case_receive() })
    if r.channel == inbox then
        process.send(driver, "pong", 1)
    end
end

local function select_driver(parent, n)
    local time = require("time")
    local me = process.pid()
    local pids = {}
    for i = 1, n do
        local pid, err = process.spawn("bench:select_idle", "bench:processes", me)
        if err then
            error(err)
        end
        pids[i] = pid
    end
    time.sleep("500ms")
    local inbox = process.inbox()
    local answered = 0
    local first = 1
    while first <= n do
        local last = math.min(first + BATCH - 1, n)
        for i = first, last do
            local ok, err = process.send(pids[i], "ping", 1)
            if not ok then
                error(err)
            end
            pids[i] = false
        end
        for _ = first, last do
            local msg = inbox:receive()
            if msg:topic() == "pong" then
                answered = answered + 1
            end
        end
        first = last + 1
    end
    process.send(parent, "result", string.format("select answered: %d processes", answered))
end

return { driver = driver, idle = idle, select_driver = select_driver, select_idle = select_idle }
