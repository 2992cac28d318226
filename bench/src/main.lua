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
    return nil, "usage: bench:main spawn N | idlehold N | selecthold N | echo C M | soak C M | pingpong N | crossping KIND N | busy | hello"
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

-- After a stall: whether this process missed ticks that had arrived (a lost wake-up here),
-- and whether the relay still answers and what it has counted.
local function stall_report(relay)
    local inbox = process.inbox()
    local queued, ticks = 0, 0
    while true do
        local r = channel.select({ inbox:case_receive(), default = true })
        if r.default then
            break
        end
        queued = queued + 1
        if r.value:topic() == "tick" then
            ticks = ticks + r.value:payload():data()
        end
    end
    local s = string.format("bench:main had %d messages queued (%d answers in ticks)", queued, ticks)
    process.send(relay, "probe")
    local timeout = time.after("5s")
    while true do
        local r = channel.select({ inbox:case_receive(), timeout:case_receive() })
        if r.channel == timeout then
            return s .. "; the relay did not answer a probe within 5 s"
        elseif r.value:topic() == "probe" then
            local c = r.value:payload():data()
            return s .. string.format(
                "; the relay answers: %d requests, %d workers ended with 0, %d failed",
                c.requests, c.ok, c.failed
            )
        end
    end
end

-- soak C M: see soak.lua. Prints a line at every tenth of the requests answered (the
-- xtask samples memory against them) and a last line once everything is checked.
local function soak(c, m)
    local me = process.pid()
    local relay, err = process.spawn_monitored("bench:soak_relay", HOST, me)
    if err then
        return nil, err
    end
    local ready, rerr = await("relay_ready")
    if not ready then
        return nil, rerr
    end

    local total = c * m
    local t0 = time.now()
    local clients = {}
    for id = 1, c do
        local pid, serr = process.spawn_monitored("bench:soak_client", HOST, me, id, m)
        if serr then
            return nil, serr
        end
        clients[id] = pid
    end
    -- Like await("tick"), but with one timer per STALL period instead of one per tick, so
    -- that this loop's own garbage stays the same however fast the ticks come.
    local inbox, events = process.inbox(), process.events()
    local answered, tenth = 0, 1
    local timeout, progressed = time.after(STALL), false
    while answered < total do
        local r = channel.select({ inbox:case_receive(), events:case_receive(), timeout:case_receive() })
        if r == nil then
            return nil, "channel.select returned nil in the exec process (runtime bug)"
        elseif r.channel == timeout then
            if not progressed then
                return nil, string.format(
                    "no progress for %s after %d of %d requests answered; %s",
                    STALL, answered, total, stall_report(relay)
                )
            end
            timeout, progressed = time.after(STALL), false
        elseif r.channel == events then
            local ev = r.value
            if ev.kind == process.event.EXIT and ev.result and ev.result.error then
                return nil, "process " .. ev.from .. " failed: " .. tostring(ev.result.error)
            end
        elseif r.value:topic() == "tick" then
            answered = answered + r.value:payload():data()
            progressed = true
            while tenth <= 10 and answered * 10 >= total * tenth do
                io.print(string.format("soak: %d%% answered (%d of %d)", tenth * 10, answered, total))
                tenth = tenth + 1
            end
        end
    end
    local elapsed = time.now():sub(t0):microseconds()

    -- Every worker spawned has ended with 0, and no client got anything more.
    process.send(relay, "report")
    local rep, perr = await("report")
    if not rep then
        return nil, perr
    end
    local counts = rep:payload():data()
    for _, pid in ipairs(clients) do
        process.send(pid, "check")
    end
    local extra, replies = 0, 0
    for _ = 1, c do
        local msg, cerr = await("checked")
        if not msg then
            return nil, cerr
        end
        local r = msg:payload():data()
        extra = extra + r.extra
        replies = replies + r.replies
    end
    process.send(relay, "stop")

    io.print(string.format(
        "soak: %d clients x %d: %d answered, %d duplicated, %d workers ok, %d failed, %d req/s, %.1f s",
        c, m, replies, extra, counts.ok, counts.failed, total * 1000000 // elapsed, elapsed / 1e6
    ))
    if replies ~= total or extra ~= 0 or counts.requests ~= total or counts.ok ~= total or counts.failed ~= 0 then
        return nil, string.format(
            "soak failed: %d requests sent, %d answered, %d extra replies; relay saw %d requests, %d workers ok, %d failed",
            total, replies, extra, counts.requests, counts.ok, counts.failed
        )
    end
end

-- Both processes are spawned from here (the terminal host), so each goes to the least-loaded
-- worker: the ponger to one, the driver to another when there are two.
local function crossping(kind, n)
    local ponger, err = process.spawn_monitored("bench:crossping_ponger", HOST, kind)
    if err then
        return nil, err
    end
    return run_driver("bench:crossping_driver", ponger, kind, n)
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
    elseif mode == "crossping" then
        local n = count(b)
        if (a ~= "scalar" and a ~= "string" and a ~= "table") or not n or n == 0 then
            return usage()
        end
        return crossping(a, n)
    elseif mode == "soak" then
        local c, m = count(a), count(b)
        if not c or not m or c == 0 or m == 0 then
            return usage()
        end
        return soak(c, m)
    end
    local n = count(a)
    if not n then
        return usage()
    end
    if mode == "spawn" and n > 0 then
        return run_driver("bench:spawn_driver", n)
    elseif mode == "idlehold" then
        return run_driver("bench:idle_driver", n)
    elseif mode == "selecthold" then
        return run_driver("bench:select_driver", n)
    elseif mode == "pingpong" and n > 0 then
        return run_driver("bench:pingpong_driver", n)
    end
    return usage()
end

return { main = main }
