-- Issue 11: logging a table nested thousands of levels deep, as a call's field or as a
-- `with` field, used to overflow the worker thread's stack and abort the node (exit 134).
-- Fields are cut at 64 levels with a marker.
--! stdout: survived
--! stderr: "<too deep>"
--! stderr: INFO	deep call
--! stderr: INFO	deep with

local logger = require("logger")

local function nested(levels)
    local top = {}
    local cur = top
    for _ = 1, levels do
        local next = {}
        cur.a = next
        cur = next
    end
    return top
end

local function main()
    for _, levels in ipairs({ 3000, 10000, 200000 }) do
        local t = nested(levels)
        logger:info("deep call", { t = t, levels = levels })
        logger:with({ t = t }):info("deep with", { levels = levels })
        -- arrays nest the same way
        local arr = {}
        local cur = arr
        for _ = 1, levels do
            local next = {}
            cur[1] = next
            cur = next
        end
        logger:warn("deep array", { arr = arr })
    end
    -- a shallow table is written in full
    logger:info("shallow", { t = nested(3) })
    io.print("survived")
end

return { main = main }
