-- Issue 11: random state is per process. Luau keeps one generator per VM, shared by the
-- processes of a worker: `math.randomseed` in one process changed what its neighbours drew.
-- Process a seeds 42 and waits; b, on the same one-worker host, seeds 7 and draws; a's next
-- draw must be the first draw of seed 42 (554209, as Luau gives it).
--! stdout: survived
--! stdout: a drew 554209

local io = require("io")

local function child(role, parent)
    local inbox = process.inbox()
    if role == "a" then
        math.randomseed(42)
        process.send(parent, "seeded", true)
        inbox:receive() -- "go"
        process.send(parent, "a", math.random(1, 1000000))
    else
        math.randomseed(7)
        local sum = 0
        for _ = 1, 100 do
            sum = sum + math.random(1, 1000000)
        end
        process.send(parent, "b", sum)
    end
end

local function expect_topic(topic)
    local m = process.inbox():receive()
    assert(m:topic() == topic, "expected " .. topic .. ", got " .. m:topic())
    return m:payload():data()
end

local function main()
    local me = process.pid()
    local a = process.spawn("hostile:child", "hostile:solo", "a", me)
    expect_topic("seeded")
    process.spawn("hostile:child", "hostile:solo", "b", me)
    expect_topic("b")
    process.send(a, "go", true)
    local drawn = expect_topic("a")
    io.print("a drew " .. drawn)
    math.randomseed(42)
    assert(drawn == math.random(1, 1000000), "a neighbour's seed changed a's numbers")
    assert(drawn == 554209, "seed 42 draws what Luau draws")

    -- Luau's semantics are kept.
    for _ = 1, 1000 do
        local f = math.random()
        assert(f >= 0 and f < 1)
        local m = math.random(6)
        assert(m >= 1 and m <= 6 and m == math.floor(m))
        local r = math.random(-3, 3)
        assert(r >= -3 and r <= 3 and r == math.floor(r))
    end
    assert(math.random(5, 5) == 5)
    local ok, err = pcall(math.random, 0)
    assert(not ok and tostring(err):find("interval is empty"), tostring(err))
    ok, err = pcall(math.random, 2, 1)
    assert(not ok and tostring(err):find("interval is empty"), tostring(err))
    ok, err = pcall(math.random, {})
    assert(not ok and tostring(err):find("number expected"), tostring(err))
    ok, err = pcall(math.randomseed, {})
    assert(not ok and tostring(err):find("number expected"), tostring(err))
    math.randomseed("42")
    assert(math.random(1, 1000000) == 554209, "a numeric string seeds like its number")
    math.randomseed(42)
    assert(math.random("1", "1000000") == 554209, "numeric strings are numbers")

    local pid = process.spawn_monitored("hostile:child", "hostile:solo", "b", me)
    local ev = process.events():receive()
    assert(ev.from == pid and ev.kind == process.event.EXIT and not ev.result.error, "a fresh process runs")
    io.print("survived")
end

return { main = main, child = child }
