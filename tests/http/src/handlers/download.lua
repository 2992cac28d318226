-- Hands the file named in the path to the sendfile middleware.
local http = require("http")

local function handler()
    local req, res = http.request(), http.response()
    res:set_header("X-Sendfile", req:param("name"))
    res:set_header("X-File-Name", "download-" .. req:param("name"))
    res:set_header("X-Kept", "yes")
end

return { handler = handler }
