-- A handler error: the client gets a 500, the log gets the error.
local http = require("http")

local function handler()
    local res = http.response()
    res:set_status(200)
    res:write("partial")
    error("boom in handler")
end

return { handler = handler }
