local function main(parent)
    process.send(parent, "busy")
    local x = 0
    while true do
        x = x + 1
    end
end
return { main = main }
