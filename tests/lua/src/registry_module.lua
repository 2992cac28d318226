-- registry (issue 13): reading entries, filters, snapshots and change sets.
local registry = require("registry")

local function main()
    local e = assert(registry.get("test:registry_module"))
    assert(e.id == "test:registry_module" and e.kind == "process.lua")
    assert(e.meta.group == "registry-test" and type(e.data) == "table")
    local missing, err = registry.get("test:nope")
    assert(missing == nil and err:kind() == errors.NOT_FOUND)

    local hosts = assert(registry.find({[".kind"] = "process.host"}))
    assert(#hosts >= 2)
    for _, h in ipairs(hosts) do assert(h.kind == "process.host") end
    assert(#registry.find({kind = "terminal.host"}) == 1)
    local tagged = registry.find({["meta.group"] = "registry-test"})
    assert(#tagged == 2, "two entries carry meta.group")
    assert(#registry.find({group = "registry-test", [".kind"] = "function.lua"}) == 1)
    assert(#registry.find({[".ns"] = "test", [".name"] = "registry_*"}) >= 2)
    assert(#registry.find({[".ns"] = "nope"}) == 0)

    local id = registry.parse_id("app.lib:assert")
    assert(id.ns == "app.lib" and id.name == "assert")

    local snap = registry.snapshot()
    local v1 = snap:version():id()
    assert(snap:get("test:registry_module").id == "test:registry_module")
    local in_test = #snap:namespace("test")
    assert(in_test > 0 and in_test <= #snap:entries())
    local changes = snap:changes()
    changes:create({id = "test:tool.a", kind = "registry.entry", meta = {type = "tool"}, data = {}})
    assert(#changes:ops() == 1 and changes:ops()[1].kind == "entry.create")
    local v2 = assert(changes:apply())
    assert(v2:id() == v1 + 1 and v2:string() == "v" .. (v1 + 1))
    assert(registry.get("test:tool.a").meta.type == "tool")
    assert(snap:get("test:tool.a") == nil, "an old snapshot keeps its version")
    local c2 = registry.snapshot():changes()
    c2:delete("test:tool.a")
    assert(c2:apply())
    assert(registry.get("test:tool.a") == nil)
    local c3 = registry.snapshot():changes()
    local _, empty = c3:apply()
    assert(empty and empty:kind() == errors.INVALID)
    return 0
end

local function helper()
    return 1
end

return { main = main, helper = helper }
