-- A process spawned from an inert chunk (one that only makes values) may skip the chunk run on
-- later spawns on the same VM (docs/semantics.md, "Spawning"): it must behave exactly as if the
-- chunk had run. test:other has one worker, so every child below shares one VM.

local function answer(pid, topic)
    local inbox, events = process.inbox(), process.events()
    local timeout = time.after("120s")
    while true do
        local r = channel.select({ inbox:case_receive(), events:case_receive(), timeout:case_receive() })
        assert(r.channel ~= timeout, "no answer from " .. tostring(pid))
        if r.channel == inbox then
            local msg = r.value
            assert(msg:topic() == topic, "topic " .. msg:topic())
            assert(msg:from() == pid, "answer from " .. tostring(msg:from()))
            return msg:payload():data()
        end
        local ev = r.value
        assert(not (ev.result and ev.result.error), "child failed: " .. tostring(ev.result and ev.result.error))
    end
end

local function spawn_and_answer(entry, topic)
    local pid = assert(process.spawn_monitored(entry, "test:other", process.pid()))
    return answer(pid, topic), pid
end

local function main()
    for i = 1, 5 do
        -- Globals are per process: a copied method must not share the first one's.
        local count = spawn_and_answer("test.helpers:chunk_inert", "count")
        assert(count == 1, "chunk_inert spawn " .. i .. " saw count " .. tostring(count))
        -- Module-level locals are per process.
        count = spawn_and_answer("test.helpers:chunk_state", "count")
        assert(count == 1, "chunk_state spawn " .. i .. " saw count " .. tostring(count))
        -- A chunk that calls something runs in each process.
        local by, pid = spawn_and_answer("test.helpers:chunk_active", "loaded_by")
        assert(by == pid, "chunk_active spawn " .. i .. " was loaded by " .. tostring(by))
    end
    return 0
end

return { main = main }
