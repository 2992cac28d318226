-- Never answers: the server's write timeout (2s here) ends it with a 503.
local http = require("http")
local time = require("time")

local function handler()
    while true do
        time.sleep("1s")
    end
end

return { handler = handler }
