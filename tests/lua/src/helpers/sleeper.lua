local function main(parent, d)
    local t0 = time.now()
    time.sleep(d)
    process.send(parent, "slept", time.now():sub(t0):milliseconds())
end
return { main = main }
