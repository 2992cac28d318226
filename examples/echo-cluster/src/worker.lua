local time = require("time")

local function main(sender_pid, data)
    time.sleep("100ms")
    process.send(sender_pid, "echo_response", {
        data = string.upper(data),
        worker = process.pid(),
    })
    return 0
end

return { main = main }
