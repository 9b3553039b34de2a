-- One rate-limit check, decided whole in one round trip: the same rules as
-- portcullis_core::rate_limit::MemoryLimiter::decide (keep the two in step; a test runs both
-- on the same sequence of checks).
--
-- KEYS: n budget keys, then their n report keys, then the lockout key when one is asked.
-- ARGV: now (ms), n, then per budget interval, tolerance and period (ms), then, with a
--       lockout, its threshold, longest wait and memory (ms).
-- Returns {kind, index, wait_ms, first}: kind 0 allowed, 1 refused by budget `index` (from
-- 0), 2 refused by the lockout; `first` 1 for the refusal worth recording.
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local function number(i) return tonumber(ARGV[i]) end

-- Budgets: the next TAT of each, and the longest wait among those that refuse (ties go to
-- the earlier budget, and a budget before the lockout).
local refused_by, longest = nil, 0
local next_tat = {}
for i = 1, n do
  local interval, tolerance = number(3 * i), number(3 * i + 1)
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  next_tat[i] = tat + interval
  local over = next_tat[i] - now - tolerance
  if over > 0 and (refused_by == nil or over > longest) then
    refused_by, longest = i, over
  end
end

-- The lockout: consecutive failures f, locked until u, the u last reported r, last count l.
local lock_key = KEYS[2 * n + 1]
local f, u, r, l = 0, 0, 0, 0
local threshold, max_ms, memory_ms
if lock_key then
  local base = 3 + 3 * n
  threshold, max_ms, memory_ms = number(base), number(base + 1), number(base + 2)
  local state = redis.call('HMGET', lock_key, 'f', 'u', 'r', 'l')
  f, u, r, l = tonumber(state[1]) or 0, tonumber(state[2]) or 0,
    tonumber(state[3]) or 0, tonumber(state[4]) or 0
  if u <= now and now - l > memory_ms then
    f, u, r, l = 0, 0, 0, 0
  end
  if u > now and (refused_by == nil or u - now > longest) then
    refused_by, longest = 0, u - now
  end
end

if refused_by == 0 then
  local first = 0
  if r ~= u then
    first = 1
    redis.call('HSET', lock_key, 'r', u)
  end
  return {2, 0, longest, first}
end

if refused_by then
  -- A budget of one report per period, beside the budget that refused.
  local period = number(3 * refused_by + 2)
  local report_key = KEYS[n + refused_by]
  local tat = tonumber(redis.call('GET', report_key)) or now
  if tat < now then tat = now end
  local first = 0
  if tat + period - now <= period then
    first = 1
    redis.call('SET', report_key, tat + period, 'PX', period)
  end
  return {1, refused_by - 1, longest, first}
end

for i = 1, n do
  redis.call('SET', KEYS[i], next_tat[i], 'PX', next_tat[i] - now)
end
if lock_key then
  f = f + 1
  l = now
  if f >= threshold then
    local beyond = f - threshold
    local wait = max_ms
    if beyond < 40 then wait = math.min(60000 * 2 ^ beyond, max_ms) end
    u = now + wait
  end
  redis.call('HSET', lock_key, 'f', f, 'u', u, 'r', r, 'l', l)
  redis.call('PEXPIRE', lock_key, math.max(u, l + memory_ms) - now)
end
return {0, 0, 0, 0}
