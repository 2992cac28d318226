-- A service process that fails on purpose. It waits (up to a second) until someone has
-- registered the name "observer" (the backoff demo), reports each start there, then raises
-- an error. Without an observer (`starling run`) it just fails a second after each start.
local time = require("time")

local function main()
    for _ = 1, 200 do
        if process.registry.lookup("observer") then
            process.send("observer", "started")
            break
        end
        time.sleep("5ms")
    end
    error("crashed on purpose")
end

return { main = main }
