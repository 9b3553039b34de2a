-- Shared by every scenario script of bench/peers (loaded with dofile; BENCH_LUA_DIR names
-- this directory). It keeps, per wrk thread, a count of responses by status for the scripts
-- that look at responses, and writes one JSON summary to BENCH_WRK_OUT when wrk is done.
-- Latencies are in microseconds, as wrk measures them.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("thread_id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

-- Per thread (each wrk thread runs its own copy of the script).
statuses = {}
bench_counters = {}

function count_status(status)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function count(name)
   bench_counters[name] = (bench_counters[name] or 0) + 1
end

-- The request body template of BENCH_BODY with {EMAIL} and {PASSWORD} replaced.
function body_from_env(email)
   local body = os.getenv("BENCH_BODY") or ""
   if email then
      body = body:gsub("{EMAIL}", email)
   end
   return body
end

function content_type()
   return os.getenv("BENCH_CONTENT_TYPE") or "application/json"
end

local function json_value(value)
   if type(value) == "table" then
      local parts = {}
      for k, v in pairs(value) do
         table.insert(parts, string.format("%q: %s", tostring(k), json_value(v)))
      end
      return "{" .. table.concat(parts, ", ") .. "}"
   elseif type(value) == "string" then
      return string.format("%q", value)
   elseif value == nil then
      return "null"
   elseif type(value) == "number" and (value ~= value or value == math.huge or value == -math.huge) then
      return "null"
   else
      return tostring(value)
   end
end

function done(summary, latency, requests)
   local merged_statuses, merged_counters = {}, {}
   for _, thread in ipairs(threads) do
      for k, v in pairs(thread:get("statuses") or {}) do
         merged_statuses[k] = (merged_statuses[k] or 0) + v
      end
      for k, v in pairs(thread:get("bench_counters") or {}) do
         merged_counters[k] = (merged_counters[k] or 0) + v
      end
   end
   local result = {
      requests = summary.requests,
      duration_us = summary.duration,
      bytes = summary.bytes,
      errors = {
         connect = summary.errors.connect,
         read = summary.errors.read,
         write = summary.errors.write,
         status = summary.errors.status,
         timeout = summary.errors.timeout,
      },
      latency_us = {
         min = latency.min,
         mean = latency.mean,
         max = latency.max,
         p50 = latency:percentile(50),
         p90 = latency:percentile(90),
         p99 = latency:percentile(99),
         p999 = latency:percentile(99.9),
      },
      statuses = merged_statuses,
      counters = merged_counters,
   }
   local path = os.getenv("BENCH_WRK_OUT")
   if path and path ~= "" then
      local file = assert(io.open(path, "w"))
      file:write(json_value(result), "\n")
      file:close()
   end
end
