local io = require("io")
local time = require("time")

local reset = "\027[0m"
local function dim(s) return "\027[2m" .. s .. reset end
local function green(s) return "\027[32m" .. s .. reset end
local function yellow(s) return "\027[33m" .. s .. reset end
local function cyan(s) return "\027[36m" .. s .. reset end

local function main()
    local inbox = process.inbox()

    -- Give the relay a moment to register its name.
    time.sleep("200ms")

    io.print(cyan("Echo Client"))
    io.print(dim("Type messages to echo. Ctrl+C to exit.\n"))

    while true do
        io.write(yellow("> "))
        local line = io.readline()
        if not line or line == "" then
            break
        end

        local ok, err = process.send("relay", "echo", { sender = process.pid(), data = line })
        if not ok then
            io.print(dim("  error: relay not available"))
        else
            local r = channel.select({
                inbox:case_receive(),
                time.after("2s"):case_receive(),
            })
            if r.channel == inbox then
                local msg = r.value
                if msg:topic() == "echo_response" then
                    local reply = msg:payload():data()
                    io.print(green("  " .. reply.data))
                    io.print(dim("  from worker: " .. reply.worker))
                end
            else
                io.print(dim("  timeout"))
            end
        end
    end

    io.print("\nGoodbye!")
    return 0
end

return { main = main }
