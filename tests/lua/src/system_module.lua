-- system (issue 13): runtime information as Wippy documents it.
local system = require("system")

local function main()
    assert(type(system.process.hostname()) == "string")
    assert(system.process.pid() > 0)
    assert(type(system.process.cwd()) == "string")
    assert(system.runtime.cpu_count() >= 1)
    assert(system.runtime.goroutines() >= 1, "this process is alive")
    assert(system.runtime.max_procs() >= 1)
    local mem = assert(system.memory.stats())
    assert(mem.heap_alloc > 0 and mem.alloc > 0 and mem.num_gc == 0)
    assert(system.memory.allocated() > 0)
    assert(system.gc.collect() == true)
    local v, err = system.memory.set_limit(1000)
    assert(v == nil and err:kind() == errors.UNAVAILABLE)
    local mods = system.modules()
    local names = {}
    for _, m in ipairs(mods) do names[m.name] = true end
    assert(names.json and names.process and names.system)
    assert(system.node.role() == "non-member" and system.cluster.size() == 1)
    local states = system.supervisor.states()
    assert(type(states) == "table")
    local leader, raft_err = system.raft.is_leader()
    assert(leader == nil and raft_err)
    return 0
end

return { main = main }
