-- The item handlers: JSON in, JSON out.
local http = require("http")

local function fail(res, status, message)
    res:set_status(status)
    res:write_json({ error = message })
end

local function list()
    local res = http.response()
    local r, err = store.call("list")
    if err then
        return nil, err
    end
    res:write_json({ count = #r.items, items = r.items })
end

local function create()
    local req, res = http.request(), http.response()
    local data, err = req:body_json()
    if err then
        return fail(res, http.STATUS.BAD_REQUEST, err:message())
    end
    if type(data) ~= "table" or type(data.name) ~= "string" or data.name == "" then
        return fail(res, http.STATUS.UNPROCESSABLE, "name is required")
    end
    if data.price ~= nil and type(data.price) ~= "number" then
        return fail(res, http.STATUS.UNPROCESSABLE, "price must be a number")
    end
    local r, serr = store.call("create", { name = data.name, price = data.price })
    if serr then
        return nil, serr
    end
    res:set_status(http.STATUS.CREATED)
    res:set_header("Location", "/api/items/" .. r.item.id)
    res:write_json(r.item)
end

local function item_id(req, res)
    local id = tonumber(req:param("id"))
    if not id then
        fail(res, http.STATUS.BAD_REQUEST, "id must be a number")
    end
    return id
end

local function get()
    local req, res = http.request(), http.response()
    local id = item_id(req, res)
    if not id then
        return
    end
    local r, err = store.call("get", { id = id })
    if err then
        return nil, err
    end
    if not r.item then
        return fail(res, http.STATUS.NOT_FOUND, "item " .. id .. " not found")
    end
    res:write_json(r.item)
end

local function delete()
    local req, res = http.request(), http.response()
    local id = item_id(req, res)
    if not id then
        return
    end
    local r, err = store.call("delete", { id = id })
    if err then
        return nil, err
    end
    if not r.deleted then
        return fail(res, http.STATUS.NOT_FOUND, "item " .. id .. " not found")
    end
    res:set_status(http.STATUS.NO_CONTENT)
end

return { list = list, create = create, get = get, delete = delete }
