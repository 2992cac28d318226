-- Reports everything the request API gives, as JSON.
local http = require("http")

local function handler()
    local req = assert(http.request())
    local res = assert(http.response())
    local body, body_err = req:body()
    res:write_json({
        method = req:method(),
        path = req:path(),
        params = req:params(),
        id = req:param("id"),
        rest = req:param("rest"),
        missing_param = req:param("nope") == nil,
        q = req:query("q"),
        missing_query = req:query("nope") == nil,
        query_params = req:query_params(),
        x_test = req:header("X-Test"),
        x_test_lower = req:header("x-test"),
        headers = req:headers(),
        body = body,
        body_err = body_err and body_err:message() or nil,
        has_body = req:has_body(),
        content_type = req:content_type(),
        content_length = req:content_length(),
        host = req:host(),
        remote_addr = req:remote_addr(),
        accepts_json = req:accepts("application/json"),
        accepts_png = req:accepts("image/png"),
        is_json = req:is_content_type("application/json"),
        request_id = req:header("X-Request-ID"),
    })
end

return { handler = handler }
