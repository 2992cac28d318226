-- Sets the status from the path (or 200), a custom header, and a text body.
local http = require("http")

local function handler()
    local req = http.request()
    local res = http.response()
    local code = tonumber(req:param("code") or "200")
    assert(res:set_header("X-Custom", "yes") == nil)
    assert(res:set_header("X-Number", 42) == nil)
    local bad = res:set_status(99)
    assert(bad and bad:kind() == "Invalid", "status 99 is refused")
    res:set_status(code)
    res:set_content_type(http.CONTENT.TEXT)
    res:write("status ")
    res:write(code)
end

return { handler = handler }
