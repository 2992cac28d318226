-- Takes its time, without holding up other requests.
local http = require("http")
local time = require("time")

local function handler()
    time.sleep("300ms")
    http.response():write("slow done")
end

return { handler = handler }
