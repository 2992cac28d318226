local function run(t)
    t.seen = strings.shout(t.text)
    t.mutated_here = true
    return t
end
return { run = run }
