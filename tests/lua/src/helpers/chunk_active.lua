-- A chunk with a call and a global write at its top level: it runs in every process.
loaded_by = process.pid()

local function run(parent)
    process.send(parent, "loaded_by", loaded_by)
end

return { run = run }
