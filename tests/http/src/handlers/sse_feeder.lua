-- The process behind a relayed SSE stream: three events, then it closes the stream.
local function main()
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        if msg:topic() == "sse.join" then
            local client = msg:payload():data().client_pid
            for i = 1, 3 do
                process.send(client, "sse.message", { n = i })
            end
            process.send(client, "other.topic", "not shown")
            process.send(client, "sse.close")
            return 0
        end
    end
end

return { main = main }
