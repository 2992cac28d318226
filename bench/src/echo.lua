-- echo C M: the Echo Service shape of echo_erl:echo_bench/2. The relay (registered as
-- "relay") spawns a monitored worker per request; the worker upper-cases the text and
-- replies straight to the client; each client times its M sequential requests.

local function relay(parent)
    local inbox = process.inbox()
    local events = process.events()
    process.registry.register("relay")
    process.send(parent, "relay_ready")
    local stats = 0
    while true do
        local r = channel.select({ inbox:case_receive(), events:case_receive() })
        if r == nil then
            -- Seen when a wake-up is lost (the message it carried is gone; a client will stall).
            process.send(parent, "warn", "relay: channel.select returned nil (runtime bug)")
        elseif r.channel == inbox then
            local msg = r.value
            local topic = msg:topic()
            if topic == "echo" then
                local req = msg:payload():data()
                local _, err = process.spawn_monitored("bench:worker", "bench:processes", req.sender, req.data)
                if err then
                    error(err)
                end
                stats = stats + 1
            elseif topic == "stop" then
                return stats
            end
        end
        -- EXIT events are read and dropped, as the Erlang relay drops 'DOWN'.
    end
end

local function worker(sender, data)
    process.send(sender, "echo_response", { data = string.upper(data), worker = process.pid() })
    return 0
end

local function client(parent, m)
    local time = require("time")
    local inbox = process.inbox()
    local me = process.pid()
    local lat = {}
    for i = 1, m do
        local t0 = time.now()
        local ok, err = process.send("relay", "echo", { sender = me, data = "hello world" })
        if not ok then
            error(err)
        end
        while inbox:receive() == nil do
            process.send(parent, "warn", "client: inbox:receive() returned nil (runtime bug)")
        end
        lat[i] = time.now():sub(t0):nanoseconds()
    end
    process.send(parent, "done", lat)
end

return { relay = relay, worker = worker, client = client }
