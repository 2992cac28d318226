-- Issue 11: the JSON log encoding cuts deep fields like the console one.
--! flags: --set logger.encoding=json
--! stdout: survived
--! stderr: "msg":"deep json"
--! stderr: "<too deep>"

local logger = require("logger")

local function main()
    local t = {}
    local cur = t
    for _ = 1, 10000 do
        local next = {}
        cur.a = next
        cur = next
    end
    logger:info("deep json", { t = t })
    io.print("survived")
end

return { main = main }
