-- Streams three chunks with flushes; setters fail once the head is out.
local http = require("http")
local time = require("time")

local function handler()
    local res = http.response()
    res:set_transfer(http.TRANSFER.CHUNKED)
    res:set_header("X-Before", "1")
    for i = 1, 3 do
        assert(res:write("chunk" .. i .. "\n") == nil)
        assert(res:flush() == nil)
        time.sleep("10ms")
    end
    local err = res:set_status(201)
    assert(err and err:kind() == "Invalid" and err:message() == "headers already sent", tostring(err))
    assert(res:set_header("X-After", "1") ~= nil)
    res:write("end\n")
end

return { handler = handler }
