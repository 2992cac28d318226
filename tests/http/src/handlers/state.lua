-- Misuse and edge cases of the response API, checked inside the handler.
local http = require("http")

local function handler()
    local res = http.response()
    local req = http.request()
    assert(http.request() ~= nil, "request() may be called again")
    local ok = pcall(res.set_status, res, "x")
    assert(not ok, "a non-number status raises")
    assert(res:set_header("bad header", "x") ~= nil, "invalid header name is an error")
    assert(res:set_transfer("pigeon") ~= nil, "unknown transfer mode is an error")
    local enc = res:write_json({ f = function() end, n = 0 / 0 })
    assert(enc == nil, "functions and NaN encode (as nothing and null)")
    assert(req:content_length() == 0)
    assert(req:has_body() == false)
    res:write("|tail")
end

return { handler = handler }
