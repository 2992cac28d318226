-- execer(host): runs process.exec on its own host (the local spawn path) and returns a report.
local function main(host)
    local ok = process.exec("test.helpers:ret", host, "local value")
    local nothing, err = process.exec("test.helpers:boom", host, "local failure")
    local none, nf = process.exec("test.helpers:nope", host)
    return {
        ok = ok,
        failed = nothing == nil and tostring(err),
        not_found = none == nil and nf:kind(),
        named = process.with_context({}):with_name("execer-child")
            :with_message("quit"):exec("test.helpers:idle", host) == "bye",
    }
end
return { main = main }
