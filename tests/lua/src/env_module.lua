-- env (issue 13): env.storage.{os,memory,file,static,router} and env.variable.
local env = require("env")

local function main()
    -- OS storage, read-only; a default when the OS has no value.
    assert(env.get("PATH") ~= nil)
    assert(env.get("ABSENT_OS") == "fallback")
    local ok, err = env.set("PATH", "/x")
    assert(ok == nil and err:kind() == errors.PERMISSION_DENIED, tostring(err))

    -- Memory storage with a default, then set.
    assert(env.get("MODE") == "dev")
    assert(env.set("MODE", "prod") == true)
    assert(env.get("MODE") == "prod")
    assert(env.set("MODE", 5) == true and env.get("MODE") == "5")

    -- Read-only variable.
    ok, err = env.set("FIXED", "other")
    assert(ok == nil and err:kind() == errors.PERMISSION_DENIED)
    assert(env.get("FIXED") == "fixed")

    -- File storage: written to its file, read back.
    assert(env.set("FILE_VAR", "from-lua") == true)
    assert(env.get("FILE_VAR") == "from-lua")

    -- Static and router storages.
    assert(env.get("STATIC_VAR") == "shipped")
    ok, err = env.set("STATIC_VAR", "x")
    assert(ok == nil and err:kind() == errors.PERMISSION_DENIED)
    assert(env.get("ROUTED") == "shipped", "router falls back to the static storage")
    assert(env.set("ROUTED", "over") == true and env.get("ROUTED") == "over")

    -- Private variable: by entry id only.
    assert(env.get("test:env_private") == "secret")

    -- Unknown names and bad keys.
    local v, e = env.get("NOT_DECLARED")
    assert(v == nil and e:kind() == errors.NOT_FOUND)
    v, e = env.get("")
    assert(v == nil and e:kind() == errors.INVALID)
    v, e = env.get("NO_VALUE")
    assert(v == nil and e:kind() == errors.NOT_FOUND)

    local all = env.get_all()
    assert(all.MODE == "5" and all.FIXED == "fixed" and all.NO_VALUE == nil)
    assert(all["test:env_private"] == nil, "private variables are not listed")
    return 0
end

return { main = main }
