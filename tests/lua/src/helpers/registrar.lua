local function main(parent, name)
    local inbox = process.inbox()
    local ok, err = process.registry.register(name)
    process.send(parent, "registered", ok, err)
    while true do
        local msg = inbox:receive()
        if msg:topic() == "ping" then
            process.send(msg:from(), "pong", name)
        elseif msg:topic() == "stop" then
            return "stopped"
        end
    end
end
return { main = main }
