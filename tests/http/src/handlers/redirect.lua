-- Redirects to /api/inspect/me.
local http = require("http")

local function handler()
    local res = http.response()
    res:set_header("Location", "/api/inspect/me")
    res:set_status(http.STATUS.FOUND)
end

return { handler = handler }
