-- Lua 5.3's bitwise operators on Luau's numbers (doubles), called by sources that
-- syntax.rs lowered: `a & b` runs `__starling_bit.band(a, b)`.
--
-- Semantics (docs/semantics.md, "Integers and bitwise operators"): an operand must be a
-- number (or a string that converts to one, as in Lua 5.3) with an integral value in
-- [-2^63, 2^63); anything else raises "number has no integer representation". The operation
-- is Lua 5.3's on 64-bit two's complement integers (shifts are logical, a shift by 64 or
-- more gives 0, a negative shift goes the other way), and the result is converted back to a
-- number: exact when it lies within ±2^53, rounded to the nearest double beyond.
--
-- Speed: non-negative integral operands below 2^32 (the common case: flags, masks, bytes)
-- take one `bit32` builtin; the rest work on two 32-bit halves. Builtins (`type`,
-- `math.floor`, `bit32.*`) are called by their global names, never through locals, so Luau
-- inlines them (FASTCALL) and the common case costs one Lua call in all.

local TWO32 = 4294967296
local TWO31 = 2147483648
local TWO63 = 9223372036854775808

-- The operand as an integral number in range, or an error at the caller's operator.
local function int(x)
	if type(x) ~= "number" then
		local n = type(x) == "string" and tonumber(x)
		if not n then
			error("attempt to perform bitwise operation on a " .. type(x) .. " value", 3)
		end
		x = n
	end
	if x ~= math.floor(x) or x < -TWO63 or x >= TWO63 then
		error("number has no integer representation", 3)
	end
	return x
end

-- Unsigned high and low 32-bit halves of an integral number in [-2^63, 2^63).
local function split(x)
	local lo = x % TWO32
	return ((x - lo) / TWO32) % TWO32, lo
end

-- The number for unsigned halves read as a 64-bit two's complement integer.
local function join(hi, lo)
	if hi >= TWO31 then
		hi = hi - TWO32
	end
	return hi * TWO32 + lo
end

-- The slow path of a binary operator: integral operands in range, on two halves.
local function halves(op32, a, b)
	a, b = int(a), int(b)
	local ah, al = split(a)
	local bh, bl = split(b)
	return join(op32(ah, bh), op32(al, bl))
end

local function band(a, b)
	if type(a) == "number" and type(b) == "number" and a >= 0 and b >= 0
		and a < TWO32 and b < TWO32 and a == math.floor(a) and b == math.floor(b) then
		return bit32.band(a, b)
	end
	return halves(bit32.band, a, b)
end

local function bor(a, b)
	if type(a) == "number" and type(b) == "number" and a >= 0 and b >= 0
		and a < TWO32 and b < TWO32 and a == math.floor(a) and b == math.floor(b) then
		return bit32.bor(a, b)
	end
	return halves(bit32.bor, a, b)
end

local function bxor(a, b)
	if type(a) == "number" and type(b) == "number" and a >= 0 and b >= 0
		and a < TWO32 and b < TWO32 and a == math.floor(a) and b == math.floor(b) then
		return bit32.bxor(a, b)
	end
	return halves(bit32.bxor, a, b)
end

local shl, shr

shl = function(a, n)
	if type(a) == "number" and type(n) == "number" and a >= 0 and a < TWO32 and n >= 0 and n < 21
		and a == math.floor(a) and n == math.floor(n) then
		return a * 2 ^ n
	end
	a, n = int(a), int(n)
	if n < 0 then
		return shr(a, -n)
	elseif n >= 64 then
		return 0
	end
	if a >= 0 and a < TWO32 and n < 21 then
		return a * 2 ^ n
	end
	local hi, lo = split(a)
	if n >= 32 then
		return join(bit32.lshift(lo, n - 32), 0)
	elseif n == 0 then
		return a
	end
	return join(bit32.bor(bit32.lshift(hi, n), bit32.rshift(lo, 32 - n)), bit32.lshift(lo, n))
end

shr = function(a, n)
	if type(a) == "number" and type(n) == "number" and a >= 0 and a < TWO63 and n >= 0 and n < 64
		and a == math.floor(a) and n == math.floor(n) then
		return math.floor(a / 2 ^ n)
	end
	a, n = int(a), int(n)
	if n < 0 then
		return shl(a, -n)
	elseif n >= 64 then
		return 0
	end
	if a >= 0 then
		return math.floor(a / 2 ^ n)
	end
	local hi, lo = split(a)
	if n >= 32 then
		return bit32.rshift(hi, n - 32)
	elseif n == 0 then
		return a
	end
	return join(bit32.rshift(hi, n), bit32.bor(bit32.rshift(lo, n), bit32.lshift(hi, 32 - n)))
end

return table.freeze({
	band = band,
	bor = bor,
	bxor = bxor,
	bnot = function(a)
		return -int(a) - 1
	end,
	shl = shl,
	shr = shr,
})
