-- json (issue 13): encode/decode as Wippy documents them.
local json = require("json")

local function main()
    assert(json.encode("hello") == '"hello"')
    assert(json.encode(42) == "42" and json.encode(1.5) == "1.5" and json.encode(-3) == "-3")
    assert(json.encode(true) == "true" and json.encode(nil) == "null")
    assert(json.encode({1, 2, 3}) == "[1,2,3]")
    assert(json.encode({}) == "[]")
    assert(json.encode({b = 1, a = "x"}) == '{"a":"x","b":1}')
    assert(json.encode({s = 'q"\n\t\\'}) == '{"s":"q\\"\\n\\t\\\\"}')
    assert(json.encode({x = 0/0, y = math.huge}) == '{"x":null,"y":null}')
    assert(json.encode({nested = {list = {{id = 1}}}}) == '{"nested":{"list":[{"id":1}]}}')
    assert(json.encode("é") == '"é"')
    assert(json.encode(errors.new("boom")) == '"boom"')

    -- Errors: cycles, mixed and sparse keys, depth, functions.
    local t = {} t.self = t
    local s, err = json.encode(t)
    assert(s == nil and err:kind() == errors.INTERNAL and tostring(err):find("cycle"), tostring(err))
    s, err = json.encode({1, 2, x = 3})
    assert(s == nil and tostring(err):find("both number and string"), tostring(err))
    s, err = json.encode({[1] = 1, [3] = 3})
    assert(s == nil and tostring(err):find("sparse"), tostring(err))
    local deep = {}
    local at = deep
    for _ = 1, 200 do at.x = {} at = at.x end
    s, err = json.encode(deep)
    assert(s == nil and tostring(err):find("128"), tostring(err))
    s, err = json.encode({f = print})
    assert(s == nil and err, "functions cannot be encoded")
    -- A shared table that is not a cycle encodes twice.
    local shared = {1}
    assert(json.encode({shared, shared}) == "[[1],[1]]")

    -- Decoding.
    local user = json.decode('{"name":"Bob","active":true,"n":null,"tags":["a","b"],"score":9.5}')
    assert(user.name == "Bob" and user.active == true and user.n == nil)
    assert(#user.tags == 2 and user.tags[2] == "b" and user.score == 9.5)
    local items = json.decode("[10, 20, 30]")
    assert(#items == 3 and items[1] == 10)
    assert(json.decode("12") == 12 and json.decode('"x"') == "x" and json.decode("null") == nil)
    local v, e = json.decode("not valid json")
    assert(v == nil and e:kind() == errors.INTERNAL, tostring(e))
    v, e = json.decode("")
    assert(v == nil and e:kind() == errors.INVALID)
    v, e = json.decode(42)
    assert(v == nil and e:kind() == errors.INVALID)

    -- Round trip of a large document, linear in its size.
    local big = {}
    for i = 1, 20000 do
        big[i] = {id = i, name = "item" .. i, tags = {"x", "y"}}
    end
    local text = assert(json.encode(big))
    local back = assert(json.decode(text))
    assert(#back == 20000 and back[20000].name == "item20000")
    return 0
end

return { main = main }
