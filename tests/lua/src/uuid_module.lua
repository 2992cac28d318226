-- SPEC 4.3: the uuid module (installed as a global because the entry lists it).

local HEX = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local NS_DNS = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
local NS_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"

local function expect_invalid(what, v, err)
    assert(v == nil, what .. ": expected nil, got " .. tostring(v))
    assert(err ~= nil and err:kind() == errors.INVALID, what .. ": kind " .. tostring(err and err:kind()))
    assert(err:retryable() == false, what .. ": not retryable")
    assert(#err:message() > 0)
end

local function main()
    assert(require("uuid") == uuid, "require returns the global")

    -- generators: lowercase hyphenated, right version, RFC 4122 variant, unique
    local seen = {}
    for _, v in ipairs({ 1, 4, 7 }) do
        for _ = 1, 50 do
            local id, err = uuid["v" .. v]()
            assert(err == nil and type(id) == "string", "v" .. v)
            assert(id:match(HEX), "v" .. v .. " shape: " .. id)
            assert(id == id:lower())
            assert(not seen[id], "duplicate " .. id)
            seen[id] = true
            assert(uuid.version(id) == v, "version of v" .. v)
            assert(uuid.variant(id) == "RFC4122")
            assert(uuid.validate(id) == true)
        end
    end

    -- v7 sorts by creation time (the millisecond prefix never goes backwards)
    local prev = uuid.v7()
    for _ = 1, 20 do
        local nxt = uuid.v7()
        assert(nxt:sub(1, 13) >= prev:sub(1, 13), prev .. " then " .. nxt)
        prev = nxt
    end

    -- v3 / v5: deterministic, well-known vectors
    assert(uuid.v5(NS_DNS, "www.example.com") == "2ed6657d-e927-568b-95e1-2665a8aea6a2")
    assert(uuid.v3(NS_DNS, "www.example.com") == "5df41881-3aed-3515-88a7-2f4a814cf09e")
    assert(uuid.v5(NS_URL, "https://example.com/resource") == uuid.v5(NS_URL, "https://example.com/resource"))
    assert(uuid.v5(NS_URL, "a") ~= uuid.v5(NS_URL, "b"))
    assert(uuid.version(uuid.v3(NS_DNS, "x")) == 3 and uuid.version(uuid.v5(NS_DNS, "x")) == 5)
    -- namespaces in other spellings are accepted
    assert(uuid.v5(NS_DNS:upper(), "www.example.com") == "2ed6657d-e927-568b-95e1-2665a8aea6a2")
    expect_invalid("v5 bad namespace", uuid.v5("not-a-uuid", "x"))
    expect_invalid("v3 bad namespace", uuid.v3("", "x"))
    expect_invalid("v5 namespace not a string", uuid.v5(42, "x"))
    expect_invalid("v5 no name", uuid.v5(NS_DNS))
    expect_invalid("v3 name is a table", uuid.v3(NS_DNS, {}))

    -- validate: any value, boolean answer
    assert(uuid.validate("00000000-0000-0000-0000-000000000000") == true)
    assert(uuid.validate("6BA7B810-9DAD-11D1-80B4-00C04FD430C8") == true)
    assert(uuid.validate("6ba7b8109dad11d180b400c04fd430c8") == true)
    assert(uuid.validate("urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8") == true)
    assert(uuid.validate("6ba7b810-9dad-11d1-80b4-00c04fd430c") == false)
    assert(uuid.validate("zzzzzzzz-9dad-11d1-80b4-00c04fd430c8") == false)
    assert(uuid.validate("") == false)
    assert(uuid.validate(nil) == false and uuid.validate(12) == false and uuid.validate({}) == false)
    assert(uuid.validate() == false)

    -- version / variant
    assert(uuid.version(NS_DNS) == 1)
    assert(uuid.version("00000000-0000-0000-0000-000000000000") == 0)
    assert(uuid.variant("00000000-0000-0000-0000-000000000000") == "NCS")
    assert(uuid.variant("6ba7b810-9dad-11d1-c0b4-00c04fd430c8") == "Microsoft")
    assert(uuid.variant("6ba7b810-9dad-11d1-e0b4-00c04fd430c8") == "Future")
    expect_invalid("version of junk", uuid.version("junk"))
    expect_invalid("variant of junk", uuid.variant("junk"))
    expect_invalid("version of a number", uuid.version(5))

    -- parse
    local info = assert(uuid.parse(uuid.v4()))
    assert(info.version == 4 and info.variant == "RFC4122")
    assert(info.timestamp == nil and info.node == nil)
    -- timestamps are unix seconds of when the uuid was made (between the two clock reads;
    -- v1 counts 100 ns steps, so allow a second of rounding either way)
    local before = os.time()
    local v7 = assert(uuid.parse(uuid.v7()))
    local v1 = assert(uuid.parse(uuid.v1()))
    local after = os.time()
    assert(v7.version == 7 and v7.timestamp >= before - 1 and v7.timestamp <= after + 1,
        "v7 timestamp " .. tostring(v7.timestamp))
    assert(v1.version == 1 and v1.timestamp >= before - 1 and v1.timestamp <= after + 1,
        "v1 timestamp " .. tostring(v1.timestamp))
    assert(type(v1.node) == "string" and v1.node:match("^%x%x:%x%x:%x%x:%x%x:%x%x:%x%x$"), tostring(v1.node))
    local p = assert(uuid.parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8"))
    assert(p.version == 1 and p.node == "00:c0:4f:d4:30:c8")
    assert(p.uuid == NS_DNS)
    expect_invalid("parse junk", uuid.parse("6ba7b810-9dad"))
    expect_invalid("parse nil", uuid.parse(nil))

    -- format
    local id = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"
    assert(uuid.format(id) == NS_DNS)
    assert(uuid.format(id, "standard") == NS_DNS)
    assert(uuid.format(id, "simple") == "6ba7b8109dad11d180b400c04fd430c8")
    assert(uuid.format(id, "urn") == "urn:uuid:" .. NS_DNS)
    assert(uuid.format("6ba7b8109dad11d180b400c04fd430c8", "standard") == NS_DNS)
    assert(uuid.format("urn:uuid:" .. NS_DNS, "simple") == "6ba7b8109dad11d180b400c04fd430c8")
    expect_invalid("format style", uuid.format(id, "braced"))
    expect_invalid("format style type", uuid.format(id, 3))
    expect_invalid("format junk", uuid.format("junk", "simple"))

    -- the module table is read-only
    local ok = pcall(function() uuid.v4 = nil end)
    assert(not ok, "uuid is sealed")
end

return { main = main }
