-- A multipart form: values and files reported back as JSON.
local http = require("http")

local function handler()
    local req = http.request()
    local res = http.response()
    local form, err = req:parse_multipart()
    if err then
        res:set_status(400)
        return res:write_json({ error = err:message() })
    end
    local files = {}
    for field, list in pairs(form.files) do
        for _, f in ipairs(list) do
            local s = f:stream()
            local first = s:read(3)
            local rest = s:read()
            s:close()
            table.insert(files, {
                field = field,
                name = f:name(),
                size = f:size(),
                first = first,
                rest = rest,
            })
        end
    end
    res:write_json({ values = form.values, files = files })
end

return { handler = handler }
