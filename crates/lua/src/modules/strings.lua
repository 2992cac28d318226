-- String functions accept error objects where Wippy's do: the string a `string.*` function
-- works on (its first argument) may be an error object, which stands for its message
-- (`tostring(err)`), so `string.find(err, "not found")` works on an error returned by
-- `process.send`. Other arguments and other types keep Luau's rules. `upper` and `lower` do
-- the same in Rust (modules/base.rs).
--
-- Cost: `string.find(s, ...)` pays one Lua call and a type check on top of the builtin.
-- Method calls on strings (`s:find(...)`) go through the string metatable, which keeps the
-- builtins, so they cost nothing extra; Luau's inlined builtins (`string.sub`, `string.len`,
-- `string.byte` on a string) skip the wrapper too and fall back to it only for other types.

local string, tostring, pairs = string, tostring, pairs

local methods = {}
for name, f in pairs(string) do
	methods[name] = f
end
getmetatable("").__index = table.freeze(methods)

for _, name in { "byte", "find", "gmatch", "gsub", "len", "match", "rep", "reverse", "split", "sub" } do
	local f = string[name]
	if f then
		-- Fixed parameters (no vararg frame): every one of these functions treats a nil
		-- argument like an absent one, and none takes more than four.
		string[name] = function(s, a, b, c)
			if type(s) == "userdata" then
				s = tostring(s)
			end
			return f(s, a, b, c)
		end
	end
end

return nil
