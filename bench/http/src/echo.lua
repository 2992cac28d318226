local http = require("http")

local function handler()
    local req = http.request()
    local res = http.response()
    local data, err = req:body_json()
    if err then
        res:set_status(http.STATUS.BAD_REQUEST)
        res:write_json({error = "invalid JSON"})
        return
    end
    res:set_status(http.STATUS.OK)
    res:write_json(data)
end

return { handler = handler }
