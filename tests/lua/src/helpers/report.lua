local function main(parent, ...)
    process.send(parent, "args", {
        n = select("#", ...),
        args = { ... },
        id = process.id(),
        pid = process.pid(),
    })
end
return { main = main }
