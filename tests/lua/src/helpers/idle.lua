-- Waits on its inbox: "die" raises an error, "quit" returns "bye", "ping" answers "pong".
local function main()
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        local t = msg:topic()
        if t == "die" then
            error("died on request")
        elseif t == "quit" then
            return "bye"
        elseif t == "ping" then
            process.send(msg:from(), "pong", process.pid())
        end
    end
end
return { main = main }
