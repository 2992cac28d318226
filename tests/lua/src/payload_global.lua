-- SPEC 6.1: the payload global.

local function main()
    local f = payload.format
    assert(f.JSON == "json/plain")
    assert(f.YAML == "yaml/plain")
    assert(f.STRING == "text/plain")
    assert(f.BYTES == "application/octet-stream")
    assert(f.MSGPACK == "application/msgpack")
    assert(f.LUA == "lua/any")
    assert(f.GOLANG == "golang/any")
    assert(f.ERROR == "golang/error")

    -- new / data / unmarshal / get_format / tostring
    local p = payload.new({ a = 1, list = { "x", "y" } })
    assert(type(p) == "userdata", type(p))
    assert(p:get_format() == "lua/any", p:get_format())
    assert(tostring(p) == "payload{format=lua/any}", tostring(p))
    local d = p:data()
    assert(d.a == 1 and d.list[2] == "y")
    local u = p:unmarshal()
    assert(u.a == 1 and u.list[1] == "x")

    for _, v in ipairs({ 1, 2.5, "s", true, false }) do
        local pv = payload.new(v)
        assert(pv:data() == v and pv:get_format() == "lua/any", tostring(v))
    end
    local pn = payload.new(nil)
    assert(pn:data() == nil)

    -- an error value gets the error format and stays an error object
    local e = errors.new({ message = "bad", kind = errors.INVALID })
    local pe = payload.new(e)
    assert(pe:get_format() == "golang/error", pe:get_format())
    assert(tostring(pe) == "payload{format=golang/error}", tostring(pe))
    local de = pe:data()
    assert(de:kind() == errors.INVALID and de:message() == "bad")

    -- transcode to an unsupported format: nil, err INTERNAL
    local t, err = p:transcode("no/such-format")
    assert(t == nil and err:kind() == errors.INTERNAL, tostring(err))
    t, err = p:transcode(f.MSGPACK)
    assert(t ~= nil or err:kind() == errors.INTERNAL, "msgpack: supported or INTERNAL")

    -- a Payload is userdata: sent to another process it becomes nil (SPEC 6)
    local me = process.pid()
    local inbox = process.inbox()
    assert(process.send(me, "p", payload.new({ z = 26 })))
    local got = inbox:receive():payload():data()
    assert(got == nil, "a sent Payload becomes nil: " .. tostring(got))
end

return { main = main }
