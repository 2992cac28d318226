-- Issue 11: the Echo relay's pattern. A relay logs the `result` of each worker's EXIT event;
-- one worker returns a table nested 10,000 deep. The result crosses intact (payload copies
-- carry any depth) and the log line cuts it with a marker instead of aborting the node.
--! stdout: survived
--! stdout: results 3
--! stderr: worker done
--! stderr: "<too deep>"

local logger = require("logger")

local function child(levels)
    local top = {}
    local cur = top
    for _ = 1, levels do
        local next = {}
        cur.a = next
        cur = next
    end
    return top
end

local function depth_of(t)
    local n = 0
    while type(t) == "table" and t.a do
        t = t.a
        n = n + 1
    end
    return n
end

local function main()
    local events = process.events()
    local workers = {}
    for _, levels in ipairs({ 1, 10000, 2 }) do
        local pid = process.spawn_monitored("hostile:child", "hostile:processes", levels)
        workers[pid] = levels
    end
    local results = 0
    while results < 3 do
        local ev = events:receive()
        if ev.kind == process.event.EXIT then
            logger:info("worker done", { from = ev.from, result = ev.result })
            assert(ev.result.value, "worker failed: " .. tostring(ev.result.error))
            assert(depth_of(ev.result.value) == workers[ev.from], "the result crossed intact")
            results = results + 1
        end
    end
    io.print("results " .. results)
    io.print("survived")
end

return { main = main, child = child }
