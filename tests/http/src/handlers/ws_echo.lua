-- The process behind a relayed WebSocket: echoes messages back, reports join/leave.
local function main()
    local inbox = process.inbox()
    local client, user, beats = nil, nil, 0
    while true do
        local msg = inbox:receive()
        local topic, data = msg:topic(), msg:payload():data()
        if topic == "ws.join" then
            client, user = data.client_pid, data.metadata.user
            process.send(client, "welcome", { user = user })
        elseif topic == "ws.heartbeat" then
            beats = beats + 1
        elseif topic == "ws.message" then
            assert(msg:from() == client, "messages come from the client pid")
            if data == "beats?" then
                process.send(client, "beats", beats)
            elseif data == "bye" then
                process.send(client, "ws.close", "bye bye")
            elseif data == "quit" then
                return 0
            else
                process.send(client, "echo", data)
            end
        elseif topic == "ws.leave" then
            return 0
        end
    end
end

return { main = main }
