-- Starts a process that feeds the stream (sse_relay); ?detached=1 starts without a target.
local http = require("http")

local function handler()
    local req, res = http.request(), http.response()
    if req:query("detached") then
        res:set_header("X-SSE-Relay", '{"heartbeat_interval":"1s"}')
        return
    end
    local pid = assert(process.spawn("test:sse_feeder", "test:processes"))
    res:set_header("X-SSE-Relay", string.format('{"target_pid":"%s","heartbeat_interval":"1s"}', pid))
end

return { handler = handler }
