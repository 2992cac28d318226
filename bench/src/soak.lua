-- soak C M: the Echo Service shape (SPEC §10) under a long run, checking every reply.
-- Each of C clients sends M requests, one after the other, each with its own sequence number
-- and text, through the relay registered as "relay"; the relay spawns a monitored worker per
-- request; the worker replies straight to the client with the text upper-cased. A client
-- fails on any reply that is not the one it waits for (a lost reply shows as a stall, a
-- duplicate or a stray as the wrong sequence number). At the end bench:main (main.lua) checks
-- the relay's counts and asks every client whether anything arrived after its last reply.
-- Any runtime anomaly is an error here, not a warning: finding them is what a soak is for.

local function relay(parent)
    local inbox = process.inbox()
    local events = process.events()
    process.registry.register("relay")
    process.send(parent, "relay_ready")
    local requests, ok, failed = 0, 0, 0
    local reporter = nil
    while true do
        -- Events first: SPEC §10's relay lists the inbox first, and under a sustained load its
        -- inbox is never empty, so its EXIT events would pile up (about 200 bytes each) until
        -- the load stops; that is the program's choice (docs/semantics.md, "Mailbox limit"),
        -- not what this soak measures.
        local r = channel.select({ events:case_receive(), inbox:case_receive() })
        if r == nil then
            error("relay: channel.select returned nil (runtime bug)")
        elseif r.channel == inbox then
            local msg = r.value
            local topic = msg:topic()
            if topic == "echo" then
                local req = msg:payload():data()
                local _, err = process.spawn_monitored(
                    "bench:soak_worker", "bench:processes", req.sender, req.seq, req.data
                )
                if err then
                    error(err)
                end
                requests = requests + 1
            elseif topic == "report" then
                reporter = msg:from()
            elseif topic == "probe" then
                -- Diagnostics after a stall: the counts right now.
                process.send(msg:from(), "probe", { requests = requests, ok = ok, failed = failed })
            elseif topic == "stop" then
                return requests
            end
        else
            local ev = r.value
            if ev.kind == process.event.EXIT then
                if ev.result.value == 0 then
                    ok = ok + 1
                else
                    failed = failed + 1
                end
            end
        end
        -- The report waits until every worker spawned so far has ended.
        if reporter and ok + failed == requests then
            process.send(reporter, "report", { requests = requests, ok = ok, failed = failed })
            reporter = nil
        end
    end
end

local function worker(sender, seq, data)
    process.send(sender, "echo_response", { seq = seq, data = string.upper(data), worker = process.pid() })
    return 0
end

-- client(parent, id, m): m checked round trips; a "tick" to parent every tenth of them.
local function client(parent, id, m)
    local inbox = process.inbox()
    local me = process.pid()
    local every = math.max(1, m // 10)
    local prefix = "soak " .. id .. " "
    local since = 0
    for i = 1, m do
        local data = prefix .. i
        local ok, err = process.send("relay", "echo", { sender = me, seq = i, data = data })
        if not ok then
            error(err)
        end
        local msg = inbox:receive()
        if msg == nil then
            error("client: inbox:receive() returned nil (runtime bug)")
        end
        local r = msg:payload():data()
        if msg:topic() ~= "echo_response" or type(r) ~= "table" or r.seq ~= i then
            error(string.format(
                "client %d: waiting for reply %d, got topic %s seq %s (lost or duplicated reply)",
                id, i, msg:topic(), type(r) == "table" and tostring(r.seq) or "?"
            ))
        end
        if r.data ~= string.upper(data) then
            error(string.format("client %d: reply %d has data %q", id, i, tostring(r.data)))
        end
        since = since + 1
        if since == every then
            process.send(parent, "tick", since)
            since = 0
        end
    end
    if since > 0 then
        process.send(parent, "tick", since)
    end
    -- Every reply is in; anything before the parent's "check" is a duplicate or a stray.
    local extra = 0
    while true do
        local msg = inbox:receive()
        if msg == nil then
            error("client: inbox:receive() returned nil (runtime bug)")
        elseif msg:topic() == "check" then
            break
        end
        extra = extra + 1
    end
    process.send(parent, "checked", { id = id, replies = m, extra = extra })
    return 0
end

return { relay = relay, worker = worker, client = client }
