-- A large text response (compressible).
local http = require("http")

local function handler()
    local res = http.response()
    res:set_content_type("text/plain")
    res:write(string.rep("starling ", 1000))
end

return { handler = handler }
