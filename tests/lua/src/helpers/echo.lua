local function main()
    local inbox = process.inbox()
    while true do
        local msg = inbox:receive()
        local p = msg:payload()
        process.send(msg:from(), "re:" .. msg:topic(), p and p:data())
    end
end
return { main = main }
