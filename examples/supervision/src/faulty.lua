-- Fails a moment after it starts.
local time = require("time")

local function main()
    time.sleep("20ms")
    error("faulty process gave out")
end

return { main = main }
