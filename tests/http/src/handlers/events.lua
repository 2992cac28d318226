-- Server-sent events straight from the handler.
local http = require("http")

local function handler()
    local res = http.response()
    assert(res:write_event({ name = "status", data = { state = "started" } }) == nil)
    assert(res:write_event({ name = "progress", data = { percent = 50 } }) == nil)
    assert(res:write_event({ name = "status", data = "done", id = "3" }) == nil)
end

return { handler = handler }
