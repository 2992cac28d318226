-- A service process that fails on purpose. It waits until someone has registered the name
-- "observer" (the backoff demo), reports each start there with the time it started, then
-- raises an error. Without an observer (`starling run`) it gives up waiting after ten
-- seconds and fails anyway.
local time = require("time")

local function main()
    local started = time.now():unix_nano()
    for _ = 1, 1000 do
        if process.registry.lookup("observer") then
            process.send("observer", "started", started)
            break
        end
        time.sleep("10ms")
    end
    error("crashed on purpose")
end

return { main = main }
