-- The http module outside a handler: nil, err.
local http = require("http")

local function main()
    local req, err = http.request()
    assert(req == nil and err:kind() == "Internal" and err:message() == "no HTTP context", tostring(err))
    local res, rerr = http.response()
    assert(res == nil and rerr ~= nil)
    assert(http.STATUS.OK == 200 and http.STATUS.INTERNAL_SERVER_ERROR == 500)
    assert(http.CONTENT.JSON == "application/json" and http.TRANSFER.SSE == "sse")
    assert(http.METHOD.GET == "GET")
    assert(not pcall(function() http.STATUS.OK = 1 end), "constants are read-only")
    return 0
end

return { main = main }
