-- Exec entry of the benchmark app: `starling run -x bench:main <mode> <args...>`.
-- Prints the same lines as ../../shared/peers/echo_erl.erl for the shared modes.
--
-- The work runs inside bench:processes (as Erlang's does inside its schedulers): this process
-- starts a driver there, monitors it and prints the line it sends back (topic "result").
-- Drivers report anomalies with topic "warn" (printed on stderr); a driver that dies or a
-- run that makes no progress for STALL ends the run with an error instead of hanging.
local io = require("io")
local time = require("time")

local HOST = "bench:processes"
local STALL = "30s"

local function usage()
    return nil, "usage: bench:main spawn N | idlehold N | echo C M | pingpong N | busy | hello"
end

local function count(s)
    local n = tonumber(s)
    if not n or n < 0 or n % 1 ~= 0 then
        return nil
    end
    return n
end

-- Waits for the next message with topic `want`. Returns the message, or nil and an error
-- when a monitored process failed or nothing arrived for STALL.
local function await(want)
    local inbox, events = process.inbox(), process.events()
    while true do
        local timeout = time.after(STALL)
        local r = channel.select({ inbox:case_receive(), events:case_receive(), timeout:case_receive() })
        if r == nil then
            io.eprint("bench: channel.select returned nil in the exec process (runtime bug)")
        elseif r.channel == timeout then
            return nil, "no progress for " .. STALL .. " while waiting for '" .. want .. "'"
        elseif r.channel == events then
            local ev = r.value
            if ev.kind == process.event.EXIT and ev.result and ev.result.error then
                return nil, "process " .. ev.from .. " failed: " .. tostring(ev.result.error)
            end
        else
            local msg = r.value
            local topic = msg:topic()
            if topic == want then
                return msg
            elseif topic == "warn" then
                io.eprint("bench: " .. tostring(msg:payload():data()))
            end
        end
    end
end

-- Runs a driver that does the work inside the process host and prints its line.
local function run_driver(entry, ...)
    local _, err = process.spawn_monitored(entry, HOST, process.pid(), ...)
    if err then
        return nil, err
    end
    local msg, aerr = await("result")
    if not msg then
        return nil, aerr
    end
    io.print(msg:payload():data())
end

-- Erlang's lists:nth(max(1, K), Sorted): 1-based rank in the sorted latencies.
local function rank(sorted, k)
    return sorted[math.max(1, k)]
end

local function echo(c, m)
    local me = process.pid()
    local _, err = process.spawn_monitored("bench:relay", HOST, me)
    if err then
        return nil, err
    end
    -- The relay registers its name, then says so.
    local ready, rerr = await("relay_ready")
    if not ready then
        return nil, rerr
    end

    local t0 = time.now()
    for _ = 1, c do
        -- Spawned from the terminal host: each client is placed on the least-loaded worker.
        local _, serr = process.spawn_monitored("bench:client", HOST, me, m)
        if serr then
            return nil, serr
        end
    end
    local all = {}
    for _ = 1, c do
        local msg, derr = await("done")
        if not msg then
            return nil, derr
        end
        for _, l in ipairs(msg:payload():data()) do
            all[#all + 1] = l
        end
    end
    local elapsed = time.now():sub(t0):microseconds()
    process.send("relay", "stop")

    table.sort(all)
    local len = #all
    local p50 = rank(all, len // 2)
    local p99 = rank(all, len * 99 // 100)
    io.print(string.format(
        "echo: %d clients x %d: %d req/s, p50 %.1f us, p99 %.1f us",
        c, m, c * m * 1000000 // elapsed, p50 / 1000, p99 / 1000
    ))
end

local function busy()
    local loops = 16
    for _ = 1, loops do
        local _, err = process.spawn("bench:busy_loop", HOST)
        if err then
            return nil, err
        end
    end
    return run_driver("bench:sleeper", loops)
    -- Returning ends the run: the runtime must terminate the busy loops promptly.
end

local function main(mode, a, b)
    if mode == "hello" then
        io.print("hello")
        return
    elseif mode == "busy" then
        return busy()
    elseif mode == "echo" then
        local c, m = count(a), count(b)
        if not c or not m or c == 0 or m == 0 then
            return usage()
        end
        return echo(c, m)
    end
    local n = count(a)
    if not n then
        return usage()
    end
    if mode == "spawn" and n > 0 then
        return run_driver("bench:spawn_driver", n)
    elseif mode == "idlehold" then
        return run_driver("bench:idle_driver", n)
    elseif mode == "pingpong" and n > 0 then
        return run_driver("bench:pingpong_driver", n)
    end
    return usage()
end

return { main = main }
