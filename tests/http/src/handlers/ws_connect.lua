-- Starts a process for the client and hands the connection to it (websocket_relay).
local http = require("http")

local function handler()
    local req, res = http.request(), http.response()
    local pid = assert(process.spawn("test:ws_echo", "test:processes"))
    res:set_header("X-WS-Relay", string.format(
        '{"target_pid":"%s","message_topic":"ws.message","heartbeat_interval":"200ms","metadata":{"user":"%s"}}',
        pid, req:query("user") or "anon"))
end

return { handler = handler }
