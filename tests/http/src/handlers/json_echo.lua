-- JSON in, JSON out; invalid JSON is a 400 with the error kind and message.
local http = require("http")

local function handler()
    local req = http.request()
    local res = http.response()
    local data, err = req:body_json()
    if err then
        res:set_status(http.STATUS.BAD_REQUEST)
        return res:write_json({ error = err:message(), kind = err:kind() })
    end
    res:set_status(http.STATUS.OK)
    res:write_json({ echo = data, type = type(data) })
end

return { handler = handler }
