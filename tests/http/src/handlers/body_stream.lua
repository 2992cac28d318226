-- Reads the body as a stream and counts the bytes.
local http = require("http")

local function handler()
    local req = http.request()
    local s = req:stream()
    local total, pieces = 0, 0
    while true do
        local chunk, err = s:read(1000)
        if err then
            http.response():set_status(400)
            return http.response():write_json({ error = err:message() })
        end
        if not chunk then
            break
        end
        total = total + #chunk
        pieces = pieces + 1
    end
    s:close()
    http.response():write_json({ total = total, pieces = pieces })
end

return { handler = handler }
